/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The admin view (handler ota-status): devices, counts by phase, and the
 * refusals this server logged. httpd glue only: ota_store.c reads, and
 * ota_status.c renders. Refusals are counted by an error_log hook, so no
 * call site has to know about the page. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_atomic.h"
#include "apr_network_io.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include "ota_media.h"
#include "ota_status.h"

#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_dbcheck.h"
#include "mod_ota_enroll_action.h"
#include "mod_ota_enroll_status.h"

APLOG_USE_MODULE(ota_enroll);

#define CARRY_KEY "mod_ota_enroll.log_counters"

/* Shared by the parent and its children: one anonymous segment per
 * configuration cycle, created by the parent, inherited by fork. */
typedef struct log_counters {
    apr_uint32_t since;       /* seconds since the epoch */
    ota_status_counter id[OTA_STATUS_LOG_IDS];
} log_counters;

static log_counters *counters;      /* NULL: nothing is counted */

/* The counts outlive a configuration cycle in the process pool, so a
 * graceful restart (logrotate reloads daily) does not reset them. */
static log_counters *carried(process_rec *process)
{
    log_counters *carry = NULL;

    apr_pool_userdata_get((void **)&carry, CARRY_KEY, process->pool);
    if (!carry) {
        carry = apr_pcalloc(process->pool, sizeof(*carry));
        carry->since = (apr_uint32_t)apr_time_sec(apr_time_now());
        apr_pool_userdata_set(carry, CARRY_KEY, apr_pool_cleanup_null,
                              process->pool);
    }
    return carry;
}

/* Registered after apr_shm_create's own cleanup, so it runs first. */
static apr_status_t counters_detach(void *carry)
{
    if (counters) {
        memcpy(carry, counters, sizeof(*counters));
        counters = NULL;
    }
    return APR_SUCCESS;
}

static int status_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    log_counters *carry = carried(s->process);
    apr_shm_t *shm;
    apr_status_t rv;

    counters = NULL;
    rv = apr_shm_create(&shm, sizeof(log_counters), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "OTA00092: cannot create "
                     "the shared memory that counts refusals; ota-status "
                     "will not show them");
        return OK;
    }
    counters = apr_shm_baseaddr_get(shm);
    memcpy(counters, carry, sizeof(*counters));
    apr_pool_cleanup_register(pconf, carry, counters_detach,
                              apr_pool_cleanup_null);
    return OK;
}

/* Every refusal is a warn line of this module starting with its id:
 * counting them here leaves the call sites alone. Startup warnings have
 * no request and are not refusals. */
static void status_error_log(const ap_errorlog_info *info,
                             const char *errstr)
{
    ota_status_counter *c;
    int id;

    if (!counters || !info->r || info->module_index != APLOG_MODULE_INDEX
        || (info->level & APLOG_LEVELMASK) != APLOG_WARNING
        || (id = ota_status_log_id(errstr)) < 0) {
        return;
    }
    c = &counters->id[id];
    apr_atomic_inc32(&c->count);
    apr_atomic_set32(&c->last, (apr_uint32_t)apr_time_sec(apr_time_now()));
}

void ota_status_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(status_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_error_log(status_error_log, NULL, NULL, APR_HOOK_MIDDLE);
}

/* ---- the page ---- */

/* Which counters these are: each Apache instance has its own. */
static const char *server_name(request_rec *r)
{
    char host[APRMAXHOSTLEN + 1];

    if (apr_gethostname(host, sizeof(host), r->pool) != APR_SUCCESS) {
        apr_cpystrn(host, r->server->server_hostname, sizeof(host));
    }
    return apr_psprintf(r->pool, "%s, port %u", host,
                        r->connection->local_addr->port);
}

static void rejections_of(ota_status_page *pg, request_rec *r)
{
    ota_status_counter snap[OTA_STATUS_LOG_IDS];
    log_counters *c = counters;
    int i;

    if (!c) {
        return;
    }
    for (i = 0; i < OTA_STATUS_LOG_IDS; i++) {
        snap[i].count = apr_atomic_read32(&c->id[i].count);
        snap[i].last = apr_atomic_read32(&c->id[i].last);
    }
    pg->rejections = ota_status_rejections(snap, OTA_STATUS_LOG_IDS,
                                           r->pool);
    pg->rejections_since = apr_time_from_sec(c->since);
    pg->server = server_name(r);
}

/* What the tallies say: rows per table, and devices per phase when
 * nothing is searched; the cursor of the next page. */
