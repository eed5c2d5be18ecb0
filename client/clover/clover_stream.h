/*
 * A Clover export file read element by element: {"elements": [{...}, {...}], ...}.
 *
 * Design note. Parsing a whole file into one cJSON tree costs about 42 times its size (a
 * 250 MB file took 10 GB). Here a small scanner walks the bytes as they are read back in
 * chunks, keeping only string, escape and nesting state; it copies the bytes of one element
 * of the top-level "elements" array at a time (at most CLOVER_ELEMENT_MAX) and hands that
 * one element to cJSON. Memory is one chunk, one element's bytes and its tree, whatever the
 * file's size. Each element is validated by cJSON; outside the elements the scanner checks
 * only the shape (an object, strings closed, nesting balanced, nothing after it). Pure:
 * internal to client/ (clover.c and the unit tests); thread-safe.
 */
#ifndef ORDERFS_CLOVER_STREAM_H
#define ORDERFS_CLOVER_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../provider.h"

#define CLOVER_ELEMENT_MAX (1u << 20) /* bytes of one element: an order or a payment */

/* Read len bytes at off into buf: 0 or -errno. */
typedef int (*clover_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);
/* One element (an object; valid only during the call): 0, or -1 with *err set. */
typedef int (*clover_element_fn)(void *arg, const cJSON *el, struct client_error *err);

/*
 * Read the size bytes of export file name through read and call each for every element, in
 * order. 0, or -1 with *err: CLIENT_E_PROTOCOL naming the file for a body that is not such a
 * file (not an object, malformed, no "elements" array, an element that is not an object);
 * the same with EPROTO (client_error_bound) for an element over CLOVER_ELEMENT_MAX bytes or
 * more than max_elements of them; CLIENT_E_LOCAL for a read error or out of memory; or what
 * each set.
 */
int clover_stream_file(clover_read_fn read, void *ctx, uint64_t size, const char *name,
		       size_t max_elements, clover_element_fn each, void *arg,
		       struct client_error *err);

#endif
