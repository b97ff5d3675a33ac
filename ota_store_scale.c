/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The registry at a million devices: what schema 6 adds that differs
 * between sqlite3 and PostgreSQL (the search index, the id devices are
 * listed by in a search, the triggers that keep the row tallies), and the
 * statements whose SQL differs between them. The parts both share are in
 * ota_store.c's migrations. */
#include <string.h>

#include <apr_strings.h>

#include "ota_store.h"
#include "ota_store_sql.h"

/* ---- schema 6, sqlite3 ---- */

/* The tally of one table, kept by its own insert and delete triggers. */
#define SQLITE_TALLY(table, column)                                        \
    "CREATE TRIGGER IF NOT EXISTS " table "_tally_add AFTER INSERT ON "   \
    table " BEGIN UPDATE ota_tally SET " column " = " column " + 1 "      \
    "WHERE slot = 0; END",                                                 \
    "CREATE TRIGGER IF NOT EXISTS " table "_tally_del AFTER DELETE ON "   \
    table " BEGIN UPDATE ota_tally SET " column " = " column " - 1 "      \
    "WHERE slot = 0; END"

#define SEARCH_COLUMNS "udid, serial, product, username, cert_serial"
#define PHASE_DELTA(row, sign)                                             \
    "phase0 = phase0 " sign " (" row ".phase = 0), "                       \
    "phase1 = phase1 " sign " (" row ".phase = 1), "                       \
    "phase2 = phase2 " sign " (" row ".phase = 2), "                       \
    "phase3 = phase3 " sign " (" row ".phase = 3), "                       \
    "phase4 = phase4 " sign " (" row ".phase = 4)"
/* A device moved to or from phase n: its tally gains (or loses) one. The
 * drivers' booleans: sqlite3 adds them as numbers, PostgreSQL casts. */
#define PHASE_MOVE(n, to, from, number)                                    \
    "phase" n " = phase" n " + (" to " = " n ")" number                    \
    " - (" from " = " n ")" number

#define SQLITE_MOVE(n) PHASE_MOVE(n, "NEW.phase", "OLD.phase", "")
#define PG_PHASE(n) PHASE_MOVE(n, "np", "op", "::int")

/* FTS5's trigram tokenizer indexes every three characters of the UDID,
 * serial, product, user and certificate serial: a substring of three or
 * more characters is found through the index, case-insensitively. The
 * index refers to devices by id, which VACUUM does not renumber (rowids
 * may change). A new device gets the next id from its insert trigger. */
