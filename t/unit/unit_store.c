/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_store against a scratch sqlite3 file, including 8 processes racing
 * to redeem one challenge. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "ota_challenge.h"
#include "ota_store.h"
#include "unit.h"

#define RACERS 8

static const apr_dbd_driver_t *drv;
static char dbpath[] = "/tmp/unit_store.XXXXXX";
static ota_db db;
static apr_time_t t0;

static apr_status_t open_db(ota_db *d, const char *path, apr_pool_t *p)
{
    memset(d, 0, sizeof(*d));
    d->driver = drv;
    return apr_dbd_open(drv, p, path, &d->handle);
}

/* First column of the first row of sql, or NULL. */
static const char *select1(ota_db *d, const char *sql, int *rows)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;
    int n = 0;

    if (apr_dbd_select(drv, pool, d->handle, &res, sql, 1)) {
        return NULL;
    }
    while (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
        if (n++ == 0) {
            v = apr_pstrdup(pool, apr_dbd_get_entry(drv, row, 0));
        }
    }
    if (rows) {
        *rows = n;
    }
    return v;
}

/* Forks n children running fn(i) after the starting gun (EOF on a pipe);
 * out[s] counts exit statuses s < nout - 1, out[nout - 1] all others. */
static void race(int n, int (*fn)(int), int *out, int nout)
{
    int gun[2], i, status;
    char c;

    memset(out, 0, sizeof(*out) * nout);
    if (pipe(gun) != 0) {
        out[nout - 1] = n;
        return;
    }
    fflush(stdout);
    for (i = 0; i < n; i++) {
        if (fork() == 0) {
            close(gun[1]);
            while (read(gun[0], &c, 1) > 0) {
                continue;
            }
            _exit(fn(i));
        }
    }
    close(gun[0]);
    close(gun[1]);
    for (i = 0; i < n; i++) {
        if (wait(&status) < 0 || !WIFEXITED(status)
            || WEXITSTATUS(status) >= nout - 1) {
            out[nout - 1]++;
        }
        else {
            out[WEXITSTATUS(status)]++;
        }
    }
}

static int count(const char *table)
{
    int n = -1;

    if (ota_store_count(&n, &db, table, NULL, pool) != APR_SUCCESS) {
        return -1;
    }
    return n;
}

/* Column col of the device row, or NULL (also for a missing row). */
static const char *device_col(const char *udid, int col)
{
    static apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;

    if (!st && apr_dbd_prepare(drv, pool, db.handle,
                               "SELECT username, phase, product, first_seen, "
                               "last_seen FROM ota_device WHERE udid = %s",
                               "t_device", &st)) {
        return NULL;
    }
    if (apr_dbd_pvselect(drv, pool, db.handle, &res, st, 1, udid)) {
        return NULL;
    }
    if (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
        v = apr_pstrdup(pool, apr_dbd_get_entry(drv, row, col));
        while (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
            continue;
        }
    }
    return v;
}

/* Redeems for udid; *got gets the device user the store settled on. */
static ota_challenge_verdict redeem(const char *challenge, const char *user,
                                    apr_time_t now, const char *udid,
                                    const char *dev_user, const char **got,
                                    apr_status_t *rv)
{
    ota_device_record dev = { udid, "SERIAL", "iPhone15,2", "17.1",
                              dev_user };
    ota_challenge_verdict v = OTA_CHALLENGE_OK;
    const char *why = NULL;

    *rv = ota_store_challenge_redeem(&v, &db, challenge, user, now, &dev,
                                     &why, pool);
    if (*rv != APR_SUCCESS) {
        printf("# redeem: %s\n", why ? why : "(no reason)");
    }
    if (got) {
        *got = dev.user;
    }
    return v;
}

static int statement_count(void)
{
    int n = 0, i;

    while (ota_store_statements[n].label) {
        n++;
    }
    for (i = 0; ota_store_driver_statements[i].label; i++) {
        n++;
    }
    return n;
}

static void test_schema(void)
{
    const char *why = NULL, *version;
    apr_dbd_prepared_t *add;
    int rows = 0, nrows;

    ok(ota_store_prepare_all(&db, &why, pool) != APR_SUCCESS && why,
       "statements cannot be prepared before the tables exist");
    is_int(ota_store_schema(&db, &why, pool), APR_SUCCESS, "schema created");
    is_int(ota_store_schema(&db, &why, pool), APR_SUCCESS,
           "schema again is harmless");
    version = select1(&db, "SELECT version FROM ota_schema_version", &rows);
    is_int(rows, 1, "one schema version row");
    is_str(version, "6", "schema version 6");
    apr_dbd_query(drv, db.handle, &nrows,
                  "UPDATE ota_schema_version SET version = 7");
    ok(ota_store_schema(&db, &why, pool) != APR_SUCCESS && why
       && strstr(why, "newer"), "a newer schema is refused");
    apr_dbd_query(drv, db.handle, &nrows,
                  "UPDATE ota_schema_version SET version = 6");

    /* makes the device insert fail for one UDID (see test_errors);
     * created before preparing: DDL invalidates sqlite3 statements */
    is_int(apr_dbd_query(drv, db.handle, &nrows,
                         "CREATE TRIGGER t_fail BEFORE INSERT ON ota_device "
                         "WHEN NEW.udid = 'FAIL' "
                         "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"),
           0, "test trigger created");
    is_int(ota_store_prepare_all(&db, &why, pool), APR_SUCCESS,
           "statements prepared");
    is_int(apr_hash_count(db.prepared), statement_count(), "all statements");
    add = apr_hash_get(db.prepared, "ota_challenge_add", APR_HASH_KEY_STRING);
    /* pgsql refuses to PREPARE a label twice on one connection */
    ok(ota_store_prepare_all(&db, &why, pool) == APR_SUCCESS
       && ota_store_connection_init(&db, &why, pool) == APR_SUCCESS
       && apr_hash_get(db.prepared, "ota_challenge_add",
                       APR_HASH_KEY_STRING) == add,
       "preparing again keeps what is prepared");
    is_int(apr_hash_count(db.prepared), statement_count(),
           "still all statements");
    is_int(count("challenge") + count("challenge_used") + count("device"), 0,
           "empty store");
}

