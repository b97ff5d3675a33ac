/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_getcacaps: parsing, fetching from an in-process HTTP server, and the
 * refreshing cache. */

#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <apr_general.h>
#include <apr_atomic.h>
#include <apr_network_io.h>
#include <apr_signal.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <curl/curl.h>

#include "ota_getcacaps.h"
#include "unit.h"

/* What the test server answers. */
enum {
    SRV_CAPS,       /* 200, four capabilities, CRLF */
    SRV_CAPS2,      /* 200, two other capabilities */
    SRV_404,
    SRV_BIG,        /* 200, 5000 bytes with Content-Length */
    SRV_BIG_NOLEN,  /* 200, 5000 bytes ended by closing */
    SRV_HTML,       /* 200, not a capability list */
    SRV_REDIRECT,   /* 302 to itself, forever */
    SRV_SILENT      /* accepts, reads, never answers */
};

typedef struct test_server {
    apr_socket_t *listener;
    apr_port_t port;
    apr_thread_t *thread;
    apr_thread_mutex_t *mutex;
    char line[256];                 /* last request line, under mutex */
    volatile apr_uint32_t mode;
    volatile apr_uint32_t served;
    volatile apr_uint32_t stop;
} test_server;

static const char caps_body[] =
    "AES\r\nPOSTPKIOperation\r\nSHA-256\r\nSCEPStandard\r\n";

static apr_status_t send_all(apr_socket_t *s, const char *buf, apr_size_t len)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t n;

    while (len && rv == APR_SUCCESS) {
        n = len;
        rv = apr_socket_send(s, buf, &n);
        buf += n;
        len -= n;
    }
    return rv;
}

static const char *srv_answer(apr_uint32_t mode, apr_pool_t *p)
{
    char *big = apr_palloc(p, 5001);

    memset(big, 'A', 5000);
    big[5000] = '\0';
    switch (mode) {
    case SRV_CAPS:
        return apr_psprintf(p, "HTTP/1.1 200 OK\r\nContent-Type: text/plain"
                            "\r\nContent-Length: %d\r\nConnection: close"
                            "\r\n\r\n%s", (int)strlen(caps_body), caps_body);
    case SRV_CAPS2:
        return "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n"
               "Connection: close\r\n\r\nSHA-512\nRenewal\n";
    case SRV_404:
        return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
    case SRV_BIG:
        return apr_pstrcat(p, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n"
                           "Connection: close\r\n\r\n", big, NULL);
    case SRV_BIG_NOLEN:
        return apr_pstrcat(p, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                           big, NULL);
    case SRV_HTML:
        return "HTTP/1.1 200 OK\r\nContent-Length: 34\r\n"
               "Connection: close\r\n\r\n<html><p>No such page</p></html>\r\n";
    case SRV_REDIRECT:
        return "HTTP/1.1 302 Found\r\nLocation: /scep?operation=GetCACaps"
               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
    return NULL;
}

/* Reads the request head, answers by mode; SILENT holds the connection
 * until the client closes it. */
static void srv_serve(test_server *s, apr_socket_t *c, apr_pool_t *p)
{
    char buf[2048], sink[256];
    apr_size_t len = 0, n;
    const char *answer;
    char *eol;

    buf[0] = '\0';
    while (len < sizeof(buf) - 1 && !strstr(buf, "\r\n\r\n")) {
        n = sizeof(buf) - 1 - len;
        if (apr_socket_recv(c, buf + len, &n) != APR_SUCCESS || n == 0) {
            return;
        }
        len += n;
        buf[len] = '\0';
    }
    if ((eol = strstr(buf, "\r\n")) != NULL) {
        *eol = '\0';
    }
    apr_thread_mutex_lock(s->mutex);
    apr_cpystrn(s->line, buf, sizeof(s->line));
    apr_thread_mutex_unlock(s->mutex);
    answer = srv_answer(apr_atomic_read32(&s->mode), p);
    apr_atomic_inc32(&s->served);
    if (answer) {
        send_all(c, answer, strlen(answer));
        return;
    }
    do {
        n = sizeof(sink);
    } while (apr_socket_recv(c, sink, &n) == APR_SUCCESS && n > 0);
}

static void *APR_THREAD_FUNC srv_thread(apr_thread_t *thd, void *data)
{
    test_server *s = data;
    apr_pool_t *cp;
    apr_socket_t *c;

    apr_pool_create(&cp, apr_thread_pool_get(thd));
    while (!apr_atomic_read32(&s->stop)) {
        if (apr_socket_accept(&c, s->listener, cp) == APR_SUCCESS) {
            if (!apr_atomic_read32(&s->stop)) {
                srv_serve(s, c, cp);
            }
            apr_socket_close(c);
        }
        apr_pool_clear(cp);
    }
    return NULL;
}

static apr_status_t srv_start(test_server *s, apr_pool_t *p)
{
    apr_sockaddr_t *sa;
    apr_status_t rv;

    memset(s, 0, sizeof(*s));
    if ((rv = apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, p))
        || (rv = apr_socket_create(&s->listener, APR_INET, SOCK_STREAM,
                                   APR_PROTO_TCP, p))
        || (rv = apr_socket_opt_set(s->listener, APR_SO_REUSEADDR, 1))
        || (rv = apr_socket_bind(s->listener, sa))
        || (rv = apr_socket_listen(s->listener, 8))
        || (rv = apr_socket_addr_get(&sa, APR_LOCAL, s->listener))
        || (rv = apr_thread_mutex_create(&s->mutex, APR_THREAD_MUTEX_DEFAULT,
                                         p))) {
        return rv;
    }
    s->port = sa->port;
    return apr_thread_create(&s->thread, NULL, srv_thread, s, p);
}

