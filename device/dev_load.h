/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The load command's own types and functions, shared by dev_load.c,
 * dev_load_phase.c and dev_load_server.c. */
#ifndef DEV_LOAD_H
#define DEV_LOAD_H

#include <curl/curl.h>
#include <apr_time.h>

#include "dev.h"

/* One request of a run, ready before the clock starts. */
typedef struct load_req {
    const char *url;
    const char *body;                   /* NULL: GET */
    apr_size_t len;
} load_req;

/* Its answer. */
typedef struct load_res {
    long status;                        /* 0: no answer */
    int type_ok;                        /* the Content-Type expected */
    const char *body;                   /* when the run keeps bodies */
    apr_size_t len;
    apr_interval_time_t latency;        /* microseconds */
} load_res;

/* One transfer in flight; its easy handle is reused request after
 * request, so the multi handle's connections stay open (keep-alive). */
typedef struct load_slot {
    CURL *easy;
    http_sink sink;
    int index;
    apr_time_t started;
    char errbuf[CURL_ERROR_SIZE];
} load_slot;

/* The server's processes at one instant. ticks: user + system CPU time
 * of every process (all its threads), plus, for the parent, that of the
 * children it has reaped, so a child that exits during a run still
 * counts; in clock ticks. */
typedef struct server_sample {
    int procs;
    apr_uint64_t ticks;
    apr_uint64_t sys_ticks;             /* the system part of ticks */
    apr_uint64_t rss_sum_kb, rss_max_kb;
} server_sample;

typedef struct load_ctx {
    dev_ctx *dc;
    apr_pool_t *p;
    CURLM *multi;
    load_slot *slots;
    int concurrency;
    int keep;                           /* keep the bodies, to check them */
    const char *want_type;
    struct curl_slist *headers;         /* POST: Content-Type, no Expect */
    const char *first_error;
    long server;                        /* pid sampled, 0: none */
    const char *server_comm;            /* its children's name, or NULL */
    int rss_every;
    apr_time_t deadline;                /* no request started after it */
    int started;                        /* by the last run */
    apr_uint32_t run_id;                /* makes UDIDs and subjects unique */
} load_ctx;

/* What a timed run measured. */
typedef struct load_timing {
    int requests;                       /* sent and answered */
    int unsent;                         /* left when the deadline passed */
    double seconds;
    double client_cpu_us;
    server_sample before, after;
    int sampled;
} load_timing;

/* dev_load.c: the runs */
apr_time_t dev_mono_now(void);
int dev_load_run(load_ctx *lc, const load_req *reqs, load_res *res,
                 int n, int timed);
int dev_load_timed(load_ctx *lc, const load_req *reqs, load_res *res,
                   int n, load_timing *t);
int dev_load_report(load_ctx *lc, const char *phase, const load_res *res,
                    int n, int bad, const load_timing *t);

/* dev_load_phase.c: the phases */
int dev_load_phase1(load_ctx *lc, int n);
int dev_load_phase2(load_ctx *lc, int n);
int dev_load_phase3(load_ctx *lc, int n);
int dev_load_scep(load_ctx *lc, int n);

/* dev_load_server.c: the server sampled */
void dev_server_sample_take(server_sample *out, const load_ctx *lc);
void dev_rss_print(const load_ctx *lc, int answers);
int dev_load_server(load_ctx *lc);

#endif