static void test_redeem(void)
{
    const char *why = NULL, *got = NULL, *stored;
    apr_status_t rv;

    is_int(ota_store_challenge_add(&db, "c1", "alice", t0,
                                   apr_time_from_sec(600), &why, pool),
           APR_SUCCESS, "challenge added");
    is_int(count("challenge"), 1, "one challenge");
    stored = select1(&db, "SELECT digest FROM ota_challenge", NULL);
    is_str(stored, ota_challenge_digest("c1", pool),
           "only the digest is stored");

    is_int(redeem("c1", NULL, t0 + apr_time_from_sec(5), "UDID-1", NULL,
                  &got, &rv), OTA_CHALLENGE_OK, "redeemed");
    is_int(rv, APR_SUCCESS, "no database error");
    is_str(got, "alice", "device user inherited from the challenge");
    is_int(count("device"), 1, "device recorded");
    is_str(device_col("UDID-1", 0), "alice", "device row has the user");
    is_str(device_col("UDID-1", 1), "2", "device row is phase 2");
    is_int(count("challenge_used"), 1, "challenge consumed");

    is_int(redeem("c1", NULL, t0 + apr_time_from_sec(6), "UDID-9", NULL,
                  NULL, &rv), OTA_CHALLENGE_USED, "second redeem: used");
    is_int(redeem("nope", NULL, t0, "UDID-9", NULL, NULL, &rv),
           OTA_CHALLENGE_UNKNOWN, "unknown challenge");
    is_int(rv, APR_SUCCESS, "unknown is a verdict, not an error");
    is_int(count("device"), 1, "no device recorded on refusal");
}

static void test_refusals(void)
{
    const char *why = NULL, *got = NULL;
    apr_status_t rv;

    ota_store_challenge_add(&db, "c2", NULL, t0, apr_time_from_sec(1), &why,
                            pool);
    is_int(redeem("c2", NULL, t0 + apr_time_from_sec(10), "UDID-2", NULL,
                  NULL, &rv), OTA_CHALLENGE_EXPIRED, "expired");
    is_int(count("challenge_used"), 1, "expired challenge not consumed");
    is_int(count("device"), 1, "no device for an expired challenge");

    ota_store_challenge_add(&db, "c3", "alice", t0, apr_time_from_sec(600),
                            &why, pool);
    is_int(redeem("c3", "mallory", t0, "UDID-2", NULL, NULL, &rv),
           OTA_CHALLENGE_WRONG_USER, "wrong user");
    is_int(count("challenge_used"), 1, "wrong user consumed nothing");
    is_int(count("device"), 1, "wrong user recorded nothing");
    is_int(redeem("c3", "alice", t0, "UDID-2", NULL, &got, &rv),
           OTA_CHALLENGE_OK, "right user redeems afterwards");
    is_str(got, "alice", "and the device is hers");

    ota_store_challenge_add(&db, "c4", "bob", t0, apr_time_from_sec(600),
                            &why, pool);
    is_int(redeem("c4", NULL, t0, "UDID-3", NULL, &got, &rv),
           OTA_CHALLENGE_OK, "unauthenticated phase 2 on a bound challenge");
    is_str(got, "bob", "binding inherited");

    ota_store_challenge_add(&db, "c5", NULL, t0, apr_time_from_sec(600),
                            &why, pool);
    is_int(redeem("c5", "carol", t0, "UDID-4", NULL, &got, &rv),
           OTA_CHALLENGE_OK, "unbound challenge, any user");
    ok(got == NULL, "no user inherited from an unbound challenge");
    ok(device_col("UDID-4", 0) == NULL, "device username is NULL");
    is_int(count("device"), 4, "four devices");
}

/* A device re-enrolls for its own user only: another user's challenge
 * cannot take its UDID (nothing is consumed or stored); its own user
 * with another device identity is allowed and noted. */
