/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The registry's reads for the status page, at any size: pages of devices
 * from a key on (keyset pagination, never OFFSET), searches through the
 * trigram index, counts from the tallies; and the retention purge, which
 * deletes old challenges in bounded batches. The SQL is in
 * ota_store_scale.c (it differs by driver). */
#include <string.h>

#include <apr_strings.h>

#include "ota_store.h"
#include "ota_store_sql.h"

#define KEY_MAX APR_INT64_C(0x7fffffffffffffff)

/* ---- q, as each driver wants it ---- */

/* sqlite3: an FTS5 phrase, "q" with its quotes doubled: the trigram
 * tokenizer matches it as a substring of any column. */
static const char *fts_phrase(const char *q, apr_pool_t *p)
{
    char *out = apr_palloc(p, 2 * strlen(q) + 3), *o = out;

    *o++ = '"';
    for (; *q; q++) {
        if (*q == '"') {
            *o++ = '"';
        }
        *o++ = *q;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* PostgreSQL: %q% for ILIKE, q's wildcards and the escape character made
 * plain (ESCAPE '\'). */
static const char *like_pattern(const char *q, apr_pool_t *p)
{
    char *out = apr_palloc(p, 2 * strlen(q) + 3), *o = out;

    *o++ = '%';
    for (; *q; q++) {
        if (*q == '%' || *q == '_' || *q == '\\') {
            *o++ = '\\';
        }
        *o++ = *q;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

static const char *search_arg(ota_db *db, const char *q, apr_pool_t *p)
{
    return ota_store_is_pgsql(db) ? like_pattern(q, p) : fts_phrase(q, p);
}

static apr_status_t search_refused(const char *q, const char **why)
{
    if (strlen(q) < OTA_STORE_SEARCH_MIN) {
        return ota_sql_fail(APR_EINVAL, "a search needs at least 3 "
                            "characters", why);
    }
    return APR_SUCCESS;
}

/* ---- rows ---- */

static apr_int64_t datum_int64(ota_db *db, apr_dbd_row_t *row, int col)
{
    apr_int64_t v = 0;

    if (apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_LONGLONG, &v)
        != APR_SUCCESS) {
        return 0;
    }
    return v;
}

static const char *datum_text(ota_db *db, apr_dbd_row_t *row, int col,
                              apr_pool_t *p)
{
    char *v = NULL;

    if (apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_STRING, &v)
        != APR_SUCCESS || !v) {
        return NULL;
    }
    return apr_pstrdup(p, v);
}

static void device_summary(ota_device_summary *d, ota_db *db,
                           apr_dbd_row_t *row, apr_pool_t *p)
{
    apr_int64_t t;

    memset(d, 0, sizeof(*d));
    d->udid = datum_text(db, row, 0, p);
    d->serial = datum_text(db, row, 1, p);
    d->product = datum_text(db, row, 2, p);
    d->version = datum_text(db, row, 3, p);
    d->user = datum_text(db, row, 4, p);
    d->phase = (int)datum_int64(db, row, 5);
    d->cert_serial = datum_text(db, row, 6, p);
    d->cert_not_after = (t = datum_int64(db, row, 7)) ? apr_time_from_sec(t)
                                                      : 0;
    d->cert_revoked = (t = datum_int64(db, row, 8)) ? apr_time_from_sec(t)
                                                    : 0;
    d->last_seen = (t = datum_int64(db, row, 9)) ? apr_time_from_sec(t) : 0;
    d->id = datum_int64(db, row, 10);
}

/* ---- pages ---- */

void ota_store_cursor_after(ota_device_cursor *c, const ota_device_summary *d,
                            int search)
{
    c->n = search ? d->id : apr_time_sec(d->last_seen);
    c->udid = search ? "" : d->udid ? d->udid : "";
}

static int select_page(apr_dbd_results_t **res, ota_db *db, const char *q,
                       int phase, apr_int64_t n, const char *udid, int limit,
                       apr_pool_t *p)
{
    const char *label = *q ? "ota_list_search"
                        : phase ? "ota_list_phase" : "ota_list_seen";
    apr_dbd_prepared_t *st = ota_sql_statement(db, label);
    const char *s;

    if (!st) {
        return -1;
    }
    if (!*q) {
        return phase ? apr_dbd_pvbselect(db->driver, p, db->handle, res, st,
                                         1, &phase, &n, udid, &limit)
                     : apr_dbd_pvbselect(db->driver, p, db->handle, res, st,
                                         1, &n, udid, &limit);
    }
    s = search_arg(db, q, p);
    if (ota_store_is_pgsql(db)) {
        return apr_dbd_pvbselect(db->driver, p, db->handle, res, st, 1, s, s,
                                 s, s, s, &n, &phase, &phase, &limit);
    }
    return apr_dbd_pvbselect(db->driver, p, db->handle, res, st, 1, s, &n,
                             &phase, &phase, &limit);
}

apr_status_t ota_store_device_page(apr_array_header_t **out, int *more,
                                   ota_db *db, const char *q, int phase,
                                   const ota_device_cursor *after, int limit,
                                   const char **why, apr_pool_t *p)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;
    int rc, fetch = limit + 1;

    q = q ? q : "";
    *more = 0;
    *out = apr_array_make(p, limit > 0 ? limit : 1,
                          sizeof(ota_device_summary));
    if (*q && (rv = search_refused(q, why)) != APR_SUCCESS) {
        return rv;
    }
    rc = select_page(&res, db, q, phase, after ? after->n : KEY_MAX,
                     after && after->udid ? after->udid : "", fetch, p);
    if (rc < 0) {
        return ota_sql_fail(APR_EGENERAL, "device list not prepared", why);
    }
    if (rc) {
        return ota_sql_error(db, rc, "listing devices", why, p);
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if ((*out)->nelts == limit) {
            *more = 1;
            continue;                   /* read to the end (pgsql) */
        }
        device_summary(apr_array_push(*out), db, row, p);
    }
    return APR_SUCCESS;
}

/* ---- counts ---- */

apr_status_t ota_store_tally_get(ota_store_tally *t, ota_db *db,
                                 const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_tally");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t *col[] = {
        &t->challenges, &t->scep_challenges, &t->devices, &t->certificates,
        &t->pending, &t->audit, &t->phase[0], &t->phase[1], &t->phase[2],
        &t->phase[3], &t->phase[4]
    };
    int i, rc;

    memset(t, 0, sizeof(*t));
    if (!st) {
        return ota_sql_fail(APR_EGENERAL, "ota_tally not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1);
    if (rc) {
        return ota_sql_error(db, rc, "reading the tallies", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        for (i = 0; i < (int)(sizeof(col) / sizeof(col[0])); i++) {
            *col[i] = datum_int64(db, row, i);
        }
        ota_sql_drain(db, res, &row, p);
    }
    return APR_SUCCESS;
}

static apr_status_t search_phases(int *counts, int max, int *capped,
                                  ota_db *db, const char *q,
                                  const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, "ota_count_search");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *s = search_arg(db, q, p);
    int rc, phase, cap = OTA_STORE_COUNT_CAP + 1, total = 0;
    apr_int64_t n;

    if (!st) {
        return ota_sql_fail(APR_EGENERAL, "ota_count_search not prepared",
                            why);
    }
    rc = ota_store_is_pgsql(db)
         ? apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, s, s, s,
                             s, s, &cap)
         : apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, s,
                             &cap);
    if (rc) {
        return ota_sql_error(db, rc, "counting the devices found", why, p);
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        phase = (int)datum_int64(db, row, 0);
        n = datum_int64(db, row, 1);
        total += (int)n;
        if (phase >= 0 && phase <= max) {
            counts[phase] = (int)n;
        }
    }
    *capped = total > OTA_STORE_COUNT_CAP;
    return APR_SUCCESS;
}

apr_status_t ota_store_device_phases(int *counts, int max, int *capped,
                                     ota_db *db, const char *q,
                                     const char **why, apr_pool_t *p)
{
    ota_store_tally t;
    apr_status_t rv;
    int i;

    memset(counts, 0, sizeof(*counts) * (max + 1));
    *capped = 0;
    if (q && *q) {
        if ((rv = search_refused(q, why)) != APR_SUCCESS) {
            return rv;
        }
        return search_phases(counts, max, capped, db, q, why, p);
    }
    if ((rv = ota_store_tally_get(&t, db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i <= max && i < 5; i++) {
        counts[i] = (int)t.phase[i];
    }
    return APR_SUCCESS;
}

/* ---- retention ---- */

apr_status_t ota_store_purge(int *deleted, ota_db *db, const char *table,
                             apr_time_t before, int limit, const char **why,
                             apr_pool_t *p)
{
    const char *label = !strcmp(table, "challenge") ? "ota_purge_challenge"
                        : !strcmp(table, "scep_challenge")
                          ? "ota_purge_scep_challenge" : NULL;
    apr_dbd_prepared_t *st = label ? ota_sql_statement(db, label) : NULL;
    apr_int64_t t = apr_time_sec(before);
    apr_status_t rv;
    int rc, i = 0;

    *deleted = 0;
    if (!label) {
        return ota_sql_fail(APR_EINVAL, "no such table to purge", why);
    }
    if (!st) {
        return ota_sql_fail(APR_EGENERAL, "purge not prepared", why);
    }
    db->locked = 0;
    do {
        if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
            return rv;
        }
        rc = apr_dbd_pvbquery(db->driver, p, db->handle, deleted, st, &t,
                              &limit);
        ota_sql_write_unlock(db);
        rv = rc ? ota_sql_error(db, rc, "purging old challenges", why, p)
                : APR_SUCCESS;
    } while (ota_sql_again(db, rv, i++));
    return rv;
}
