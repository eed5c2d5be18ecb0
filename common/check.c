/* Configuration checks shared by the providers (check.h). */
#include "check.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int check_token(const char *s, size_t max_len)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len > max_len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int check_http_url(const char *url)
{
	size_t skip;

	if (!url)
		return 0;
	if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else
		return 0;
	return url[skip] != '\0' && url[skip] != '/';
}

enum check_url check_base_url(const char *url, const char *suffix, char *out, size_t cap)
{
	if (!check_http_url(url))
		return CHECK_URL_SCHEME;
	size_t len = strlen(url);
	for (size_t i = 0; i < len; i++)
		if (iscntrl((unsigned char)url[i]) || url[i] == ' ')
			return CHECK_URL_CHARS;
	if (url[len - 1] == '/')
		len--;
	int n = snprintf(out, cap, "%.*s%s", (int)len, url, suffix);
	return n < 0 || (size_t)n >= cap ? CHECK_URL_LONG : CHECK_URL_OK;
}