static void test_reenroll(void)
{
    const char *why = NULL, *got = NULL;
    const char *first = device_col("UDID-1", 3);
    ota_device_record dev = { "UDID-1", "SERIAL", "iPhone15,2", "17.1",
                              "alice" };
    ota_challenge_verdict v;
    apr_status_t rv;
    int used_before;

    ota_store_challenge_add(&db, "c6", NULL, t0, apr_time_from_sec(600),
                            &why, pool);
    used_before = count("challenge_used");
    is_int(redeem("c6", NULL, t0 + apr_time_from_sec(100), "UDID-1", "dave",
                  &got, &rv), OTA_CHALLENGE_DEVICE_BOUND,
           "another user's challenge for alice's UDID: device-bound");
    is_str(ota_challenge_verdict_name(OTA_CHALLENGE_DEVICE_BOUND),
           "device-bound", "its name");
    is_int(count("device"), 4, "nothing stored");
    is_str(device_col("UDID-1", 0), "alice", "the device stays alice's");
    is_int(count("challenge_used"), used_before,
           "the challenge is not consumed");
    dev.identity = "digest-1";
    ota_store_challenge_redeem(&v, &db, "c6", NULL,
                               t0 + apr_time_from_sec(100), &dev, &why,
                               pool);
    is_int(v, OTA_CHALLENGE_OK, "the same user enrolls the device again");
    is_str(dev.bound_user, "alice", "... it was bound to her");
    is_int(count("device"), 4, "device updated, not duplicated");
    is_str(device_col("UDID-1", 3), first, "first_seen kept");
    is_str(device_col("UDID-1", 4),
           apr_ltoa(pool, (long)apr_time_sec(t0) + 100), "last_seen moved");
    ota_store_challenge_add(&db, "c6b", NULL, t0, apr_time_from_sec(600),
                            &why, pool);
    dev.identity = "digest-2";
    ota_store_challenge_redeem(&v, &db, "c6b", NULL,
                               t0 + apr_time_from_sec(101), &dev, &why,
                               pool);
    ok(v == OTA_CHALLENGE_OK && dev.identity_changed,
       "the same user with another device identity: allowed, noted");
}

static void test_errors(void)
{
    const char *why = NULL;
    ota_device_record nodev = { NULL, NULL, NULL, NULL, NULL };
    ota_device_record failing = { NULL, NULL, NULL, NULL, NULL };
    ota_challenge_verdict v = OTA_CHALLENGE_OK;
    int n = 0;
    apr_status_t rv;

    ota_store_challenge_add(&db, "c7", NULL, t0, apr_time_from_sec(600),
                            &why, pool);
    is_int(ota_store_challenge_redeem(&v, &db, "c7", NULL, t0, &nodev, &why,
                                      pool), APR_EINVAL, "UDID required");
    failing.udid = "FAIL";
    rv = ota_store_challenge_redeem(&v, &db, "c7", NULL, t0, &failing, &why,
                                    pool);
    ok(rv != APR_SUCCESS && v != OTA_CHALLENGE_OK,
       "device insert failure is a database error");
    ok(why && strstr(why, "refused by test"), "why has the driver's reason");
    is_int(count("challenge_used"), 6, "failed redeem rolled back");
    is_int(redeem("c7", NULL, t0, "UDID-5", NULL, NULL, &rv),
           OTA_CHALLENGE_OK, "challenge still redeemable");
    is_int(ota_store_count(&n, &db, "passwd", &why, pool), APR_EINVAL,
           "unknown count name refused");

    is_str(ota_challenge_verdict_name(OTA_CHALLENGE_OK), "ok", "name ok");
    is_str(ota_challenge_verdict_name(OTA_CHALLENGE_UNKNOWN), "unknown",
           "name unknown");
    is_str(ota_challenge_verdict_name(OTA_CHALLENGE_EXPIRED), "expired",
           "name expired");
    is_str(ota_challenge_verdict_name(OTA_CHALLENGE_USED), "used",
           "name used");
    is_str(ota_challenge_verdict_name(OTA_CHALLENGE_WRONG_USER),
           "wrong-user", "name wrong-user");
}

static const char *schema_path;

/* Child: own connection to a fresh file, schema and statements. */
static int schema_racer(int i)
{
    apr_pool_t *p;
    ota_db d;
    int rc = 1;

    (void)i;
    apr_pool_create(&p, NULL);
    if (open_db(&d, schema_path, p) == APR_SUCCESS) {
        const char *why = NULL;
        rc = ota_store_connection_init(&d, &why, p) != APR_SUCCESS;
        if (rc) {
            fprintf(stderr, "# racer: %s\n", why ? why : "?");
        }
        apr_dbd_close(drv, d.handle);
    }
    apr_pool_destroy(p);
    return rc;
}

static void test_concurrent_schema(void)
{
    char path[] = "/tmp/unit_store_schema.XXXXXX";
    int out[2], fd, rows = 0, n = -1;
    const char *why = NULL;
    ota_db d;

    if ((fd = mkstemp(path)) >= 0) {
        close(fd);
    }
    schema_path = path;
    race(RACERS, schema_racer, out, 2);
    is_int(out[0], RACERS, "concurrent connection inits all succeed");
    if (open_db(&d, path, pool) != APR_SUCCESS) {
        ok(0, "scratch database reopened");
    }
    else {
        ok(ota_store_connection_init(&d, &why, pool) == APR_SUCCESS
           && ota_store_count(&n, &d, "device", &why, pool) == APR_SUCCESS,
           "scratch database usable");
        select1(&d, "SELECT version FROM ota_schema_version", &rows);
        is_int(rows, 1, "one version row despite the race");
        is_str(select1(&d, "PRAGMA journal_mode", NULL), "wal",
               "connection init put the database in WAL mode");
        /* a busy handler would sleep inside apr_dbd's process mutex */
        is_str(select1(&d, "PRAGMA busy_timeout", NULL), "0",
               "and left sqlite without a busy timeout");
        apr_dbd_close(drv, d.handle);
    }
    unlink(path);
}

/* Child: own connection, redeems the shared challenge, exits with the
 * verdict, or 5 on a database error. */
