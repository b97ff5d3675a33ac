/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The registry's write lock and its retention purge, against scratch
 * sqlite3 files. The lock is a pair of callbacks that count and, on the
 * same connection, flip a flag that triggers on every table check: a row
 * written without the lock held aborts its statement. Every write of the
 * store runs through its success, refusal and error paths; after each,
 * the lock must have been released as often as taken. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "ota_challenge.h"
#include "ota_store.h"
#include "ota_store_approval.h"
#include "unit.h"

static const apr_dbd_driver_t *drv;
static apr_time_t t0;

/* ---- the counting lock ---- */

typedef struct counting_lock {
    ota_db *db;
    int acquires;
    int releases;
    int refuse;               /* the next acquire fails */
    int nested;               /* acquired while held */
    int held;
} counting_lock;

static counting_lock cl;

static void set_flag(ota_db *db, int held)
{
    int nrows;

    apr_dbd_query(drv, db->handle, &nrows, held
                  ? "UPDATE t_lock SET held = 1"
                  : "UPDATE t_lock SET held = 0");
}

static apr_status_t lock_acquire(void *baton)
{
    counting_lock *l = baton;

    if (l->refuse) {
        l->refuse = 0;
        return APR_EGENERAL;
    }
    l->nested += l->held;
    l->held = 1;
    l->acquires++;
    set_flag(l->db, 1);
    return APR_SUCCESS;
}

static apr_status_t lock_release(void *baton)
{
    counting_lock *l = baton;

    set_flag(l->db, 0);
    l->held = 0;
    l->releases++;
    return APR_SUCCESS;
}

static const ota_db_lock counting = { lock_acquire, lock_release, &cl };

static apr_status_t open_db(ota_db *d, const char *path, apr_pool_t *p)
{
    memset(d, 0, sizeof(*d));
    d->driver = drv;
    return apr_dbd_open(drv, p, path, &d->handle);
}

static const char *select1(ota_db *d, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;

    if (apr_dbd_select(drv, pool, d->handle, &res, sql, 1)) {
        return NULL;
    }
    while (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
        if (!v) {
            v = apr_pstrdup(pool, apr_dbd_get_entry(drv, row, 0));
        }
    }
    return v;
}

static int query(ota_db *d, const char *sql)
{
    int nrows = 0;

    return apr_dbd_query(drv, d->handle, &nrows, sql);
}

/* Every table a write can touch refuses rows while the flag is down;
 * created before the statements are prepared (DDL invalidates them). */
static int guard(ota_db *d)
{
    static const char *const tables[] = {
        "ota_challenge", "ota_device", "ota_scep_challenge",
        "ota_certificate", "ota_crl", "ota_pending", "ota_audit", NULL
    };
    static const char *const ops[] = { "INSERT", "UPDATE", "DELETE", NULL };
    int i, j, rc;

    rc = query(d, "CREATE TABLE t_lock (held INTEGER NOT NULL)")
         || query(d, "INSERT INTO t_lock VALUES (0)");
    for (i = 0; tables[i]; i++) {
        for (j = 0; ops[j]; j++) {
            rc = rc || query(d, apr_psprintf(pool, "CREATE TRIGGER "
                             "t_guard_%s_%s BEFORE %s ON %s WHEN (SELECT held "
                             "FROM t_lock) = 0 BEGIN SELECT RAISE(ABORT, "
                             "'written without the write lock'); END",
                             tables[i], ops[j], ops[j], tables[i]));
        }
    }
    /* a device insert that fails, for the error paths */
    return rc || query(d, "CREATE TRIGGER t_fail BEFORE INSERT ON ota_device "
                       "WHEN NEW.udid = 'FAIL' BEGIN SELECT RAISE(ABORT, "
                       "'refused by test'); END");
}

/* One write's path: rv as expected, the lock taken (taken: how often at
 * least) and released as often, nothing left held. */
static void balanced(const char *name, apr_status_t rv, apr_status_t want,
                     int before, int taken, ota_db *d)
{
    int took = cl.acquires - before;

    if (!ok(rv == want && took >= taken && cl.acquires == cl.releases
            && !cl.held && d->lock_held == 0 && !cl.nested, name)) {
        printf("#   rv %d (want %d), taken %d (want %d), %d/%d, held %d, "
               "nested %d\n", rv, want, took, taken, cl.acquires,
               cl.releases, d->lock_held, cl.nested);
    }
}

