/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* GetCACaps: parsing, one bounded fetch, and a per-process cache kept
 * fresh by a background thread. Pure APR + libcurl. */

#include <string.h>
#include <stdarg.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <curl/curl.h>

#include "ota_getcacaps.h"
#include "ota_thread.h"

#define CAP_MAX_LEN      64
#define WHY_MAX          256
#define RETRY_MAX        apr_time_from_sec(30)
#define REFRESH_MIN      apr_time_from_msec(50)
#define FIRST_WAIT_SLACK apr_time_from_msec(250)

static apr_status_t fail(const char **why, apr_pool_t *p, const char *fmt,
                         ...)
{
    va_list ap;

    if (why) {
        va_start(ap, fmt);
        *why = apr_pvsprintf(p, fmt, ap);
        va_end(ap);
    }
    return APR_EINVAL;
}

/* Checks one trimmed, non-empty line; NULL when it is a valid capability. */
static const char *cap_check(const char *s, apr_size_t n, apr_pool_t *p)
{
    apr_size_t i;

    if (n > CAP_MAX_LEN) {
        return apr_psprintf(p, "capability longer than %d bytes",
                            CAP_MAX_LEN);
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t') {
            return "space inside a capability";
        }
        if (c < 0x21 || c > 0x7e) {
            return apr_psprintf(p, "byte 0x%02x in a capability", c);
        }
    }
    return NULL;
}

static int cap_present(const apr_array_header_t *caps, const char *cap)
{
    int i;

    for (i = 0; i < caps->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(caps, i, const char *), cap) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Adds one line (without its LF) to caps; *seen counts non-blank lines,
 * duplicates included, so the bound holds whatever the CA sends. */
static const char *parse_line(apr_array_header_t *caps, int *seen,
                              const char *s, apr_size_t n, apr_pool_t *p)
{
    const char *err, *cap;

    while (n && (*s == ' ' || *s == '\t' || *s == '\r')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    if (++*seen > OTA_GETCACAPS_MAX_CAPS) {
        return apr_psprintf(p, "more than %d capabilities",
                            OTA_GETCACAPS_MAX_CAPS);
    }
    if ((err = cap_check(s, n, p)) != NULL) {
        return err;
    }
    cap = apr_pstrmemdup(p, s, n);
    if (!cap_present(caps, cap)) {
        APR_ARRAY_PUSH(caps, const char *) = cap;
    }
    return NULL;
}

apr_status_t ota_getcacaps_parse(apr_array_header_t **caps, const char *body,
                                 apr_size_t len, const char **why,
                                 apr_pool_t *p)
{
    apr_array_header_t *out;
    apr_size_t pos, end;
    const char *err, *nl;
    int line = 0, seen = 0;

    *caps = NULL;
    if (len > OTA_GETCACAPS_MAX_BODY) {
        return fail(why, p, "answer of %" APR_SIZE_T_FMT " bytes, more "
                    "than %d", len, OTA_GETCACAPS_MAX_BODY);
    }
    out = apr_array_make(p, 8, sizeof(const char *));
    for (pos = 0; pos < len; pos = end + 1) {
        nl = memchr(body + pos, '\n', len - pos);
        end = nl ? (apr_size_t)(nl - body) : len;
        ++line;
        err = parse_line(out, &seen, body + pos, end - pos, p);
        if (err != NULL) {
            return fail(why, p, "line %d: %s", line, err);
        }
    }
    if (out->nelts == 0) {
        return fail(why, p, "empty answer");
    }
    *caps = out;
    if (why) {
        *why = NULL;
    }
    return APR_SUCCESS;
}

apr_array_header_t *ota_getcacaps_fallback(apr_pool_t *p)
{
    apr_array_header_t *caps = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(caps, const char *) = "DES3";
    APR_ARRAY_PUSH(caps, const char *) = "SHA-1";
    return caps;
}

/* curl_global_init exactly once per process, whichever thread comes
 * first: 0 untouched, 1 running, 2 done. */
static volatile apr_uint32_t curl_once_state;
static CURLcode curl_once_rc;

static CURLcode curl_once(void)
{
    if (apr_atomic_cas32(&curl_once_state, 1, 0) == 0) {
        curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        apr_atomic_set32(&curl_once_state, 2);
    }
    else {
        while (apr_atomic_read32(&curl_once_state) != 2) {
            apr_thread_yield();
        }
    }
    return curl_once_rc;
}

typedef struct fetch_ctx {
    char *buf;
    apr_size_t len;
    int overflow;
    volatile apr_uint32_t *stop;   /* NULL, or nonzero: abort */
} fetch_ctx;

static size_t fetch_write(char *data, size_t size, size_t n, void *baton)
{
    fetch_ctx *ctx = baton;
    apr_size_t bytes = size * n;

    if (bytes > OTA_GETCACAPS_MAX_BODY - ctx->len) {
        ctx->overflow = 1;
        return 0;
    }
    memcpy(ctx->buf + ctx->len, data, bytes);
    ctx->len += bytes;
    return bytes;
}

static int fetch_progress(void *baton, curl_off_t dltotal, curl_off_t dlnow,
                          curl_off_t ultotal, curl_off_t ulnow)
{
    fetch_ctx *ctx = baton;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return ctx->stop && apr_atomic_read32(ctx->stop) != 0;
}

static int fetch_setup(CURL *h, const char *url, apr_interval_time_t timeout,
                       fetch_ctx *ctx, char *errbuf)
{
    long ms = (long)apr_time_as_msec(timeout);

    if (ms < 1) {
        ms = 1;    /* 0 would mean no timeout at all */
    }
    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                            "http,https") == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t)OTA_GETCACAPS_MAX_BODY) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_WRITEDATA, ctx) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
                            fetch_progress) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_XFERINFODATA, ctx) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK
        && curl_easy_setopt(h, CURLOPT_USERAGENT,
                            "mod_ota_enroll") == CURLE_OK;
}

