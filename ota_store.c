/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "ota_challenge.h"
#include "ota_dbfile.h"
#include "ota_store.h"
#include "ota_store_sql.h"

#define OTA_STORE_SCHEMA_VERSION 6
/* sqlite3: how long a new connection retries its schema check and
 * statement preparation while another process holds the write lock. */
#define OTA_STORE_SQLITE_PREPARE_TRIES 100
#define OTA_STORE_SQLITE_PREPARE_PAUSE apr_time_from_msec(20)

/* Migrations: version N's statements run, in one transaction, on a
 * database at version N-1, the last one recording N. */
static const char *const schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS ota_challenge ("
    "digest TEXT PRIMARY KEY, username TEXT NOT NULL, "
    "created BIGINT NOT NULL, expires BIGINT NOT NULL, used BIGINT)",
    "CREATE TABLE IF NOT EXISTS ota_device ("
    "udid TEXT PRIMARY KEY, serial TEXT, product TEXT, version TEXT, "
    "username TEXT, phase INTEGER NOT NULL, "
    "first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL)",
    "INSERT INTO ota_schema_version (id, version) VALUES (1, 1)",
    NULL
};

/* The built-in CA's registry, and each device's progress with times. */
static const char *const schema_v2[] = {
    "CREATE TABLE IF NOT EXISTS ota_scep_challenge ("
    "digest TEXT PRIMARY KEY, udid TEXT NOT NULL, subject TEXT NOT NULL, "
    "created BIGINT NOT NULL, expires BIGINT NOT NULL, used BIGINT)",
    "CREATE TABLE IF NOT EXISTS ota_certificate ("
    "serial TEXT PRIMARY KEY, transaction_id TEXT NOT NULL UNIQUE, "
    "udid TEXT, subject TEXT NOT NULL, issued BIGINT NOT NULL, "
    "not_after BIGINT NOT NULL, revoked BIGINT, cert TEXT NOT NULL)",
    "ALTER TABLE ota_device ADD COLUMN phase1_at BIGINT",
    "ALTER TABLE ota_device ADD COLUMN phase2_at BIGINT",
    "ALTER TABLE ota_device ADD COLUMN cert_serial TEXT",
    "ALTER TABLE ota_device ADD COLUMN cert_at BIGINT",
    "ALTER TABLE ota_device ADD COLUMN enrolled_at BIGINT",
    "UPDATE ota_schema_version SET version = 2 WHERE id = 1",
    NULL
};

/* The names bound to a device beside its subject; who asked for each
 * certificate (the SHA-256 of the request signer's public key), so only
 * the requester can poll for it. */
static const char *const schema_v3[] = {
    "ALTER TABLE ota_scep_challenge ADD COLUMN san TEXT",
    "ALTER TABLE ota_certificate ADD COLUMN requester TEXT",
    "UPDATE ota_schema_version SET version = 3 WHERE id = 1",
    NULL
};

/* Revocation: each certificate's reason and the user it was issued for,
 * the device's own identity, the CRL every server serves, and the indexes
 * revocation looks up by. */
static const char *const schema_v4[] = {
    "ALTER TABLE ota_certificate ADD COLUMN revoked_reason INTEGER",
    "ALTER TABLE ota_certificate ADD COLUMN username TEXT",
    "ALTER TABLE ota_device ADD COLUMN identity TEXT",
    "CREATE INDEX IF NOT EXISTS ota_certificate_udid "
    "ON ota_certificate (udid)",
    "CREATE INDEX IF NOT EXISTS ota_certificate_revoked "
    "ON ota_certificate (revoked) WHERE revoked IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS ota_crl ("
    "ca TEXT PRIMARY KEY, number BIGINT NOT NULL, "
    "this_update BIGINT NOT NULL, next_update BIGINT NOT NULL, "
    "der TEXT NOT NULL)",
    "UPDATE ota_schema_version SET version = 4 WHERE id = 1",
    NULL
};

/* Approval and audit: certificate requests held for an administrator
 * (OTAEnrollSCEPApproval manual), and every admin action, in the shared
 * store so every server shows the same. */
static const char *const schema_v5[] = {
    "CREATE TABLE IF NOT EXISTS ota_pending ("
    "transaction_id TEXT PRIMARY KEY, udid TEXT, subject TEXT NOT NULL, "
    "san TEXT, username TEXT, product TEXT, requester TEXT NOT NULL, "
    "challenge TEXT, csr TEXT NOT NULL, requested BIGINT NOT NULL, "
    "expires BIGINT NOT NULL, decided BIGINT, decision TEXT, "
    "decided_by TEXT)",
    "CREATE INDEX IF NOT EXISTS ota_pending_open "
    "ON ota_pending (requested) WHERE decided IS NULL",
    "CREATE TABLE IF NOT EXISTS ota_audit ("
    "at BIGINT NOT NULL, admin TEXT NOT NULL, remote TEXT, "
    "action TEXT NOT NULL, udid TEXT, serial TEXT, transaction_id TEXT, "
    "detail TEXT)",
    "CREATE INDEX IF NOT EXISTS ota_audit_at ON ota_audit (at)",
    "UPDATE ota_schema_version SET version = 5 WHERE id = 1",
    NULL
};

/* A million devices: indexes for what the status page sorts and filters
 * and for the retention purge, and one row of tallies (rows per table,
 * devices per phase) that triggers keep, so the page counts without
 * scanning. The search index, the device id a search is ordered by and
 * the triggers differ by driver (ota_store_scale.c). */
#define TALLY_COUNT(column, from)                                          \
    "(SELECT COUNT(*) FROM " from ") AS " column