static const char *const sqlite_v6[] = {
    "ALTER TABLE ota_device ADD COLUMN id INTEGER",
    "UPDATE ota_device SET id = rowid",
    "CREATE UNIQUE INDEX IF NOT EXISTS ota_device_id ON ota_device (id)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS ota_device_search USING fts5("
    SEARCH_COLUMNS ", content='ota_device', content_rowid='id', "
    "tokenize='trigram')",
    "INSERT INTO ota_device_search (ota_device_search) VALUES ('rebuild')",
    "CREATE TRIGGER IF NOT EXISTS ota_device_added AFTER INSERT ON "
    "ota_device BEGIN "
    "UPDATE ota_device SET id = (SELECT IFNULL(MAX(id), 0) + 1 "
    "FROM ota_device) WHERE rowid = NEW.rowid AND id IS NULL; "
    "INSERT INTO ota_device_search (rowid, " SEARCH_COLUMNS ") "
    "SELECT id, " SEARCH_COLUMNS " FROM ota_device "
    "WHERE rowid = NEW.rowid; "
    "UPDATE ota_tally SET devices = devices + 1, " PHASE_DELTA("NEW", "+")
    " WHERE slot = 0; END",
    "CREATE TRIGGER IF NOT EXISTS ota_device_removed AFTER DELETE ON "
    "ota_device BEGIN "
    "INSERT INTO ota_device_search (ota_device_search, rowid, "
    SEARCH_COLUMNS ") VALUES ('delete', OLD.id, OLD.udid, OLD.serial, "
    "OLD.product, OLD.username, OLD.cert_serial); "
    "UPDATE ota_tally SET devices = devices - 1, " PHASE_DELTA("OLD", "-")
    " WHERE slot = 0; END",
    "CREATE TRIGGER IF NOT EXISTS ota_device_renamed AFTER UPDATE OF "
    SEARCH_COLUMNS " ON ota_device WHEN OLD.udid IS NOT NEW.udid "
    "OR OLD.serial IS NOT NEW.serial OR OLD.product IS NOT NEW.product "
    "OR OLD.username IS NOT NEW.username "
    "OR OLD.cert_serial IS NOT NEW.cert_serial BEGIN "
    "INSERT INTO ota_device_search (ota_device_search, rowid, "
    SEARCH_COLUMNS ") VALUES ('delete', OLD.id, OLD.udid, OLD.serial, "
    "OLD.product, OLD.username, OLD.cert_serial); "
    "INSERT INTO ota_device_search (rowid, " SEARCH_COLUMNS ") VALUES "
    "(NEW.id, NEW.udid, NEW.serial, NEW.product, NEW.username, "
    "NEW.cert_serial); END",
    "CREATE TRIGGER IF NOT EXISTS ota_device_moved AFTER UPDATE OF phase "
    "ON ota_device WHEN OLD.phase IS NOT NEW.phase BEGIN "
    "UPDATE ota_tally SET " SQLITE_MOVE("0") ", " SQLITE_MOVE("1") ", "
    SQLITE_MOVE("2") ", " SQLITE_MOVE("3") ", " SQLITE_MOVE("4")
    " WHERE slot = 0; END",
    SQLITE_TALLY("ota_challenge", "challenges"),
    SQLITE_TALLY("ota_scep_challenge", "scep_challenges"),
    SQLITE_TALLY("ota_certificate", "certificates"),
    SQLITE_TALLY("ota_pending", "pending"),
    SQLITE_TALLY("ota_audit", "audit"),
    NULL
};

/* ---- schema 6, PostgreSQL ---- */

#define PG_TALLY_SLOTS "16"

/* The tally's row triggers are deferred to the commit and update one row
 * of 16, chosen by the connection: a transaction takes that row's lock
 * last and only that one, so concurrent writers neither queue on one hot
 * row nor deadlock on the tally. */
#define PG_TALLY(table, events)                                            \
    "CREATE CONSTRAINT TRIGGER " table "_tally AFTER " events " ON "       \
    table " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "                   \
    "EXECUTE FUNCTION ota_tally_count()"
/* The purge deletes a batch of challenges in one statement: counted once
 * per statement (its transition table), not once per row (a row updated
 * a thousand times in one transaction leaves a thousand versions). */
#define PG_PURGED(table)                                                   \
    "CREATE TRIGGER " table "_purged AFTER DELETE ON " table " "           \
    "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "                    \
    "EXECUTE FUNCTION ota_tally_purged()"

