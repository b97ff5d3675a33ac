/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The ota-status page: HTML and JSON rendered from plain structs, every
 * string escaped for where it goes. Pure C over APR: no httpd calls. */
#ifndef OTA_STATUS_H
#define OTA_STATUS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ota_store.h"
#include "ota_store_approval.h"

#define OTA_STATUS_PAGE_SIZE 50
#define OTA_STATUS_MAX_CURSOR 160     /* bytes of ?after= after decoding */
#define OTA_STATUS_MAX_PHASE 4
#define OTA_STATUS_MAX_QUERY 128      /* bytes of ?q= after decoding */
#define OTA_STATUS_LOG_IDS 200        /* OTA00000 .. OTA00199 */

/* What the request asks for. Pages are keyset pages: ?after= carries the
 * key of the last device of the page before (the next link's cursor);
 * ?page= is gone (only page=1, the first page, is still accepted). */
typedef struct ota_status_query {
    const char *after;        /* the cursor as sent, "" for the first page */
    ota_device_cursor cursor; /* parsed (when after is not "") */
    int phase;                /* 0: any */
    const char *q;            /* substring to look for, "" for none */
    int json;                 /* ?format=json */
} ota_status_query;

/* Parses a query string (NULL or "" gives the defaults): after, page, q,
 * phase, format; other keys are ignored. APR_EINVAL with *why for a bad
 * value (q shorter than OTA_STORE_SEARCH_MIN characters included). */
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
    /* the admin's part (ota_status_admin.c); NULL: not shown */
    const apr_array_header_t *pending;   /* ota_pending_record, waiting */
    const apr_array_header_t *audit;     /* ota_audit_entry, newest first */
    const char *token;                   /* the forms' CSRF token; NULL:
                                          * no buttons */
    /* the store (ota_status_store.c): NULL when it works, else the log
     * id and the reason of its failure */
    const char *store_failure_id;
    const char *store_failure;
    /* keyset pagination and the tallies (ota_status_registry.c) */
    const char *self;                    /* the page's path, for links */
    int more;                            /* a next page exists */
    ota_device_cursor next;              /* its cursor */
    int counts_capped;                   /* a search counted the first
                                          * OTA_STORE_COUNT_CAP only */
    const ota_store_tally *tally;        /* rows per table; NULL: none */
} ota_status_page;

/* Devices matching both filters (q and phase); for a search, a lower
 * bound when pg->counts_capped. */
int ota_status_total(const ota_status_page *pg);

apr_status_t ota_status_html(const char **out, apr_size_t *len,
                             const ota_status_page *pg, apr_pool_t *p);
apr_status_t ota_status_json(const char **out, apr_size_t *len,
                             const ota_status_page *pg, apr_pool_t *p);

/* ---- the admin's part (ota_status_admin.c) ---- */

/* The page's Content-Security-Policy: nothing loads, styles inline, and
 * no script but the one confirmation handler of the forms (by hash). */
const char *ota_status_csp(void);
/* That handler, as every form carries it. */
const char *ota_status_confirm_handler(void);

/* The requests waiting for approval with their buttons ("" when
 * pg->pending is NULL). */
const char *ota_status_html_pending(const ota_status_page *pg,
                                    apr_pool_t *p);
/* The cell of a device's buttons: Revoke (an unrevoked certificate of
 * this CA), Release (bound to a user), Forget; empty without a token. */
const char *ota_status_html_device_actions(const ota_device_summary *d,
                                           const char *token, apr_pool_t *p);
/* The audit list ("" when pg->audit is NULL). */
const char *ota_status_html_audit(const ota_status_page *pg, apr_pool_t *p);
/* "pending": [...], "audit": [...] (null when not read), for the JSON
 * object. */
const char *ota_status_json_admin(const ota_status_page *pg, apr_pool_t *p);

/* ---- pages and tallies (ota_status_registry.c) ---- */

/* The cursor text of c: "N:UDID" for the listing, "N" for a search. */
const char *ota_status_cursor_text(const ota_device_cursor *c, int search,
                                   apr_pool_t *p);
/* Parses a cursor text; APR_EINVAL when it is not one. */
apr_status_t ota_status_cursor_parse(ota_device_cursor *c, const char *text,
                                     apr_pool_t *p);
/* The rows of each table of the registry ("" when pg->tally is NULL). */
const char *ota_status_html_tables(const ota_status_page *pg, apr_pool_t *p);
/* "tables": {...} or null, for the JSON object. */
const char *ota_status_json_tables(const ota_status_page *pg, apr_pool_t *p);

/* ---- the store (ota_status_store.c) ---- */

/* A banner naming the log id and the reason when the store is failing,
 * "" when it works. */
const char *ota_status_html_store(const ota_status_page *pg, apr_pool_t *p);
/* "store": "ok" or "failing", "store_failure": null or {"id", "reason"},
 * for the JSON object. */
const char *ota_status_json_store(const ota_status_page *pg, apr_pool_t *p);

/* s for HTML text and attribute values; NULL gives "". Invalid UTF-8
 * becomes U+FFFD, as it does in JSON. */
const char *ota_status_html_escape(const char *s, apr_pool_t *p);

/* s as a JSON string literal with its quotes; NULL gives null. */
const char *ota_status_json_string(const char *s, apr_pool_t *p);

#endif