/* Turns the outcome of curl_easy_perform into a status and reason. */
static apr_status_t fetch_result(CURL *h, CURLcode rc, const fetch_ctx *ctx,
                                 const char *errbuf, const char **why,
                                 apr_pool_t *p)
{
    long code = 0;

    if (ctx->overflow || rc == CURLE_FILESIZE_EXCEEDED) {
        return fail(why, p, "answer larger than %d bytes",
                    OTA_GETCACAPS_MAX_BODY);
    }
    if (rc != CURLE_OK) {
        fail(why, p, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            return APR_TIMEUP;
        }
        return rc == CURLE_ABORTED_BY_CALLBACK ? APR_EINTR : APR_EGENERAL;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        fail(why, p, "HTTP status %ld", code);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t fetch_run(apr_array_header_t **caps, const char *scep_url,
                              apr_interval_time_t timeout,
                              volatile apr_uint32_t *stop, const char **why,
                              apr_pool_t *p)
{
    char errbuf[CURL_ERROR_SIZE];
    fetch_ctx ctx;
    const char *url;
    CURL *h;
    CURLcode rc;
    apr_status_t rv;

    *caps = NULL;
    if (scep_url == NULL || *scep_url == '\0') {
        return fail(why, p, "no SCEP URL");
    }
    if (curl_once() != CURLE_OK) {
        fail(why, p, "curl_global_init failed");
        return APR_EGENERAL;
    }
    url = apr_pstrcat(p, scep_url, strchr(scep_url, '?') ? "&" : "?",
                      "operation=GetCACaps", NULL);
    memset(&ctx, 0, sizeof(ctx));
    ctx.buf = apr_palloc(p, OTA_GETCACAPS_MAX_BODY);
    ctx.stop = stop;
    errbuf[0] = '\0';
    if ((h = curl_easy_init()) == NULL) {
        fail(why, p, "curl_easy_init failed");
        return APR_EGENERAL;
    }
    if (!fetch_setup(h, url, timeout, &ctx, errbuf)) {
        curl_easy_cleanup(h);
        fail(why, p, "libcurl refused an option");
        return APR_EGENERAL;
    }
    rc = curl_easy_perform(h);
    rv = fetch_result(h, rc, &ctx, errbuf, why, p);
    curl_easy_cleanup(h);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return ota_getcacaps_parse(caps, ctx.buf, ctx.len, why, p);
}

apr_status_t ota_getcacaps_fetch(apr_array_header_t **caps,
                                 const char *scep_url,
                                 apr_interval_time_t timeout,
                                 const char **why, apr_pool_t *p)
{
    return fetch_run(caps, scep_url, timeout, NULL, why, p);
}

struct ota_getcacaps_cache {
    apr_pool_t *pool;              /* private, with its own allocator */
    const char *url;
    apr_interval_time_t refresh;
    apr_interval_time_t timeout;
    apr_time_t first_deadline;     /* get() waits no later than this */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    apr_thread_t *thread;
    volatile apr_uint32_t stop;
    /* Under mutex: */
    apr_pool_t *answer_pool;       /* holds caps, one fresh pool per answer */
    apr_array_header_t *caps;      /* NULL until the CA answered */
    char why[WHY_MAX];             /* the last failure */
    int fetched;                   /* a fetch has completed */
    int fallback_served;
    int fallback_reported;
};

static apr_array_header_t *caps_copy(const apr_array_header_t *from,
                                     apr_pool_t *p)
{
    apr_array_header_t *to = apr_array_make(p, from->nelts,
                                            sizeof(const char *));
    int i;

    for (i = 0; i < from->nelts; i++) {
        APR_ARRAY_PUSH(to, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(from, i, const char *));
    }
    return to;
}

/* One fetch; publishes its outcome and returns how long to sleep. */
static apr_interval_time_t cache_refresh(ota_getcacaps_cache *c)
{
    apr_pool_t *fp = NULL, *ap = NULL, *old = NULL;
    apr_array_header_t *caps = NULL;
    const char *why = NULL;

    if (apr_pool_create(&fp, c->pool) == APR_SUCCESS
        && fetch_run(&caps, c->url, c->timeout, &c->stop, &why,
                     fp) == APR_SUCCESS
        && apr_pool_create(&ap, c->pool) == APR_SUCCESS) {
        caps = caps_copy(caps, ap);
    }
    apr_thread_mutex_lock(c->mutex);
    if (ap) {
        old = c->answer_pool;
        c->answer_pool = ap;
        c->caps = caps;
    }
    else {
        apr_cpystrn(c->why, why ? why : "out of memory", sizeof(c->why));
    }
    c->fetched = 1;
    apr_thread_cond_broadcast(c->cond);
    apr_thread_mutex_unlock(c->mutex);
    if (old) {
        apr_pool_destroy(old);
    }
    if (fp) {
        apr_pool_destroy(fp);
    }
    if (ap || c->refresh < RETRY_MAX) {
        return c->refresh;
    }
    return RETRY_MAX;
}

static void cache_sleep(ota_getcacaps_cache *c, apr_interval_time_t wait)
{
    apr_time_t until = apr_time_now() + wait, now;

    apr_thread_mutex_lock(c->mutex);
    while (!apr_atomic_read32(&c->stop) && (now = apr_time_now()) < until) {
        apr_thread_cond_timedwait(c->cond, c->mutex, until - now);
    }
    apr_thread_mutex_unlock(c->mutex);
}

static void *APR_THREAD_FUNC cache_thread(apr_thread_t *thd, void *data)
{
    ota_getcacaps_cache *c = data;

    (void)thd;
    while (!apr_atomic_read32(&c->stop)) {
        cache_sleep(c, cache_refresh(c));
    }
    /* No apr_thread_exit(): the thread's pool goes with c->pool. */
    return NULL;
}

static apr_status_t cache_cleanup(void *data)
{
    ota_getcacaps_cache *c = data;

    ota_thread_stop(c->thread, c->mutex, c->cond, &c->stop);
    apr_pool_destroy(c->pool);
    return APR_SUCCESS;
}

/* The cache's pool is unmanaged: `p` destroys its subpools before running
 * its cleanups, which would free it under the running thread. Its allocator
 * gets a mutex as the refresher creates and destroys subpools of it. */
static apr_status_t cache_create(ota_getcacaps_cache **out, const char *url,
                                 apr_interval_time_t refresh,
                                 apr_interval_time_t timeout)
{
    ota_getcacaps_cache *c;
    apr_thread_mutex_t *amutex;
    apr_pool_t *cp;
    apr_status_t rv;

    if ((rv = apr_pool_create_unmanaged_ex(&cp, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_thread_mutex_create(&amutex, APR_THREAD_MUTEX_DEFAULT,
                                      cp)) != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return rv;
    }
    apr_allocator_mutex_set(apr_pool_allocator_get(cp), amutex);
    c = apr_pcalloc(cp, sizeof(*c));
    c->pool = cp;
    c->url = apr_pstrdup(cp, url);
    c->refresh = refresh < REFRESH_MIN ? REFRESH_MIN : refresh;
    c->timeout = timeout;
    if ((rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      cp)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&c->cond, cp)) != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return rv;
    }
    *out = c;
    return APR_SUCCESS;
}

apr_status_t ota_getcacaps_cache_start(ota_getcacaps_cache **out,
                                       const char *scep_url,
                                       apr_interval_time_t refresh,
                                       apr_interval_time_t timeout,
                                       apr_pool_t *p)
{
    ota_getcacaps_cache *c;
    apr_status_t rv;

    *out = NULL;
    if (scep_url == NULL || *scep_url == '\0') {
        return APR_EINVAL;
    }
    if (curl_once() != CURLE_OK) {
        return APR_EGENERAL;
    }
    if ((rv = cache_create(&c, scep_url, refresh, timeout)) != APR_SUCCESS) {
        return rv;
    }
    c->first_deadline = apr_time_now() + timeout + FIRST_WAIT_SLACK;
    rv = apr_thread_create(&c->thread, NULL, cache_thread, c, c->pool);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(c->pool);
        return rv;
    }
    apr_pool_cleanup_register(p, c, cache_cleanup, apr_pool_cleanup_null);
    *out = c;
    return APR_SUCCESS;
}