static const char *const pgsql_v6[] = {
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE ota_device ADD COLUMN IF NOT EXISTS id BIGSERIAL",
    "CREATE UNIQUE INDEX IF NOT EXISTS ota_device_id ON ota_device (id)",
    /* no pending list (fastupdate): each search would read it whole,
     * five times (a second per search after 2,000 new devices, measured
     * at a million); inserts update the index at once instead */
    "CREATE INDEX IF NOT EXISTS ota_device_search ON ota_device USING gin "
    "(udid gin_trgm_ops, serial gin_trgm_ops, product gin_trgm_ops, "
    "username gin_trgm_ops, cert_serial gin_trgm_ops) "
    "WITH (fastupdate = off)",
    "INSERT INTO ota_tally (slot) SELECT s FROM generate_series(1, "
    PG_TALLY_SLOTS " - 1) AS s",
    "CREATE OR REPLACE FUNCTION ota_tally_count() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ DECLARE "
    "d integer := CASE TG_OP WHEN 'INSERT' THEN 1 WHEN 'DELETE' THEN -1 "
    "ELSE 0 END; "
    "s integer := pg_backend_pid() % " PG_TALLY_SLOTS "; "
    "np integer := -1; op integer := -1; "
    "BEGIN "
    "IF TG_TABLE_NAME = 'ota_device' THEN "
    "IF TG_OP <> 'DELETE' THEN np := NEW.phase; END IF; "
    "IF TG_OP <> 'INSERT' THEN op := OLD.phase; END IF; "
    "UPDATE ota_tally SET devices = devices + d, " PG_PHASE("0") ", "
    PG_PHASE("1") ", " PG_PHASE("2") ", " PG_PHASE("3") ", " PG_PHASE("4")
    " WHERE slot = s; "
    "ELSIF TG_TABLE_NAME = 'ota_challenge' THEN "
    "UPDATE ota_tally SET challenges = challenges + d WHERE slot = s; "
    "ELSIF TG_TABLE_NAME = 'ota_scep_challenge' THEN "
    "UPDATE ota_tally SET scep_challenges = scep_challenges + d "
    "WHERE slot = s; "
    "ELSIF TG_TABLE_NAME = 'ota_certificate' THEN "
    "UPDATE ota_tally SET certificates = certificates + d WHERE slot = s; "
    "ELSIF TG_TABLE_NAME = 'ota_pending' THEN "
    "UPDATE ota_tally SET pending = pending + d WHERE slot = s; "
    "ELSIF TG_TABLE_NAME = 'ota_audit' THEN "
    "UPDATE ota_tally SET audit = audit + d WHERE slot = s; "
    "END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION ota_tally_purged() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ DECLARE n bigint; "
    "s integer := pg_backend_pid() % " PG_TALLY_SLOTS "; "
    "BEGIN SELECT COUNT(*) INTO n FROM gone; "
    "IF n = 0 THEN RETURN NULL; END IF; "
    "IF TG_TABLE_NAME = 'ota_challenge' THEN "
    "UPDATE ota_tally SET challenges = challenges - n WHERE slot = s; "
    "ELSE UPDATE ota_tally SET scep_challenges = scep_challenges - n "
    "WHERE slot = s; END IF; RETURN NULL; END $$",
    PG_TALLY("ota_device", "INSERT OR DELETE"),
    "CREATE CONSTRAINT TRIGGER ota_device_moved AFTER UPDATE OF phase ON "
    "ota_device DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "WHEN (OLD.phase IS DISTINCT FROM NEW.phase) "
    "EXECUTE FUNCTION ota_tally_count()",
    PG_TALLY("ota_challenge", "INSERT"),
    PG_PURGED("ota_challenge"),
    PG_TALLY("ota_scep_challenge", "INSERT"),
    PG_PURGED("ota_scep_challenge"),
    PG_TALLY("ota_certificate", "INSERT OR DELETE"),
    PG_TALLY("ota_pending", "INSERT OR DELETE"),
    PG_TALLY("ota_audit", "INSERT OR DELETE"),
    NULL
};

static const char *const nothing[] = { NULL };

int ota_store_is_pgsql(const ota_db *db)
{
    return !strcmp(apr_dbd_name(db->driver), "pgsql");
}

const char *const *ota_store_migration_driver(ota_db *db, int version)
{
    if (version != 6) {
        return nothing;
    }
    return ota_store_is_pgsql(db) ? pgsql_v6 : sqlite_v6;
}

/* ---- statements whose SQL differs ---- */

#define PAGE_COLUMNS                                                       \
    "SELECT d.udid, d.serial, d.product, d.version, d.username, d.phase, " \
    "d.cert_serial, c.not_after, c.revoked, d.last_seen, d.id "
#define PG_MATCH                                                           \
    "(d.udid ILIKE %s ESCAPE '\\' OR d.serial ILIKE %s ESCAPE '\\' "       \
    "OR d.product ILIKE %s ESCAPE '\\' OR d.username ILIKE %s ESCAPE '\\' " \
    "OR d.cert_serial ILIKE %s ESCAPE '\\')"