static int redeem_racer(int i)
{
    apr_pool_t *p;
    ota_db d;
    ota_device_record dev = { NULL, NULL, NULL, NULL, NULL };
    ota_challenge_verdict v;
    const char *rwhy = NULL;
    int rc = 5;

    apr_pool_create(&p, NULL);
    dev.udid = apr_psprintf(p, "RACE-%d", i);
    if (open_db(&d, dbpath, p) == APR_SUCCESS) {
        if (ota_store_connection_init(&d, &rwhy, p) == APR_SUCCESS
            && ota_store_challenge_redeem(&v, &d, "race", NULL, t0, &dev,
                                          &rwhy, p) == APR_SUCCESS) {
            rc = v;
        }
        else {
            fprintf(stderr, "# racer: %s\n", rwhy ? rwhy : "?");
        }
        apr_dbd_close(drv, d.handle);
    }
    apr_pool_destroy(p);
    return rc;
}

static void test_race(void)
{
    int out[6];
    int devices = count("device"), consumed = count("challenge_used");
    const char *why = NULL;

    ota_store_challenge_add(&db, "race", NULL, t0, apr_time_from_sec(600),
                            &why, pool);
    race(RACERS, redeem_racer, out, 6);
    is_int(out[OTA_CHALLENGE_OK], 1, "exactly one racer redeemed");
    is_int(out[OTA_CHALLENGE_USED], RACERS - 1,
           "all others were told it was used");
    is_int(out[5], 0, "no racer failed");
    is_int(count("device"), devices + 1, "one racer's device recorded");
    is_int(count("challenge_used"), consumed + 1, "consumed once");
}

/* A database in a temp file made from PATH (a mkstemp template) by the
 * statements SQL (up to a NULL), open in OLD: 1 when every statement ran,
 * 0 when one failed, -1 when there is no file (then OLD is not open). */
static int landed(ota_db *old, char *path, const char *const *sql)
{
    int fd, nrows, failed = 0;

    if ((fd = mkstemp(path)) < 0) {
        return -1;
    }
    close(fd);
    open_db(old, path, pool);
    for (; *sql; sql++) {
        failed |= apr_dbd_query(drv, old->handle, &nrows, *sql) != 0;
    }
    return !failed;
}

/* The schema at version 1, with a device and a challenge. */
static const char *const landed_v1[] = {
    "CREATE TABLE ota_challenge (digest TEXT PRIMARY KEY, "
    "username TEXT NOT NULL, created BIGINT NOT NULL, "
    "expires BIGINT NOT NULL, used BIGINT)",
    "CREATE TABLE ota_device (udid TEXT PRIMARY KEY, "
    "serial TEXT, product TEXT, version TEXT, username TEXT, "
    "phase INTEGER NOT NULL, first_seen BIGINT NOT NULL, "
    "last_seen BIGINT NOT NULL)",
    "INSERT INTO ota_device VALUES ('OLD', 'S', 'P', 'V', '', 2, 1, 1)",
    "CREATE TABLE ota_schema_version (id INTEGER PRIMARY KEY, "
    "version INTEGER NOT NULL)",
    "INSERT INTO ota_schema_version VALUES (1, 1)",
    "INSERT INTO ota_challenge VALUES ('kept', '', 1, 2, NULL)",
    NULL
};

/* What the version 1 database holds once migrated: a query, its value. */
static const struct {
    const char *sql, *want, *name;
} migrated_v1[] = {
    { "SELECT version FROM ota_schema_version", "6", "to version 6" },
    { "SELECT COUNT(*) FROM ota_certificate", "0",
      "with the certificate table" },
    { "SELECT digest FROM ota_challenge", "kept", "keeping its rows" },
    { "SELECT COUNT(cert_serial) || '/' || COUNT(*) FROM ota_device", "0/1",
      "its devices gain the progress columns" },
    { "SELECT COUNT(san) FROM ota_scep_challenge", "0",
      "SCEP challenges gain the bound names" },
    { "SELECT COUNT(requester) FROM ota_certificate", "0",
      "certificates gain their requester" },
    { "SELECT COUNT(revoked_reason) + COUNT(username) FROM ota_certificate",
      "0", "and their revocation reason and user" },
    { "SELECT COUNT(*) FROM ota_crl", "0", "the CRL table is there" },
    { "SELECT COUNT(identity) FROM ota_device", "0",
      "devices gain their identity" },
    { "SELECT COUNT(*) FROM ota_pending", "0",
      "the table of held requests is there" },
    { "SELECT COUNT(*) FROM ota_audit", "0", "and the audit table" }
};

/* A database made by schema version 1 is upgraded in place. */
static void test_migration(void)
{
    char path[] = "/tmp/unit_store_v1.XXXXXX";
    ota_db old;
    const char *why = NULL;
    apr_size_t i;
    int rows = 0;

    if (landed(&old, path, landed_v1) < 0) {
        ok(0, "temp file for the version 1 database");
        return;
    }
    is_int(ota_store_schema(&old, &why, pool), APR_SUCCESS,
           "a version 1 database is migrated");
    for (i = 0; i < sizeof(migrated_v1) / sizeof(migrated_v1[0]); i++) {
        is_str(select1(&old, migrated_v1[i].sql, &rows), migrated_v1[i].want,
               migrated_v1[i].name);
    }
    apr_dbd_close(drv, old.handle);
    unlink(path);
}

