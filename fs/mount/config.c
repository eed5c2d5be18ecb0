#include "config.h"
#include "../../client/fleet/fleet.h"
#include "../../client/store/s3.h"
#include "../base/perm.h"
#include "../../common/tz.h"
#include "providers.h"
#include "../../common/owner.h"
#include "../../common/netaddr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define SECRET_MAX 4096

int config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (*end) {
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int config_parse_duration(const char *s, int *seconds)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	long mult = 1;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60, end++;
	else if (*end == 'h')
		mult = 3600, end++;
	else if (*end == 'd')
		mult = 86400, end++;
	if (*end || v > 0x7fffffffL / mult)
		return -1;
	*seconds = (int)(v * mult);
	return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcasecmp(s, "on"))
		*out = 1;
	else if (!strcmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "false") ||
		 !strcasecmp(s, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_level(const char *s, int *out)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
		      {"info", LOG_INFO},  {"debug", LOG_DEBUG}};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcasecmp(s, levels[i].name)) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -1;
}

enum key_type { K_STR, K_SIZE, K_DURATION, K_INT, K_BOOL, K_LEVEL, K_SECONDS_F, K_OWNER, K_GROUP,
		K_MODE };

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;
	int lo, hi;	 /* K_INT bounds; K_DURATION: lo is the least */
	const char *def; /* the default, as a value config_set takes; NULL: zero */
};

