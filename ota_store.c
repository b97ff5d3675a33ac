/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>

#include <apr_strings.h>

#include "ota_challenge.h"
#include "ota_store.h"

#define OTA_STORE_SCHEMA_VERSION 1
#define OTA_STORE_SQLITE_BUSY_MS "2000"

/* Run in this order by ota_store_schema: the version row goes in last, so
 * its presence means the whole of that version exists. */
static const char *const schema_sql[] = {
    "CREATE TABLE IF NOT EXISTS ota_challenge ("
    "digest TEXT PRIMARY KEY, username TEXT NOT NULL, "
    "created BIGINT NOT NULL, expires BIGINT NOT NULL, used BIGINT)",
    "CREATE TABLE IF NOT EXISTS ota_device ("
    "udid TEXT PRIMARY KEY, serial TEXT, product TEXT, version TEXT, "
    "username TEXT, phase INTEGER NOT NULL, "
    "first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ota_schema_version ("
    "id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
    "INSERT INTO ota_schema_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO NOTHING",
    NULL
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
      "SELECT used, expires, username FROM ota_challenge WHERE digest = %s" },
    { "ota_device_upsert",
      "INSERT INTO ota_device (udid, serial, product, version, username, "
      "phase, first_seen, last_seen) "
      "VALUES (%s, %s, %s, %s, %s, 2, %lld, %lld) "
      "ON CONFLICT (udid) DO UPDATE SET serial = excluded.serial, "
      "product = excluded.product, version = excluded.version, "
      "username = excluded.username, phase = excluded.phase, "
      "last_seen = excluded.last_seen" },
    { "ota_count_challenge",
      "SELECT COUNT(*) FROM ota_challenge" },
    { "ota_count_challenge_used",
      "SELECT COUNT(*) FROM ota_challenge WHERE used IS NOT NULL" },
    { "ota_count_device",
      "SELECT COUNT(*) FROM ota_device" },
    { NULL, NULL }
};

static const struct {
    const char *table;
    const char *label;
} count_labels[] = {
    { "challenge", "ota_count_challenge" },
    { "challenge_used", "ota_count_challenge_used" },
    { "device", "ota_count_device" },
    { NULL, NULL }
};

/* The driver's message is overwritten by the next call (a rollback, say),
 * so it is copied at once. */
static apr_status_t db_error(ota_db *db, int rc, const char *what,
                             const char **why, apr_pool_t *p)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rc);

    if (why) {
        *why = apr_psprintf(p, "%s: %s", what, msg ? msg : "unknown error");
    }
    return APR_EGENERAL;
}

static apr_status_t fail(apr_status_t rv, const char *msg, const char **why)
{
    if (why) {
        *why = msg;
    }
    return rv;
}

static apr_dbd_prepared_t *statement(ota_db *db, const char *label)
{
    if (!db->prepared) {
        return NULL;
    }
    return apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
}

/* Reads past the last row: a result left open keeps a pgsql connection
 * busy. Every select uses random access (seek 1) because pgsql's
 * sequential mode reports a failed query as an empty result. */
static void drain(ota_db *db, apr_dbd_results_t *res, apr_dbd_row_t **row,
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
        return db_error(db, rc, "reading schema version", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_LONGLONG, version);
        drain(db, res, &row, p);
    }
    return APR_SUCCESS;
}

/* Refuses a database written by a newer release. */
static apr_status_t schema_not_newer(apr_int64_t version, const char **why,
                                     apr_pool_t *p)
{
    if (version > OTA_STORE_SCHEMA_VERSION) {
        return fail(APR_EGENERAL, apr_psprintf(p, "database schema version %"
                                               APR_INT64_T_FMT " is newer "
                                               "than this module's (%d)",
                                               version,
                                               OTA_STORE_SCHEMA_VERSION),
                    why);
    }
    return APR_SUCCESS;
}

/* Ends trans (if BEGIN failed, sqlite3 still attached it to the handle),
 * rolling back unless rv is success and commit is set. */