/* The schema as landed at version 5, with rows in every table. */
static const char *const landed_v5[] = {
    "CREATE TABLE ota_schema_version (id INTEGER PRIMARY KEY, "
    "version INTEGER NOT NULL)",
    "INSERT INTO ota_schema_version VALUES (1, 5)",
    "CREATE TABLE ota_challenge (digest TEXT PRIMARY KEY, username TEXT NOT "
    "NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL, used BIGINT)",
    "CREATE TABLE ota_device (udid TEXT PRIMARY KEY, serial TEXT, product "
    "TEXT, version TEXT, username TEXT, phase INTEGER NOT NULL, first_seen "
    "BIGINT NOT NULL, last_seen BIGINT NOT NULL, phase1_at BIGINT, "
    "phase2_at BIGINT, cert_serial TEXT, cert_at BIGINT, enrolled_at "
    "BIGINT, identity TEXT)",
    "CREATE TABLE ota_scep_challenge (digest TEXT PRIMARY KEY, udid TEXT NOT "
    "NULL, subject TEXT NOT NULL, created BIGINT NOT NULL, expires BIGINT "
    "NOT NULL, used BIGINT, san TEXT)",
    "CREATE TABLE ota_certificate (serial TEXT PRIMARY KEY, transaction_id "
    "TEXT NOT NULL UNIQUE, udid TEXT, subject TEXT NOT NULL, issued BIGINT "
    "NOT NULL, not_after BIGINT NOT NULL, revoked BIGINT, cert TEXT NOT "
    "NULL, requester TEXT, revoked_reason INTEGER, username TEXT)",
    "CREATE INDEX ota_certificate_udid ON ota_certificate (udid)",
    "CREATE INDEX ota_certificate_revoked ON ota_certificate (revoked) "
    "WHERE revoked IS NOT NULL",
    "CREATE TABLE ota_crl (ca TEXT PRIMARY KEY, number BIGINT NOT NULL, "
    "this_update BIGINT NOT NULL, next_update BIGINT NOT NULL, der TEXT NOT "
    "NULL)",
    "CREATE TABLE ota_pending (transaction_id TEXT PRIMARY KEY, udid TEXT, "
    "subject TEXT NOT NULL, san TEXT, username TEXT, product TEXT, "
    "requester TEXT NOT NULL, challenge TEXT, csr TEXT NOT NULL, requested "
    "BIGINT NOT NULL, expires BIGINT NOT NULL, decided BIGINT, decision "
    "TEXT, decided_by TEXT)",
    "CREATE INDEX ota_pending_open ON ota_pending (requested) "
    "WHERE decided IS NULL",
    "CREATE TABLE ota_audit (at BIGINT NOT NULL, admin TEXT NOT NULL, "
    "remote TEXT, action TEXT NOT NULL, udid TEXT, serial TEXT, "
    "transaction_id TEXT, detail TEXT)",
    "CREATE INDEX ota_audit_at ON ota_audit (at)",
    "INSERT INTO ota_challenge VALUES ('d1', 'alice', 1, 2, 2), "
    "('d2', 'bob', 1, 2, NULL), ('d3', '', 5, 6, NULL)",
    "INSERT INTO ota_device (udid, serial, product, version, username, "
    "phase, first_seen, last_seen, cert_serial) VALUES "
    "('V5-A', 'SNV5A', 'iPhone15,2', '17', 'alice', 2, 1, 10, NULL), "
    "('V5-B', 'SNV5B', 'iPad7,1', '16', 'bob', 3, 1, 20, '0B'), "
    "('V5-C', 'SNV5C', 'Mac14,2', '14', 'carol', 4, 1, 30, '0C'), "
    "('V5-D', 'SNV5D', 'iPhone12,1', '15', 'dave', 4, 1, 40, 'EXT'), "
    "('V5-E', NULL, NULL, NULL, NULL, 2, 1, 50, NULL)",
    "INSERT INTO ota_scep_challenge VALUES ('s1', 'V5-B', 'CN=V5-B', 1, 2, "
    "2, NULL), ('s2', 'V5-C', 'CN=V5-C', 1, 2, 2, NULL)",
    "INSERT INTO ota_certificate VALUES ('0B', 't-b', 'V5-B', 'CN=V5-B', 1, "
    "9999999999, NULL, 'PEM', 'r', NULL, 'bob'), ('0C', 't-c', 'V5-C', "
    "'CN=V5-C', 1, 9999999999, NULL, 'PEM', 'r', NULL, 'carol')",
    "INSERT INTO ota_crl VALUES ('CA', 1, 1, 2, 'MAA=')",
    "INSERT INTO ota_pending VALUES ('t-p', 'V5-A', 'CN=V5-A', NULL, "
    "'alice', 'iPhone15,2', 'r', NULL, 'CSR', 1, 2, NULL, NULL, NULL)",
    "INSERT INTO ota_audit VALUES (1, 'admin', '::1', 'revoke', 'V5-B', "
    "'0B', NULL, NULL), (2, 'admin', '::1', 'forget', 'V5-X', NULL, NULL, "
    "NULL)",
    NULL
};

/* The landed schema 5, with rows in every table, upgraded to 6: every
 * row kept, the tallies agree with COUNT(*), the search finds the old
 * devices, and a device recorded afterwards gets the next id. */