static const char *const schema_v6[] = {
    "CREATE INDEX IF NOT EXISTS ota_device_seen "
    "ON ota_device (last_seen, udid)",
    "CREATE INDEX IF NOT EXISTS ota_device_phase_seen "
    "ON ota_device (phase, last_seen, udid)",
    "CREATE INDEX IF NOT EXISTS ota_challenge_expires "
    "ON ota_challenge (expires)",
    "CREATE INDEX IF NOT EXISTS ota_scep_challenge_expires "
    "ON ota_scep_challenge (expires)",
    "CREATE TABLE IF NOT EXISTS ota_tally ("
    "slot INTEGER PRIMARY KEY, challenges BIGINT NOT NULL DEFAULT 0, "
    "scep_challenges BIGINT NOT NULL DEFAULT 0, "
    "devices BIGINT NOT NULL DEFAULT 0, "
    "certificates BIGINT NOT NULL DEFAULT 0, "
    "pending BIGINT NOT NULL DEFAULT 0, audit BIGINT NOT NULL DEFAULT 0, "
    "phase0 BIGINT NOT NULL DEFAULT 0, phase1 BIGINT NOT NULL DEFAULT 0, "
    "phase2 BIGINT NOT NULL DEFAULT 0, phase3 BIGINT NOT NULL DEFAULT 0, "
    "phase4 BIGINT NOT NULL DEFAULT 0)",
    "INSERT INTO ota_tally (slot, challenges, scep_challenges, devices, "
    "certificates, pending, audit, phase0, phase1, phase2, phase3, phase4) "
    "SELECT 0, " TALLY_COUNT("c", "ota_challenge") ", "
    TALLY_COUNT("s", "ota_scep_challenge") ", "
    TALLY_COUNT("d", "ota_device") ", "
    TALLY_COUNT("r", "ota_certificate") ", "
    TALLY_COUNT("p", "ota_pending") ", " TALLY_COUNT("a", "ota_audit") ", "
    TALLY_COUNT("p0", "ota_device WHERE phase = 0") ", "
    TALLY_COUNT("p1", "ota_device WHERE phase = 1") ", "
    TALLY_COUNT("p2", "ota_device WHERE phase = 2") ", "
    TALLY_COUNT("p3", "ota_device WHERE phase = 3") ", "
    TALLY_COUNT("p4", "ota_device WHERE phase = 4"),
    "UPDATE ota_schema_version SET version = 6 WHERE id = 1",
    NULL
};

static const char *const *const migrations[] = {
    schema_v1, schema_v2, schema_v3, schema_v4, schema_v5, schema_v6
};

const ota_store_statement ota_store_statements[] = {
    { "ota_challenge_add",
      "INSERT INTO ota_challenge (digest, username, created, expires, used) "
      "VALUES (%s, %s, %lld, %lld, NULL)" },
    { "ota_challenge_consume",
      "UPDATE ota_challenge SET used = %lld "
      "WHERE digest = %s AND used IS NULL AND expires > %lld "
      "AND (%s = '' OR username = '' OR username = %s)" },
    { "ota_challenge_get",
      "SELECT used, expires, username, created FROM ota_challenge "
      "WHERE digest = %s" },
    { "ota_device_upsert",
      "INSERT INTO ota_device (udid, serial, product, version, username, "
      "phase, first_seen, last_seen, phase1_at, phase2_at, cert_serial, "
      "cert_at, enrolled_at, identity) "
      "VALUES (%s, %s, %s, %s, %s, 2, %lld, %lld, %lld, %lld, NULL, NULL, "
      "NULL, %s) "
      "ON CONFLICT (udid) DO UPDATE SET serial = excluded.serial, "
      "product = excluded.product, version = excluded.version, "
      "username = excluded.username, phase = excluded.phase, "
      "last_seen = excluded.last_seen, phase1_at = excluded.phase1_at, "
      "phase2_at = excluded.phase2_at, cert_serial = NULL, cert_at = NULL, "
      "enrolled_at = NULL, identity = excluded.identity" },
    { "ota_device_get",
      "SELECT username, phase, phase2_at, cert_serial, identity "
      "FROM ota_device WHERE udid = %s" },
    { "ota_device_enrolled",
      "UPDATE ota_device SET phase = 4, last_seen = %lld, enrolled_at = %lld, "
      "cert_serial = %s WHERE udid = %s" },
    { "ota_scep_challenge_add",
      "INSERT INTO ota_scep_challenge (digest, udid, subject, san, created, "
      "expires, used) VALUES (%s, %s, %s, %s, %lld, %lld, NULL)" },
    { "ota_scep_challenge_get",
      "SELECT used, expires, udid, subject, san FROM ota_scep_challenge "
      "WHERE digest = %s" },
    { "ota_scep_challenge_consume",
      "UPDATE ota_scep_challenge SET used = %lld "
      "WHERE digest = %s AND used IS NULL AND expires > %lld" },
    { "ota_certificate_add",
      "INSERT INTO ota_certificate (serial, transaction_id, udid, subject, "
      "issued, not_after, revoked, cert, requester, username) "
      "VALUES (%s, %s, %s, %s, %lld, %lld, NULL, %s, %s, %s)" },
    { "ota_certificate_by_transaction",
      "SELECT serial, udid, subject, not_after, revoked, cert, requester, "
      "username FROM ota_certificate WHERE transaction_id = %s" },
    { "ota_certificate_by_serial",
      "SELECT serial, udid, subject, not_after, revoked, cert, requester, "
      "username FROM ota_certificate WHERE serial = %s" },
    { "ota_certificate_status",
      "SELECT revoked, revoked_reason, udid FROM ota_certificate "
      "WHERE serial = %s" },
    { "ota_certificate_revoke",
      "UPDATE ota_certificate SET revoked = %lld, revoked_reason = %d "
      "WHERE serial = %s AND revoked IS NULL" },
    { "ota_certificate_unrevoked",
      "SELECT serial FROM ota_certificate "
      "WHERE udid = %s AND revoked IS NULL" },
    { "ota_certificate_revoked_all",
      "SELECT serial, revoked, revoked_reason FROM ota_certificate "
      "WHERE revoked IS NOT NULL" },
    { "ota_crl_get",
      "SELECT number, this_update, next_update, der FROM ota_crl "
      "WHERE ca = %s" },
    { "ota_crl_head",
      "SELECT number, this_update, next_update FROM ota_crl WHERE ca = %s" },
    { "ota_crl_due",
      "UPDATE ota_crl SET next_update = 0" },
    { "ota_crl_insert",
      "INSERT INTO ota_crl (ca, number, this_update, next_update, der) "
      "VALUES (%s, %lld, %lld, %lld, %s)" },
    { "ota_crl_update",
      "UPDATE ota_crl SET number = %lld, this_update = %lld, "
      "next_update = %lld, der = %s WHERE ca = %s AND number = %lld" },
    { "ota_device_cert",
      "UPDATE ota_device SET phase = 3, last_seen = %lld, cert_at = %lld, "
      "cert_serial = %s WHERE udid = %s" },
    /* Approval and the audit (ota_store_approval.c). */
    { "ota_pending_add",
      "INSERT INTO ota_pending (transaction_id, udid, subject, san, "
      "username, product, requester, challenge, csr, requested, expires, "
      "decided, decision, decided_by) VALUES (%s, %s, %s, %s, %s, %s, %s, "
      "%s, %s, %lld, %lld, NULL, NULL, NULL)" },
    { "ota_pending_get",
      "SELECT transaction_id, udid, subject, san, username, product, "
      "requester, csr, requested, expires, decided, decision, decided_by "
      "FROM ota_pending WHERE transaction_id = %s" },
    { "ota_pending_open",
      "SELECT transaction_id, udid, subject, san, username, product, "
      "requester, NULL, requested, expires, decided, decision, decided_by "
      "FROM ota_pending WHERE decided IS NULL AND expires > %lld "
      "ORDER BY requested, transaction_id LIMIT %d" },
    { "ota_pending_decide",
      "UPDATE ota_pending SET decided = %lld, decision = %s, "
      "decided_by = %s WHERE transaction_id = %s AND decided IS NULL "
      "AND expires > %lld" },
    { "ota_pending_reject_device",
      "UPDATE ota_pending SET decided = %lld, decision = 'rejected', "
      "decided_by = %s WHERE udid = %s AND decided IS NULL" },
    { "ota_pending_approved_at",
      "SELECT p.decided FROM ota_pending p JOIN ota_certificate c "
      "ON c.transaction_id = p.transaction_id "
      "WHERE c.serial = %s AND p.decision = 'approved'" },
    { "ota_pending_device",
      "SELECT username, product FROM ota_device WHERE udid = %s" },
    { "ota_device_release",
      "UPDATE ota_device SET username = NULL WHERE udid = %s" },
    { "ota_device_delete",
      "DELETE FROM ota_device WHERE udid = %s" },
    { "ota_scep_challenge_retire",
      "UPDATE ota_scep_challenge SET used = %lld "
      "WHERE udid = %s AND used IS NULL" },
    { "ota_audit_add",
      "INSERT INTO ota_audit (at, admin, remote, action, udid, serial, "
      "transaction_id, detail) VALUES (%lld, %s, %s, %s, %s, %s, %s, %s)" },
    { "ota_audit_recent",
      "SELECT at, admin, remote, action, udid, serial, transaction_id, "
      "detail FROM ota_audit ORDER BY at DESC, action, udid LIMIT %d" },
    { "ota_count_challenge",
      "SELECT COUNT(*) FROM ota_challenge" },
    { "ota_count_challenge_used",
      "SELECT COUNT(*) FROM ota_challenge WHERE used IS NOT NULL" },
    { "ota_count_device",
      "SELECT COUNT(*) FROM ota_device" },
    { "ota_count_scep_challenge",
      "SELECT COUNT(*) FROM ota_scep_challenge" },
    { "ota_count_scep_challenge_used",
      "SELECT COUNT(*) FROM ota_scep_challenge WHERE used IS NOT NULL" },
    { "ota_count_certificate",
      "SELECT COUNT(*) FROM ota_certificate" },
    { NULL, NULL }
};