static void status_tally(ota_status_page *pg, const ota_store_tally *tally,
                         const apr_array_header_t *devices, int search)
{
    int i;

    pg->tally = tally;
    for (i = 0; !search && i <= OTA_STATUS_MAX_PHASE && i < 5; i++) {
        pg->phase_count[i] = (int)tally->phase[i];
    }
    pg->devices = devices;
    if (pg->more && devices->nelts) {
        ota_store_cursor_after(&pg->next, &APR_ARRAY_IDX(devices,
                               devices->nelts - 1, ota_device_summary),
                               search);
    }
}

/* A search's first page that holds every match (no phase filter, no
 * next page) counts them itself. */
static int search_counted(ota_status_page *pg,
                          const apr_array_header_t *devices)
{
    const ota_device_summary *d;
    int i;

    if (*pg->query.after || pg->query.phase || pg->more) {
        return 0;
    }
    for (i = 0; i < devices->nelts; i++) {
        d = &APR_ARRAY_IDX(devices, i, ota_device_summary);
        if (d->phase >= 0 && d->phase <= OTA_STATUS_MAX_PHASE) {
            pg->phase_count[d->phase]++;
        }
    }
    return 1;
}

/* Two statements, whatever the registry's size: the tallies (rows per
 * table, devices per phase) and one page of devices from its cursor on,
 * through an index. A search adds a third, its matches counted up to
 * OTA_STORE_COUNT_CAP, unless its page held them all. */
static int status_read(ota_status_page *pg, request_rec *r)
{
    ota_store_tally *tally = apr_pcalloc(r->pool, sizeof(*tally));
    const ota_device_cursor *after = *pg->query.after ? &pg->query.cursor
                                                      : NULL;
    int search = *pg->query.q != '\0';
    apr_array_header_t *devices;
    const char *why = NULL;
    ota_db db;
    int rv;

    if ((rv = ota_db_open(&db, r)) != OK) {
        return rv;
    }
    if (ota_store_tally_get(tally, &db, &why, r->pool)
        || ota_store_device_page(&devices, &pg->more, &db, pg->query.q,
                                 pg->query.phase, after,
                                 OTA_STATUS_PAGE_SIZE, &why, r->pool)
        || (search && !search_counted(pg, devices)
            && ota_store_device_phases(pg->phase_count, OTA_STATUS_MAX_PHASE,
                                       &pg->counts_capped, &db, pg->query.q,
                                       &why, r->pool))) {
        return ota_db_failed(r, why);
    }
    pg->self = r->uri;
    status_tally(pg, tally, devices, search);
    return OK;
}

/* Whether the store works: a failure answered with 503 (r->status) is
 * shown on the page rather than as a bare error, as are database files
 * the server cannot write (the page itself still reads). 0: rv is another
 * error, answered as it is. */
static int status_store(ota_status_page *pg, request_rec *r, int rv)
{
    if (!ota_dbcheck_store_failing(r, &pg->store_failure_id,
                                   &pg->store_failure)) {
        pg->store_failure_id = NULL;
        return rv == OK;
    }
    if (rv != OK) {
        r->status = HTTP_SERVICE_UNAVAILABLE;
        if (!pg->devices) {
            pg->devices = apr_array_make(r->pool, 0,
                                         sizeof(ota_device_summary));
        }
    }
    return 1;
}

static int status_send(request_rec *r, const ota_status_page *pg)
{
    const char *body, *type;
    apr_size_t len;

    if (pg->query.json) {
        ota_status_json(&body, &len, pg, r->pool);
        type = OTA_MEDIA_JSON;
    }
    else {
        ota_status_html(&body, &len, pg, r->pool);
        type = OTA_MEDIA_HTML;
        apr_table_setn(r->headers_out, "Content-Security-Policy",
                       ota_status_csp());
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    return ota_send_bytes(r, type, body, len);
}

int ota_status_handler(request_rec *r)
{
    ota_status_page pg;
    const char *why = NULL;
    int rv;

    if (strcmp(r->handler, "ota-status")) {
        return DECLINED;
    }
    if (r->method_number == M_POST) {
        return ota_action_handler(r, ota_conf_of(r));
    }
    if (r->method_number != M_GET) {
        ota_method_not_allowed(r, M_GET, "OTA00090");
        r->allowed |= AP_METHOD_BIT << M_POST;
        ap_allow_methods(r, MERGE_ALLOW, "POST", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    memset(&pg, 0, sizeof(pg));
    if (ota_status_query_parse(&pg.query, r->args, &why, r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00091: ota-status "
                      "query refused: %s", why);
        return HTTP_BAD_REQUEST;
    }
    if ((rv = status_read(&pg, r)) == OK) {
        rv = ota_action_page_read(r, ota_conf_of(r), &pg);
    }
    if (!status_store(&pg, r, rv)) {
        return rv;
    }
    pg.now = r->request_time;
    rejections_of(&pg, r);
    return status_send(r, &pg);
}
