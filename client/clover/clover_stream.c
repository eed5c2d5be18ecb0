/* A Clover export file, element by element (see clover_stream.h). */
#include "clover_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"

#define STREAM_CHUNK (64u * 1024u)
#define KEY_MAX 16 /* enough to tell "elements" from any other key */

struct scan {
	const char *name;
	size_t max_elements;
	clover_element_fn each;
	void *arg;
	struct client_error *err;
	int depth;	     /* open objects and arrays, strings aside */
	int in_str, esc;     /* inside a string; the last byte was a backslash */
	int want_key;	     /* at depth 1, the next string is a key */
	int in_key;	     /* that string is being read */
	char key[KEY_MAX];   /* the last key at depth 1 (cut at KEY_MAX - 1) */
	size_t keylen;
	int elements_next;   /* the value of "elements" comes next */
	int in_elements;     /* inside the elements array, between elements */
	int in_el;	     /* inside one element: its bytes go to el */
	int seen_elements, closed;
	size_t n;	     /* elements handed over */
	struct buf el;
};

static int shape_error(struct scan *s, const char *what)
{
	client_error_set(s->err, CLIENT_E_PROTOCOL, "%s: %s", s->name, what);
	return -1;
}

/* Strings and escapes: 1 when c was inside (or closed) a string. */
static int string_byte(struct scan *s, char c)
{
	if (!s->in_str) {
		if (c != '"')
			return 0;
		s->in_str = 1;
		return 1;
	}
	if (s->esc)
		s->esc = 0;
	else if (c == '\\')
		s->esc = 1;
	else if (c == '"')
		s->in_str = 0;
	return 1;
}

/* The element in s->el is complete: parse it and hand it over. */
static int element_done(struct scan *s)
{
	cJSON *el = cJSON_ParseWithLength(s->el.data, s->el.len);
	int rc;

	if (!el)
		return shape_error(s, "an element is malformed JSON");
	if (++s->n > s->max_elements) {
		cJSON_Delete(el);
		client_error_bound(s->err, "%s: more than %zu elements", s->name, s->max_elements);
		return -1;
	}
	rc = s->each(s->arg, el, s->err);
	cJSON_Delete(el);
	buf_reset(&s->el);
	s->in_el = 0;
	return rc;
}

/* One byte of an element: copied, and the element ends when its object closes. */
static int element_byte(struct scan *s, char c)
{
	int rc = buf_add(&s->el, &c, 1);

	if (rc == -E2BIG) {
		client_error_bound(s->err, "%s: element %zu is larger than %u bytes", s->name,
				   s->n + 1, CLOVER_ELEMENT_MAX);
		return -1;
	}
	if (rc) {
		s->err->sys_errno = ENOMEM;
		client_error_set(s->err, CLIENT_E_LOCAL, "%s: out of memory", s->name);
		return -1;
	}
	if (string_byte(s, c))
		return 0;
	if (c == '{' || c == '[')
		s->depth++;
	else if ((c == '}' || c == ']') && --s->depth == 2)
		return element_done(s);
	return 0;
}

/* A byte at depth 1 (the root object's own keys and values), outside any string. */
static int root_byte(struct scan *s, char c)
{
	if (s->elements_next) {
		s->elements_next = 0;
		if (c != '[')
			return shape_error(s, "field elements is not an array");
		if (s->seen_elements)
			return shape_error(s, "field elements appears twice");
		s->seen_elements = s->in_elements = 1;
		s->depth = 2;
		return 0;
	}
	if (c == '"') {
		s->in_str = 1;
		if (s->want_key) {
			s->in_key = 1;
			s->keylen = 0;
		}
	} else if (c == ':') {
		s->want_key = 0;
		s->elements_next = s->keylen == 8 && !memcmp(s->key, "elements", 8);
	} else if (c == ',') {
		s->want_key = 1;
	} else if (c == '{' || c == '[') {
		s->depth++;
	} else if (c == '}') {
		s->depth = 0;
		s->closed = 1;
	} else if (c == ']') {
		return shape_error(s, "malformed JSON");
	}
	return 0;
}

static int scan_byte(struct scan *s, char c)
{
	if (s->in_el)
		return element_byte(s, c);
	if (s->in_str) {
		if (s->in_key && !s->esc && c != '"' && s->keylen < KEY_MAX - 1)
			s->key[s->keylen++] = c;
		string_byte(s, c);
		if (!s->in_str)
			s->in_key = 0;
		return 0;
	}
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		return 0;
	if (s->closed)
		return shape_error(s, "malformed JSON (bytes after the object)");
	if (s->depth == 0) {
		if (c != '{')
			return shape_error(s, "not a JSON object");
		s->depth = s->want_key = 1;
		return 0;
	}
	if (s->depth == 1)
		return root_byte(s, c);
	if (s->in_elements && s->depth == 2) {
		if (c == ']') {
			s->in_elements = 0;
			s->depth = 1;
		} else if (c == '{') {
			s->in_el = 1; /* element_byte counts its '{': depth 3 until it closes */
			return element_byte(s, c);
		} else if (c != ',') {
			client_error_set(s->err, CLIENT_E_PROTOCOL, "%s: elements[%zu] is not an object",
					 s->name, s->n);
			return -1;
		}
		return 0;
	}
	/* Inside another value of the root: only the nesting matters. */
	if (c == '"')
		s->in_str = 1;
	else if (c == '{' || c == '[')
		s->depth++;
	else if (c == '}' || c == ']')
		s->depth--;
	return 0;
}

int clover_stream_file(clover_read_fn read, void *ctx, uint64_t size, const char *name,
		       size_t max_elements, clover_element_fn each, void *arg,
		       struct client_error *err)
{
	struct scan s = {.name = name, .max_elements = max_elements, .each = each, .arg = arg,
			 .err = err, .el = BUF_INIT(CLOVER_ELEMENT_MAX)};
	char *chunk = malloc(STREAM_CHUNK);
	int rc = 0;

	if (!chunk) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "%s: out of memory", name);
		return -1;
	}
	for (uint64_t off = 0; off < size && rc == 0; off += STREAM_CHUNK) {
		size_t len = size - off < STREAM_CHUNK ? (size_t)(size - off) : STREAM_CHUNK;
		int e = read(ctx, chunk, len, off);
		if (e != 0) {
			err->sys_errno = -e;
			client_error_set(err, CLIENT_E_LOCAL, "%s: cannot read it back: %s", name,
					 strerror(-e));
			rc = -1;
			break;
		}
		for (size_t i = 0; i < len && rc == 0; i++)
			rc = scan_byte(&s, chunk[i]);
	}
	if (rc == 0 && !s.closed)
		rc = shape_error(&s, s.depth == 0 && !s.in_str ? "not a JSON object"
							       : "malformed JSON (cut short)");
	if (rc == 0 && !s.seen_elements)
		rc = shape_error(&s, "missing field elements");
	buf_free(&s.el);
	free(chunk);
	return rc;
}