apr_array_header_t *ota_getcacaps_cache_get(ota_getcacaps_cache *cache,
                                            ota_caps_source *source,
                                            const char **why,
                                            apr_pool_t *p)
{
    apr_array_header_t *caps = NULL;
    const char *reason = NULL;
    apr_time_t now;

    apr_thread_mutex_lock(cache->mutex);
    while (!cache->fetched
           && (now = apr_time_now()) < cache->first_deadline) {
        apr_thread_cond_timedwait(cache->cond, cache->mutex,
                                  cache->first_deadline - now);
    }
    if (cache->caps) {
        caps = caps_copy(cache->caps, p);
    }
    else {
        cache->fallback_served = 1;
        reason = cache->fetched ? apr_pstrdup(p, cache->why)
                 : apr_psprintf(p, "no answer within %" APR_TIME_T_FMT
                                " ms", apr_time_as_msec(cache->timeout));
    }
    apr_thread_mutex_unlock(cache->mutex);
    if (source) {
        *source = caps ? OTA_CAPS_FROM_CA : OTA_CAPS_FALLBACK;
    }
    if (why) {
        *why = reason;
    }
    return caps ? caps : ota_getcacaps_fallback(p);
}

int ota_getcacaps_cache_fallback_first(ota_getcacaps_cache *cache)
{
    int first = 0;

    apr_thread_mutex_lock(cache->mutex);
    if (cache->fallback_served && !cache->fallback_reported) {
        cache->fallback_reported = 1;
        first = 1;
    }
    apr_thread_mutex_unlock(cache->mutex);
    return first;
}
