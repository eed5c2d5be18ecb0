/*
 * Named ranges: the symbolic links beside the dated directories of every exports/ (today,
 * yesterday, this-week, last-week, this-month, last-month, and one YYYY-MM per month of the
 * provider's window), each pointing to the dated range directory it means today.
 *
 * Pure: no FUSE, no cache, no clock. today is the account's (its time_zone's), so the links
 * move at midnight there. A range is clamped to the window (window_months back from today, as
 * node_in_window counts it); a name whose whole range lies outside it does not exist.
 */
#ifndef ORDERFS_NAMED_H
#define ORDERFS_NAMED_H

#include <stddef.h>

#include "../common/date.h"

#define NAMED_NAME_MAX 16
/* 6 fixed names and at most one per month of a window of up to 24 months */
#define NAMED_MAX 32

struct named_range {
	char name[NAMED_NAME_MAX];
	struct date_range range;
};

/* Every named range for today, in listing order, into out (room for max). Returns how many
 * there are (at most NAMED_MAX). */
size_t named_list(const struct date *today, int window_months, struct named_range *out,
		  size_t max);

/* The range name means today. 0, or -1 when name is not one (or lies outside the window). */
int named_resolve(const char *name, const struct date *today, int window_months,
		  struct date_range *out);

#endif
