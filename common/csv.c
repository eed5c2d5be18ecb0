/* The RFC 4180 writer (csv.h). */
#include "csv.h"

#include <string.h>

int csv_needs_quotes(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

/* "s" with every quote doubled; on failure the caller rolls the buffer back. */
static int add_quoted(struct buf *b, const char *s, size_t len)
{
	const char *end = s + len;
	int rc = buf_add(b, "\"", 1);

	while (rc == 0) {
		const char *q = memchr(s, '"', (size_t)(end - s));
		rc = buf_add(b, s, q ? (size_t)(q + 1 - s) : (size_t)(end - s));
		if (rc != 0 || !q)
			break;
		rc = buf_add(b, "\"", 1); /* the quote's twin */
		s = q + 1;
	}
	return rc ? rc : buf_add(b, "\"", 1);
}

int csv_field(struct buf *b, const char *s, size_t len)
{
	size_t before = b->len;

	if (!csv_needs_quotes(s, len))
		return buf_add(b, s, len);
	int rc = add_quoted(b, s, len);
	if (rc)
		buf_truncate(b, before);
	return rc;
}

int csv_sep(struct buf *b)
{
	return buf_add(b, CSV_SEP, sizeof(CSV_SEP) - 1);
}

int csv_end_row(struct buf *b)
{
	return buf_add(b, CSV_EOL, sizeof(CSV_EOL) - 1);
}

int csv_row(struct buf *b, const char *const *fields, size_t n)
{
	size_t before = b->len;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i > 0)
			rc = csv_sep(b);
		if (rc == 0)
			rc = csv_field(b, fields[i], strlen(fields[i]));
	}
	if (rc == 0)
		rc = csv_end_row(b);
	if (rc)
		buf_truncate(b, before);
	return rc;
}