/* What apr_dbd's sqlite3 driver returns once it gave up on a locked
 * database (SQLITE_BUSY). */
#define OTA_STORE_SQLITE_BUSY 5
#define OTA_STORE_WRITE_TRIES 20

/* The driver's message is overwritten by the next call (a rollback, say),
 * so it is copied at once. */
apr_status_t ota_sql_error(ota_db *db, int rc, const char *what,
                           const char **why, apr_pool_t *p)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rc);

    db->locked = rc == OTA_STORE_SQLITE_BUSY
                 && !strcmp(apr_dbd_name(db->driver), "sqlite3");

    if (why) {
        *why = apr_psprintf(p, "%s: %s", what, msg ? msg : "unknown error");
    }
    return APR_EGENERAL;
}

apr_status_t ota_sql_fail(apr_status_t rv, const char *msg, const char **why)
{
    if (why) {
        *why = msg;
    }
    return rv;
}

apr_dbd_prepared_t *ota_sql_statement(ota_db *db, const char *label)
{
    if (!db->prepared) {
        return NULL;
    }
    return apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
}

/* The statement of label; NULL, and *why saying so, when not prepared. */
static apr_dbd_prepared_t *statement_of(ota_db *db, const char *label,
                                        const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, label);

    if (!st && why) {
        *why = apr_pstrcat(p, label, " not prepared", NULL);
    }
    return st;
}

apr_status_t ota_sql_prepare(ota_db *db, const char *label, const char *sql,
                             const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = NULL;
    int rc;

    if (ota_sql_statement(db, label)) {
        return APR_SUCCESS;
    }
    rc = apr_dbd_prepare(db->driver, p, db->handle, sql, NULL, &st);
    if (rc) {
        return ota_sql_error(db, rc, apr_pstrcat(p, "preparing ", label, NULL),
                             why, p);
    }
    apr_hash_set(db->prepared, label, APR_HASH_KEY_STRING, st);
    return APR_SUCCESS;
}

/* ---- reading ---- */

/* Every select uses random access (seek 1) because pgsql's sequential
 * mode reports a failed query as an empty result. */
apr_status_t ota_sql_select(ota_sql_rows *r, ota_db *db, const char *label,
                            const void **args, const char *what,
                            const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement_of(db, label, why, p);
    int rc;

    r->db = db;
    r->res = NULL;
    r->row = NULL;
    r->p = p;
    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pbselect(db->driver, p, db->handle, &r->res, st, 1, args);
    return rc ? ota_sql_error(db, rc, what, why, p) : APR_SUCCESS;
}

int ota_sql_next(ota_sql_rows *r)
{
    return apr_dbd_get_row(r->db->driver, r->p, r->res, &r->row, -1) == 0;
}

static apr_int64_t column_int64(const ota_sql_rows *r, int col, int *null)
{
    apr_int64_t v = 0;
    apr_status_t rv = apr_dbd_datum_get(r->db->driver, r->row, col,
                                        APR_DBD_TYPE_LONGLONG, &v);

    *null = rv == APR_ENOENT;
    return rv == APR_SUCCESS ? v : 0;
}