#define OFF(field) offsetof(struct fs_config, field)
static const struct key_def keys[] = {
	{"provider", K_STR, OFF(provider), 0, 0, NULL},
	{"base_url", K_STR, OFF(base_url), 0, 0, NULL},
	{"merchant_no", K_STR, OFF(merchant_no), 0, 0, NULL},
	{"secret_file", K_STR, OFF(secret_file), 0, 0, NULL},
	{"merchant_id", K_STR, OFF(merchant_id), 0, 0, NULL},
	{"token_file", K_STR, OFF(token_file), 0, 0, NULL},
	{"region", K_STR, OFF(region), 0, 0, NULL},
	{"app_key", K_STR, OFF(app_key), 0, 0, NULL},
	{"refresh_token_file", K_STR, OFF(refresh_token_file), 0, 0, NULL},
	{"oauth_url", K_STR, OFF(oauth_url), 0, 0, NULL},
	{"decrypt_mode", K_STR, OFF(decrypt_mode), 0, 0, NULL},
	{"redact", K_STR, OFF(redact), 0, 0, NULL},
	{"sync_ttl", K_DURATION, OFF(sync_ttl_s), 1, 0, NULL},
	{"time_zone", K_STR, OFF(time_zone), 0, 0, NULL},
	{"test_clock_file", K_STR, OFF(test_clock_file), 0, 0, NULL},
	{"cache_dir", K_STR, OFF(cache_dir), 0, 0, NULL},
	{"language", K_STR, OFF(language), 0, 0, NULL},
	{"report_type", K_STR, OFF(report_type), 0, 0, NULL},
	{"cache_max_size", K_SIZE, OFF(cache_max_size), 0, 0, "4G"},
	{"max_file_size", K_SIZE, OFF(max_file_size), 0, 0, NULL},
	{"cache_min_free", K_SIZE, OFF(cache_min_free), 0, 0, NULL},
	{"max_exports", K_INT, OFF(max_exports), 1, 64, "2"},
	{"export_timeout", K_DURATION, OFF(export_timeout_s), 1, 0, "30m"},
	{"nodata_ttl", K_DURATION, OFF(nodata_ttl_s), 0, 0, "1h"},
	{"settle_delay", K_DURATION, OFF(settle_delay_s), 0, 0, "1h"},
	{"open_ttl", K_DURATION, OFF(open_ttl_s), 1, 0, "15m"},
	{"open_refresh", K_STR, OFF(open_refresh), 0, 0, NULL},
	{"connect_timeout", K_DURATION, OFF(connect_timeout_s), 1, 0, "10s"},
	{"request_timeout", K_DURATION, OFF(request_timeout_s), 1, 0, "30s"},
	{"download_stall_timeout", K_DURATION, OFF(download_stall_s), 1, 0, "60s"},
	{"download_min_rate", K_SIZE, OFF(download_min_rate), 0, 0, "16k"},
	{"poll_initial_ms", K_INT, OFF(poll_initial_ms), 1, 3600000, "500"},
	{"poll_max_ms", K_INT, OFF(poll_max_ms), 1, 3600000, "10000"},
	{"retry_limit", K_INT, OFF(retry_limit), 1, 100, "5"},
	{"max_requests_per_second", K_INT, OFF(max_requests_per_s), 0, 100000, "10"},
	{"max_threads", K_INT, OFF(max_threads), 4, 10000, "256"},
	{"attr_timeout", K_SECONDS_F, OFF(attr_timeout_s), 0, 0, "1"},
	{"tls_insecure", K_BOOL, OFF(tls_insecure), 0, 0, NULL},
	{"download_allow_private", K_BOOL, OFF(download_allow_private), 0, 0, NULL},
	{"exact_sizes", K_BOOL, OFF(exact_sizes), 0, 0, NULL},
	{"metrics_listen", K_STR, OFF(metrics_listen), 0, 0, NULL},
	{"metrics_public", K_BOOL, OFF(metrics_public), 0, 0, NULL},
	{"log_level", K_LEVEL, OFF(log_level), 0, 0, "info"},
	{"prefetch", K_INT, OFF(prefetch_days), 0, 92, NULL},
	{"prefetch_interval", K_DURATION, OFF(prefetch_interval_s), 0, 0, NULL},
	{"fleet_etcd", K_STR, OFF(fleet_etcd), 0, 0, NULL},
	{"fleet_etcd_ca_file", K_STR, OFF(fleet_etcd_ca_file), 0, 0, NULL},
	{"fleet_etcd_auth_file", K_STR, OFF(fleet_etcd_auth_file), 0, 0, NULL},
	{"fleet_lease_ttl", K_DURATION, OFF(fleet_lease_ttl_s), 2, 0, "10s"},
	{"fleet_max_exports", K_INT, OFF(fleet_max_exports), 1, FLEET_MAX_SLOTS, NULL},
	{"fleet_fallback", K_STR, OFF(fleet_fallback), 0, 0, NULL},
	{"fleet_host", K_STR, OFF(fleet_host), 0, 0, NULL},
	{"fleet_etcd_insecure", K_BOOL, OFF(fleet_etcd_insecure), 0, 0, NULL},
	{"store_url", K_STR, OFF(store_url), 0, 0, NULL},
	{"store_region", K_STR, OFF(store_region), 0, 0, NULL},
	{"store_credentials_file", K_STR, OFF(store_credentials_file), 0, 0, NULL},
	{"store_ca_file", K_STR, OFF(store_ca_file), 0, 0, NULL},
	{"store_keep", K_STR, OFF(store_keep), 0, 0, NULL},
	{"store_virtual_host", K_BOOL, OFF(store_virtual_host), 0, 0, NULL},
	{"store_insecure", K_BOOL, OFF(store_insecure), 0, 0, NULL},
	{"accounts_dir", K_STR, OFF(accounts_dir), 0, 0, NULL},
	{"max_exports_total", K_INT, OFF(max_exports_total), 1, 1024, NULL},
	{"max_open_per_user", K_INT, OFF(max_open_per_user), 0, 1000000, "4096"},
	{"max_queued_per_user", K_INT, OFF(max_queued_per_user), 0, 100000, "16"},
	{"owner", K_OWNER, OFF(owner), 0, 0, NULL},
	{"group", K_GROUP, OFF(group), 0, 0, NULL},
	{"mode", K_MODE, OFF(mode), 0, 0, PERM_MODE_DEFAULT},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key_def *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* Every key's default is a value config_set takes, so the table says it once. */
void config_init(struct fs_config *c)
{
	char err[128];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].def && config_set(c, keys[i].name, keys[i].def, err, sizeof(err)))
			abort(); /* a default the table itself refuses: a programming error */
	c->fleet_keys_given = 0; /* the defaults above are not the user's */
	c->owner = c->group = -1; /* the user and group orderfs runs as (perm_of_config) */
	c->cache_min_free_given = 0;
	c->open_ttl_given = 0;
}

const char *config_string(const struct fs_config *c, const char *key)
{
	const struct key_def *k = find_key(key);
	return k && k->type == K_STR ? *(char *const *)((const char *)c + k->offset) : NULL;
}

void config_free(struct fs_config *c)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == K_STR)
			free(*(char **)((char *)c + keys[i].offset));
	memset(c, 0, sizeof(*c));
}