/* sqlite3 gets q as an FTS5 phrase, PostgreSQL as a LIKE pattern (five
 * times, one per column); both as the first argument(s), see
 * ota_store_list.c. */
const ota_store_driver_statement ota_store_driver_statements[] = {
    /* the listing: last seen first, from a (last seen, UDID) key on */
    { "ota_list_seen",
      PAGE_COLUMNS "FROM ota_device d "
      "LEFT JOIN ota_certificate c ON c.serial = d.cert_serial "
      "WHERE (d.last_seen, d.udid) < (%lld, %s) "
      "ORDER BY d.last_seen DESC, d.udid DESC LIMIT %d", NULL },
    { "ota_list_phase",
      PAGE_COLUMNS "FROM ota_device d "
      "LEFT JOIN ota_certificate c ON c.serial = d.cert_serial "
      "WHERE d.phase = %d AND (d.last_seen, d.udid) < (%lld, %s) "
      "ORDER BY d.last_seen DESC, d.udid DESC LIMIT %d", NULL },
    /* a search: the devices recorded last first, from an id on */
    { "ota_list_search",
      PAGE_COLUMNS "FROM ota_device_search s "
      "JOIN ota_device d ON d.id = s.rowid "
      "LEFT JOIN ota_certificate c ON c.serial = d.cert_serial "
      "WHERE ota_device_search MATCH %s AND s.rowid < %lld "
      "AND (%d = 0 OR d.phase = %d) ORDER BY s.rowid DESC LIMIT %d",
      PAGE_COLUMNS "FROM ota_device d "
      "LEFT JOIN ota_certificate c ON c.serial = d.cert_serial "
      "WHERE " PG_MATCH " AND d.id < %lld AND (%d = 0 OR d.phase = %d) "
      "ORDER BY d.id DESC LIMIT %d" },
    { "ota_count_search",
      "SELECT d.phase, COUNT(*) FROM (SELECT rowid AS id "
      "FROM ota_device_search WHERE ota_device_search MATCH %s LIMIT %d) m "
      "JOIN ota_device d ON d.id = m.id GROUP BY d.phase",
      "SELECT m.phase, COUNT(*) FROM (SELECT d.phase FROM ota_device d "
      "WHERE " PG_MATCH " LIMIT %d) m GROUP BY m.phase" },
    { "ota_tally",
      "SELECT SUM(challenges), SUM(scep_challenges), SUM(devices), "
      "SUM(certificates), SUM(pending), SUM(audit), SUM(phase0), "
      "SUM(phase1), SUM(phase2), SUM(phase3), SUM(phase4) FROM ota_tally",
      NULL },
    /* retention: a bounded batch; servers sharing PostgreSQL skip each
     * other's rows */
    { "ota_purge_challenge",
      "DELETE FROM ota_challenge WHERE rowid IN (SELECT rowid "
      "FROM ota_challenge WHERE expires < %lld LIMIT %d)",
      "DELETE FROM ota_challenge WHERE digest IN (SELECT digest "
      "FROM ota_challenge WHERE expires < %lld LIMIT %d "
      "FOR UPDATE SKIP LOCKED)" },
    { "ota_purge_scep_challenge",
      "DELETE FROM ota_scep_challenge WHERE rowid IN (SELECT rowid "
      "FROM ota_scep_challenge WHERE expires < %lld LIMIT %d)",
      "DELETE FROM ota_scep_challenge WHERE digest IN (SELECT digest "
      "FROM ota_scep_challenge WHERE expires < %lld LIMIT %d "
      "FOR UPDATE SKIP LOCKED)" },
    { NULL, NULL, NULL }
};

/* Prepared unlabelled like the others (see ota_store_prepare_all). */
apr_status_t ota_store_prepare_driver(ota_db *db, const char **why,
                                      apr_pool_t *p)
{
    const ota_store_driver_statement *s;
    apr_status_t rv;

    for (s = ota_store_driver_statements; s->label; s++) {
        rv = ota_sql_prepare(db, s->label, ota_store_is_pgsql(db) && s->pgsql
                                           ? s->pgsql : s->sqlite, why, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}
