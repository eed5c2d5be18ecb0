/* The capped growable buffer (buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST_ALLOC 256

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->alloc = 0;
	b->max = max;
}

/* Room for need bytes plus the NUL; doubling keeps appends amortised O(1). */
static int grow(struct buf *b, size_t need)
{
	size_t want = b->alloc ? b->alloc : BUF_FIRST_ALLOC;

	if (need + 1 <= b->alloc)
		return 0;
	while (want < need + 1) {
		if (want > SIZE_MAX / 2)
			return -ENOMEM;
		want *= 2;
	}
	if (b->max < SIZE_MAX && want > b->max + 1)
		want = b->max + 1; /* never allocate past what the cap can use */
	char *d = realloc(b->data, want);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->alloc = want;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return -E2BIG;
	int rc = grow(b, b->len + n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_add_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	/* Longer than the stack copy: format straight into the buffer's new room. */
	if ((size_t)n > b->max - b->len)
		return -E2BIG;
	int rc = grow(b, b->len + (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

char *buf_take(struct buf *b)
{
	char *s = b->data ? b->data : calloc(1, 1);

	if (s)
		buf_init(b, b->max);
	return s;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}