int config_copy(struct fs_config *dst, const struct fs_config *src)
{
	memcpy(dst, src, sizeof(*dst));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type != K_STR)
			continue;
		char **slot = (char **)((char *)dst + keys[i].offset);
		if (*slot && !(*slot = strdup(*slot))) {
			for (size_t j = i + 1; j < NKEYS; j++) /* not copied yet: not ours */
				if (keys[j].type == K_STR)
					*(char **)((char *)dst + keys[j].offset) = NULL;
			config_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int config_is_key(const char *key)
{
	return find_key(key) != NULL;
}

/* A text value into its slot. 0, 1 bad (empty), -ENOMEM. */
static int set_string(char **slot, const char *value)
{
	char *dup;

	if (!*value)
		return 1;
	if (!(dup = strdup(value)))
		return -ENOMEM;
	free(*slot);
	*slot = dup;
	return 0;
}

static int parse_seconds_f(const char *value, double *out)
{
	char *end;
	double v = strtod(value, &end);

	if (end == value || *end || !(v > 0 && v <= 3600))
		return 1;
	*out = v;
	return 0;
}

static int parse_duration_min(const char *value, int lo, int *out)
{
	int v;

	if (config_parse_duration(value, &v) || v < lo)
		return 1;
	*out = v;
	return 0;
}

/* Parse value into the slot of key k. 0, 1 bad value, -ENOMEM. */
static int set_value(const struct key_def *k, void *slot, const char *value)
{
	switch (k->type) {
	case K_STR:
		return set_string(slot, value);
	case K_SIZE:
		return config_parse_size(value, slot) ? 1 : 0;
	case K_DURATION:
		return parse_duration_min(value, k->lo, slot);
	case K_INT:
		return parse_int(value, k->lo, k->hi, slot) ? 1 : 0;
	case K_BOOL:
		return parse_bool(value, slot) ? 1 : 0;
	case K_LEVEL:
		return parse_level(value, slot) ? 1 : 0;
	case K_SECONDS_F:
		return parse_seconds_f(value, slot);
	case K_OWNER:
		return perm_parse_owner(value, slot) ? 1 : 0;
	case K_GROUP:
		return perm_parse_group(value, slot) ? 1 : 0;
	case K_MODE:
		return perm_parse_mode(value, slot) ? 1 : 0;
	}
	return 1;
}

int config_set(struct fs_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key_def *k = find_key(key);
	int rc;

	if (!k) {
		/* Only what looks like a key name is echoed: a pasted token is not. */
		if (strlen(key) <= 40 && strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
						 strlen(key))
			snprintf(err, errlen, "unknown key '%s'", key);
		else
			snprintf(err, errlen, "unknown key (not shown: it is not a key name)");
		return -1;
	}
	rc = set_value(k, (char *)c + k->offset, value);
	if (!rc && !strncmp(key, "fleet_", 6) && strcmp(key, "fleet_etcd"))
		c->fleet_keys_given = 1;
	if (!rc && !strncmp(key, "store_", 6) && strcmp(key, "store_url"))
		c->store_keys_given = 1;
	if (!rc && !strcmp(key, "cache_min_free"))
		c->cache_min_free_given = 1;
	if (!rc && !strcmp(key, "open_ttl"))
		c->open_ttl_given = 1;
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	else if (rc)
		snprintf(err, errlen, "bad value for '%s'", key);
	return rc ? -1 : 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(key, *list))
			return 1;
	return 0;
}

/* Whether key may be set by a file limited to only (NULL: every key). */
/* Keys an account file may hold besides its merchant's own: who may read that account. */
static const char *const account_perm_keys[] = {"owner", "group", "mode", NULL};

static int key_allowed(const char *key, const char *const *only)
{
	return !only || in_list(key, only) || in_list(key, account_perm_keys);
}

/* One "key = value" line (comments and blanks skipped). 0, or -1 with err. */
static int load_line(struct fs_config *c, char *line, const char *const *only, char *err,
		     size_t errlen)
{
	char *s = trim(line);
	if (!*s || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	char *key = trim(s);
	char *value = trim(eq + 1);
	if (config_is_key(key) && !key_allowed(key, only)) {
		snprintf(err, errlen, "key '%s' is the mount's, not an account's (an account file "
				      "holds only its merchant's keys)", key);
		return -1;
	}
	return config_set(c, key, value, err, errlen);
}

int config_load_stream(struct fs_config *c, FILE *f, const char *path, const char *const *only,
		       char *err, size_t errlen)
{
	char line[4096];
	char why[256];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			return -1;
		}
		if (load_line(c, line, only, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			return -1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		return -1;
	}
	return 0;
}

int config_load_file(struct fs_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_load_stream(c, f, path, NULL, err, errlen);
	fclose(f);
	return rc;
}

int config_check_url(const char *key, const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(err, errlen, "bad value for '%s': must start with http:// or https://", key);
		return -1;
	}
	return 0;
}

