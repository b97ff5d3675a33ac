/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The registry's housekeeping: the write lock and the retention purge.
 *
 * sqlite3 lets one writer in at a time; a writer that finds it taken
 * sleeps in apr_dbd's retry loop (100 ms at a time), which made the slow
 * tail of every phase. Here writers queue on an APR global mutex instead
 * (registered as "ota-enroll-db", so the Mutex directive sets its
 * mechanism and directory as it does mod_ssl's), taken before apr_dbd's
 * BEGIN and released at COMMIT by the store (ota_db's lock). PostgreSQL
 * connections get no lock: they keep their row locks.
 *
 * Used and expired challenges are deleted OTAEnrollRetention after they
 * expired, in batches, by a thread each child starts; a schedule in
 * shared memory lets one child of the server run each pass. Several
 * servers on one PostgreSQL purge side by side (their batches skip each
 * other's rows). */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_mutex.h"
#include "apr_atomic.h"
#include "apr_global_mutex.h"
#include "apr_optional.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_proc.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include "ota_store.h"
#include "ota_thread.h"

#include "mod_ota_enroll_registry.h"
#include "mod_ota_enroll_config.h"

APLOG_USE_MODULE(ota_enroll);

#define PURGE_FIRST 5                   /* seconds after (re)start */
#define PURGE_INTERVAL 60               /* seconds between passes */
#define PURGE_BATCH 1000                /* rows deleted at a time */
#define PURGE_PAUSE apr_time_from_msec(20)  /* between batches */

/* ---- the write lock ---- */

static apr_global_mutex_t *write_mutex;     /* NULL: writers retry */

static apr_status_t write_acquire(void *baton)
{
    return apr_global_mutex_lock(write_mutex);
}

static apr_status_t write_release(void *baton)
{
    return apr_global_mutex_unlock(write_mutex);
}

static const ota_db_lock write_lock = { write_acquire, write_release, NULL };

void ota_registry_attach(ota_db *db)
{
    db->lock = write_mutex && !strcmp(apr_dbd_name(db->driver), "sqlite3")
               ? &write_lock : NULL;
    db->lock_held = 0;
}

/* ---- the purge's schedule and thread ---- */

/* Shared by the children of one server: when the next pass is due. */
typedef struct purge_schedule {
    apr_uint32_t next;                  /* seconds since the epoch */
} purge_schedule;

static purge_schedule *schedule;        /* NULL: no purge */
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;

typedef struct purger {
    server_rec *s;
    apr_thread_t *thread;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *wake;
    volatile apr_uint32_t stopping;
} purger;

/* Whether this child runs the pass now: the one that moves the schedule
 * on does. */
static int purge_due(void)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t next = apr_atomic_read32(&schedule->next);

    return now >= next
           && apr_atomic_cas32(&schedule->next, now + PURGE_INTERVAL, next)
              == next;
}

/* One table's old rows, a batch at a time, a pause between batches so
 * that requests write in between. */
static apr_status_t purge_table(purger *pu, ota_db *db, const char *table,
                                apr_time_t before, int *total,
                                const char **why, apr_pool_t *p)
{
    apr_status_t rv;
    int n = 0;

    do {
        apr_pool_clear(p);
        rv = ota_store_purge(&n, db, table, before, PURGE_BATCH, why, p);
        *total += n;
        if (rv == APR_SUCCESS && n == PURGE_BATCH) {
            apr_sleep(PURGE_PAUSE);
        }
    } while (rv == APR_SUCCESS && n == PURGE_BATCH
             && !apr_atomic_read32(&pu->stopping));
    return rv;
}

static void purge_logged(purger *pu, apr_status_t rv, const char *why,
                         int challenges, int scep, apr_time_t before)
{
    char date[APR_RFC822_DATE_LEN];

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, pu->s, "OTA00143: the "
                     "retention pass failed: %s (deleted %d challenges, %d "
                     "SCEP challenges); the next pass tries again",
                     why ? why : "unknown", challenges, scep);
    }
    else if (challenges || scep) {
        apr_rfc822_date(date, before);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, pu->s, "OTA00142: retention "
                     "pass: deleted %d challenges and %d SCEP challenges "
                     "that expired before %s", challenges, scep, date);
    }
}

/* A connection of mod_dbd's pool (the server's DBDriver), for the pass:
 * the same statements and write lock as a request's. */
