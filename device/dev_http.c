/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* HTTP, by libcurl: one request and its answer, URLs resolved, the URLs
 * of SCEP built. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "dev.h"

size_t dev_sink_write(char *data, size_t size, size_t n, void *ctx)
{
    http_sink *s = ctx;
    apr_size_t add = size * n;
    char *grown;

    if (s->len + add > MAX_BODY) {
        s->too_big = 1;
        return 0;
    }
    if (s->len + add + 1 > s->size) {
        s->size = (s->len + add + 1) * 2;
        grown = apr_palloc(s->p, s->size);
        if (s->len) {
            memcpy(grown, s->buf, s->len);
        }
        s->buf = grown;
    }
    memcpy(s->buf + s->len, data, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

static void http_setup(CURL *curl, const dev_ctx *ctx,
                       const http_request *rq, http_sink *sink,
                       char *errbuf)
{
    curl_easy_setopt(curl, CURLOPT_URL, rq->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, ctx->os->user_agent);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, dev_sink_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    if (ctx->cacert) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ctx->cacert);
    }
    if (rq->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, rq->user);
    }
    if (rq->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)rq->len);
    }
}

http_answer *dev_http_do(const dev_ctx *ctx, const http_request *rq)
{
    http_answer *a = apr_pcalloc(ctx->p, sizeof(*a));
    http_sink sink = { ctx->p, NULL, 0, 0, 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    char *ct = NULL;
    CURLcode rc;

    if (!curl) {
        a->error = "cannot start libcurl";
        return a;
    }
    http_setup(curl, ctx, rq, &sink, errbuf);
    if (rq->body) {
        headers = curl_slist_append(headers, apr_pstrcat(ctx->p,
                                    "Content-Type: ", rq->content_type,
                                    NULL));
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
        a->content_type = apr_pstrdup(ctx->p, ct ? ct : "");
    }
    else {
        a->error = sink.too_big ? "answer larger than 1 MiB"
                   : apr_pstrdup(ctx->p, *errbuf ? errbuf
                                                 : curl_easy_strerror(rc));
    }
    a->body = sink.buf ? sink.buf : "";
    a->len = sink.len;
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return a;
}

int dev_media_type_is(const char *ct, const char *want)
{
    apr_size_t n = strlen(want);

    return ct && strncasecmp(ct, want, n) == 0
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ref resolved against base, as a browser would. */
const char *dev_url_resolve(const char *base, const char *ref,
                            apr_pool_t *p)
{
    CURLU *u = curl_url();
    char *text = NULL;
    const char *out = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) {
        out = apr_pstrdup(p, text);
    }
    curl_free(text);
    curl_url_cleanup(u);
    return out;
}

/* URL?operation=OP&message=MESSAGE (the CA name, or a GET PKIOperation's
 * base64 pkiMessage), percent-encoded: a space as %20 (a '+' is not a
 * space to every server), and base64's '+', '/' and '='. */
const char *dev_scep_url_build(const char *base, const char *operation,
                               const char *message, apr_pool_t *p)
{
    CURLU *u = curl_url();
    char *msg = message ? curl_easy_escape(NULL, message, 0) : NULL;
    char *text = NULL;
    const char *out = NULL;

    if (u && (!message || msg)
        && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_QUERY,
                        apr_pstrcat(p, "operation=", operation, NULL),
                        CURLU_APPENDQUERY) == CURLUE_OK
        && (!msg || curl_url_set(u, CURLUPART_QUERY,
                                 apr_pstrcat(p, "message=", msg, NULL),
                                 CURLU_APPENDQUERY) == CURLUE_OK)
        && curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) {
        out = apr_pstrdup(p, text);
    }
    curl_free(msg);
    curl_free(text);
    curl_url_cleanup(u);
    return out;
}
