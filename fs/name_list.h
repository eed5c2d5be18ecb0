/*
 * The names of a directory listing being built (exports/: days of the window, ranges the
 * caches know, pinned ranges), collected first and handed to the kernel only when whole:
 * a listing that could not be built answers -ENOMEM, never a shorter listing that would make
 * files look gone. Not thread-safe: one list per readdir call.
 */
#ifndef ORDERFS_NAME_LIST_H
#define ORDERFS_NAME_LIST_H

#include <stddef.h>

#include "../common/date.h"

/* A listing holds at most this many names by default (the window's days plus every range
 * ever cached or pinned stays far below it); past it the list fails as out of memory. */
#define NAME_LIST_MAX (1u << 20)

struct name_list {
	char (*names)[DATE_RANGE_STR_LEN];
	size_t n, cap;
	size_t max; /* 0 = NAME_LIST_MAX */
	int err;    /* sticky: 0, or -ENOMEM once an add failed (later adds do nothing) */
};

/* Add r's name (r: const struct date_range *, arg: struct name_list *); the signature of a
 * foreach callback. On failure sets l->err and keeps the list as it was. */
void name_list_add_range(void *arg, const struct date_range *r);
/* Sort the names and drop duplicates. */
void name_list_finish(struct name_list *l);
/* Free the names; the list is empty and reusable after. */
void name_list_free(struct name_list *l);

#endif
