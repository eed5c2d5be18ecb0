/*
 * The Vexora provider: provider_ops over http.c, with vexora_parse.c doing the wire format.
 *
 * Every API call is POST {base_url}/v1/vexora/orderExport/{apply,status,downloadUrl} with
 * headers Content-Type and merchantNo and a JSON body carrying a millisecond timestamp and an
 * MD5 signature (vexora_sign.h). The secret lives only in struct vexora and the signing
 * buffer, both wiped; no log line or error message ever contains it. Downloads go to the
 * temporary URL with nothing of ours attached. State is read-only after vexora_new(), so
 * every op is thread-safe; the http client carries its own lock.
 */
#include "vexora.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "../../common/check.h"
#include "../http.h"
#include "../../common/clock.h"
#include "../../common/log.h"
#include "../secret_file.h"
#include "vexora_parse.h"
#include "zip_check.h"

#define VEXORA_MAX_RANGE_DAYS 7
#define VEXORA_WINDOW_MONTHS 3

struct vexora {
	struct provider base;
	char *base_url; /* owned, sized to its text: 1,000 accounts must not each carry
			 * VEXORA_BASE_URL_MAX bytes */
	char merchant_header[160]; /* "merchantNo: <merchant_no>" */
	struct secret_file *secret; /* the signing secret, read again when its file changes */
	struct http_client *http;
	int64_t (*now_ms)(void);
};

static struct vexora *vx(struct provider *p)
{
	return p->priv;
}

static int64_t vexora_now_ms(const struct vexora *v)
{
	return v->now_ms ? v->now_ms() : clock_real_ms();
}

static int vexora_check(struct provider *p, const struct export_request *req, int64_t now_s,
			struct client_error *err)
{
	char r[DATE_RANGE_STR_LEN];
	const char *why = NULL;
	struct date today = provider_today(p, now_s);

	client_error_clear(err);
	if (vexora_check_report_type(req->report_type, err) != 0 ||
	    !vexora_language(req->language, err))
		return -1;
	if (date_range_check(&req->range, &today, VEXORA_MAX_RANGE_DAYS, VEXORA_WINDOW_MONTHS,
			     &why) != 0) {
		date_range_format(&req->range, r);
		client_error_set(err, CLIENT_E_INVALID,
				 "%s: %s (Vexora exports at most %d days, within the last %d "
				 "months, ending today at the latest)",
				 r, why, VEXORA_MAX_RANGE_DAYS, VEXORA_WINDOW_MONTHS);
		return -1;
	}
	return 0;
}

/*
 * Non-2xx API answers. 429/503 and 5xx are the transport's fault; anything else may still
 * carry a Vexora envelope worth reporting. Always returns -1 with *err.
 */
static int status_error(enum vexora_endpoint ep, const struct http_response *resp,
			struct client_error *err)
{
	const char *name = vexora_endpoint_name(ep);
	struct export_task t;
	struct download_url u;
	int rc;

	if (resp->status == 429 || resp->status == 503) {
		client_error_set(err, CLIENT_E_RATE_LIMIT, "HTTP %ld from %s", resp->status, name);
		err->retry_after_ms = resp->retry_after_ms;
		return -1;
	}
	if (resp->status >= 500 && resp->status <= 599) {
		client_error_set(err, CLIENT_E_TRANSIENT, "HTTP %ld from %s", resp->status, name);
		return -1;
	}
	if (ep == VEXORA_EP_APPLY)
		rc = vexora_parse_apply(resp->body, resp->len, &t, err);
	else if (ep == VEXORA_EP_STATUS)
		rc = vexora_parse_status(resp->body, resp->len, NULL, &t, err);
	else
		rc = vexora_parse_download_url(resp->body, resp->len, 0, &u, err);
	if (rc == 0 || err->code[0] == '\0')
		client_error_set(err, CLIENT_E_PROTOCOL, "HTTP %ld from %s", resp->status, name);
	return -1;
}

