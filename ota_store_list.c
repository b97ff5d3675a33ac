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

static void device_summary(ota_device_summary *d, const ota_sql_rows *r)
{
    void *const col[] = {
        &d->udid, &d->serial, &d->product, &d->version, &d->user, &d->phase,
        &d->cert_serial, &d->cert_not_after, &d->cert_revoked, &d->last_seen,
        &d->id
    };

    memset(d, 0, sizeof(*d));
    ota_sql_columns(r, "tttttitsssn", col);
}

/* ---- pages ---- */

void ota_store_cursor_after(ota_device_cursor *c, const ota_device_summary *d,
                            int search)
{
    c->n = search ? d->id : apr_time_sec(d->last_seen);
    c->udid = search ? "" : d->udid ? d->udid : "";
}

/* sqlite3 takes q once, PostgreSQL once per column searched: its
 * arguments are the last ones of PostgreSQL's. */
static apr_status_t select_page(ota_sql_rows *r, ota_db *db, const char *q,
                                int phase, apr_int64_t n, const char *udid,
                                int limit, const char **why, apr_pool_t *p)
{
    const char *s = *q ? search_arg(db, q, p) : NULL;
    const void *search[] = { s, s, s, s, s, &n, &phase, &phase, &limit };
    const void *by_phase[] = { &phase, &n, udid, &limit };

    if (*q) {
        return ota_sql_select(r, db, "ota_list_search",
                              ota_store_is_pgsql(db) ? search : search + 4,
                              "listing devices", why, p);
    }
    return ota_sql_select(r, db, phase ? "ota_list_phase" : "ota_list_seen",
                          phase ? by_phase : by_phase + 1, "listing devices",
                          why, p);
}

apr_status_t ota_store_device_page(apr_array_header_t **out, int *more,
                                   ota_db *db, const char *q, int phase,
                                   const ota_device_cursor *after, int limit,
                                   const char **why, apr_pool_t *p)
{
    ota_sql_rows r;
    apr_status_t rv;

    q = q ? q : "";
    *more = 0;
    *out = apr_array_make(p, limit > 0 ? limit : 1,
                          sizeof(ota_device_summary));
    if (*q && (rv = search_refused(q, why)) != APR_SUCCESS) {
        return rv;
    }
    rv = select_page(&r, db, q, phase, after ? after->n : KEY_MAX,
                     after && after->udid ? after->udid : "", limit + 1, why,
                     p);
    while (rv == APR_SUCCESS && ota_sql_next(&r)) {
        if ((*out)->nelts == limit) {
            *more = 1;
            continue;                   /* read to the end (pgsql) */
        }
        device_summary(apr_array_push(*out), &r);
    }
    return rv;
}

/* ---- counts ---- */

apr_status_t ota_store_tally_get(ota_store_tally *t, ota_db *db,
                                 const char **why, apr_pool_t *p)
{
    void *const col[] = {
        &t->challenges, &t->scep_challenges, &t->devices, &t->certificates,
        &t->pending, &t->audit, &t->phase[0], &t->phase[1], &t->phase[2],
        &t->phase[3], &t->phase[4]
    };
    int found;

    memset(t, 0, sizeof(*t));
    return ota_sql_select_one(&found, db, "ota_tally", NULL, "nnnnnnnnnnn",
                              col, "reading the tallies", why, p);
}

static apr_status_t search_phases(int *counts, int max, int *capped,
                                  ota_db *db, const char *q,
                                  const char **why, apr_pool_t *p)
{
    const char *s = search_arg(db, q, p);
    int phase, cap = OTA_STORE_COUNT_CAP + 1, total = 0;
    apr_int64_t n;
    const void *args[] = { s, s, s, s, s, &cap };  /* as select_page's */
    void *const col[] = { &phase, &n };
    ota_sql_rows r;
    apr_status_t rv;

    rv = ota_sql_select(&r, db, "ota_count_search",
                        ota_store_is_pgsql(db) ? args : args + 4,
                        "counting the devices found", why, p);
    while (rv == APR_SUCCESS && ota_sql_next(&r)) {
        ota_sql_columns(&r, "in", col);
        total += (int)n;
        if (phase >= 0 && phase <= max) {
            counts[phase] = (int)n;
        }
    }
    if (rv == APR_SUCCESS) {
        *capped = total > OTA_STORE_COUNT_CAP;
    }
    return rv;
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
    apr_int64_t t = apr_time_sec(before);
    const void *args[] = { &t, &limit };

    *deleted = 0;
    if (!label) {
        return ota_sql_fail(APR_EINVAL, "no such table to purge", why);
    }
    return ota_sql_write_retried(deleted, db, label, args,
                                 "purging old challenges", why, p);
}