/* A key another provider's row keeps to itself: passed on, it would change what c's provider
 * does, so it is refused rather than ignored. */
static int check_foreign_keys(const struct fs_config *c, const struct provider_spec *spec,
			      char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct provider_spec *owner = provider_spec_owner(keys[i].name);
		if (owner && owner != spec && config_string(c, keys[i].name)) {
			snprintf(err, errlen,
				 "key '%s' is not valid for provider %s: it applies to provider %s only",
				 keys[i].name, spec->name, owner->name);
			return -1;
		}
	}
	return 0;
}

/* With accounts_dir, a merchant's own keys belong in its NAME.conf: in the main config they
 * would be ambiguous (whose are they?). */
static int check_account_keys_absent(const struct fs_config *c, const struct provider_spec *spec,
				     char *err, size_t errlen)
{
	for (const char *const *k = spec->account_keys; *k; k++) {
		if (config_string(c, *k)) {
			snprintf(err, errlen,
				 "key '%s' belongs in each account's NAME.conf of accounts_dir, not "
				 "in the main config",
				 *k);
			return -1;
		}
	}
	return 0;
}

/* The provider's row says which keys it needs and which values it takes. */
static int validate_provider(const struct fs_config *c, char *err, size_t errlen)
{
	const struct provider_spec *spec = provider_spec_find(c->provider);
	char known[128];

	if (!spec) {
		provider_spec_names(known, sizeof(known));
		snprintf(err, errlen, "bad value for 'provider': '%s' is not supported (%s)",
			 c->provider, known);
		return -1;
	}
	if (c->accounts_dir && check_account_keys_absent(c, spec, err, errlen))
		return -1;
	for (const char *const *k = spec->required; *k; k++) {
		if (c->accounts_dir && in_list(*k, spec->account_keys))
			continue; /* each account's NAME.conf has it */
		if (!config_string(c, *k)) {
			snprintf(err, errlen, "missing required key '%s' (provider %s)", *k,
				 spec->name);
			return -1;
		}
	}
	if (spec->validate && spec->validate(c, err, errlen))
		return -1;
	return check_foreign_keys(c, spec, err, errlen);
}

/* Whether the len bytes at s are one http(s)://host:port endpoint (host a name, an IPv4 or a
 * [IPv6] address; no credentials, no path but a trailing slash). */
static int endpoint_ok(const char *s, size_t len)
{
	char ep[256], *host, *colon, *end;
	long port;

	if (len >= sizeof(ep))
		return 0;
	memcpy(ep, s, len);
	ep[len] = '\0';
	if (len && ep[len - 1] == '/')
		ep[--len] = '\0';
	if (!strncmp(ep, "http://", 7))
		host = ep + 7;
	else if (!strncmp(ep, "https://", 8))
		host = ep + 8;
	else
		return 0;
	colon = strrchr(host, ':');
	if (!colon || colon == host || strpbrk(host, "@/?# ") ||
	    (host[0] == '[' && colon[-1] != ']'))
		return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return !errno && end != colon + 1 && !*end && port >= 1 && port <= 65535;
}

