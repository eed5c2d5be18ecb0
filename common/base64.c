/* Base64: see base64.h. */
#include "base64.h"

#include <stdint.h>

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long base64_encode(const void *src, size_t len, char *out, size_t cap)
{
	const unsigned char *in = src;
	size_t need = ((len + 2) / 3) * 4 + 1;
	size_t o = 0;

	if (cap == 0)
		return -1;
	if (need > cap || len > (SIZE_MAX / 4) * 3 - 3) {
		out[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;
		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return (long)o;
}

/* The 6-bit value of c, or -1 outside the alphabet. */
static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One 4-character group into up to 3 bytes; pad is how many '=' it ends with (0..2).
 * Returns the byte count or -1. */
static int decode_group(const char *g, int pad, unsigned char *b)
{
	int s[4];

	for (int k = 0; k < 4; k++) {
		s[k] = k < 4 - pad ? sextet(g[k]) : 0;
		if (s[k] < 0)
			return -1;
	}
	uint32_t v = (uint32_t)s[0] << 18 | (uint32_t)s[1] << 12 | (uint32_t)s[2] << 6 |
		     (uint32_t)s[3];
	/* Bits a padded group does not use must be zero, or two texts would mean one value. */
	if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
		return -1;
	b[0] = (unsigned char)(v >> 16);
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)v;
	return 3 - pad;
}

long base64_decode(const char *src, size_t len, void *out, size_t cap)
{
	unsigned char *o = out;
	size_t n = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int pad = 0;
		unsigned char b[3];
		if (i + 4 == len)
			pad = src[i + 3] != '=' ? 0 : src[i + 2] == '=' ? 2 : 1;
		int got = decode_group(src + i, pad, b);
		if (got < 0 || (size_t)got > cap - n)
			return -1;
		for (int k = 0; k < got; k++)
			o[n++] = b[k];
	}
	if (n < cap)
		o[n] = '\0';
	return (long)n;
}