static apr_status_t txn_end(ota_db *db, apr_dbd_transaction_t *trans,
                            apr_status_t rv, int commit, const char **why,
                            apr_pool_t *p)
{
    int rc;

    if (!trans) {
        return rv;
    }
    if (rv != APR_SUCCESS || !commit) {
        apr_dbd_transaction_mode_set(db->driver, trans,
                                     APR_DBD_TRANSACTION_ROLLBACK);
    }
    rc = apr_dbd_transaction_end(db->driver, p, trans);
    if (rc && rv == APR_SUCCESS) {
        rv = db_error(db, rc, "ending transaction", why, p);
    }
    return rv;
}

/* One transaction, so on sqlite3 (BEGIN IMMEDIATE) no other process can
 * change the schema between the driver's prepare and step of ours. */
static apr_status_t schema_txn(ota_db *db, const char **why, apr_pool_t *p)
{
    apr_dbd_transaction_t *trans = NULL;
    const char *const *sql;
    apr_status_t rv = APR_SUCCESS;
    apr_int64_t version;
    int nrows, rc;

    rc = apr_dbd_transaction_start(db->driver, p, db->handle, &trans);
    if (rc) {
        rv = db_error(db, rc, "starting transaction", why, p);
    }
    for (sql = schema_sql; rv == APR_SUCCESS && *sql; sql++) {
        rc = apr_dbd_query(db->driver, db->handle, &nrows, *sql);
        if (rc) {
            rv = db_error(db, rc, "creating schema", why, p);
        }
    }
    if (rv == APR_SUCCESS
        && (rv = schema_version(&version, db, why, p)) == APR_SUCCESS) {
        rv = schema_not_newer(version, why, p);
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

apr_status_t ota_store_prepare_all(ota_db *db, const char **why,
                                   apr_pool_t *p)
{
    const ota_store_statement *s;
    apr_dbd_prepared_t *st;
    int rc;

    if (!db->prepared) {
        db->prepared = apr_hash_make(p);
    }
    for (s = ota_store_statements; s->label; s++) {
        if (statement(db, s->label)) {
            continue;
        }
        st = NULL;
        rc = apr_dbd_prepare(db->driver, p, db->handle, s->sql, s->label,
                             &st);
        if (rc) {
            return db_error(db, rc, apr_pstrcat(p, "preparing ", s->label,
                                                NULL), why, p);
        }
        apr_hash_set(db->prepared, s->label, APR_HASH_KEY_STRING, st);
    }
    return APR_SUCCESS;
}

/* PRAGMA returns a row, which apr_dbd_query would report as an error. */
static apr_status_t sqlite_busy_timeout(ota_db *db, const char **why,
                                        apr_pool_t *p)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    rc = apr_dbd_select(db->driver, p, db->handle, &res,
                        "PRAGMA busy_timeout = " OTA_STORE_SQLITE_BUSY_MS, 1);
    if (rc) {
        return db_error(db, rc, "setting busy timeout", why, p);
    }
    drain(db, res, &row, p);
    return APR_SUCCESS;
}

apr_status_t ota_store_connection_init(ota_db *db, const char **why,
                                       apr_pool_t *p)
{
    const ota_store_statement *s;
    apr_status_t rv;

    for (s = ota_store_statements; s->label; s++) {
        if (!statement(db, s->label)) {
            break;
        }
    }
    if (!s->label) {
        return APR_SUCCESS;
    }
    if (!strcmp(apr_dbd_name(db->driver), "sqlite3")
        && (rv = sqlite_busy_timeout(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = ota_store_schema(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    return ota_store_prepare_all(db, why, p);
}

apr_status_t ota_store_challenge_add(ota_db *db, const char *challenge,
                                     const char *user, apr_time_t now,
                                     apr_interval_time_t lifetime,
                                     const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_challenge_add");
    apr_int64_t created = apr_time_sec(now);
    apr_int64_t expires = apr_time_sec(now + lifetime);
    const char *digest;
    int nrows, rc;

    if (!st) {
        return fail(APR_EGENERAL, "ota_challenge_add not prepared", why);
    }
    if (!challenge) {
        return fail(APR_EINVAL, "no challenge to store", why);
    }
    if (!(digest = ota_challenge_digest(challenge, p))) {
        return fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, digest,
                          user ? user : "", &created, &expires);
    if (rc) {
        return db_error(db, rc, "storing challenge", why, p);
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
    }
    return "invalid";
}

typedef struct challenge_row {
    int found;
    int used;
    apr_int64_t expires;
    const char *owner;        /* '' when the challenge is not bound */
} challenge_row;

static apr_status_t challenge_get(challenge_row *cr, ota_db *db,
                                  const char *digest, const char **why,
                                  apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_challenge_get");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t used;
    char *owner = NULL;
    int rc;

    memset(cr, 0, sizeof(*cr));
    if (!st) {
        return fail(APR_EGENERAL, "ota_challenge_get not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, digest);
    if (rc) {
        return db_error(db, rc, "reading challenge", why, p);
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
    cr->owner = apr_pstrdup(p, owner ? owner : "");
    drain(db, res, &row, p);
    return APR_SUCCESS;
}

static apr_status_t device_record(ota_db *db, const ota_device_record *d,
                                  apr_int64_t now, const char **why,
                                  apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_device_upsert");
    int nrows, rc;

    if (!st) {
        return fail(APR_EGENERAL, "ota_device_upsert not prepared", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, d->udid,
                          d->serial, d->product, d->version, d->user,
                          &now, &now);
    if (rc) {
        return db_error(db, rc, "recording device", why, p);
    }
    return APR_SUCCESS;
}

/* The UPDATE's WHERE is the whole check, so of two concurrent redeems
 * only one can change the row; the SELECT only explains a refusal. */
static apr_status_t redeem_txn(ota_challenge_verdict *verdict, ota_db *db,
                               const char *digest, const char *user,
                               apr_int64_t now, ota_device_record *device,
                               const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_challenge_consume");
    challenge_row cr;
    apr_status_t rv;
    int nrows = 0, rc;

    if (!st) {
        return fail(APR_EGENERAL, "ota_challenge_consume not prepared", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, &now,
                          digest, &now, user, user);
    if (rc) {
        return db_error(db, rc, "consuming challenge", why, p);
    }
    if ((rv = challenge_get(&cr, db, digest, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if (nrows == 1 && cr.found) {
        if (!device->user) {
            device->user = *cr.owner ? cr.owner : NULL;
        }
        *verdict = OTA_CHALLENGE_OK;
        return device_record(db, device, now, why, p);
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
        return fail(APR_EGENERAL, "challenge neither redeemed nor refused",
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
    apr_dbd_transaction_t *trans = NULL;
    const char *digest;
    apr_status_t rv;
    int rc;

    *verdict = OTA_CHALLENGE_UNKNOWN;
    if (!challenge || !device || !device->udid || !*device->udid) {
        return fail(APR_EINVAL, "challenge and device UDID are required",
                    why);
    }
    if (!(digest = ota_challenge_digest(challenge, p))) {
        return fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    rc = apr_dbd_transaction_start(db->driver, p, db->handle, &trans);
    if (rc) {
        rv = db_error(db, rc, "starting transaction", why, p);
    }
    else {
        rv = redeem_txn(verdict, db, digest, user ? user : "",
                        apr_time_sec(now), device, why, p);
    }
    rv = txn_end(db, trans, rv, *verdict == OTA_CHALLENGE_OK, why, p);
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
        return fail(APR_EINVAL, "no such table to count", why);
    }
    st = statement(db, count_labels[i].label);
    if (!st) {
        return fail(APR_EGENERAL, "count statement not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1);
    if (rc) {
        return db_error(db, rc, "counting", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_LONGLONG, &n);
        drain(db, res, &row, p);
    }
    *count = (int)n;
    return APR_SUCCESS;
}
