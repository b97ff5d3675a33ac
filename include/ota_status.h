/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The ota-status page: HTML and JSON rendered from plain structs, every
 * string escaped for where it goes. Pure C over APR: no httpd calls. */
#ifndef OTA_STATUS_H
#define OTA_STATUS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ota_store.h"

#define OTA_STATUS_PAGE_SIZE 50
#define OTA_STATUS_MAX_PAGE 1000000
#define OTA_STATUS_MAX_PHASE 4
#define OTA_STATUS_MAX_QUERY 128      /* bytes of ?q= after decoding */
#define OTA_STATUS_LOG_IDS 200        /* OTA00000 .. OTA00199 */

/* What the request asks for. */
typedef struct ota_status_query {
    int page;                 /* 1.. */
    int phase;                /* 0: any */
    const char *q;            /* substring to look for, "" for none */
    int json;                 /* ?format=json */
} ota_status_query;

/* Parses a query string (NULL or "" gives the defaults): page, q, phase,
 * format; other keys are ignored. APR_EINVAL with *why for a bad value. */
apr_status_t ota_status_query_parse(ota_status_query *out, const char *args,
                                    const char **why, apr_pool_t *p);

/* One slot of the refusal counters, indexed by log id number. */
typedef struct ota_status_counter {
    apr_uint32_t count;
    apr_uint32_t last;        /* seconds since the epoch */
} ota_status_counter;

/* The id number of a log line's text: "OTA00037: ..." gives 37, anything
 * that does not start with "OTA000" and two digits gives -1. */
int ota_status_log_id(const char *text);

/* A short meaning of a log id (the README's table), or NULL. */
const char *ota_status_reason(int id);

typedef struct ota_status_rejection {
    int id;
    apr_uint32_t count;
    apr_time_t last;
} ota_status_rejection;

/* The ids counted at least once, most recent first (then by id). */
apr_array_header_t *ota_status_rejections(const ota_status_counter *c,
                                          int n, apr_pool_t *p);

typedef struct ota_status_page {
    ota_status_query query;
    const apr_array_header_t *devices;   /* ota_device_summary, this page */
    int phase_count[OTA_STATUS_MAX_PHASE + 1];  /* devices matching q */
    const apr_array_header_t *rejections;  /* NULL when not counted */
    apr_time_t rejections_since;
    const char *server;                  /* who counted them */
    apr_time_t now;
} ota_status_page;

/* Devices matching both filters (q and phase): what the pages divide. */
int ota_status_total(const ota_status_page *pg);

apr_status_t ota_status_html(const char **out, apr_size_t *len,
                             const ota_status_page *pg, apr_pool_t *p);
apr_status_t ota_status_json(const char **out, apr_size_t *len,
                             const ota_status_page *pg, apr_pool_t *p);

/* s for HTML text and attribute values; NULL gives "". Invalid UTF-8
 * becomes U+FFFD, as it does in JSON. */
const char *ota_status_html_escape(const char *s, apr_pool_t *p);

/* s as a JSON string literal with its quotes; NULL gives null. */
const char *ota_status_json_string(const char *s, apr_pool_t *p);

#endif