static const char *column_text(const ota_sql_rows *r, int col)
{
    char *v = NULL;

    if (apr_dbd_datum_get(r->db->driver, r->row, col, APR_DBD_TYPE_STRING,
                          &v) != APR_SUCCESS || !v) {
        return NULL;
    }
    return apr_pstrdup(r->p, v);
}

void ota_sql_columns(const ota_sql_rows *r, const char *spec,
                     void *const *out)
{
    apr_int64_t n;
    int i, null;

    for (i = 0; spec[i]; i++) {
        if (!out[i]) {
            continue;
        }
        if (spec[i] == 't') {
            *(const char **)out[i] = column_text(r, i);
            continue;
        }
        n = column_int64(r, i, &null);
        switch (spec[i]) {
        case 'n':
            *(apr_int64_t *)out[i] = n;
            break;
        case 'i':
            *(int *)out[i] = (int)n;
            break;
        case 's':
            *(apr_time_t *)out[i] = apr_time_from_sec(n);
            break;
        case 'u':
            *(int *)out[i] = !null;
            break;
        }
    }
}

void ota_sql_done(ota_sql_rows *r)
{
    while (ota_sql_next(r)) {
        continue;
    }
}

apr_status_t ota_sql_select_one(int *found, ota_db *db, const char *label,
                                const void **args, const char *spec,
                                void *const *out, const char *what,
                                const char **why, apr_pool_t *p)
{
    ota_sql_rows r;
    apr_status_t rv = ota_sql_select(&r, db, label, args, what, why, p);

    *found = rv == APR_SUCCESS && ota_sql_next(&r);
    if (*found) {
        ota_sql_columns(&r, spec, out);
        ota_sql_done(&r);
    }
    return rv;
}

apr_status_t ota_sql_select_all(apr_array_header_t *out,
                                ota_sql_row_fn *read, ota_db *db,
                                const char *label, const void **args,
                                const char *what, const char **why,
                                apr_pool_t *p)
{
    ota_sql_rows r;
    apr_status_t rv = ota_sql_select(&r, db, label, args, what, why, p);

    while (rv == APR_SUCCESS && ota_sql_next(&r)) {
        read(apr_array_push(out), &r);
    }
    return rv;
}

/* ---- writing ---- */

/* The write lock nests: a single write inside a transaction keeps the
 * transaction's; only the outermost release lets it go. */
apr_status_t ota_sql_write_lock(ota_db *db, const char **why, apr_pool_t *p)
{
    apr_status_t rv;

    if (!db->lock) {
        return APR_SUCCESS;
    }
    if (db->lock_held == 0
        && (rv = db->lock->acquire(db->lock->baton)) != APR_SUCCESS) {
        if (why) {
            *why = apr_psprintf(p, "cannot take the database write lock "
                                "(%d)", rv);
        }
        return rv;
    }
    db->lock_held++;
    return APR_SUCCESS;
}

void ota_sql_write_unlock(ota_db *db)
{
    if (db->lock && db->lock_held > 0 && --db->lock_held == 0) {
        db->lock->release(db->lock->baton);
    }
}

apr_status_t ota_sql_write(int *nrows, ota_db *db, const char *label,
                           const void **args, const char *what,
                           const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement_of(db, label, why, p);
    apr_status_t rv;
    int rc;

    if (!st) {
        return APR_EGENERAL;
    }
    if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    rc = apr_dbd_pbquery(db->driver, p, db->handle, nrows, st, args);
    ota_sql_write_unlock(db);
    return rc ? ota_sql_error(db, rc, what, why, p) : APR_SUCCESS;
}

/* The write lock, then apr_dbd's BEGIN. txn_end, which every started
 * transaction ends with (also when this failed), releases it. */
static apr_status_t txn_start(ota_db *db, apr_dbd_transaction_t **trans,
                              const char **why, apr_pool_t *p)
{
    apr_status_t rv = ota_sql_write_lock(db, why, p);
    int rc;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = apr_dbd_transaction_start(db->driver, p, db->handle, trans);
    return rc ? ota_sql_error(db, rc, "starting transaction", why, p)
              : APR_SUCCESS;
}

/* Ends trans (if BEGIN failed, sqlite3 still attached it to the handle),
 * rolling back unless rv is success and commit is set; then the write
 * lock goes. */