static void test_migration_v5(void)
{
    char path[] = "/tmp/unit_store_v5.XXXXXX";
    const char *why = NULL;
    apr_array_header_t *found;
    ota_store_tally t;
    ota_db old;
    int made = landed(&old, path, landed_v5), nrows, more = 0;

    if (made < 0) {
        ok(0, "temp file for the version 5 database");
        return;
    }
    ok(made, "a version 5 database with rows in every table");
    is_int(ota_store_connection_init(&old, &why, pool), APR_SUCCESS,
           "migrated to version 6, statements prepared");
    is_str(select1(&old, "SELECT version FROM ota_schema_version", NULL), "6",
           "version 6");
    is_str(select1(&old, "SELECT (SELECT COUNT(*) FROM ota_challenge) || '/' "
                   "|| (SELECT COUNT(*) FROM ota_device) || '/' || (SELECT "
                   "COUNT(*) FROM ota_scep_challenge) || '/' || (SELECT "
                   "COUNT(*) FROM ota_certificate) || '/' || (SELECT COUNT(*) "
                   "FROM ota_crl) || '/' || (SELECT COUNT(*) FROM "
                   "ota_pending) || '/' || (SELECT COUNT(*) FROM ota_audit)",
                   NULL),
           "3/5/2/2/1/1/2", "every row kept");
    is_str(select1(&old, "SELECT group_concat(udid || ':' || serial || ':' || "
                   "username || ':' || phase, ' ') FROM (SELECT * FROM "
                   "ota_device WHERE serial IS NOT NULL ORDER BY udid)", NULL),
           "V5-A:SNV5A:alice:2 V5-B:SNV5B:bob:3 V5-C:SNV5C:carol:4 "
           "V5-D:SNV5D:dave:4", "the devices' columns unchanged");
    ota_store_tally_get(&t, &old, &why, pool);
    ok(t.challenges == 3 && t.devices == 5 && t.scep_challenges == 2
       && t.certificates == 2 && t.pending == 1 && t.audit == 2,
       "the tallies start from the rows there");
    ok(t.phase[2] == 2 && t.phase[3] == 1 && t.phase[4] == 2,
       "and from the devices in each phase");
    is_str(select1(&old, "SELECT COUNT(DISTINCT id) FROM ota_device", NULL),
           "5", "every device has an id of its own");
    ota_store_device_page(&found, &more, &old, "nv5c", 0, NULL, 50, &why,
                          pool);
    ok(found->nelts == 1 && !strcmp(APR_ARRAY_IDX(found, 0,
                                    ota_device_summary).udid, "V5-C"),
       "the search index holds the devices from before");
    is_int(apr_dbd_query(drv, old.handle, &nrows, "INSERT INTO "
                         "ota_device_search (ota_device_search) VALUES "
                         "('integrity-check')"), 0,
           "and agrees with the table (FTS5 integrity-check)");
    apr_dbd_query(drv, old.handle, &nrows, "INSERT INTO ota_device (udid, "
                  "phase, first_seen, last_seen) VALUES ('V5-NEW', 2, 1, 1)");
    is_str(select1(&old, "SELECT id FROM ota_device WHERE udid = 'V5-NEW'",
                   NULL), "6", "a device recorded afterwards: the next id");
    apr_dbd_close(drv, old.handle);
    unlink(path);
}

static ota_certificate_record *cert_record(const char *serial,
                                           const char *tid)
{
    ota_certificate_record *r = apr_pcalloc(pool, sizeof(*r));

    r->serial = serial;
    r->transaction_id = tid;
    r->udid = "REG-UDID";
    r->subject = "CN=REG-UDID";
    r->not_after = t0 + apr_time_from_sec(86400);
    r->pem = "-----BEGIN CERTIFICATE-----";
    r->requester = "feed";
    return r;
}

/* Phase 2, certificate, phase 3: each step recorded with its time. */
static void test_progress(void)
{
    ota_device_state *d = NULL;
    const char *why = NULL;
    int rows = 0;

    is_int(ota_store_device_get(&d, &db, "REG-UDID", &why, pool),
           APR_SUCCESS, "device read");
    ok(d && d->phase == 3, "the device is at phase 3 (certificate issued)");
    is_str(d ? d->cert_serial : NULL, "0A", "with its certificate serial");
    ok(d && d->phase2_at == t0 - t0 % APR_USEC_PER_SEC,
       "and the time of phase 2");
    is_str(select1(&db, "SELECT phase1_at FROM ota_device "
                   "WHERE udid = 'REG-UDID'", &rows),
           apr_psprintf(pool, "%" APR_TIME_T_FMT, apr_time_sec(t0)),
           "phase 1's time comes from the challenge");
    is_int(ota_store_device_enrolled(&db, "REG-UDID", "0A", t0, &why, pool),
           APR_SUCCESS, "enrolled");
    ota_store_device_get(&d, &db, "REG-UDID", &why, pool);
    ok(d && d->phase == 4, "the device is at phase 4");
    ok(select1(&db, "SELECT enrolled_at FROM ota_device "
               "WHERE udid = 'REG-UDID'", &rows) != NULL,
       "with the time of enrollment");
    ok(ota_store_device_enrolled(&db, "NOBODY", "0A", t0, &why, pool)
       == APR_NOTFOUND, "an unknown device cannot be enrolled");
    ota_store_device_get(&d, &db, "NOBODY", &why, pool);
    ok(d == NULL, "an unknown device reads as NULL");
}

