/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The load command: many valid requests at a time, for make bench. Its
 * setup, the runs (libcurl's multi interface), their timing and the LOAD
 * line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "dev.h"
#include "dev_load.h"

apr_time_t dev_mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static double rusage_us(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec * 1e6 + ru->ru_utime.tv_usec
           + (double)ru->ru_stime.tv_sec * 1e6 + ru->ru_stime.tv_usec;
}

/* Bodies are kept (for the checks after the run) or only counted. */
static size_t load_write(char *data, size_t size, size_t n, void *ctx)
{
    http_sink *s = ctx;

    if (!s->p) {
        s->len += size * n;
        return size * n;
    }
    return dev_sink_write(data, size, n, ctx);
}

static void load_start(load_ctx *lc, load_slot *s, const load_req *rq,
                       int index)
{
    const dev_ctx *ctx = lc->dc;
    CURL *c = s->easy;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, ctx->os->user_agent);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ctx->timeout_ms
                                            ? ctx->timeout_ms
                                            : (long)PHASE_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, load_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->sink);
    curl_easy_setopt(c, CURLOPT_PRIVATE, s);
    if (ctx->cacert) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ctx->cacert);
    }
    if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)rq->len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, lc->headers);
    }
    else if (ctx->user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, ctx->user);
    }
    memset(&s->sink, 0, sizeof(s->sink));
    s->sink.p = lc->keep ? lc->p : NULL;
    s->errbuf[0] = '\0';
    s->index = index;
    s->started = dev_mono_now();
    curl_multi_add_handle(lc->multi, c);
}

static void load_finish(load_ctx *lc, load_slot *s, CURLcode rc,
                        load_res *r)
{
    char *ct = NULL;

    r->latency = dev_mono_now() - s->started;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
        r->type_ok = dev_media_type_is(ct, lc->want_type);
    }
    else if (!lc->first_error) {
        lc->first_error = apr_psprintf(lc->p, "request %d: %s", s->index,
                                       *s->errbuf ? s->errbuf
                                       : curl_easy_strerror(rc));
    }
    r->body = s->sink.buf;
    r->len = s->sink.len;
}

/* n requests, concurrency at a time, each slot starting the next request
 * as soon as its answer is in; none started after the deadline (the
 * first lc->started were sent, and answered or timed out). */