static apr_status_t txn_end(ota_db *db, apr_dbd_transaction_t *trans,
                            apr_status_t rv, int commit, const char **why,
                            apr_pool_t *p)
{
    int rc;

    if (!trans) {
        ota_sql_write_unlock(db);
        return rv;
    }
    if (rv != APR_SUCCESS || !commit) {
        apr_dbd_transaction_mode_set(db->driver, trans,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rc = apr_dbd_transaction_end(db->driver, p, trans);
    ota_sql_write_unlock(db);
    if (rc && rv == APR_SUCCESS) {
        rv = ota_sql_error(db, rc, "ending transaction", why, p);
    }
    return rv;
}

/* apr_dbd's sqlite3 driver gives up on a locked database after 15 tries
 * 100 ms apart; among many concurrent writers a request can keep losing
 * that race. A write that found the database locked runs again from its
 * start after a short random pause (its transaction was rolled back, so
 * nothing of it stayed); attempt counts from 0. */
static int write_again(ota_db *db, apr_status_t rv, int attempt)
{
    unsigned char r = 0;

    if (rv == APR_SUCCESS || !db->locked
        || attempt + 1 >= OTA_STORE_WRITE_TRIES) {
        return 0;
    }
    apr_generate_random_bytes(&r, 1);
    apr_sleep(apr_time_from_msec(10 + r % 40));
    db->locked = 0;
    return 1;
}

apr_status_t ota_sql_retry(ota_db *db, ota_sql_attempt_fn *attempt,
                           void *job, const char **why, apr_pool_t *p)
{
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        rv = attempt(job, db, why, p);
    } while (write_again(db, rv, i++));
    return rv;
}

typedef struct write_job {
    int *nrows;
    const char *label;
    const void **args;
    const char *what;
} write_job;

static apr_status_t write_attempt(void *job, ota_db *db, const char **why,
                                  apr_pool_t *p)
{
    write_job *w = job;

    return ota_sql_write(w->nrows, db, w->label, w->args, w->what, why, p);
}

apr_status_t ota_sql_write_retried(int *nrows, ota_db *db, const char *label,
                                   const void **args, const char *what,
                                   const char **why, apr_pool_t *p)
{
    write_job w = { nrows, label, args, what };

    return ota_sql_retry(db, write_attempt, &w, why, p);
}

typedef struct txn_job {
    ota_sql_txn_fn *txn;
    void (*reset)(void *job);
    void *job;
} txn_job;

static apr_status_t txn_attempt(void *job, ota_db *db, const char **why,
                                apr_pool_t *p)
{
    txn_job *t = job;
    apr_dbd_transaction_t *trans = NULL;
    apr_status_t rv;
    int commit = 0;

    if (t->reset) {
        t->reset(t->job);
    }
    rv = txn_start(db, &trans, why, p);
    if (rv == APR_SUCCESS) {
        rv = t->txn(&commit, t->job, db, why, p);
    }
    return txn_end(db, trans, rv, commit, why, p);
}

apr_status_t ota_sql_txn_retry(ota_db *db, ota_sql_txn_fn *txn,
                               void (*reset)(void *job), void *job,
                               const char **why, apr_pool_t *p)
{
    txn_job t = { txn, reset, job };

    return ota_sql_retry(db, txn_attempt, &t, why, p);
}

/* ---- the schema ---- */

/* 0 when the row is missing; an error when the table is. */
static apr_status_t schema_version(apr_int64_t *version, ota_db *db,
                                   const char **why, apr_pool_t *p)
{
    ota_sql_rows r = { db, NULL, NULL, p };
    void *const out[] = { version };
    int rc;

    *version = 0;
    rc = apr_dbd_select(db->driver, p, db->handle, &r.res,
                        "SELECT version FROM ota_schema_version WHERE id = 1",
                        1);
    if (rc) {
        return ota_sql_error(db, rc, "reading schema version", why, p);
    }
    if (ota_sql_next(&r)) {
        ota_sql_columns(&r, "n", out);
        ota_sql_done(&r);
    }
    return APR_SUCCESS;
}

/* Refuses a database written by a newer release. */
static apr_status_t schema_not_newer(apr_int64_t version, const char **why,
                                     apr_pool_t *p)
{
    if (version > OTA_STORE_SCHEMA_VERSION) {
        return ota_sql_fail(APR_EGENERAL,
                            apr_psprintf(p, "database schema version %"
                                         APR_INT64_T_FMT " is newer than "
                                         "this module's (%d)", version,
                                         OTA_STORE_SCHEMA_VERSION),
                            why);
    }
    return APR_SUCCESS;
}

static apr_status_t run_all(ota_db *db, const char *const *sql,
                            const char **why, apr_pool_t *p)
{
    int nrows, rc;

    for (; *sql; sql++) {
        if ((rc = apr_dbd_query(db->driver, db->handle, &nrows, *sql))) {
            return ota_sql_error(db, rc, "migrating schema", why, p);
        }
    }
    return APR_SUCCESS;
}

/* One transaction, so on sqlite3 (BEGIN IMMEDIATE) no other process can
 * change the schema between the driver's prepare and step of ours; on
 * PostgreSQL a racing migration fails and is retried. */
static apr_status_t schema_txn(ota_db *db, const char **why, apr_pool_t *p)
{
    static const char *const version_table[] = {
        "CREATE TABLE IF NOT EXISTS ota_schema_version ("
        "id INTEGER PRIMARY KEY, version INTEGER NOT NULL)", NULL
    };
    apr_dbd_transaction_t *trans = NULL;
    apr_status_t rv;
    apr_int64_t version = 0;

    rv = txn_start(db, &trans, why, p);
    if (rv == APR_SUCCESS) {
        rv = run_all(db, version_table, why, p);
    }
    if (rv == APR_SUCCESS
        && (rv = schema_version(&version, db, why, p)) == APR_SUCCESS) {
        rv = schema_not_newer(version, why, p);
    }
    for (; rv == APR_SUCCESS && version < OTA_STORE_SCHEMA_VERSION;
         version++) {
        rv = run_all(db, migrations[version], why, p);
        /* what differs between sqlite3 and PostgreSQL (ota_store_scale.c) */
        if (rv == APR_SUCCESS) {
            rv = run_all(db, ota_store_migration_driver(db, version + 1),
                         why, p);
        }
    }
    return txn_end(db, trans, rv, 1, why, p);
}

apr_status_t ota_store_schema(ota_db *db, const char **why, apr_pool_t *p)
{
    apr_int64_t version;
    apr_status_t rv;
    int i;

    /* Usually all there: no DDL then, which a database role granted only
     * DML could not run. */
    if (schema_version(&version, db, NULL, p) == APR_SUCCESS
        && version >= OTA_STORE_SCHEMA_VERSION) {
        return schema_not_newer(version, why, p);
    }
    /* PostgreSQL fails a CREATE TABLE IF NOT EXISTS racing another one
     * (unique violation in pg_type); once that one commits, a retry finds
     * the table. */
    for (i = 0; i < 3; i++) {
        if ((rv = schema_txn(db, why, p)) == APR_SUCCESS) {
            break;
        }
    }
    return rv;
}

/* Statements are prepared without a label: a labelled pgsql statement is
 * a server-side PREPARE, which dies with the session, and mod_dbd's
 * connection check reconnects a broken pgsql connection in place
 * (PQreset), keeping this connection's table of prepared statements: after
 * a database restart every request on that connection would then fail
 * with "prepared statement does not exist". Unlabelled, pgsql sends the
 * SQL with each execution (PQexecParams) and nothing is lost on a
 * reconnect; sqlite3 prepares the same either way. */
apr_status_t ota_store_prepare_all(ota_db *db, const char **why,
                                   apr_pool_t *p)
{
    const ota_store_statement *s;
    apr_status_t rv;

    if (!db->prepared) {
        db->prepared = apr_hash_make(p);
    }
    /* first: ota_store_connection_init sees the others all prepared */
    if ((rv = ota_store_prepare_driver(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    for (s = ota_store_statements; s->label; s++) {
        if ((rv = ota_sql_prepare(db, s->label, s->sql, why, p))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* A PRAGMA that returns a row, which apr_dbd_query would report as an
 * error. */
static apr_status_t sqlite_pragma(ota_db *db, const char *pragma,
                                  const char **why, apr_pool_t *p)
{
    ota_sql_rows r = { db, NULL, NULL, p };
    int rc;

    rc = apr_dbd_select(db->driver, p, db->handle, &r.res, pragma, 1);
    if (rc) {
        return ota_sql_error(db, rc, pragma, why, p);
    }
    ota_sql_done(&r);
    return APR_SUCCESS;
}

static apr_status_t schema_and_statements(ota_db *db, const char **why,
                                          apr_pool_t *p)
{
    apr_status_t rv = ota_store_schema(db, why, p);

    return rv == APR_SUCCESS ? ota_store_prepare_all(db, why, p) : rv;
}

/* sqlite3 keeps no busy timeout: apr_dbd holds one mutex per process
 * around every sqlite3 call, so a thread sleeping in sqlite's busy handler
 * would keep the thread holding the write lock from finishing (threaded
 * MPMs stalled). apr_dbd retries a busy step itself, with the mutex
 * released; preparing is not retried there, so it is here. WAL lets
 * readers and the writer proceed together. */
static apr_status_t sqlite_connection_init(ota_db *db, const char **why,
                                           apr_pool_t *p)
{
    apr_status_t rv = APR_EGENERAL;
    int i, wal = 0;

    for (i = 0; i < OTA_STORE_SQLITE_PREPARE_TRIES; i++) {
        if ((wal || (rv = sqlite_pragma(db, "PRAGMA journal_mode = WAL",
                                        why, p)) == APR_SUCCESS)
            && (wal = 1)
            && (rv = schema_and_statements(db, why, p)) == APR_SUCCESS) {
            break;
        }
        /* a busy database is worth waiting for; a read-only, full or
         * damaged one fails at once */
        if (why && *why
            && ota_dbfile_error_kind(*why) != OTA_DBFILE_ERROR_OTHER) {
            break;
        }
        apr_sleep(OTA_STORE_SQLITE_PREPARE_PAUSE);
    }
    return rv;
}

apr_status_t ota_store_connection_init(ota_db *db, const char **why,
                                       apr_pool_t *p)
{
    const ota_store_statement *s;

    for (s = ota_store_statements; s->label; s++) {
        if (!ota_sql_statement(db, s->label)) {
            break;
        }
    }
    if (!s->label) {
        return APR_SUCCESS;
    }
    if (!strcmp(apr_dbd_name(db->driver), "sqlite3")) {
        return sqlite_connection_init(db, why, p);
    }
    return schema_and_statements(db, why, p);
}

/* ---- phase-1 challenges and phase 2 ---- */

apr_status_t ota_store_challenge_add(ota_db *db, const char *challenge,
                                     const char *user, apr_time_t now,
                                     apr_interval_time_t lifetime,
                                     const char **why, apr_pool_t *p)
{
    apr_int64_t created = apr_time_sec(now);
    apr_int64_t expires = apr_time_sec(now + lifetime);
    const char *digest = challenge ? ota_challenge_digest(challenge, p)
                                   : NULL;
    const void *args[] = { digest, user ? user : "", &created, &expires };
    int nrows = 0;

    if (!challenge) {
        return ota_sql_fail(APR_EINVAL, "no challenge to store", why);
    }
    if (!digest) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    return ota_sql_write_retried(&nrows, db, "ota_challenge_add", args,
                                 "storing challenge", why, p);
}

const char *ota_challenge_verdict_name(ota_challenge_verdict v)
{
    /* in the enum's order */
    static const char *const names[] = {
        "ok", "unknown", "expired", "used", "wrong-user", "device-bound"
    };
    unsigned int i = (unsigned int)v;

    return i < sizeof(names) / sizeof(names[0]) ? names[i] : "invalid";
}

typedef struct challenge_row {
    int found;
    int used;
    apr_int64_t expires;
    apr_int64_t created;
    const char *owner;        /* '' when the challenge is not bound */
} challenge_row;

static apr_status_t challenge_get(challenge_row *cr, ota_db *db,
                                  const char *digest, const char **why,
                                  apr_pool_t *p)
{
    const void *args[] = { digest };
    void *const out[] = { &cr->used, &cr->expires, &cr->owner, &cr->created };
    apr_status_t rv;

    memset(cr, 0, sizeof(*cr));
    rv = ota_sql_select_one(&cr->found, db, "ota_challenge_get", args,
                            "untn", out, "reading challenge", why, p);
    if (cr->found && !cr->owner) {
        cr->owner = "";
    }
    return rv;
}

apr_status_t ota_store_challenge_owner(const char **owner, ota_db *db,
                                      const char *challenge,
                                      const char **why, apr_pool_t *p)
{
    challenge_row cr;
    const char *digest = challenge ? ota_challenge_digest(challenge, p)
                                   : NULL;
    apr_status_t rv;

    *owner = NULL;
    if (!digest) {
        return APR_SUCCESS;
    }
    if ((rv = challenge_get(&cr, db, digest, why, p)) == APR_SUCCESS
        && cr.found && *cr.owner) {
        *owner = cr.owner;
    }
    return rv;
}

static apr_status_t device_record(ota_db *db, const ota_device_record *d,
                                  apr_int64_t now, apr_int64_t phase1_at,
                                  const char **why, apr_pool_t *p)
{
    const void *args[] = {
        d->udid, d->serial, d->product, d->version, d->user, &now, &now,
        &phase1_at, &now, d->identity
    };
    int nrows = 0;

    return ota_sql_write(&nrows, db, "ota_device_upsert", args,
                         "recording device", why, p);
}

static apr_status_t scep_challenge_add(ota_db *db,
                                       const ota_device_record *d,
                                       apr_int64_t now, const char **why,
                                       apr_pool_t *p)
{
    apr_int64_t expires = now + apr_time_sec(d->scep_lifetime);
    const char *digest = ota_challenge_digest(d->scep_challenge, p);
    const void *args[] = {
        digest, d->udid, d->scep_subject,
        d->scep_san && *d->scep_san ? d->scep_san : NULL, &now, &expires
    };
    int nrows = 0;

    if (!digest || !d->scep_subject) {
        return ota_sql_fail(APR_EGENERAL,
                            "cannot store the SCEP challenge", why);
    }
    return ota_sql_write(&nrows, db, "ota_scep_challenge_add", args,
                         "storing SCEP challenge", why, p);
}

/* A device recorded for one user is not re-bound by another user's
 * challenge (the rollback keeps the challenge unused); the same user with
 * another device identity is noted for the log. */
static apr_status_t device_binding(ota_challenge_verdict *verdict,
                                   ota_db *db, ota_device_record *device,
                                   const char **why, apr_pool_t *p)
{
    ota_device_state *prior = NULL;
    apr_status_t rv = ota_store_device_get(&prior, db, device->udid, why, p);

    *verdict = OTA_CHALLENGE_OK;
    device->bound_user = prior ? prior->user : NULL;
    device->identity_changed = 0;
    if (rv != APR_SUCCESS || !prior) {
        return rv;
    }
    if (prior->user && (!device->user || strcmp(prior->user, device->user))) {
        *verdict = OTA_CHALLENGE_DEVICE_BOUND;
        return APR_SUCCESS;
    }
    device->identity_changed = prior->identity && device->identity
                               && strcmp(prior->identity, device->identity);
    return APR_SUCCESS;
}

typedef struct redeem_job {
    ota_challenge_verdict *verdict;
    const char *digest;
    const char *user;             /* "" when none */
    apr_int64_t now;
    ota_device_record *device;
    const char *device_user;      /* device->user as the caller set it */
} redeem_job;

static void redeem_reset(void *job)
{
    redeem_job *j = job;

    j->device->user = j->device_user;
    *j->verdict = OTA_CHALLENGE_UNKNOWN;
}

/* The challenge was consumed: the device is recorded, with its SCEP
 * challenge, unless it is another user's. */
static apr_status_t redeem_record(int *commit, redeem_job *j,
                                  const challenge_row *cr, ota_db *db,
                                  const char **why, apr_pool_t *p)
{
    ota_device_record *device = j->device;
    apr_status_t rv;

    if (!device->user) {
        device->user = *cr->owner ? cr->owner : NULL;
    }
    if ((rv = device_binding(j->verdict, db, device, why, p))
        != APR_SUCCESS || *j->verdict != OTA_CHALLENGE_OK) {
        return rv;
    }
    *commit = 1;
    if ((rv = device_record(db, device, j->now, cr->created, why, p))
        != APR_SUCCESS
        || !device->scep_challenge) {
        return rv;
    }
    return scep_challenge_add(db, device, j->now, why, p);
}

/* The UPDATE's WHERE is the whole check, so of two concurrent redeems
 * only one can change the row; the SELECT only explains a refusal. */
static apr_status_t redeem_txn(int *commit, void *job, ota_db *db,
                               const char **why, apr_pool_t *p)
{
    redeem_job *j = job;
    const void *args[] = { &j->now, j->digest, &j->now, j->user, j->user };
    challenge_row cr;
    apr_status_t rv;
    int nrows = 0;

    if ((rv = ota_sql_write(&nrows, db, "ota_challenge_consume", args,
                            "consuming challenge", why, p)) != APR_SUCCESS
        || (rv = challenge_get(&cr, db, j->digest, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if (nrows == 1 && cr.found) {
        return redeem_record(commit, j, &cr, db, why, p);
    }
    if (!cr.found) {
        *j->verdict = OTA_CHALLENGE_UNKNOWN;
    }
    else if (cr.used) {
        *j->verdict = OTA_CHALLENGE_USED;
    }
    else if (cr.expires <= j->now) {
        *j->verdict = OTA_CHALLENGE_EXPIRED;
    }
    else if (*j->user && *cr.owner && strcmp(j->user, cr.owner)) {
        *j->verdict = OTA_CHALLENGE_WRONG_USER;
    }
    else {
        return ota_sql_fail(APR_EGENERAL,
                            "challenge neither redeemed nor refused",
                            why);
    }
    return APR_SUCCESS;
}

apr_status_t ota_store_challenge_redeem(ota_challenge_verdict *verdict,
                                        ota_db *db, const char *challenge,
                                        const char *user, apr_time_t now,
                                        ota_device_record *device,
                                        const char **why, apr_pool_t *p)
{
    redeem_job j;
    apr_status_t rv;

    *verdict = OTA_CHALLENGE_UNKNOWN;
    if (!challenge || !device || !device->udid || !*device->udid) {
        return ota_sql_fail(APR_EINVAL,
                            "challenge and device UDID are required",
                            why);
    }
    if (!(j.digest = ota_challenge_digest(challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    j.verdict = verdict;
    j.user = user ? user : "";
    j.now = apr_time_sec(now);
    j.device = device;
    j.device_user = device->user;
    rv = ota_sql_txn_retry(db, redeem_txn, redeem_reset, &j, why, p);
    if (rv != APR_SUCCESS) {
        *verdict = OTA_CHALLENGE_UNKNOWN;
    }
    return rv;
}

apr_status_t ota_store_count(int *count, ota_db *db, const char *table,
                             const char **why, apr_pool_t *p)
{
    /* what is counted: each statement ota_count_<table> */
    const char *label = apr_pstrcat(p, "ota_count_", table, NULL);
    const ota_store_statement *s = ota_store_statements;
    int n = 0, found;
    void *const out[] = { &n };
    apr_status_t rv;

    while (table && s->label && strcmp(s->label, label)) {
        s++;
    }
    if (!table || !s->label) {
        return ota_sql_fail(APR_EINVAL, "no such table to count", why);
    }
    rv = ota_sql_select_one(&found, db, label, NULL, "i", out, "counting",
                            why, p);
    if (rv == APR_SUCCESS) {
        *count = n;
    }
    return rv;
}

/* ---- the built-in CA's registry ---- */

apr_status_t ota_store_scep_challenge_get(ota_scep_challenge_row *row,
                                          ota_db *db, const char *challenge,
                                          const char **why, apr_pool_t *p)
{
    const char *digest = challenge ? ota_challenge_digest(challenge, p)
                                   : NULL;
    const void *args[] = { digest };
    void *const out[] = {
        &row->used, &row->expires, &row->udid, &row->subject, &row->san
    };
    apr_status_t rv;

    memset(row, 0, sizeof(*row));
    if (!digest) {
        return APR_SUCCESS;
    }
    rv = ota_sql_select_one(&row->found, db, "ota_scep_challenge_get", args,
                            "usttt", out, "reading SCEP challenge", why, p);
    if (row->found) {
        row->udid = row->udid ? row->udid : "";
        row->subject = row->subject ? row->subject : "";
    }
    return rv;
}

apr_status_t ota_store_scep_consume(int *gone, ota_db *db, const char *digest,
                                    apr_int64_t now, const char **why,
                                    apr_pool_t *p)
{
    const void *args[] = { &now, digest, &now };
    apr_status_t rv;
    int nrows = 0;

    *gone = 0;
    if (!digest) {
        return APR_SUCCESS;
    }
    rv = ota_sql_write(&nrows, db, "ota_scep_challenge_consume", args,
                       "consuming SCEP challenge", why, p);
    *gone = rv == APR_SUCCESS && nrows != 1;
    return rv;
}

apr_status_t ota_store_certificate_find(ota_certificate_record **out,
                                        ota_db *db, const char *by,
                                        const char *key, const char **why,
                                        apr_pool_t *p)
{
    const void *args[] = { key };
    ota_certificate_record rec;
    void *const col[] = {
        &rec.serial, &rec.udid, &rec.subject, &rec.not_after, &rec.revoked,
        &rec.pem, &rec.requester, &rec.user
    };
    apr_status_t rv;
    int found;

    *out = NULL;
    memset(&rec, 0, sizeof(rec));
    rv = ota_sql_select_one(&found, db, !strcmp(by, "serial")
                                        ? "ota_certificate_by_serial"
                                        : "ota_certificate_by_transaction",
                            args, "tttssttt", col, "reading certificate",
                            why, p);
    if (found) {
        *out = apr_pmemdup(p, &rec, sizeof(rec));
    }
    return rv;
}

/* The certificate, the older ones it supersedes and the device's
 * progress, once the challenge is consumed and the transaction new. */
static apr_status_t certificate_store(const ota_certificate_record *rec,
                                      ota_db *db, apr_int64_t now,
                                      const char **why, apr_pool_t *p)
{
    ota_device_state *device = NULL;
    apr_int64_t not_after = apr_time_sec(rec->not_after);
    const void *add[] = {
        rec->serial, rec->transaction_id, rec->udid, rec->subject, &now,
        &not_after, rec->pem, rec->requester, rec->user
    };
    const void *phase[] = { &now, &now, rec->serial, rec->udid };
    apr_status_t rv = APR_SUCCESS;
    int nrows = 0;

    /* The certificate keeps the user its device is bound to now: phase 3
     * answers for that user, whatever the device row says later. */
    if (!rec->user && rec->udid
        && (rv = ota_store_device_get(&device, db, rec->udid, why, p))
           == APR_SUCCESS && device) {
        add[8] = device->user;
    }
    if (rv != APR_SUCCESS
        || (rv = ota_sql_write(&nrows, db, "ota_certificate_add", add,
                               "storing certificate", why, p))
           != APR_SUCCESS
        || !rec->udid) {
        return rv;
    }
    if (rec->superseded
        && (rv = ota_store_supersede(db, rec, now, why, p)) != APR_SUCCESS) {
        return rv;
    }
    return ota_sql_write(&nrows, db, "ota_device_cert", phase,
                         "recording device progress", why, p);
}

typedef struct certificate_job {
    ota_issue_verdict *verdict;
    const char *digest;           /* of the SCEP challenge, NULL: none */
    const ota_certificate_record *rec;
    apr_int64_t now;
} certificate_job;

static void certificate_reset(void *job)
{
    *((certificate_job *)job)->verdict = OTA_ISSUE_CHALLENGE_GONE;
}

static apr_status_t certificate_txn(int *commit, void *job, ota_db *db,
                                    const char **why, apr_pool_t *p)
{
    certificate_job *j = job;
    ota_certificate_record *prior;
    apr_status_t rv;
    int gone;

    if ((rv = ota_store_scep_consume(&gone, db, j->digest, j->now, why, p))
        != APR_SUCCESS || gone) {
        return rv;
    }
    rv = ota_store_certificate_find(&prior, db, "transaction",
                                    j->rec->transaction_id, why, p);
    if (rv != APR_SUCCESS || prior) {
        *j->verdict = OTA_ISSUE_REPLAY;
        return rv;
    }
    if ((rv = certificate_store(j->rec, db, j->now, why, p))
        != APR_SUCCESS) {
        return rv;
    }
    *j->verdict = OTA_ISSUE_OK;
    *commit = 1;
    return APR_SUCCESS;
}

apr_status_t ota_store_certificate_add(ota_issue_verdict *verdict,
                                       ota_db *db,
                                       const char *scep_challenge,
                                       const ota_certificate_record *rec,
                                       apr_time_t now, const char **why,
                                       apr_pool_t *p)
{
    certificate_job j;

    *verdict = OTA_ISSUE_CHALLENGE_GONE;
    j.digest = NULL;
    if (scep_challenge
        && !(j.digest = ota_challenge_digest(scep_challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    j.verdict = verdict;
    j.rec = rec;
    j.now = apr_time_sec(now);
    return ota_sql_txn_retry(db, certificate_txn, certificate_reset, &j,
                             why, p);
}

/* ---- phase 3 ---- */

apr_status_t ota_store_device_get(ota_device_state **out, ota_db *db,
                                  const char *udid, const char **why,
                                  apr_pool_t *p)
{
    const void *args[] = { udid };
    ota_device_state d;
    void *const col[] = {
        &d.user, &d.phase, &d.phase2_at, &d.cert_serial, &d.identity
    };
    apr_status_t rv;
    int found;

    *out = NULL;
    memset(&d, 0, sizeof(d));
    rv = ota_sql_select_one(&found, db, "ota_device_get", args, "tistt", col,
                            "reading device", why, p);
    if (found) {
        d.user = d.user && *d.user ? d.user : NULL;
        *out = apr_pmemdup(p, &d, sizeof(d));
    }
    return rv;
}

/* Phase 4: the final profile went to the device holding serial. */
apr_status_t ota_store_device_enrolled(ota_db *db, const char *udid,
                                       const char *serial, apr_time_t now,
                                       const char **why, apr_pool_t *p)
{
    apr_int64_t t = apr_time_sec(now);
    const void *args[] = { &t, &t, serial, udid };
    apr_status_t rv;
    int nrows = 0;

    rv = ota_sql_write_retried(&nrows, db, "ota_device_enrolled", args,
                               "recording enrollment", why, p);
    if (rv != APR_SUCCESS || nrows == 1) {
        return rv;
    }
    return ota_sql_fail(APR_NOTFOUND, "no such device", why);
}