/* SCEP challenges minted with a device, consumed with its certificate. */
static void test_registry(void)
{
    ota_device_record dev = { "REG-UDID", "S", "P", "V", NULL,
                              "scep-one-time", "CN=REG-UDID",
                              apr_time_from_sec(600),
                              "dNSName=reg.example" };
    ota_scep_challenge_row row;
    ota_certificate_record *found;
    ota_challenge_verdict v;
    ota_issue_verdict iv;
    const char *why = NULL;
    int c0 = count("certificate");

    ota_store_challenge_add(&db, "reg-phase1", NULL, t0, apr_time_from_sec(60),
                            &why, pool);
    is_int(ota_store_challenge_redeem(&v, &db, "reg-phase1", NULL, t0, &dev,
                                      &why, pool), APR_SUCCESS,
           "phase 2 with a SCEP challenge");
    is_int(ota_store_scep_challenge_get(&row, &db, "scep-one-time", &why,
                                        pool), APR_SUCCESS, "looked up");
    ok(row.found && !row.used, "the SCEP challenge is stored, unused");
    is_str(row.udid, "REG-UDID", "bound to the device");
    is_str(row.subject, "CN=REG-UDID", "and to its subject");
    is_str(row.san, "dNSName=reg.example", "and to its subjectAltName");
    ok(row.expires == t0 - t0 % APR_USEC_PER_SEC + apr_time_from_sec(600),
       "expiring after its lifetime");
    ota_store_scep_challenge_get(&row, &db, "never-issued", &why, pool);
    ok(!row.found, "an unknown SCEP challenge is not found");

    is_int(ota_store_certificate_add(&iv, &db, "scep-one-time",
                                     cert_record("0A", "tid-1"), t0, &why,
                                     pool), APR_SUCCESS, "certificate stored");
    is_int(iv, OTA_ISSUE_OK, "verdict ok");
    is_int(count("certificate"), c0 + 1, "one more certificate");
    is_str(device_col("REG-UDID", 1), "3", "the device reached phase 3");
    ota_store_scep_challenge_get(&row, &db, "scep-one-time", &why, pool);
    ok(row.used, "the SCEP challenge is consumed");

    ota_store_certificate_add(&iv, &db, "scep-one-time",
                              cert_record("0B", "tid-2"), t0, &why, pool);
    is_int(iv, OTA_ISSUE_CHALLENGE_GONE, "a used SCEP challenge issues "
           "nothing");
    ota_store_certificate_add(&iv, &db, NULL, cert_record("0C", "tid-1"), t0,
                              &why, pool);
    is_int(iv, OTA_ISSUE_REPLAY, "a replayed transaction issues nothing");
    is_int(count("certificate"), c0 + 1, "still one more certificate");

    ota_store_certificate_find(&found, &db, "transaction", "tid-1", &why,
                               pool);
    ok(found && !strcmp(found->serial, "0A"), "found by transaction");
    is_str(found ? found->requester : NULL, "feed", "with its requester");
    ota_store_certificate_find(&found, &db, "serial", "0A", &why, pool);
    ok(found && !strcmp(found->udid, "REG-UDID") && found->revoked == 0
       && found->not_after == t0 - t0 % APR_USEC_PER_SEC
                              + apr_time_from_sec(86400),
       "found by serial with its device and expiry");
    ota_store_certificate_find(&found, &db, "serial", "FF", &why, pool);
    ok(found == NULL, "an unknown serial is not found");
    test_progress();
}

/* A write that finds the database locked for longer than apr_dbd's own
 * retries (15 x 100 ms) still succeeds once the lock goes. */
static int locked_writer(const char *path)
{
    apr_pool_t *p;
    ota_db w;
    const char *why = NULL;
    int failed;

    apr_pool_create(&p, NULL);
    failed = open_db(&w, path, p) != APR_SUCCESS
             || ota_store_connection_init(&w, &why, p) != APR_SUCCESS
             || ota_store_challenge_add(&w, "locked-retry", NULL, t0,
                                        apr_time_from_sec(60), &why, p)
                != APR_SUCCESS;
    if (failed) {
        fprintf(stderr, "# locked writer: %s\n", why ? why : "?");
    }
    return failed;
}

/* Revocation: by serial, by device, superseded on re-issue, the list the
 * CRL is built from, and the CRL row servers race to store. */
