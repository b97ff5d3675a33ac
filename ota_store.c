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

static const struct {
    const char *table;
    const char *label;
} count_labels[] = {
    { "challenge", "ota_count_challenge" },
    { "challenge_used", "ota_count_challenge_used" },
    { "device", "ota_count_device" },
    { "scep_challenge", "ota_count_scep_challenge" },
    { "scep_challenge_used", "ota_count_scep_challenge_used" },
    { "certificate", "ota_count_certificate" },
    { NULL, NULL }
};

/* The driver's message is overwritten by the next call (a rollback, say),
 * so it is copied at once. */
/* What apr_dbd's sqlite3 driver returns once it gave up on a locked
 * database (SQLITE_BUSY). */
#define OTA_STORE_SQLITE_BUSY 5
#define OTA_STORE_WRITE_TRIES 20

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

/* Reads past the last row: a result left open keeps a pgsql connection
 * busy. Every select uses random access (seek 1) because pgsql's
 * sequential mode reports a failed query as an empty result. */
void ota_sql_drain(ota_db *db, apr_dbd_results_t *res, apr_dbd_row_t **row,
                   apr_pool_t *p)
{
    while (apr_dbd_get_row(db->driver, p, res, row, -1) == 0) {
        continue;
    }
}

/* 0 when the row is missing; an error when the table is. */
static apr_status_t schema_version(apr_int64_t *version, ota_db *db,
                                   const char **why, apr_pool_t *p)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    *version = 0;
    rc = apr_dbd_select(db->driver, p, db->handle, &res,
                        "SELECT version FROM ota_schema_version WHERE id = 1",
                        1);
    if (rc) {
        return ota_sql_error(db, rc, "reading schema version", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_LONGLONG, version);
        ota_sql_drain(db, res, &row, p);
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

apr_status_t ota_sql_txn_start(ota_db *db, apr_dbd_transaction_t **trans,
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
apr_status_t ota_sql_txn_end(ota_db *db, apr_dbd_transaction_t *trans,
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

    rv = ota_sql_txn_start(db, &trans, why, p);
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
    return ota_sql_txn_end(db, trans, rv, 1, why, p);
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
    apr_dbd_prepared_t *st;
    apr_status_t rv;
    int rc;

    if (!db->prepared) {
        db->prepared = apr_hash_make(p);
    }
    /* first: ota_store_connection_init sees the others all prepared */
    if ((rv = ota_store_prepare_driver(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    for (s = ota_store_statements; s->label; s++) {
        if (ota_sql_statement(db, s->label)) {
            continue;
        }
        st = NULL;
        rc = apr_dbd_prepare(db->driver, p, db->handle, s->sql, NULL, &st);
        if (rc) {
            return ota_sql_error(db, rc,
                                 apr_pstrcat(p, "preparing ", s->label, NULL),
                                 why, p);
        }
        apr_hash_set(db->prepared, s->label, APR_HASH_KEY_STRING, st);
    }
    return APR_SUCCESS;
}

/* A PRAGMA that returns a row, which apr_dbd_query would report as an
 * error. */
static apr_status_t sqlite_pragma(ota_db *db, const char *pragma,
                                  const char **why, apr_pool_t *p)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    rc = apr_dbd_select(db->driver, p, db->handle, &res, pragma, 1);
    if (rc) {
        return ota_sql_error(db, rc, pragma, why, p);
    }
    ota_sql_drain(db, res, &row, p);
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

static apr_status_t write_challenge_add_once(ota_db *db, const char *challenge,
                                             const char *user, apr_time_t now,
                                             apr_interval_time_t lifetime,
                                             const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_challenge_add");
    apr_int64_t created = apr_time_sec(now);
    apr_int64_t expires = apr_time_sec(now + lifetime);
    const char *digest;
    apr_status_t rv;
    int nrows, rc;

    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "ota_challenge_add not prepared", why);
    }
    if (!challenge) {
        return ota_sql_fail(APR_EINVAL, "no challenge to store", why);
    }
    if (!(digest = ota_challenge_digest(challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, digest,
                          user ? user : "", &created, &expires);
    ota_sql_write_unlock(db);
    if (rc) {
        return ota_sql_error(db, rc, "storing challenge", why, p);
    }
    return APR_SUCCESS;
}

const char *ota_challenge_verdict_name(ota_challenge_verdict v)
{
    switch (v) {
    case OTA_CHALLENGE_OK:
        return "ok";
    case OTA_CHALLENGE_UNKNOWN:
        return "unknown";
    case OTA_CHALLENGE_EXPIRED:
        return "expired";
    case OTA_CHALLENGE_USED:
        return "used";
    case OTA_CHALLENGE_WRONG_USER:
        return "wrong-user";
    case OTA_CHALLENGE_DEVICE_BOUND:
        return "device-bound";
    }
    return "invalid";
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
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_challenge_get");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t used;
    char *owner = NULL;
    int rc;

    memset(cr, 0, sizeof(*cr));
    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "ota_challenge_get not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, digest);
    if (rc) {
        return ota_sql_error(db, rc, "reading challenge", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) != 0) {
        return APR_SUCCESS;
    }
    /* pgsql's values vanish with the result: copy before draining */
    cr->found = 1;
    cr->used = apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_LONGLONG,
                                 &used) != APR_ENOENT;
    apr_dbd_datum_get(db->driver, row, 1, APR_DBD_TYPE_LONGLONG,
                      &cr->expires);
    apr_dbd_datum_get(db->driver, row, 2, APR_DBD_TYPE_STRING, &owner);
    apr_dbd_datum_get(db->driver, row, 3, APR_DBD_TYPE_LONGLONG,
                      &cr->created);
    cr->owner = apr_pstrdup(p, owner ? owner : "");
    ota_sql_drain(db, res, &row, p);
    return APR_SUCCESS;
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
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_device_upsert");
    int nrows, rc;

    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "ota_device_upsert not prepared", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, d->udid,
                          d->serial, d->product, d->version, d->user,
                          &now, &now, &phase1_at, &now, d->identity);
    if (rc) {
        return ota_sql_error(db, rc, "recording device", why, p);
    }
    return APR_SUCCESS;
}

static apr_status_t scep_challenge_add(ota_db *db,
                                       const ota_device_record *d,
                                       apr_int64_t now, const char **why,
                                       apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_scep_challenge_add");
    apr_int64_t expires = now + apr_time_sec(d->scep_lifetime);
    const char *digest = ota_challenge_digest(d->scep_challenge, p);
    int nrows, rc;

    if (!st || !digest || !d->scep_subject) {
        return ota_sql_fail(APR_EGENERAL,
                            "cannot store the SCEP challenge", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, digest,
                          d->udid, d->scep_subject,
                          d->scep_san && *d->scep_san ? d->scep_san : NULL,
                          &now, &expires);
    if (rc) {
        return ota_sql_error(db, rc, "storing SCEP challenge", why, p);
    }
    return APR_SUCCESS;
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

/* The UPDATE's WHERE is the whole check, so of two concurrent redeems
 * only one can change the row; the SELECT only explains a refusal. */
static apr_status_t redeem_txn(ota_challenge_verdict *verdict, ota_db *db,
                               const char *digest, const char *user,
                               apr_int64_t now, ota_device_record *device,
                               const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_challenge_consume");
    challenge_row cr;
    apr_status_t rv;
    int nrows = 0, rc;

    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "ota_challenge_consume not prepared", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, &now,
                          digest, &now, user, user);
    if (rc) {
        return ota_sql_error(db, rc, "consuming challenge", why, p);
    }
    if ((rv = challenge_get(&cr, db, digest, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if (nrows == 1 && cr.found) {
        if (!device->user) {
            device->user = *cr.owner ? cr.owner : NULL;
        }
        if ((rv = device_binding(verdict, db, device, why, p))
            != APR_SUCCESS || *verdict != OTA_CHALLENGE_OK) {
            return rv;
        }
        if ((rv = device_record(db, device, now, cr.created, why, p))
            != APR_SUCCESS
            || !device->scep_challenge) {
            return rv;
        }
        return scep_challenge_add(db, device, now, why, p);
    }
    if (!cr.found) {
        *verdict = OTA_CHALLENGE_UNKNOWN;
    }
    else if (cr.used) {
        *verdict = OTA_CHALLENGE_USED;
    }
    else if (cr.expires <= now) {
        *verdict = OTA_CHALLENGE_EXPIRED;
    }
    else if (*user && *cr.owner && strcmp(user, cr.owner)) {
        *verdict = OTA_CHALLENGE_WRONG_USER;
    }
    else {
        return ota_sql_fail(APR_EGENERAL,
                            "challenge neither redeemed nor refused",
                            why);
    }
    return APR_SUCCESS;
}

static apr_status_t write_challenge_redeem_once(ota_challenge_verdict *verdict,
                                                ota_db *db,
                                                const char *challenge,
                                                const char *user,
                                                apr_time_t now,
                                                ota_device_record *device,
                                                const char **why,
                                                apr_pool_t *p)
{
    apr_dbd_transaction_t *trans = NULL;
    const char *digest;
    apr_status_t rv;

    *verdict = OTA_CHALLENGE_UNKNOWN;
    if (!challenge || !device || !device->udid || !*device->udid) {
        return ota_sql_fail(APR_EINVAL,
                            "challenge and device UDID are required",
                            why);
    }
    if (!(digest = ota_challenge_digest(challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    rv = ota_sql_txn_start(db, &trans, why, p);
    if (rv == APR_SUCCESS) {
        rv = redeem_txn(verdict, db, digest, user ? user : "",
                        apr_time_sec(now), device, why, p);
    }
    rv = ota_sql_txn_end(db, trans, rv, *verdict == OTA_CHALLENGE_OK, why,
                         p);
    if (rv != APR_SUCCESS) {
        *verdict = OTA_CHALLENGE_UNKNOWN;
    }
    return rv;
}

apr_status_t ota_store_count(int *count, ota_db *db, const char *table,
                             const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t n = 0;
    int i, rc;

    for (i = 0; table && count_labels[i].table; i++) {
        if (!strcmp(table, count_labels[i].table)) {
            break;
        }
    }
    if (!table || !count_labels[i].table) {
        return ota_sql_fail(APR_EINVAL, "no such table to count", why);
    }
    st = ota_sql_statement(db, count_labels[i].label);
    if (!st) {
        return ota_sql_fail(APR_EGENERAL, "count statement not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1);
    if (rc) {
        return ota_sql_error(db, rc, "counting", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_LONGLONG, &n);
        ota_sql_drain(db, res, &row, p);
    }
    *count = (int)n;
    return APR_SUCCESS;
}

/* ---- the built-in CA's registry ---- */

apr_status_t ota_store_scep_challenge_get(ota_scep_challenge_row *row,
                                          ota_db *db, const char *challenge,
                                          const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_scep_challenge_get");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *r = NULL;
    const char *digest;
    apr_int64_t used, expires = 0;
    char *udid = NULL, *subject = NULL, *san = NULL;
    int rc;

    memset(row, 0, sizeof(*row));
    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "ota_scep_challenge_get not prepared", why);
    }
    if (!challenge || !(digest = ota_challenge_digest(challenge, p))) {
        return APR_SUCCESS;
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, digest);
    if (rc) {
        return ota_sql_error(db, rc, "reading SCEP challenge", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &r, -1) != 0) {
        return APR_SUCCESS;
    }
    row->found = 1;
    row->used = apr_dbd_datum_get(db->driver, r, 0, APR_DBD_TYPE_LONGLONG,
                                  &used) != APR_ENOENT;
    apr_dbd_datum_get(db->driver, r, 1, APR_DBD_TYPE_LONGLONG, &expires);
    apr_dbd_datum_get(db->driver, r, 2, APR_DBD_TYPE_STRING, &udid);
    apr_dbd_datum_get(db->driver, r, 3, APR_DBD_TYPE_STRING, &subject);
    apr_dbd_datum_get(db->driver, r, 4, APR_DBD_TYPE_STRING, &san);
    row->san = san ? apr_pstrdup(p, san) : NULL;
    row->expires = apr_time_from_sec(expires);
    row->udid = apr_pstrdup(p, udid ? udid : "");
    row->subject = apr_pstrdup(p, subject ? subject : "");
    ota_sql_drain(db, res, &r, p);
    return APR_SUCCESS;
}

static apr_status_t certificate_row(ota_certificate_record **out, ota_db *db,
                                    apr_dbd_results_t *res, apr_pool_t *p)
{
    ota_certificate_record *rec;
    apr_dbd_row_t *r = NULL;
    apr_int64_t not_after = 0, revoked = 0;
    char *text[8] = { NULL };
    int i;

    *out = NULL;
    if (apr_dbd_get_row(db->driver, p, res, &r, -1) != 0) {
        return APR_SUCCESS;
    }
    rec = apr_pcalloc(p, sizeof(*rec));
    for (i = 0; i < 8; i++) {
        if (i == 3 || i == 4) {
            continue;
        }
        apr_dbd_datum_get(db->driver, r, i, APR_DBD_TYPE_STRING, &text[i]);
        text[i] = text[i] ? apr_pstrdup(p, text[i]) : NULL;
    }
    apr_dbd_datum_get(db->driver, r, 3, APR_DBD_TYPE_LONGLONG, &not_after);
    if (apr_dbd_datum_get(db->driver, r, 4, APR_DBD_TYPE_LONGLONG, &revoked)
        == APR_ENOENT) {
        revoked = 0;
    }
    rec->serial = text[0];
    rec->udid = text[1];
    rec->subject = text[2];
    rec->not_after = apr_time_from_sec(not_after);
    rec->revoked = revoked ? apr_time_from_sec(revoked) : 0;
    rec->pem = text[5];
    rec->requester = text[6];
    rec->user = text[7];
    ota_sql_drain(db, res, &r, p);
    *out = rec;
    return APR_SUCCESS;
}

apr_status_t ota_store_certificate_find(ota_certificate_record **out,
                                        ota_db *db, const char *by,
                                        const char *key, const char **why,
                                        apr_pool_t *p)
{
    const char *label = !strcmp(by, "serial")
                        ? "ota_certificate_by_serial"
                        : "ota_certificate_by_transaction";
    apr_dbd_prepared_t *st = ota_sql_statement(db, label);
    apr_dbd_results_t *res = NULL;
    int rc;

    *out = NULL;
    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "certificate lookup not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, key);
    if (rc) {
        return ota_sql_error(db, rc, "reading certificate", why, p);
    }
    return certificate_row(out, db, res, p);
}

static apr_status_t certificate_txn(ota_issue_verdict *verdict, ota_db *db,
                                    const char *digest,
                                    const ota_certificate_record *rec,
                                    apr_int64_t now, const char **why,
                                    apr_pool_t *p)
{
    apr_dbd_prepared_t *consume =
        ota_sql_statement(db, "ota_scep_challenge_consume");
    apr_dbd_prepared_t *add = ota_sql_statement(db, "ota_certificate_add");
    apr_dbd_prepared_t *phase = ota_sql_statement(db, "ota_device_cert");
    ota_certificate_record *prior;
    ota_device_state *device = NULL;
    const char *user = rec->user;
    apr_int64_t not_after = apr_time_sec(rec->not_after);
    apr_status_t rv;
    int nrows = 0, rc;

    if (!consume || !add || !phase) {
        return ota_sql_fail(APR_EGENERAL,
                            "certificate statements not prepared", why);
    }
    if (digest) {
        rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, consume,
                              &now, digest, &now);
        if (rc) {
            return ota_sql_error(db, rc, "consuming SCEP challenge", why, p);
        }
        if (nrows != 1) {
            *verdict = OTA_ISSUE_CHALLENGE_GONE;
            return APR_SUCCESS;
        }
    }
    rv = ota_store_certificate_find(&prior, db, "transaction",
                                    rec->transaction_id, why, p);
    if (rv != APR_SUCCESS || prior) {
        *verdict = OTA_ISSUE_REPLAY;
        return rv;
    }
    /* The certificate keeps the user its device is bound to now: phase 3
     * answers for that user, whatever the device row says later. */
    if (!user && rec->udid
        && (rv = ota_store_device_get(&device, db, rec->udid, why, p))
           == APR_SUCCESS && device) {
        user = device->user;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, add,
                          rec->serial, rec->transaction_id, rec->udid,
                          rec->subject, &now, &not_after, rec->pem,
                          rec->requester, user);
    if (rc) {
        return ota_sql_error(db, rc, "storing certificate", why, p);
    }
    if (rec->udid && rec->superseded
        && (rv = ota_store_supersede(db, rec, now, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if (rec->udid) {
        rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, phase,
                              &now, &now, rec->serial, rec->udid);
        if (rc) {
            return ota_sql_error(db, rc, "recording device progress", why, p);
        }
    }
    *verdict = OTA_ISSUE_OK;
    return APR_SUCCESS;
}

static apr_status_t write_certificate_add_once(
    ota_issue_verdict *verdict, ota_db *db, const char *scep_challenge,
    const ota_certificate_record *rec, apr_time_t now, const char **why,
    apr_pool_t *p)
{
    apr_dbd_transaction_t *trans = NULL;
    const char *digest = NULL;
    apr_status_t rv;

    *verdict = OTA_ISSUE_CHALLENGE_GONE;
    if (scep_challenge
        && !(digest = ota_challenge_digest(scep_challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    rv = ota_sql_txn_start(db, &trans, why, p);
    if (rv == APR_SUCCESS) {
        rv = certificate_txn(verdict, db, digest, rec, apr_time_sec(now),
                             why, p);
    }
    return ota_sql_txn_end(db, trans, rv, *verdict == OTA_ISSUE_OK, why, p);
}

/* ---- phase 3 ---- */

apr_status_t ota_store_device_get(ota_device_state **out, ota_db *db,
                                  const char *udid, const char **why,
                                  apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_device_get");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ota_device_state *d;
    char *user = NULL, *serial = NULL, *identity = NULL;
    apr_int64_t phase2_at = 0;
    int rc;

    *out = NULL;
    if (!st) {
        return ota_sql_fail(APR_EGENERAL, "ota_device_get not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, udid);
    if (rc) {
        return ota_sql_error(db, rc, "reading device", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) != 0) {
        return APR_SUCCESS;
    }
    d = apr_pcalloc(p, sizeof(*d));
    apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_STRING, &user);
    apr_dbd_datum_get(db->driver, row, 1, APR_DBD_TYPE_INT, &d->phase);
    apr_dbd_datum_get(db->driver, row, 2, APR_DBD_TYPE_LONGLONG, &phase2_at);
    apr_dbd_datum_get(db->driver, row, 3, APR_DBD_TYPE_STRING, &serial);
    apr_dbd_datum_get(db->driver, row, 4, APR_DBD_TYPE_STRING, &identity);
    d->identity = identity ? apr_pstrdup(p, identity) : NULL;
    d->user = user && *user ? apr_pstrdup(p, user) : NULL;
    d->phase2_at = apr_time_from_sec(phase2_at);
    d->cert_serial = serial ? apr_pstrdup(p, serial) : NULL;
    ota_sql_drain(db, res, &row, p);
    *out = d;
    return APR_SUCCESS;
}

static apr_status_t write_device_enrolled_once(ota_db *db, const char *udid,
                                               const char *serial,
                                               apr_time_t now,
                                               const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_device_enrolled");
    apr_int64_t t = apr_time_sec(now);
    apr_status_t rv;
    int nrows = 0, rc;

    if (!st) {
        return ota_sql_fail(APR_EGENERAL,
                            "ota_device_enrolled not prepared", why);
    }
    if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, &t, &t,
                          serial, udid);
    ota_sql_write_unlock(db);
    if (rc) {
        return ota_sql_error(db, rc, "recording enrollment", why, p);
    }
    return nrows == 1 ? APR_SUCCESS
                      : ota_sql_fail(APR_NOTFOUND, "no such device", why);
}

/* The status page's reads are in ota_store_list.c. */

/* ---- writes, retried while sqlite3 is locked ---- */

/* apr_dbd's sqlite3 driver gives up on a locked database after 15 tries
 * 100 ms apart; among many concurrent writers a request can keep losing
 * that race. A write that found the database locked runs again from its
 * start after a short random pause (its transaction was rolled back, so
 * nothing of it stayed). */
int ota_sql_again(ota_db *db, apr_status_t rv, int attempt)
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

apr_status_t ota_store_challenge_add(ota_db *db, const char *challenge,
                                     const char *user, apr_time_t now,
                                     apr_interval_time_t lifetime,
                                     const char **why, apr_pool_t *p)
{
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        rv = write_challenge_add_once(db, challenge, user, now, lifetime,
                                      why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

apr_status_t ota_store_challenge_redeem(ota_challenge_verdict *verdict,
                                        ota_db *db, const char *challenge,
                                        const char *user, apr_time_t now,
                                        ota_device_record *device,
                                        const char **why, apr_pool_t *p)
{
    const char *user_in = device ? device->user : NULL;
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        if (device) {
            device->user = user_in;
        }
        rv = write_challenge_redeem_once(verdict, db, challenge, user, now,
                                         device, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

apr_status_t ota_store_certificate_add(ota_issue_verdict *verdict,
                                       ota_db *db,
                                       const char *scep_challenge,
                                       const ota_certificate_record *rec,
                                       apr_time_t now, const char **why,
                                       apr_pool_t *p)
{
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        rv = write_certificate_add_once(verdict, db, scep_challenge, rec,
                                        now, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

apr_status_t ota_store_device_enrolled(ota_db *db, const char *udid,
                                       const char *serial, apr_time_t now,
                                       const char **why, apr_pool_t *p)
{
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        rv = write_device_enrolled_once(db, udid, serial, now, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}