static void purge_pass(purger *pu, apr_pool_t *p)
{
    apr_time_t before = apr_time_now() - ota_cfg_retention();
    ap_dbd_t *dbd = dbd_open(p, pu->s);
    apr_pool_t *batch;
    const char *why = "no database connection from mod_dbd";
    apr_status_t rv = APR_EGENERAL;
    int challenges = 0, scep = 0;
    ota_db db;

    if (dbd) {
        memset(&db, 0, sizeof(db));
        db.driver = dbd->driver;
        db.handle = dbd->handle;
        db.prepared = dbd->prepared;
        ota_registry_attach(&db);
        apr_pool_create(&batch, p);
        rv = ota_store_connection_init(&db, &why, dbd->pool);
        if (rv == APR_SUCCESS) {
            rv = purge_table(pu, &db, "challenge", before, &challenges, &why,
                             batch);
        }
        if (rv == APR_SUCCESS) {
            rv = purge_table(pu, &db, "scep_challenge", before, &scep, &why,
                             batch);
        }
        why = why ? apr_pstrdup(p, why) : NULL;
        dbd_close(pu->s, dbd);
    }
    purge_logged(pu, rv, why, challenges, scep, before);
}

static void *APR_THREAD_FUNC purge_main(apr_thread_t *thread, void *data)
{
    purger *pu = data;
    apr_pool_t *p;

    apr_pool_create(&p, apr_thread_pool_get(thread));
    apr_thread_mutex_lock(pu->mutex);
    while (!apr_atomic_read32(&pu->stopping)) {
        apr_thread_cond_timedwait(pu->wake, pu->mutex, apr_time_from_sec(1));
        if (!apr_atomic_read32(&pu->stopping) && purge_due()) {
            apr_thread_mutex_unlock(pu->mutex);
            purge_pass(pu, p);
            apr_pool_clear(p);
            apr_thread_mutex_lock(pu->mutex);
        }
    }
    apr_thread_mutex_unlock(pu->mutex);
    /* Returns instead of apr_thread_exit(): pthread_exit's forced unwind
     * leaves this frame's sanitizer poison on the stack the thread's exit
     * then runs on (a false stack-use-after-scope under ASan). The
     * thread's pool goes with the child's. */
    return NULL;
}

/* A pre-cleanup: runs before the child's subpools (mod_dbd's connections
 * among them) go. */
static apr_status_t purge_stop(void *data)
{
    purger *pu = data;

    ota_thread_stop(pu->thread, pu->mutex, pu->wake, &pu->stopping);
    return APR_SUCCESS;
}

static void purge_start(apr_pool_t *pchild, server_rec *s)
{
    purger *pu = apr_pcalloc(pchild, sizeof(*pu));
    apr_status_t rv;

    if (!schedule || !dbd_open || !dbd_close) {
        return;
    }
    pu->s = s;
    if ((rv = apr_thread_mutex_create(&pu->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      pchild)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&pu->wake, pchild)) != APR_SUCCESS
        || (rv = apr_thread_create(&pu->thread, NULL, purge_main, pu,
                                   pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "OTA00144: the retention "
                     "purge cannot start in this process");
        return;
    }
    apr_pool_pre_cleanup_register(pchild, pu, purge_stop);
}

/* ---- hooks ---- */

static int registry_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp)
{
    return ap_mutex_register(pconf, OTA_DB_MUTEX, NULL, APR_LOCK_DEFAULT, 0)
           == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static void schedule_create(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;

    schedule = NULL;
    rv = apr_shm_create(&shm, sizeof(*schedule), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "OTA00144: cannot create "
                     "the shared memory of the retention purge; old "
                     "challenges are not deleted");
        return;
    }
    schedule = apr_shm_baseaddr_get(shm);
    schedule->next = (apr_uint32_t)apr_time_sec(apr_time_now())
                     + PURGE_FIRST;
}

static int registry_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;

    write_mutex = NULL;
    rv = ap_global_mutex_create(&write_mutex, NULL, OTA_DB_MUTEX, NULL, s,
                                pconf, 0);
    if (rv != APR_SUCCESS) {
        write_mutex = NULL;
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "OTA00140: cannot "
                     "create the database write lock (Mutex ... "
                     OTA_DB_MUTEX ")");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    schedule_create(pconf, s);
    return OK;
}

static void registry_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (write_mutex) {
        rv = apr_global_mutex_child_init(&write_mutex,
                                         apr_global_mutex_lockfile(
                                             write_mutex), pchild);
        if (rv != APR_SUCCESS) {
            write_mutex = NULL;
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "OTA00141: the "
                         "database write lock cannot be used in this "
                         "process; its sqlite3 writers retry instead");
        }
    }
    purge_start(pchild, s);
}

void ota_registry_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(registry_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(registry_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(registry_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