static ota_certificate_record *cert(const char *serial, const char *tid,
                                    const char *udid)
{
    ota_certificate_record *r = apr_pcalloc(pool, sizeof(*r));

    r->serial = serial;
    r->transaction_id = tid;
    r->udid = udid;
    r->subject = apr_pstrcat(pool, "CN=", udid, NULL);
    r->not_after = t0 + apr_time_from_sec(86400);
    r->pem = "PEM";
    r->requester = "feed";
    return r;
}

static apr_status_t redeem(ota_challenge_verdict *v, ota_db *d,
                           const char *challenge, const char *user,
                           apr_time_t now, const char *udid,
                           const char *scep)
{
    ota_device_record dev = { udid, "SN", "iPhone15,2", "17", NULL, scep,
                              "CN=x", apr_time_from_sec(600), NULL };
    const char *why = NULL;

    return ota_store_challenge_redeem(v, d, challenge, user, now, &dev, &why,
                                      pool);
}

/* Phase 1, phase 2 and its refusals and errors. */
static void lock_phases(ota_db *d)
{
    const char *why = NULL;
    ota_challenge_verdict v;
    int n;

    n = cl.acquires;
    balanced("challenge added: taken, released",
             ota_store_challenge_add(d, "c1", "alice", t0,
                                     apr_time_from_sec(600), &why, pool),
             APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("no challenge to add: refused before the lock",
             ota_store_challenge_add(d, NULL, "alice", t0,
                                     apr_time_from_sec(600), &why, pool),
             APR_EINVAL, n, 0, d);
    n = cl.acquires;
    balanced("redeemed (device and SCEP challenge recorded)",
             redeem(&v, d, "c1", "alice", t0, "LOCK-1", "scep-1"),
             APR_SUCCESS, n, 1, d);
    ok(v == OTA_CHALLENGE_OK, "... verdict ok");
    n = cl.acquires;
    balanced("used: rolled back, released",
             redeem(&v, d, "c1", "alice", t0, "LOCK-2", NULL),
             APR_SUCCESS, n, 1, d);
    ok(v == OTA_CHALLENGE_USED, "... verdict used");
    n = cl.acquires;
    balanced("unknown: released", redeem(&v, d, "nope", NULL, t0, "LOCK-2",
                                         NULL), APR_SUCCESS, n, 1, d);
    ota_store_challenge_add(d, "c2", "alice", t0, apr_time_from_sec(1),
                            &why, pool);
    n = cl.acquires;
    balanced("expired: released", redeem(&v, d, "c2", NULL,
                                         t0 + apr_time_from_sec(5), "LOCK-2",
                                         NULL), APR_SUCCESS, n, 1, d);
    ota_store_challenge_add(d, "c3", "alice", t0, apr_time_from_sec(600),
                            &why, pool);
    n = cl.acquires;
    balanced("wrong user: released", redeem(&v, d, "c3", "bob", t0, "LOCK-2",
                                            NULL), APR_SUCCESS, n, 1, d);
    ota_store_challenge_add(d, "c4", "bob", t0, apr_time_from_sec(600), &why,
                            pool);
    n = cl.acquires;
    balanced("device bound to another user: released",
             redeem(&v, d, "c4", NULL, t0, "LOCK-1", NULL), APR_SUCCESS, n, 1,
             d);
    ok(v == OTA_CHALLENGE_DEVICE_BOUND, "... verdict device-bound");
    n = cl.acquires;
    ok(redeem(&v, d, "c4", NULL, t0, "FAIL", NULL) != APR_SUCCESS,
       "a database error in the transaction");
    balanced("... rolled back, released", APR_SUCCESS, APR_SUCCESS, n, 1, d);
    is_str(select1(d, "SELECT COUNT(*) FROM ota_challenge WHERE used IS NOT "
                   "NULL"), "1", "only the one redeemed is consumed");
}

/* The built-in CA, phase 3, revocation and the CRL. */
static void lock_registry(ota_db *d)
{
    ota_certificate_record *a = cert("0A", "tid-a", "LOCK-1");
    ota_revoke_verdict rv;
    ota_issue_verdict iv;
    apr_array_header_t *serials;
    ota_crl_row row;
    const char *why = NULL;
    int n, stored;

    n = cl.acquires;
    balanced("certificate added", ota_store_certificate_add(&iv, d, "scep-1",
             a, t0, &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("SCEP challenge gone: released", ota_store_certificate_add(&iv,
             d, "scep-1", cert("0B", "tid-b", "LOCK-1"), t0, &why, pool),
             APR_SUCCESS, n, 1, d);
    ok(iv == OTA_ISSUE_CHALLENGE_GONE, "... verdict gone");
    n = cl.acquires;
    balanced("replay: released", ota_store_certificate_add(&iv, d, NULL,
             cert("0C", "tid-a", "LOCK-1"), t0, &why, pool), APR_SUCCESS, n,
             1, d);
    a = cert("0D", "tid-d", "LOCK-1");
    a->superseded = apr_array_make(pool, 1, sizeof(const char *));
    n = cl.acquires;
    balanced("superseding an older one", ota_store_certificate_add(&iv, d,
             NULL, a, t0, &why, pool), APR_SUCCESS, n, 1, d);
    ok(a->superseded->nelts == 1, "... it superseded 0A");
    n = cl.acquires;
    balanced("enrolled", ota_store_device_enrolled(d, "LOCK-1", "0D", t0,
             &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("enrolled, unknown device: released",
             ota_store_device_enrolled(d, "NOBODY", "0D", t0, &why, pool),
             APR_NOTFOUND, n, 1, d);
    n = cl.acquires;
    balanced("revoked by serial", ota_store_revoke_serial(&rv, d, "0D", 1, t0,
             &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("revoked again: released", ota_store_revoke_serial(&rv, d, "0D",
             1, t0, &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("unknown device: released", ota_store_revoke_device(&rv,
             &serials, d, "NOBODY", 1, t0, &why, pool), APR_SUCCESS, n, 1, d);
    memset(&row, 0, sizeof(row));
    row.number = 1;
    row.der_base64 = "MAA=";
    n = cl.acquires;
    balanced("CRL stored", ota_store_crl_put(&stored, d, "CA", 0, &row, &why,
             pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("CRL race lost (a key violation): released",
             ota_store_crl_put(&stored, d, "CA", 0, &row, &why, pool),
             APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("CRL due", ota_store_crl_due(d, &why, pool), APR_SUCCESS, n, 1,
             d);
    n = cl.acquires;
    balanced("purge", ota_store_purge(&stored, d, "challenge", t0, 100, &why,
             pool), APR_SUCCESS, n, 1, d);
}

/* The administrator's writes (ota_store_approval.c). */
static void lock_admin(ota_db *d)
{
    ota_audit_entry audit = { t0, "admin", "::1", "test", "LOCK-1", NULL,
                              NULL, NULL };
    ota_pending_record rec, *got;
    ota_decide_verdict dv;
    ota_issue_verdict iv;
    const char *why = NULL, *prior;
    int n, found;

    memset(&rec, 0, sizeof(rec));
    rec.transaction_id = "tid-held";
    rec.udid = "LOCK-1";
    rec.subject = "CN=LOCK-1";
    rec.requester = "feed";
    rec.csr = "CSR";
    rec.expires = t0 + apr_time_from_sec(3600);
    n = cl.acquires;
    balanced("audit added", ota_store_audit_add(d, &audit, &why, pool),
             APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("request held", ota_store_pending_add(&iv, d, NULL, &rec, t0,
             &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("held again (a replay): released", ota_store_pending_add(&iv, d,
             NULL, &rec, t0, &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("approved", ota_store_pending_decide(&dv, &got, d, "tid-held", 1,
             &audit, &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("decided before: released", ota_store_pending_decide(&dv, &got,
             d, "tid-held", 0, &audit, &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("device released", ota_store_device_release(&found, &prior, d,
             "LOCK-1", &audit, &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("unknown device not released: released",
             ota_store_device_release(&found, &prior, d, "NOBODY", &audit,
                                      &why, pool), APR_SUCCESS, n, 1, d);
    n = cl.acquires;
    balanced("device forgotten", ota_store_device_forget(&found, d, "LOCK-9",
             &audit, &why, pool), APR_SUCCESS, n, 1, d);
    ok(found, "... it was there");
}

/* The lock refused: nothing written, nothing to release. */
static void lock_refused(ota_db *d)
{
    const char *before = select1(d, "SELECT COUNT(*) FROM ota_challenge");
    const char *why = NULL;
    ota_challenge_verdict v;
    int n = cl.acquires, r = cl.releases;

    cl.refuse = 1;
    ok(ota_store_challenge_add(d, "c9", NULL, t0, apr_time_from_sec(600),
                               &why, pool) != APR_SUCCESS && why,
       "the lock refused: the write fails, saying why");
    cl.refuse = 1;
    ota_store_challenge_add(d, "c10", NULL, t0, apr_time_from_sec(600), &why,
                            pool);
    ok(redeem(&v, d, "c3", "alice", t0, "LOCK-9", NULL) == APR_SUCCESS
       && v == OTA_CHALLENGE_OK, "(a challenge to redeem)");
    cl.refuse = 1;
    ota_store_challenge_add(d, "c11", "alice", t0, apr_time_from_sec(600),
                            &why, pool);
    ok(cl.acquires == n + 1 && cl.releases == r + 1 && d->lock_held == 0,
       "refused acquires are not released");
    is_str(select1(d, "SELECT COUNT(*) FROM ota_challenge"), before,
           "and wrote nothing");
    cl.refuse = 1;
    ok(redeem(&v, d, "c4", "bob", t0, "LOCK-9", NULL) != APR_SUCCESS
       && v != OTA_CHALLENGE_OK, "a transaction whose lock is refused fails");
    ok(cl.acquires == n + 1 && cl.releases == r + 1 && d->lock_held == 0,
       "... and releases nothing");
}

static void test_lock(void)
{
    char path[] = "/tmp/unit_scale_lock.XXXXXX";
    const char *why = NULL;
    ota_db d;
    int fd, n;

    if ((fd = mkstemp(path)) >= 0) {
        close(fd);
    }
    if (!ok(open_db(&d, path, pool) == APR_SUCCESS, "scratch database")) {
        return;
    }
    cl.db = &d;
    d.lock = &counting;
    n = cl.acquires;
    balanced("the schema is created under the lock", ota_store_schema(&d, &why,
             pool), APR_SUCCESS, n, 1, &d);
    ok(guard(&d) == 0, "every table refuses writes without the lock");
    is_int(ota_store_prepare_all(&d, &why, pool), APR_SUCCESS,
           "statements prepared");
    d.lock = NULL;
    ok(ota_store_challenge_add(&d, "x", NULL, t0, apr_time_from_sec(9), &why,
                               pool) != APR_SUCCESS
       && strstr(why, "without the write lock"),
       "(a write without it is refused)");
    d.lock = &counting;
    lock_phases(&d);
    lock_registry(&d);
    lock_refused(&d);
    lock_admin(&d);
    apr_dbd_close(drv, d.handle);
    unlink(path);
}

/* ---- sqlite3 locked by another program: the fallback ---- */

static int holder(const char *path)
{
    apr_pool_t *p;
    ota_db h;
    int nrows;

    apr_pool_create(&p, NULL);
    if (open_db(&h, path, p) != APR_SUCCESS
        || apr_dbd_query(drv, h.handle, &nrows, "BEGIN IMMEDIATE")) {
        return 1;
    }
    apr_sleep(apr_time_from_msec(4000));
    apr_dbd_query(drv, h.handle, &nrows, "COMMIT");
    apr_dbd_close(drv, h.handle);
    return 0;
}

/* apr_dbd gives up after 1.5 s; the store then waits with the lock
 * released, and retries under it. */
static void test_fallback(void)
{
    char path[] = "/tmp/unit_scale_busy.XXXXXX";
    const char *why = NULL;
    int fd, n, status = -1;
    pid_t pid;
    ota_db d;

    if ((fd = mkstemp(path)) >= 0) {
        close(fd);
    }
    /* the holder forks while this process has the file closed: sqlite
     * keeps per-process lock state a child must not inherit */
    open_db(&d, path, pool);
    ota_store_connection_init(&d, &why, pool);
    query(&d, "CREATE TABLE t_lock (held INTEGER NOT NULL)");
    query(&d, "INSERT INTO t_lock VALUES (0)");
    apr_dbd_close(drv, d.handle);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        _exit(holder(path));
    }
    apr_sleep(apr_time_from_msec(300));
    open_db(&d, path, pool);
    ota_store_connection_init(&d, &why, pool);
    cl.db = &d;
    d.lock = &counting;
    n = cl.acquires;
    balanced("another program held sqlite's lock for 4 s: the write "
             "waited with the lock released, then took it again",
             ota_store_challenge_add(&d, "busy", NULL, t0,
                                     apr_time_from_sec(60), &why, pool),
             APR_SUCCESS, n, 2, &d);
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "(the holder)");
    apr_dbd_close(drv, d.handle);
    unlink(path);
}

/* ---- retention ---- */

static void purge_fill(ota_db *d)
{
    apr_int64_t now = apr_time_sec(t0);

    /* expired long ago (used or not), recently, or not yet; one SCEP
     * challenge of each; devices and certificates to keep */
    query(d, apr_psprintf(pool, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
          "SELECT i + 1 FROM n WHERE i < 25) INSERT INTO ota_challenge "
          "(digest, username, created, expires, used) SELECT 'old-' || i, "
          "'u', %" APR_INT64_T_FMT ", %" APR_INT64_T_FMT ", CASE WHEN i %% 2 "
          "THEN %" APR_INT64_T_FMT " END FROM n", now - 900000,
          now - 864000, now - 899000));
    query(d, apr_psprintf(pool, "INSERT INTO ota_challenge VALUES "
          "('recent-used', 'u', %" APR_INT64_T_FMT ", %" APR_INT64_T_FMT ", "
          "%" APR_INT64_T_FMT "), ('recent', 'u', %" APR_INT64_T_FMT ", %"
          APR_INT64_T_FMT ", NULL), ('valid', 'u', %" APR_INT64_T_FMT ", %"
          APR_INT64_T_FMT ", NULL)", now - 4000, now - 3100, now - 3500,
          now - 4000, now - 3100, now, now + 900));
    query(d, apr_psprintf(pool, "INSERT INTO ota_scep_challenge (digest, "
          "udid, subject, created, expires, used) VALUES ('s-old', 'P-1', "
          "'CN=x', 1, %" APR_INT64_T_FMT ", NULL), ('s-new', 'P-1', 'CN=x', "
          "1, %" APR_INT64_T_FMT ", NULL)", now - 864000, now + 600));
    query(d, "INSERT INTO ota_device (udid, phase, first_seen, last_seen) "
          "VALUES ('P-1', 3, 1, 1)");
    query(d, "INSERT INTO ota_certificate (serial, transaction_id, udid, "
          "subject, issued, not_after, cert) VALUES ('P1', 'tp', 'P-1', "
          "'CN=x', 1, 2, 'PEM')");
}

static void test_purge(void)
{
    char path[] = "/tmp/unit_scale_purge.XXXXXX";
    apr_time_t before = t0 - apr_time_from_sec(7 * 86400);
    const char *why = NULL;
    ota_store_tally t;
    int fd, n = -1, batches = 0, total = 0;
    ota_db d;

    if ((fd = mkstemp(path)) >= 0) {
        close(fd);
    }
    open_db(&d, path, pool);
    ok(ota_store_connection_init(&d, &why, pool) == APR_SUCCESS,
       "a registry to purge");
    purge_fill(&d);
    do {
        ota_store_purge(&n, &d, "challenge", before, 10, &why, pool);
        total += n;
        batches++;
    } while (n == 10 && batches < 10);
    is_int(total, 25, "the 25 challenges expired 10 days ago go (used or "
           "not), retention 7 days");
    is_int(batches, 3, "in batches of at most 10 (10, 10, 5)");
    is_str(select1(&d, "SELECT group_concat(digest, ' ') FROM (SELECT digest "
                   "FROM ota_challenge ORDER BY digest)"),
           "recent recent-used valid",
           "those expired an hour ago (used or not) and the valid one stay");
    ota_store_purge(&n, &d, "scep_challenge", before, 10, &why, pool);
    ok(n == 1 && !strcmp(select1(&d, "SELECT digest FROM "
                                 "ota_scep_challenge"), "s-new"),
       "SCEP challenges alike");
    ota_store_purge(&n, &d, "challenge", t0, 10, &why, pool);
    ok(n == 2 && !strcmp(select1(&d, "SELECT digest FROM ota_challenge"),
                         "valid"), "retention 0: every expired one goes");
    is_str(select1(&d, "SELECT (SELECT COUNT(*) FROM ota_device) || '/' || "
                   "(SELECT COUNT(*) FROM ota_certificate)"), "1/1",
           "devices and certificates are kept");
    ota_store_tally_get(&t, &d, &why, pool);
    ok(t.challenges == 1 && t.scep_challenges == 1 && t.devices == 1
       && t.certificates == 1, "the tallies follow the deletes");
    ok(ota_store_purge(&n, &d, "ota_device", t0, 10, &why, pool)
       == APR_EINVAL, "only challenges can be purged");
    apr_dbd_close(drv, d.handle);
    unlink(path);
}

int main(int argc, char **argv)
{
    unit_setup(argc, argv, 0);
    apr_dbd_init(pool);
    t0 = apr_time_now();
    if (ok(apr_dbd_get_driver(pool, "sqlite3", &drv) == APR_SUCCESS,
           "sqlite3 driver")) {
        test_lock();
        test_fallback();
        test_purge();
    }
    return unit_done();
}