static void test_revocation(void)
{
    ota_certificate_record *a = cert_record("1A", "rev-tid-1");
    ota_certificate_record *b = cert_record("1B", "rev-tid-2");
    ota_revoke_verdict v;
    ota_cert_status st;
    ota_issue_verdict iv;
    apr_array_header_t *serials, *revoked;
    ota_crl_row row, got;
    const char *why = NULL;
    int stored = 0;

    a->udid = b->udid = "REV-UDID";
    a->user = "alice";
    ota_store_certificate_add(&iv, &db, NULL, a, t0, &why, pool);
    b->superseded = apr_array_make(pool, 1, sizeof(const char *));
    ota_store_certificate_add(&iv, &db, NULL, b, t0, &why, pool);
    is_int(iv, OTA_ISSUE_OK, "a second certificate for the device");
    is_int(b->superseded->nelts, 1, "superseding one older certificate");
    ota_store_certificate_status(&st, &db, "1A", &why, pool);
    ok(st.found && st.revoked && st.reason == 4,
       "the older is revoked as superseded");
    ota_store_certificate_status(&st, &db, "1B", &why, pool);
    ok(st.found && !st.revoked, "the new one is not");
    ota_store_certificate_find(&a, &db, "serial", "1A", &why, pool);
    is_str(a ? a->user : NULL, "alice", "a certificate keeps its user");
    ota_store_certificate_status(&st, &db, "FFFF", &why, pool);
    ok(!st.found, "a serial never issued is not found");

    ota_store_revoke_serial(&v, &db, "1B", 1, t0, &why, pool);
    is_int(v, OTA_REVOKE_DONE, "revoke by serial");
    ota_store_certificate_status(&st, &db, "1B", &why, pool);
    ok(st.reason == 1 && st.revoked == t0 - t0 % APR_USEC_PER_SEC,
       "with its reason and time");
    ota_store_revoke_serial(&v, &db, "1B", 5, t0 + apr_time_from_sec(9),
                            &why, pool);
    ota_store_certificate_status(&st, &db, "1B", &why, pool);
    ok(v == OTA_REVOKE_ALREADY && st.reason == 1,
       "revoked again: already, time and reason unchanged");
    ota_store_revoke_serial(&v, &db, "FFFF", 1, t0, &why, pool);
    is_int(v, OTA_REVOKE_UNKNOWN, "an unknown serial");
    ota_store_revoke_device(&v, &serials, &db, "REV-UDID", 1, t0, &why,
                            pool);
    ok(v == OTA_REVOKE_UNKNOWN && serials->nelts == 0,
       "a device with only revoked certificates and no row: unknown");
    ota_store_revoke_device(&v, &serials, &db, "REG-UDID", 3, t0, &why,
                            pool);
    ok(v == OTA_REVOKE_DONE && serials->nelts >= 1,
       "revoke by device: its unrevoked certificates");
    ota_store_revoke_device(&v, &serials, &db, "REG-UDID", 3, t0, &why,
                            pool);
    ok(v == OTA_REVOKE_ALREADY && serials->nelts == 0,
       "a known device with nothing left to revoke: already");
    ota_store_revoked_all(&revoked, &db, &why, pool);
    ok(revoked->nelts >= 3, "every revoked certificate is listed");

    memset(&row, 0, sizeof(row));
    row.number = 1;
    row.this_update = t0;
    row.next_update = t0 + apr_time_from_sec(3600);
    row.der_base64 = "MAA=";
    ota_store_crl_put(&stored, &db, "CAID", 0, &row, &why, pool);
    ok(stored, "the first CRL is stored");
    ota_store_crl_put(&stored, &db, "CAID", 0, &row, &why, pool);
    ok(!stored, "a second first CRL loses the race, without an error");
    row.number = 2;
    row.der_base64 = "MAE=";
    ota_store_crl_put(&stored, &db, "CAID", 1, &row, &why, pool);
    ok(stored, "CRL 2 replaces CRL 1");
    ota_store_crl_put(&stored, &db, "CAID", 1, &row, &why, pool);
    ok(!stored, "a replacement of CRL 1 that came late is not stored");
    ota_store_crl_get(&got, &db, "CAID", 1, &why, pool);
    ok(got.found && got.number == 2 && !strcmp(got.der_base64, "MAE=")
       && got.next_update == row.next_update - row.next_update
                                                % APR_USEC_PER_SEC,
       "the stored CRL reads back");
    ota_store_crl_due(&db, &why, pool);
    ota_store_crl_get(&got, &db, "CAID", 0, &why, pool);
    ok(got.found && got.number == 2 && got.next_update == 0
       && !got.der_base64, "marked due; its head reads without the DER");
}

/* The writer forks before the holder opens its connection: sqlite keeps
 * per-process lock state that a child must not inherit. */
static void test_locked_retry(void)
{
    char path[] = "/tmp/unit_store_locked.XXXXXX";
    ota_db holder;
    const char *why = NULL;
    pid_t pid;
    int fd, nrows, status = -1, rows = 0;

    if ((fd = mkstemp(path)) < 0) {
        ok(0, "temp file for the locked database");
        return;
    }
    close(fd);
    if ((pid = fork()) == 0) {
        apr_sleep(apr_time_from_msec(500));     /* the holder locks first */
        _exit(locked_writer(path));
    }
    if (open_db(&holder, path, pool) != APR_SUCCESS
        || ota_store_connection_init(&holder, &why, pool) != APR_SUCCESS
        || apr_dbd_query(drv, holder.handle, &nrows, "BEGIN IMMEDIATE")) {
        ok(0, "a connection holds the write lock");
    }
    else {
        ok(1, "a connection holds the write lock");
    }
    apr_sleep(apr_time_from_msec(3000));
    is_int(apr_dbd_query(drv, holder.handle, &nrows, "COMMIT"), 0,
           "the lock is released 2.5 s after the writer tried");
    waitpid(pid, &status, 0);
    if (!ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "a write locked out for longer than apr_dbd retries succeeds")) {
        printf("#   status %d\n", status);
    }
    is_str(select1(&holder, "SELECT COUNT(*) FROM ota_challenge", &rows),
           "1", "its challenge is stored");
    apr_dbd_close(drv, holder.handle);
    unlink(path);
}

int main(int argc, char **argv)
{
    int fd;

    unit_setup(argc, argv, 0);
    apr_dbd_init(pool);
    t0 = apr_time_now();
    if ((fd = mkstemp(dbpath)) < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    if (ok(apr_dbd_get_driver(pool, "sqlite3", &drv) == APR_SUCCESS,
           "sqlite3 driver")
        && ok(open_db(&db, dbpath, pool) == APR_SUCCESS, "database opened")) {
        test_schema();
        test_redeem();
        test_refusals();
        test_reenroll();
        test_errors();
        test_registry();
        test_revocation();
        test_migration();
        test_migration_v5();
        test_concurrent_schema();
        test_race();
        test_locked_retry();
        apr_dbd_close(drv, db.handle);
    }
    unlink(dbpath);
    return unit_done();
}