/* Wakes the blocking accept with one last connection. */
static void srv_stop(test_server *s, apr_pool_t *p)
{
    apr_sockaddr_t *sa;
    apr_socket_t *c;
    apr_status_t ignored;

    apr_atomic_set32(&s->stop, 1);
    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, s->port, 0, p)
        == APR_SUCCESS
        && apr_socket_create(&c, APR_INET, SOCK_STREAM, APR_PROTO_TCP, p)
        == APR_SUCCESS) {
        apr_socket_connect(c, sa);
        apr_socket_close(c);
    }
    apr_thread_join(&ignored, s->thread);
    apr_socket_close(s->listener);
}

static const char *srv_line(test_server *s, apr_pool_t *p)
{
    const char *line;

    apr_thread_mutex_lock(s->mutex);
    line = apr_pstrdup(p, s->line);
    apr_thread_mutex_unlock(s->mutex);
    return line;
}

static const char *cap(const apr_array_header_t *caps, int i)
{
    if (caps == NULL || i >= caps->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(caps, i, const char *);
}

static apr_status_t parse_str(apr_array_header_t **caps, const char *body,
                              const char **why, apr_pool_t *p)
{
    return ota_getcacaps_parse(caps, body, strlen(body), why, p);
}

static void test_parse_ok(apr_pool_t *p)
{
    apr_array_header_t *caps;
    const char *why = "unset";
    apr_status_t rv;

    rv = parse_str(&caps, "AES\nPOSTPKIOperation\nSHA-256\n", &why, p);
    is_int(rv, APR_SUCCESS, "parse: LF list");
    is_int(caps ? caps->nelts : -1, 3, "parse: LF list has 3 caps");
    is_str(cap(caps, 1), "POSTPKIOperation", "parse: LF list order kept");
    ok(why == NULL, "parse: why cleared on success");

    rv = parse_str(&caps, "AES\r\nSHA-256\r\nRenewal\r\n", &why, p);
    is_int(rv, APR_SUCCESS, "parse: CRLF list");
    is_str(cap(caps, 2), "Renewal", "parse: CRLF stripped");

    rv = parse_str(&caps, "\r\n  AES \t\r\n\n\t SHA-1\r\n   \r\nDES3", &why,
                   p);
    is_int(caps ? caps->nelts : -1, 3,
           "parse: blank lines and whitespace ignored");
    is_str(cap(caps, 0), "AES", "parse: leading/trailing blanks trimmed");
    is_str(cap(caps, 2), "DES3", "parse: last line without LF");

    rv = parse_str(&caps, "AES\nSHA-1\nAES\r\nSHA-1\nDES3\n", &why, p);
    is_int(caps ? caps->nelts : -1, 3, "parse: duplicates dropped");
    is_str(cap(caps, 2), "DES3", "parse: order of first appearance kept");
}

static void test_parse_bad(apr_pool_t *p)
{
    apr_array_header_t *caps;
    const char *why;
    apr_status_t rv;

    why = NULL;
    rv = ota_getcacaps_parse(&caps, "", 0, &why, p);
    ok(rv == APR_EINVAL && caps == NULL && why, "parse: empty -> EINVAL");
    why = NULL;
    rv = parse_str(&caps, "\r\n\n \t \r\n", &why, p);
    ok(rv == APR_EINVAL && why, "parse: only blank lines -> EINVAL");
    why = NULL;
    rv = parse_str(&caps, "AES\nSHA 256\n", &why, p);
    ok(rv == APR_EINVAL && why && strstr(why, "line 2"),
       "parse: space inside a cap -> EINVAL naming the line");
    why = NULL;
    rv = parse_str(&caps, "AES\x01\n", &why, p);
    ok(rv == APR_EINVAL && why && strstr(why, "0x01"),
       "parse: control byte -> EINVAL naming the byte");
    rv = parse_str(&caps, "AES\rSHA-1\n", &why, p);
    is_int(rv, APR_EINVAL, "parse: bare CR inside a line -> EINVAL");
    rv = parse_str(&caps, "AES\n\xc3\xa9t\xc3\xa9\n", &why, p);
    is_int(rv, APR_EINVAL, "parse: non-ASCII -> EINVAL");
    rv = ota_getcacaps_parse(&caps, "AES\0SHA-1\n", 10, &why, p);
    is_int(rv, APR_EINVAL, "parse: NUL byte -> EINVAL");
}

static void test_parse_bounds(apr_pool_t *p)
{
    apr_array_header_t *caps;
    char body[OTA_GETCACAPS_MAX_BODY + 2], *lines = "";
    const char *why;
    int i;

    for (i = 0; i < OTA_GETCACAPS_MAX_CAPS; i++) {
        lines = apr_psprintf(p, "%sCap-%d\n", lines, i);
    }
    is_int(parse_str(&caps, lines, &why, p), APR_SUCCESS,
           "parse: exactly MAX_CAPS lines accepted");
    lines = apr_pstrcat(p, lines, "Cap-X\n", NULL);
    why = NULL;
    ok(parse_str(&caps, lines, &why, p) == APR_EINVAL && why,
       "parse: MAX_CAPS + 1 lines -> EINVAL");
    is_int(parse_str(&caps, apr_psprintf(p, "%.64d\n", 7), &why, p),
           APR_SUCCESS, "parse: 64-byte cap accepted");
    is_int(parse_str(&caps, apr_psprintf(p, "%.65d\n", 7), &why, p),
           APR_EINVAL, "parse: 65-byte cap -> EINVAL");

    memset(body, ' ', sizeof(body));
    memcpy(body, "AES\n", 4);
    is_int(ota_getcacaps_parse(&caps, body, OTA_GETCACAPS_MAX_BODY, &why, p),
           APR_SUCCESS, "parse: body of exactly MAX_BODY accepted");
    why = NULL;
    ok(ota_getcacaps_parse(&caps, body, OTA_GETCACAPS_MAX_BODY + 1, &why, p)
       == APR_EINVAL && why, "parse: oversize body -> EINVAL");

    caps = ota_getcacaps_fallback(p);
    ok(caps->nelts == 2 && strcmp(cap(caps, 0), "DES3") == 0
       && strcmp(cap(caps, 1), "SHA-1") == 0, "fallback is DES3, SHA-1");
}

static const char *url_of(test_server *s, const char *path, apr_pool_t *p)
{
    return apr_psprintf(p, "http://127.0.0.1:%d%s", (int)s->port, path);
}

/* A fetch of URL within 5 seconds; *WHY set to a stale reason first, so
 * that only the fetch can clear or name it. */
static apr_status_t fetch(const char *url, apr_array_header_t **caps,
                          const char **why, apr_pool_t *p)
{
    *why = "(stale)";
    return ota_getcacaps_fetch(caps, url, apr_time_from_sec(5), why, p);
}

/* The server set to MODE, then a fetch of its /scep. */
static apr_status_t fetch_mode(test_server *s, apr_uint32_t mode,
                               apr_array_header_t **caps, const char **why,
                               apr_pool_t *p)
{
    apr_atomic_set32(&s->mode, mode);
    return fetch(url_of(s, "/scep", p), caps, why, p);
}

static void test_fetch_ok(test_server *s, apr_pool_t *p)
{
    apr_array_header_t *caps;
    const char *why;
    apr_status_t rv;

    rv = fetch_mode(s, SRV_CAPS, &caps, &why, p);
    is_int(rv, APR_SUCCESS, "fetch: 200 with caps");
    ok(why == NULL, "fetch: no why on success");
    ok(caps && caps->nelts == 4 && strcmp(cap(caps, 3), "SCEPStandard") == 0,
       "fetch: the server's four caps");
    is_str(srv_line(s, p), "GET /scep?operation=GetCACaps HTTP/1.1",
           "fetch: request line appends ?operation=GetCACaps");

    rv = fetch(url_of(s, "/cgi-bin/pkiclient.exe?x=1", p), &caps, &why, p);
    is_int(rv, APR_SUCCESS, "fetch: URL with a query");
    is_str(srv_line(s, p),
           "GET /cgi-bin/pkiclient.exe?x=1&operation=GetCACaps HTTP/1.1",
           "fetch: existing query extended with &");
}

static void test_fetch_fail(test_server *s, apr_pool_t *p)
{
    apr_array_header_t *caps;
    const char *why;
    apr_uint32_t before;
    apr_status_t rv;

    rv = fetch_mode(s, SRV_404, &caps, &why, p);
    ok(rv != APR_SUCCESS && caps == NULL && why && strstr(why, "404"),
       "fetch: 404 -> error naming the status");
    rv = fetch_mode(s, SRV_BIG, &caps, &why, p);
    ok(rv == APR_EINVAL && why && strstr(why, "larger"),
       "fetch: oversize body with Content-Length refused");
    rv = fetch_mode(s, SRV_BIG_NOLEN, &caps, &why, p);
    ok(rv == APR_EINVAL && why && strstr(why, "larger"),
       "fetch: oversize body without length aborted");
    is_int(fetch_mode(s, SRV_HTML, &caps, &why, p), APR_EINVAL,
           "fetch: 200 with HTML -> EINVAL");

    before = apr_atomic_read32(&s->served);
    ok(fetch_mode(s, SRV_REDIRECT, &caps, &why, p) != APR_SUCCESS,
       "fetch: endless redirect -> error");
    is_int(apr_atomic_read32(&s->served) - before, 4,
           "fetch: followed 3 redirects, no more");

    ok(fetch("file:///etc/passwd", &caps, &why, p) != APR_SUCCESS,
       "fetch: file:// refused");
    ok(fetch("https://", &caps, &why, p) != APR_SUCCESS,
       "fetch: malformed URL -> error");
}

static void test_fetch_timeout(test_server *s, apr_pool_t *p)
{
    apr_array_header_t *caps;
    const char *why = NULL;
    apr_interval_time_t timeout = apr_time_from_msec(300);
    apr_time_t t0;
    apr_status_t rv;

    apr_atomic_set32(&s->mode, SRV_SILENT);
    t0 = apr_time_now();
    rv = ota_getcacaps_fetch(&caps, url_of(s, "/scep", p), timeout, &why, p);
    is_int(rv, APR_TIMEUP, "fetch: silent server -> APR_TIMEUP");
    ok(apr_time_now() - t0 < timeout + apr_time_from_sec(1),
       "fetch: silent server bounded by timeout + 1s");
    ok(why && strstr(why, "timed out"), "fetch: why says timed out");
}

/* Polls until the server has served `count` requests, at most 5s. */
static int wait_served(test_server *s, apr_uint32_t count)
{
    apr_time_t until = apr_time_now() + apr_time_from_sec(5);

    while (apr_atomic_read32(&s->served) < count && apr_time_now() < until) {
        apr_sleep(apr_time_from_msec(10));
    }
    return apr_atomic_read32(&s->served) >= count;
}

/* A cache, in *P (a new subpool of ROOT), of the server set to MODE at
 * PATH: refreshed every REFRESH, each fetch bounded by TIMEOUT. */
static apr_status_t cache_of(ota_getcacaps_cache **cache, apr_pool_t **p,
                             test_server *s, apr_uint32_t mode,
                             const char *path, apr_interval_time_t refresh,
                             apr_interval_time_t timeout, apr_pool_t *root)
{
    apr_atomic_set32(&s->mode, mode);
    apr_pool_create(p, root);
    return ota_getcacaps_cache_start(cache, url_of(s, path, *p), refresh,
                                     timeout, *p);
}

/* Destroys P, its cache's thread with it, within LIMIT: an assertion. */
static void destroyed_within(apr_pool_t *p, apr_interval_time_t limit,
                             const char *name)
{
    apr_time_t t0 = apr_time_now();

    apr_pool_destroy(p);
    ok(apr_time_now() - t0 < limit, name);
}

static void test_cache_silent(test_server *s, apr_pool_t *root)
{
    ota_getcacaps_cache *cache;
    apr_array_header_t *caps;
    ota_caps_source source = OTA_CAPS_FROM_CA;
    const char *why = NULL;
    apr_interval_time_t timeout = apr_time_from_msec(300);
    apr_pool_t *p;
    apr_time_t t0;

    is_int(cache_of(&cache, &p, s, SRV_SILENT, "/scep",
                    apr_time_from_msec(200), timeout, root),
           APR_SUCCESS, "cache: started against a silent CA");
    ok(!ota_getcacaps_cache_fallback_first(cache),
       "cache: fallback_first 0 before any get");
    t0 = apr_time_now();
    caps = ota_getcacaps_cache_get(cache, &source, &why, p);
    ok(apr_time_now() - t0 < timeout + apr_time_from_sec(1),
       "cache: first get bounded by timeout + 1s");
    is_int(source, OTA_CAPS_FALLBACK, "cache: silent CA -> fallback");
    ok(caps->nelts == 2 && strcmp(cap(caps, 0), "DES3") == 0,
       "cache: fallback list returned");
    ok(why && *why, "cache: why set on fallback");
    is_int(ota_getcacaps_cache_fallback_first(cache), 1,
           "cache: fallback_first 1 the first time");
    is_int(ota_getcacaps_cache_fallback_first(cache), 0,
           "cache: fallback_first 0 afterwards");

    wait_served(s, apr_atomic_read32(&s->served) + 1);
    t0 = apr_time_now();
    ota_getcacaps_cache_get(cache, &source, &why, p);
    ok(apr_time_now() - t0 < apr_time_from_msec(100),
       "cache: later get does not wait for a fetch in progress");
    is_int(ota_getcacaps_cache_fallback_first(cache), 0,
           "cache: fallback_first stays 0");
    destroyed_within(p, apr_time_from_sec(2),
                     "cache: pool destroy stops the thread");
}

/* The thread is blocked in a 10s fetch: destroying must not wait for it. */
static void test_cache_abort(test_server *s, apr_pool_t *root)
{
    ota_getcacaps_cache *cache;
    apr_uint32_t before = apr_atomic_read32(&s->served);
    apr_pool_t *p;

    cache_of(&cache, &p, s, SRV_SILENT, "/scep", apr_time_from_sec(60),
             apr_time_from_sec(10), root);
    ok(wait_served(s, before + 1), "cache: fetch in progress");
    destroyed_within(p, apr_time_from_msec(2500),
                     "cache: destroy aborts a fetch in progress");
}

/* Long refresh: only the cleanup's wake-up can end the thread's sleep. */
static void test_cache_idle(test_server *s, apr_pool_t *root)
{
    ota_getcacaps_cache *cache;
    ota_caps_source source = OTA_CAPS_FALLBACK;
    apr_pool_t *p;
    apr_time_t t0;

    cache_of(&cache, &p, s, SRV_CAPS, "/scep", apr_time_from_sec(60),
             apr_time_from_sec(3), root);
    t0 = apr_time_now();
    ota_getcacaps_cache_get(cache, &source, NULL, p);
    ok(source == OTA_CAPS_FROM_CA && apr_time_now() - t0
       < apr_time_from_sec(1), "cache: first get returns once CA answered");
    destroyed_within(p, apr_time_from_sec(1),
                     "cache: pool destroy wakes a thread sleeping 60s");
}

static int caps_first_is(ota_getcacaps_cache *cache, const char *want,
                         apr_pool_t *p)
{
    ota_caps_source source;
    apr_array_header_t *caps = ota_getcacaps_cache_get(cache, &source, NULL,
                                                       p);

    return source == OTA_CAPS_FROM_CA && strcmp(cap(caps, 0), want) == 0;
}

static void test_cache_answer(test_server *s, apr_pool_t *root)
{
    ota_getcacaps_cache *cache;
    apr_array_header_t *caps;
    ota_caps_source source = OTA_CAPS_FALLBACK;
    const char *why = "unset";
    apr_time_t until;
    apr_pool_t *p;

    cache_of(&cache, &p, s, SRV_CAPS, "/scep?ca=test", apr_time_from_msec(200),
             apr_time_from_sec(2), root);
    caps = ota_getcacaps_cache_get(cache, &source, &why, p);
    is_int(source, OTA_CAPS_FROM_CA, "cache: answering CA -> FROM_CA");
    ok(why == NULL, "cache: no why when the CA answered");
    ok(caps->nelts == 4 && strcmp(cap(caps, 1), "POSTPKIOperation") == 0,
       "cache: the CA's list");
    is_int(ota_getcacaps_cache_fallback_first(cache), 0,
           "cache: no fallback to report");

    apr_atomic_set32(&s->mode, SRV_404);
    ok(wait_served(s, apr_atomic_read32(&s->served) + 2),
       "cache: refreshed against a failing CA");
    ok(caps_first_is(cache, "AES", p), "cache: last good list kept");

    apr_atomic_set32(&s->mode, SRV_CAPS2);
    until = apr_time_now() + apr_time_from_sec(5);
    while (!caps_first_is(cache, "SHA-512", p) && apr_time_now() < until) {
        apr_sleep(apr_time_from_msec(20));
    }
    ok(caps_first_is(cache, "SHA-512", p), "cache: new answer replaces old");
    destroyed_within(p, apr_time_from_sec(1),
                     "cache: pool destroy stops an idle thread promptly");
}

int main(int argc, char **argv)
{
    test_server srv;
    int rc;

    unit_setup(argc, argv, 0);
    apr_signal(SIGPIPE, SIG_IGN);
    /* The in-process server must be reached directly. */
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);

    test_parse_ok(pool);
    test_parse_bad(pool);
    test_parse_bounds(pool);

    if (ok(srv_start(&srv, pool) == APR_SUCCESS, "test server started")) {
        test_fetch_ok(&srv, pool);
        test_fetch_fail(&srv, pool);
        test_fetch_timeout(&srv, pool);
        test_cache_silent(&srv, pool);
        test_cache_abort(&srv, pool);
        test_cache_idle(&srv, pool);
        test_cache_answer(&srv, pool);
        srv_stop(&srv, pool);
    }
    rc = unit_done();
    curl_global_cleanup();
    return rc;
}