int dev_load_run(load_ctx *lc, const load_req *reqs, load_res *res,
                 int n, int timed)
{
    CURLMsg *m;
    CURLcode result;
    load_slot *s;
    void *priv;
    int next = 0, done = 0, left, running;

    for (int i = 0; i < lc->concurrency && next < n; i++, next++) {
        load_start(lc, &lc->slots[i], &reqs[next], next);
    }
    while (done < next) {
        if (curl_multi_perform(lc->multi, &running) != CURLM_OK) {
            return cli_complain(EXIT_LOCAL, "libcurl's multi interface "
                                "failed");
        }
        while ((m = curl_multi_info_read(lc->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            priv = NULL;
            result = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            s = priv;
            load_finish(lc, s, result, &res[s->index]);
            curl_multi_remove_handle(lc->multi, s->easy);
            done++;
            if (timed && lc->rss_every && done % lc->rss_every == 0) {
                dev_rss_print(lc, done);
            }
            if (next < n && !(lc->deadline && dev_mono_now() > lc->deadline)) {
                load_start(lc, s, &reqs[next], next);
                next++;
            }
        }
        if (done < next && curl_multi_poll(lc->multi, NULL, 0, 1000, NULL)
                        != CURLM_OK) {
            return cli_complain(EXIT_LOCAL, "libcurl's multi interface "
                                "failed");
        }
    }
    lc->started = next;
    return 0;
}

/* --start-after: everything is prepared; a profiler may attach now. */
static int load_wait(const load_ctx *lc)
{
    const char *file = lc->dc->lo.start_after;
    apr_finfo_t fi;

    if (!file) {
        return 0;
    }
    printf("READY: waiting for %s\n", file);
    for (int i = 0; i < 6000; i++) {
        if (apr_stat(&fi, file, APR_FINFO_TYPE, lc->p) == APR_SUCCESS) {
            return 0;
        }
        apr_sleep(apr_time_from_msec(100));
    }
    return cli_complain(EXIT_LOCAL, "--start-after: %s did not appear in 10 "
                        "minutes", file);
}

/* The timed part: the server sampled just before the first request and
 * just after the last answer; nothing else happens in between. */
int dev_load_timed(load_ctx *lc, const load_req *reqs, load_res *res,
                   int n, load_timing *t)
{
    struct rusage ru0, ru1;
    apr_time_t t0, t1;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = load_wait(lc)) != 0) {
        return rc;
    }
    printf("run: %d requests, %d at a time\n", n, lc->concurrency);
    dev_server_sample_take(&t->before, lc);
    getrusage(RUSAGE_SELF, &ru0);
    t0 = dev_mono_now();
    lc->deadline = lc->dc->lo.deadline
                   ? t0 + apr_time_from_sec(lc->dc->lo.deadline) : 0;
    rc = dev_load_run(lc, reqs, res, n, 1);
    lc->deadline = 0;
    t1 = dev_mono_now();
    getrusage(RUSAGE_SELF, &ru1);
    dev_server_sample_take(&t->after, lc);
    t->requests = lc->started;
    t->unsent = n - lc->started;
    if (t->unsent) {
        printf("deadline: %d requests answered in %d s, %d not sent\n",
               t->requests, lc->dc->lo.deadline, t->unsent);
    }
    t->seconds = (double)(t1 - t0) / APR_USEC_PER_SEC;
    t->client_cpu_us = (rusage_us(&ru1) - rusage_us(&ru0))
                       / (t->requests ? t->requests : 1);
    t->sampled = t->before.procs > 0 && t->after.procs > 0;
    return rc;
}