/* Sign and POST body to the endpoint. On 0, *resp holds a 2xx answer (caller frees). */
static int vexora_call(struct vexora *v, enum vexora_endpoint ep, cJSON *body,
		       struct http_response *resp, struct client_error *err)
{
	char url[VEXORA_URL_MAX];
	const char *headers[1] = {v->merchant_header};
	char *text = NULL;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	if (vexora_endpoint_url(v->base_url, ep, url, sizeof(url)) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "base_url too long");
		return -1;
	}
	char *secret = secret_file_get(v->secret, NULL);
	if (!secret) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		err->sys_errno = ENOMEM;
		return -1;
	}
	text = vexora_body_finish(body, secret, err);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	if (!text)
		return -1;
	if (http_post_json(v->http, url, headers, 1, text, resp, err) != 0)
		goto out;
	if (resp->status < 200 || resp->status > 299) {
		err->http_status = (int)resp->status;
		status_error(ep, resp, err);
		http_response_free(resp);
		goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

static int vexora_apply(struct provider *p, const struct export_request *req,
			struct export_task *out, struct client_error *err)
{
	struct vexora *v = vx(p);
	struct http_response resp;
	char r[DATE_RANGE_STR_LEN];
	int rc = -1;

	client_error_clear(err);
	cJSON *body = vexora_apply_body(req, vexora_now_ms(v), err);
	if (!body)
		return -1;
	if (vexora_call(v, VEXORA_EP_APPLY, body, &resp, err) != 0)
		goto out;
	rc = vexora_parse_apply(resp.body, resp.len, out, err);
	if (rc != 0)
		http_reply_context(&resp, err);
	http_response_free(&resp);
	if (rc == 0) {
		date_range_format(&req->range, r);
		log_debug("vexora: applied %s -> task %s (%s)", r, out->id,
			  export_state_name(out->state));
	}
out:
	cJSON_Delete(body);
	return rc;
}

static int vexora_query(struct provider *p, const char *task_id, struct export_task *out,
			struct client_error *err)
{
	struct vexora *v = vx(p);
	struct http_response resp;
	int rc = -1;

	client_error_clear(err);
	cJSON *body = vexora_task_body(task_id, vexora_now_ms(v), err);
	if (!body)
		return -1;
	if (vexora_call(v, VEXORA_EP_STATUS, body, &resp, err) != 0)
		goto out;
	rc = vexora_parse_status(resp.body, resp.len, task_id, out, err);
	if (rc != 0)
		http_reply_context(&resp, err);
	http_response_free(&resp);
out:
	cJSON_Delete(body);
	return rc;
}

static int vexora_get_urls(struct provider *p, const char *task_id, struct download_url *urls,
			   size_t max, size_t *n, struct client_error *err)
{
	struct vexora *v = vx(p);
	struct http_response resp;
	int rc = -1;

	client_error_clear(err);
	*n = 0;
	if (max < 1) {
		client_error_set(err, CLIENT_E_INVALID, "no room for a download URL");
		return -1;
	}
	cJSON *body = vexora_task_body(task_id, vexora_now_ms(v), err);
	if (!body)
		return -1;
	if (vexora_call(v, VEXORA_EP_DOWNLOAD_URL, body, &resp, err) != 0)
		goto out;
	/* The validity counts from when the answer arrived. */
	rc = vexora_parse_download_url(resp.body, resp.len, vexora_now_ms(v), &urls[0], err);
	if (rc != 0)
		http_reply_context(&resp, err);
	http_response_free(&resp);
	if (rc == 0)
		*n = 1;
out:
	cJSON_Delete(body);
	return rc;
}

static int vexora_download(struct provider *p, const struct download_url *url, uint64_t offset,
			   const struct download_sink *sink, uint64_t *total,
			   struct client_error *err)
{
	struct vexora *v = vx(p);

	client_error_clear(err);
	if (total)
		*total = UINT64_MAX;
	if (url->expires_ms > 0 && vexora_now_ms(v) >= url->expires_ms) {
		client_error_set(err, CLIENT_E_URL_EXPIRED, "download URL is past its expiry");
		return -1;
	}
	return http_download(v->http, url->url, offset, sink, total, err);
}

/* Vexora exports are xlsx, i.e. zip archives: whole only with their end record at EOF. */
static int vexora_verify(struct provider *p, int fd, uint64_t size, struct client_error *err)
{
	int rc = zip_check_end(fd, size);

	if (rc == 0)
		return 0;
	if (rc == -EBADMSG && zip_check_gzip(fd, size)) {
		/* Compressed every time: downloading again will not help. */
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "the file arrived gzip-compressed (%llu bytes; Content-Encoding: "
				 "gzip is never decoded), not an xlsx",
				 (unsigned long long)size);
	} else if (rc == -EBADMSG) {
		client_error_set(err, CLIENT_E_TRANSIENT,
				 "download incomplete or not an xlsx: %llu bytes arrived, but the file "
				 "has no zip end record (a wrong or missing length, or another format)",
				 (unsigned long long)size);
	} else {
		client_error_set(err, CLIENT_E_LOCAL, "cannot read downloaded file: %s",
				 strerror(-rc));
		err->sys_errno = -rc;
	}
	return -1;
}

