#include "bundle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The index of a bundle with BUNDLE_MEMBERS_MAX members of the longest names fits easily. */
#define INDEX_MAX ((uint64_t)BUNDLE_MEMBERS_MAX * (BUNDLE_NAME_MAX + 44))

int bundle_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len >= BUNDLE_NAME_MAX || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int sink_put(struct bundle_writer *w, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	int rc = w->sink->write(w->sink->ctx, buf, len, w->pos);
	if (rc)
		return rc;
	w->pos += len;
	return 0;
}

int bundle_begin(struct bundle_writer *w, const struct download_sink *sink)
{
	memset(w, 0, sizeof(*w));
	w->sink = sink;
	return sink->begin(sink->ctx, 0, UINT64_MAX);
}

int bundle_member_start(struct bundle_writer *w, const char *name)
{
	struct bundle_index done = {w->members, w->n};
	if (w->open || !bundle_name_ok(name) || bundle_index_find(&done, name))
		return -EINVAL;
	if (w->n >= BUNDLE_MEMBERS_MAX)
		return -E2BIG;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		void *p = realloc(w->members, cap * sizeof(*w->members));
		if (!p)
			return -ENOMEM;
		w->members = p;
		w->cap = cap;
	}
	struct bundle_member *m = &w->members[w->n++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->offset = w->pos;
	m->size = 0;
	w->open = 1;
	return 0;
}

int bundle_write(struct bundle_writer *w, const void *buf, size_t len)
{
	if (!w->open)
		return -EINVAL;
	int rc = sink_put(w, buf, len);
	if (rc == 0)
		w->members[w->n - 1].size += len;
	return rc;
}

int bundle_member_end(struct bundle_writer *w)
{
	if (!w->open)
		return -EINVAL;
	w->open = 0;
	return 0;
}

int bundle_member_from_fd(struct bundle_writer *w, const char *name, int fd)
{
	enum { CHUNK = 256 * 1024 };
	char *buf = malloc(CHUNK);
	ssize_t n;
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = bundle_member_start(w, name)) != 0)
		goto out;
	while ((n = read(fd, buf, CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if ((rc = bundle_write(w, buf, (size_t)n)) != 0)
			goto out;
	}
	rc = bundle_member_end(w);
out:
	free(buf);
	return rc;
}

int bundle_member_read(const struct bundle_writer *w, size_t i, uint64_t offset, void *buf,
		       size_t len)
{
	if (!w->sink->read)
		return -ENOTSUP;
	if (i >= w->n || (w->open && i == w->n - 1))
		return -EINVAL;
	const struct bundle_member *m = &w->members[i];
	if (offset > m->size || len > m->size - offset)
		return -EINVAL;
	return len ? w->sink->read(w->sink->ctx, buf, len, m->offset + offset) : 0;
}

static void put_u64le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int bundle_finish(struct bundle_writer *w, uint64_t *total)
{
	char line[BUNDLE_NAME_MAX + 48];
	unsigned char trailer[BUNDLE_TRAILER_LEN];
	int rc;

	if (w->open)
		return -EINVAL;
	uint64_t index_off = w->pos;
	for (size_t i = 0; i < w->n; i++) {
		int len = snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 " %s\n",
				   w->members[i].offset, w->members[i].size, w->members[i].name);
		if ((rc = sink_put(w, line, (size_t)len)))
			return rc;
	}
	memcpy(trailer, BUNDLE_MAGIC, 16);
	put_u64le(trailer + 16, index_off);
	put_u64le(trailer + 24, w->pos - index_off);
	if ((rc = sink_put(w, trailer, sizeof(trailer))))
		return rc;
	if (total)
		*total = w->pos;
	return 0;
}

void bundle_writer_free(struct bundle_writer *w)
{
	free(w->members);
	w->members = NULL;
	w->n = w->cap = 0;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EBADMSG;
		done += (size_t)r;
	}
	return 0;
}

/* Parse one "<offset> <size> <name>" line (NUL-terminated, no newline). */
static int parse_line(char *line, struct bundle_member *m)
{
	char *end;
	if (line[0] < '0' || line[0] > '9')
		return -1;
	errno = 0;
	unsigned long long off = strtoull(line, &end, 10);
	if (errno || *end != ' ' || end[1] < '0' || end[1] > '9')
		return -1;
	unsigned long long size = strtoull(end + 1, &end, 10);
	if (errno || *end != ' ' || !bundle_name_ok(end + 1))
		return -1;
	m->offset = off;
	m->size = size;
	snprintf(m->name, sizeof(m->name), "%s", end + 1);
	return 0;
}

int bundle_index_read(int fd, uint64_t size, struct bundle_index *out)
{
	unsigned char trailer[BUNDLE_TRAILER_LEN];
	char *text = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (size < BUNDLE_TRAILER_LEN)
		return -EBADMSG;
	if ((rc = read_at(fd, trailer, sizeof(trailer), size - BUNDLE_TRAILER_LEN)))
		return rc;
	if (memcmp(trailer, BUNDLE_MAGIC, 16))
		return -EBADMSG;
	uint64_t ioff = get_u64le(trailer + 16), ilen = get_u64le(trailer + 24);
	if (ilen > INDEX_MAX || ioff > size - BUNDLE_TRAILER_LEN ||
	    ilen != size - BUNDLE_TRAILER_LEN - ioff)
		return -EBADMSG;
	text = malloc(ilen + 1);
	if (!text)
		return -ENOMEM;
	if ((rc = read_at(fd, text, ilen, ioff)))
		goto fail;
	text[ilen] = '\0';
	rc = -EBADMSG;
	if (memchr(text, '\0', ilen) || (ilen && text[ilen - 1] != '\n'))
		goto fail;
	size_t lines = 0;
	for (uint64_t i = 0; i < ilen; i++)
		lines += text[i] == '\n';
	if (lines > BUNDLE_MEMBERS_MAX)
		goto fail;
	out->members = calloc(lines ? lines : 1, sizeof(*out->members));
	if (!out->members) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Members must tile [0, index offset) in order, with no gap, overlap or twin name. */
	uint64_t expect = 0;
	char *line = text;
	for (size_t i = 0; i < lines; i++) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		struct bundle_member m;
		if (parse_line(line, &m) || m.offset != expect || m.size > ioff - expect ||
		    bundle_index_find(out, m.name))
			goto fail;
		expect += m.size;
		out->members[out->n++] = m;
		line = nl + 1;
	}
	if (expect != ioff)
		goto fail;
	free(text);
	return 0;
fail:
	free(text);
	bundle_index_free(out);
	return rc;
}

const struct bundle_member *bundle_index_find(const struct bundle_index *ix, const char *name)
{
	for (size_t i = 0; i < ix->n; i++)
		if (!strcmp(ix->members[i].name, name))
			return &ix->members[i];
	return NULL;
}

void bundle_index_free(struct bundle_index *ix)
{
	free(ix->members);
	ix->members = NULL;
	ix->n = 0;
}