int config_check_endpoints(const char *key, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		if (!endpoint_ok(p, len)) {
			snprintf(err, errlen,
				 "bad value for '%s': '%.*s' is not an http(s)://host:port endpoint",
				 key, (int)(len < 200 ? len : 200), p);
			return -1;
		}
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int config_open_ttl(const struct fs_config *c)
{
	return c->open_ttl_given || !c->sync_ttl_s ? c->open_ttl_s : c->sync_ttl_s;
}

#define STORE_KEEP_MAX_DAYS 36500

int config_store_keep_days(const struct fs_config *c)
{
	char *end;
	long days;

	if (!c->store_keep || !strcmp(c->store_keep, "provider"))
		return 0;
	days = strtol(c->store_keep, &end, 10);
	return end != c->store_keep && *end == '\0' && days >= 1 && days <= STORE_KEEP_MAX_DAYS
		       ? (int)days
		       : -1;
}

int config_max_exports_total(const struct fs_config *c)
{
	if (!c->accounts_dir)
		return c->max_exports;
	if (c->max_exports_total)
		return c->max_exports_total;
	return c->max_exports * 4 > 16 ? c->max_exports * 4 : 16;
}

int config_fleet_max_exports(const struct fs_config *c)
{
	return c->fleet_max_exports ? c->fleet_max_exports : c->max_exports;
}

int config_fleet_refuse(const struct fs_config *c)
{
	return c->fleet_fallback && !strcmp(c->fleet_fallback, "refuse");
}

int config_fleet_host(const struct fs_config *c, char *out, size_t n, char *err, size_t errlen)
{
	char name[256] = "";

	if (c->fleet_host)
		snprintf(name, sizeof(name), "%s", c->fleet_host);
	else if (gethostname(name, sizeof(name) - 1))
		name[0] = '\0';
	if (!fleet_name_ok(name) || strlen(name) >= n) {
		snprintf(err, errlen,
			 c->fleet_host ? "bad value for 'fleet_host': '%.64s' must be 1..63 of "
					 "A-Z a-z 0-9 . _ - (not starting with a dot)"
				       : "the host name '%.64s' cannot name this host in the fleet: "
					 "set 'fleet_host'",
			 name);
		return -1;
	}
	snprintf(out, n, "%s", name);
	return 0;
}

/* With fleet_etcd_auth_file, every endpoint is https unless fleet_etcd_insecure: the password
 * (and the token etcd gives for it) would cross the network in clear. 0 or -1 with err. */
static int fleet_auth_over_tls(const struct fs_config *c, char *err, size_t errlen)
{
	const char *p = c->fleet_etcd;

	if (!c->fleet_etcd_auth_file || c->fleet_etcd_insecure)
		return 0;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		if (!strncmp(p, "http://", 7)) {
			snprintf(err, errlen,
				 "fleet_etcd_auth_file with the plain http endpoint '%.*s' would send "
				 "the etcd password in clear: use https, or set fleet_etcd_insecure = "
				 "yes", (int)(n < 200 ? n : 200), p);
			return -1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

/* Fleet mode's keys: only with fleet_etcd, each within its rules. */
static int validate_fleet(const struct fs_config *c, char *err, size_t errlen)
{
	char host[FLEET_HOST_MAX];

	if (!c->fleet_etcd) {
		if (!c->fleet_keys_given)
			return 0;
		snprintf(err, errlen, "fleet_* needs fleet_etcd: fleet keys are set but "
				      "'fleet_etcd' is not (fleet mode is off without it)");
		return -1;
	}
	if (config_check_endpoints("fleet_etcd", c->fleet_etcd, err, errlen) ||
	    fleet_auth_over_tls(c, err, errlen))
		return -1;
	if (c->fleet_fallback && strcmp(c->fleet_fallback, "local") &&
	    strcmp(c->fleet_fallback, "refuse")) {
		snprintf(err, errlen,
			 "bad value for 'fleet_fallback': '%.64s' (use local or refuse)",
			 c->fleet_fallback);
		return -1;
	}
	return config_fleet_host(c, host, sizeof(host), err, errlen);
}

/* The shared store's keys: only with store_url, which must be a store URL s3.h accepts. */
static int validate_store(const struct fs_config *c, char *err, size_t errlen)
{
	struct s3_location loc;
	struct client_error cerr;

	if (!c->store_url) {
		if (!c->store_keys_given)
			return 0;
		snprintf(err, errlen, "store_* needs store_url: store keys are set but "
				      "'store_url' is not (the shared store is off without it)");
		return -1;
	}
	client_error_clear(&cerr);
	if (s3_parse_url(c->store_url, c->store_insecure, &loc, &cerr) != 0) {
		snprintf(err, errlen, "bad value for %s", cerr.msg);
		return -1;
	}
	if (config_store_keep_days(c) < 0) {
		snprintf(err, errlen, "bad value for 'store_keep': 'provider' or a number of days "
				      "(1-%d)", STORE_KEEP_MAX_DAYS);
		return -1;
	}
	return 0;
}

/* A time_zone value names a zoneinfo file orderfs can read. 0 or -1 with err. */
static int validate_time_zone(const char *name, char *err, size_t errlen)
{
	char why[200];
	struct tz *z = tz_load(name, why, sizeof(why));

	if (!z) {
		snprintf(err, errlen, "bad value for 'time_zone': %s", why);
		return -1;
	}
	tz_free(z);
	return 0;
}

int config_validate(const struct fs_config *c, char *err, size_t errlen)
{
	if (!c->provider) {
		snprintf(err, errlen, "missing required key 'provider'");
		return -1;
	}
	if (validate_provider(c, err, errlen))
		return -1;
	if (c->metrics_listen) {
		struct sockaddr_storage a;
		socklen_t alen;
		const char *why;
		if (netaddr_parse_listen(c->metrics_listen, &a, &alen, &why)) {
			snprintf(err, errlen, "bad value for 'metrics_listen': '%s': %s",
				 c->metrics_listen, why);
			return -1;
		}
		if (!netaddr_is_loopback(&a) && !c->metrics_public) {
			snprintf(err, errlen,
				 "'metrics_listen' %s is not a loopback address: anyone who can "
				 "reach it would read the counters; set metrics_public = yes to "
				 "mean it",
				 c->metrics_listen);
			return -1;
		}
	}
	if (!c->cache_dir) {
		snprintf(err, errlen, "missing required key 'cache_dir'");
		return -1;
	}
	if (c->base_url && config_check_url("base_url", c->base_url, err, errlen))
		return -1;
	if (c->time_zone && validate_time_zone(c->time_zone, err, errlen))
		return -1;
	if (c->open_refresh && strcmp(c->open_refresh, "wait") &&
	    strcmp(c->open_refresh, "background")) {
		snprintf(err, errlen, "bad value for 'open_refresh': '%s' (wait, background)",
			 c->open_refresh);
		return -1;
	}
	if (c->poll_initial_ms > c->poll_max_ms) {
		snprintf(err, errlen, "'poll_initial_ms' is larger than 'poll_max_ms'");
		return -1;
	}
	if (c->max_exports_total && !c->accounts_dir) {
		snprintf(err, errlen, "'max_exports_total' needs 'accounts_dir' (without it, "
				      "max_exports is the mount's cap)");
		return -1;
	}
	if (validate_store(c, err, errlen))
		return -1;
	return validate_fleet(c, err, errlen);
}

/* words (NULL-ended) after lead, wrapped before column 80 onto lines starting with indent. */
static void print_words(FILE *out, const char *lead, const char *indent,
			const char *const *words)
{
	size_t col = (size_t)fprintf(out, "%s", lead);

	for (; *words; words++) {
		if (col + 1 + strlen(*words) > 79)
			col = (size_t)fprintf(out, "\n%s", indent) - 1;
		col += (size_t)fprintf(out, " %s", *words);
	}
	fputc('\n', out);
}

void config_print_keys(FILE *out)
{
	const char *common[NKEYS + 1];
	size_t n = 0;

	fprintf(out, "Providers (provider = NAME):\n");
	for (size_t i = 0; provider_spec_at(i); i++) {
		const struct provider_spec *spec = provider_spec_at(i);
		fprintf(out, "  %-9s %s\n", spec->name, spec->description);
		print_words(out, "            requires", "             ", spec->required);
		if (spec->accepts[0])
			print_words(out, "            accepts ", "             ", spec->accepts);
	}
	for (size_t i = 0; i < NKEYS; i++)
		if (!provider_spec_names_key(keys[i].name))
			common[n++] = keys[i].name;
	common[n] = NULL;
	print_words(out, "Keys for every provider:", " ", common);
}

int config_read_secret(const char *path, char **out, char *err, size_t errlen)
{
	return config_read_secret_key("secret_file", path, out, err, errlen);
}

int config_read_secret_key(const char *key, const char *path, char **out, char *err,
			   size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", key, path);
		goto fail;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "%s %s: readable by group or others (mode %03o); run chmod 600",
			 key, path, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	/* Its owner could read or swap the secret at any time. */
	if (!owner_trusted(st.st_uid)) {
		snprintf(err, errlen, "%s %s: owned by uid %u, not by this user or root: chown it",
			 key, path, (unsigned)st.st_uid);
		goto fail;
	}
	buf = calloc(1, SECRET_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ssize_t n = read(fd, buf, SECRET_MAX);
	if (n < 0) {
		snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
		goto fail;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf) {
		snprintf(err, errlen, "%s %s: empty", key, path);
		goto fail;
	}
	close(fd);
	*out = buf;
	return 0;
fail:
	if (buf) {
		explicit_bzero(buf, SECRET_MAX + 1);
		free(buf);
	}
	close(fd);
	return -1;
}

void perm_of_config(const struct fs_config *c, struct fs_perm *p)
{
	p->uid = c->owner >= 0 ? (uid_t)c->owner : getuid();
	p->gid = c->group >= 0 ? (gid_t)c->group : getgid();
	p->mode = (mode_t)c->mode;
}