static int latency_cmp(const void *a, const void *b)
{
    apr_interval_time_t x = *(const apr_interval_time_t *)a;
    apr_interval_time_t y = *(const apr_interval_time_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double percentile_ms(const apr_interval_time_t *sorted, int n,
                            int pct)
{
    int rank = (int)(((apr_int64_t)pct * n + 99) / 100);

    return n ? (double)sorted[rank > 0 ? rank - 1 : 0] / 1000.0 : 0.0;
}

/* One line for the scripts (LOAD key=value ...), after the run's checks
 * counted bad answers in `bad`. */
int dev_load_report(load_ctx *lc, const char *phase, const load_res *res,
                    int n, int bad, const load_timing *t)
{
    apr_interval_time_t *lat = apr_palloc(lc->p, n * sizeof(*lat));
    long hz = sysconf(_SC_CLK_TCK);
    apr_uint64_t bytes = 0;
    double sum = 0, cpu = 0, sys = 0;
    int errors = bad;

    for (int i = 0; i < n; i++) {
        lat[i] = res[i].latency;
        sum += (double)res[i].latency;
        bytes += res[i].len;
    }
    qsort(lat, n, sizeof(*lat), latency_cmp);
    for (int i = 0; i < n; i++) {
        if (res[i].status < 200 || res[i].status > 299 || !res[i].type_ok) {
            errors++;
        }
    }
    if (t->sampled && hz > 0 && t->after.ticks >= t->before.ticks
        && t->after.sys_ticks >= t->before.sys_ticks) {
        cpu = (double)(t->after.ticks - t->before.ticks) * 1e6 / hz / n;
        sys = (double)(t->after.sys_ticks - t->before.sys_ticks) * 1e6 / hz
              / n;
    }
    if (lc->first_error) {
        printf("first error: %s\n", lc->first_error);
    }
    printf("LOAD phase=%s requests=%d unsent=%d concurrency=%d ok=%d "
           "errors=%d seconds=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f "
           "mean_ms=%.2f answer_bytes=%" APR_UINT64_T_FMT
           " client_cpu_us=%.0f",
           phase, n, t->unsent, lc->concurrency,
           n - errors > 0 ? n - errors : 0, errors, t->seconds,
           t->seconds > 0 ? n / t->seconds : 0.0, percentile_ms(lat, n, 50),
           percentile_ms(lat, n, 99),
           sum / n / 1000.0, bytes / (apr_uint64_t)n, t->client_cpu_us);
    if (t->sampled) {
        printf(" server_cpu_us=%.0f server_sys_us=%.0f procs_before=%d "
               "procs_after=%d "
               "rss_before_sum_kb=%" APR_UINT64_T_FMT
               " rss_before_max_kb=%" APR_UINT64_T_FMT
               " rss_after_sum_kb=%" APR_UINT64_T_FMT
               " rss_after_max_kb=%" APR_UINT64_T_FMT, cpu, sys,
               t->before.procs, t->after.procs, t->before.rss_sum_kb,
               t->before.rss_max_kb, t->after.rss_sum_kb,
               t->after.rss_max_kb);
    }
    printf("\n");
    return errors || t->unsent ? EXIT_LOAD : 0;
}

static int load_setup(load_ctx *lc, dev_ctx *ctx, int n)
{
    unsigned char rnd[4];
    int rc;

    memset(lc, 0, sizeof(*lc));
    lc->dc = ctx;
    lc->p = ctx->p;
    lc->concurrency = ctx->lo.concurrency < n ? ctx->lo.concurrency : n;
    lc->rss_every = ctx->lo.rss_every;
    lc->headers = curl_slist_append(NULL, "Expect:");
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "the random generator failed");
    }
    lc->run_id = ((apr_uint32_t)rnd[0] << 24) | (rnd[1] << 16)
                 | (rnd[2] << 8) | rnd[3];
    if (!(lc->multi = curl_multi_init())) {
        return cli_complain(EXIT_LOCAL, "cannot start libcurl");
    }
    curl_multi_setopt(lc->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)lc->concurrency);
    curl_multi_setopt(lc->multi, CURLMOPT_MAXCONNECTS, (long)lc->concurrency);
    lc->slots = apr_pcalloc(lc->p, lc->concurrency * sizeof(*lc->slots));
    for (int i = 0; i < lc->concurrency; i++) {
        if (!(lc->slots[i].easy = curl_easy_init())) {
            return cli_complain(EXIT_LOCAL, "cannot start libcurl");
        }
    }
    if ((rc = dev_device_setup(ctx)) != 0) {
        return rc;
    }
    return dev_load_server(lc);
}

static void load_cleanup(load_ctx *lc)
{
    for (int i = 0; lc->slots && i < lc->concurrency; i++) {
        if (lc->slots[i].easy) {
            curl_multi_remove_handle(lc->multi, lc->slots[i].easy);
            curl_easy_cleanup(lc->slots[i].easy);
        }
    }
    if (lc->multi) {
        curl_multi_cleanup(lc->multi);
    }
    curl_slist_free_all(lc->headers);
}

int dev_cmd_load(dev_ctx *ctx)
{
    const load_opts *o = &ctx->lo;
    load_ctx lc;
    int n = o->requests, rc;

    if (!ctx->url || ctx->nargs || !o->phase) {
        return cli_complain(EXIT_LOCAL, "load needs --url and --phase, and no "
                            "other argument (see --help)");
    }
    if (ctx->md == EVP_md5()) {
        return cli_complain(EXIT_LOCAL, "load signs with sha1 or sha256");
    }
    printf("load: phase %s, %d requests, concurrency %d, %s\n", o->phase,
           n, o->concurrency < n ? o->concurrency : n, ctx->url);
    if ((rc = load_setup(&lc, ctx, n)) == 0) {
        rc = !strcmp(o->phase, "1") ? dev_load_phase1(&lc, n)
             : !strcmp(o->phase, "2") ? dev_load_phase2(&lc, n)
             : !strcmp(o->phase, "3") ? dev_load_phase3(&lc, n)
             : dev_load_scep(&lc, n);
    }
    load_cleanup(&lc);
    return rc;
}