/* Fleet mode shares the request cap between hosts. */
static void vexora_set_request_rate(struct provider *p, double per_s)
{
	struct vexora *x = p->priv;
	http_set_rate(x->http, per_s);
}

static void vexora_destroy(struct provider *p)
{
	struct vexora *v;

	if (!p)
		return;
	v = vx(p);
	http_client_free(v->http);
	secret_file_free(v->secret);
	free(v->base_url);
	OPENSSL_cleanse(v, sizeof(*v));
	free(v);
}

static uint64_t vexora_credentials_version(struct provider *p)
{
	return secret_file_gen(vx(p)->secret);
}

static const struct provider_ops vexora_ops = {
	.check = vexora_check,
	.apply = vexora_apply,
	.query = vexora_query,
	.get_urls = vexora_get_urls,
	.download = vexora_download,
	.verify = vexora_verify,
	.set_request_rate = vexora_set_request_rate,
	.credentials_version = vexora_credentials_version,
	.destroy = vexora_destroy,
};

/* One whole-file type: the order export, an xlsx shown as orders.xlsx. */
static const struct provider_type vexora_types[] = {{"order", "orders", "xlsx", NULL, NULL}};

struct provider *vexora_new(const struct vexora_config *cfg, struct client_error *err)
{
	struct http_options ho = {0};
	struct vexora *v;
	char url[VEXORA_BASE_URL_MAX];

	client_error_clear(err);
	/* The merchant number goes into a header line and cache keys. */
	if (!check_token(cfg->merchant_no, sizeof(v->base.account) - 1)) {
		client_error_set(err, CLIENT_E_INVALID,
				 "merchant_no must be 1..127 printable characters without spaces");
		return NULL;
	}
	if (!cfg->secret || !*cfg->secret) {
		client_error_set(err, CLIENT_E_INVALID, "the signing secret is empty");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		goto oom;
	v->base.priv = v; /* first: the fail path destroys through it */
	if (http_base_url(cfg->base_url, url, sizeof(url), err) != 0)
		goto fail;
	if (!(v->base_url = strdup(url)))
		goto oom;
	snprintf(v->merchant_header, sizeof(v->merchant_header), "merchantNo: %s",
		 cfg->merchant_no);
	if (!(v->secret = secret_file_new(cfg->secret_path, cfg->secret)))
		goto oom;
	v->now_ms = cfg->now_ms;

	ho.connect_timeout_ms = cfg->connect_timeout_ms;
	ho.request_timeout_ms = cfg->request_timeout_ms;
	ho.download_stall_s = cfg->download_stall_s;
	ho.download_min_rate = cfg->download_min_rate;
	ho.tls_insecure = cfg->tls_insecure;
	ho.allow_private = cfg->download_allow_private;
	ho.api_url = cfg->base_url;
	ho.max_requests_per_s = cfg->max_requests_per_s;
	v->http = http_client_new(&ho, err);
	if (!v->http)
		goto fail;

	v->base.ops = &vexora_ops;
	v->base.name = "vexora";
	snprintf(v->base.account, sizeof(v->base.account), "%s", cfg->merchant_no);
	v->base.max_range_days = VEXORA_MAX_RANGE_DAYS;
	v->base.window_months = VEXORA_WINDOW_MONTHS;
	v->base.types = vexora_types;
	v->base.ntypes = 1;
	v->base.shared_tasks = 1; /* a task id is the merchant's, not this host's */
	return &v->base;
oom:
	err->sys_errno = ENOMEM;
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
fail:
	if (v)
		vexora_destroy(&v->base);
	return NULL;
}
