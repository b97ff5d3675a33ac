/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Revocation in the registry: revoking by serial or by device, the list
 * the CRL is built from, the CRL every server serves, and the status OCSP
 * answers. Writes take the write lock, run in transactions and are
 * retried like the others while sqlite3 is locked. */
#include <string.h>
#include <apr_strings.h>

#include "ota_store.h"
#include "ota_store_sql.h"

#define REASON_SUPERSEDED 4

static apr_int64_t datum_int64(ota_db *db, apr_dbd_row_t *row, int col,
                               int *null)
{
    apr_int64_t v = 0;

    *null = apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_LONGLONG,
                              &v) == APR_ENOENT;
    return *null ? 0 : v;
}

static const char *datum_text(ota_db *db, apr_dbd_row_t *row, int col,
                              apr_pool_t *p)
{
    char *v = NULL;

    apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_STRING, &v);
    return v ? apr_pstrdup(p, v) : NULL;
}

apr_status_t ota_store_certificate_status(ota_cert_status *st, ota_db *db,
                                          const char *serial,
                                          const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db, "ota_certificate_status");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t revoked;
    int null, rc;

    memset(st, 0, sizeof(*st));
    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "status lookup not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, q, 1, serial);
    if (rc) {
        return ota_sql_error(db, rc, "reading certificate status", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) != 0) {
        return APR_SUCCESS;
    }
    st->found = 1;
    revoked = datum_int64(db, row, 0, &null);
    st->revoked = null ? 0 : apr_time_from_sec(revoked);
    st->reason = (int)datum_int64(db, row, 1, &null);
    st->udid = datum_text(db, row, 2, p);
    ota_sql_drain(db, res, &row, p);
    return APR_SUCCESS;
}

/* The serials a select of one text column answers. */
static apr_status_t serials_of(apr_array_header_t **out, ota_db *db,
                               const char *label, const char *arg,
                               const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db, label);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    *out = apr_array_make(p, 2, sizeof(const char *));
    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "revocation not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, q, 1, arg);
    if (rc) {
        return ota_sql_error(db, rc, "reading certificates", why, p);
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        APR_ARRAY_PUSH(*out, const char *) = datum_text(db, row, 0, p);
    }
    return APR_SUCCESS;
}

static apr_status_t revoke_one(int *changed, ota_db *db, const char *serial,
                               int reason, apr_int64_t now, const char **why,
                               apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db, "ota_certificate_revoke");
    int rc;

    *changed = 0;
    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "revocation not prepared", why);
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, changed, q, &now,
                          &reason, serial);
    return rc ? ota_sql_error(db, rc, "revoking", why, p) : APR_SUCCESS;
}

/* Revokes each serial of list that is still unrevoked; keeps in list only
 * those this call revoked. */
static apr_status_t revoke_list(apr_array_header_t *list, ota_db *db,
                                int reason, apr_int64_t now,
                                const char **why, apr_pool_t *p)
{
    const char **serials = (const char **)list->elts;
    int i, n = list->nelts, changed;
    apr_status_t rv;

    list->nelts = 0;
    for (i = 0; i < n; i++) {
        if ((rv = revoke_one(&changed, db, serials[i], reason, now, why, p))
            != APR_SUCCESS) {
            return rv;
        }
        if (changed) {
            APR_ARRAY_PUSH(list, const char *) = serials[i];
        }
    }
    return APR_SUCCESS;
}

apr_status_t ota_store_supersede(ota_db *db,
                                 const ota_certificate_record *rec,
                                 apr_int64_t now, const char **why,
                                 apr_pool_t *p)
{
    apr_array_header_t *older;
    apr_status_t rv;
    int i;

    rec->superseded->nelts = 0;
    if ((rv = serials_of(&older, db, "ota_certificate_unrevoked", rec->udid,
                         why, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < older->nelts; i++) {
        /* the new certificate, inserted just before, stays */
        if (!strcmp(APR_ARRAY_IDX(older, i, const char *), rec->serial)) {
            APR_ARRAY_IDX(older, i, const char *) =
                APR_ARRAY_IDX(older, older->nelts - 1, const char *);
            older->nelts--;
            break;
        }
    }
    if ((rv = revoke_list(older, db, REASON_SUPERSEDED, now, why, p))
        != APR_SUCCESS) {
        return rv;
    }
    apr_array_cat(rec->superseded, older);
    return APR_SUCCESS;
}

/* ---- revoking, as an administrator does ---- */

typedef struct revoke_job {
    const char *serial;           /* one certificate, or */
    const char *udid;             /* every unrevoked one of a device */
    int reason;
    apr_int64_t now;
    ota_revoke_verdict verdict;
    apr_array_header_t *serials;  /* revoked now */
} revoke_job;

static apr_status_t device_known(int *known, ota_db *db, const char *udid,
                                 const char **why, apr_pool_t *p)
{
    ota_device_state *d = NULL;
    apr_status_t rv = ota_store_device_get(&d, db, udid, why, p);

    *known = d != NULL;
    return rv;
}

static apr_status_t revoke_txn(revoke_job *j, ota_db *db, const char **why,
                               apr_pool_t *p)
{
    ota_cert_status st;
    apr_status_t rv;
    int known = 0;

    if (j->serial) {
        rv = ota_store_certificate_status(&st, db, j->serial, why, p);
        if (rv != APR_SUCCESS || !st.found) {
            j->verdict = OTA_REVOKE_UNKNOWN;
            return rv;
        }
        j->serials = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(j->serials, const char *) = j->serial;
    }
    else if ((rv = serials_of(&j->serials, db, "ota_certificate_unrevoked",
                              j->udid, why, p)) != APR_SUCCESS
             || (j->serials->nelts == 0
                 && (rv = device_known(&known, db, j->udid, why, p))
                    != APR_SUCCESS)) {
        return rv;
    }
    if ((rv = revoke_list(j->serials, db, j->reason, j->now, why, p))
        != APR_SUCCESS) {
        return rv;
    }
    j->verdict = j->serials->nelts ? OTA_REVOKE_DONE
                 : j->serial || known ? OTA_REVOKE_ALREADY
                                      : OTA_REVOKE_UNKNOWN;
    return APR_SUCCESS;
}

static apr_status_t revoke_run(revoke_job *j, ota_db *db, const char **why,
                               apr_pool_t *p)
{
    apr_dbd_transaction_t *trans = NULL;
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        trans = NULL;
        j->verdict = OTA_REVOKE_UNKNOWN;
        rv = ota_sql_txn_start(db, &trans, why, p);
        if (rv == APR_SUCCESS) {
            rv = revoke_txn(j, db, why, p);
        }
        rv = ota_sql_txn_end(db, trans, rv, 1, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

apr_status_t ota_store_revoke_serial(ota_revoke_verdict *verdict,
                                     ota_db *db, const char *serial,
                                     int reason, apr_time_t now,
                                     const char **why, apr_pool_t *p)
{
    revoke_job j;
    apr_status_t rv;

    memset(&j, 0, sizeof(j));
    j.serial = serial;
    j.reason = reason;
    j.now = apr_time_sec(now);
    rv = revoke_run(&j, db, why, p);
    *verdict = j.verdict;
    return rv;
}

apr_status_t ota_store_revoke_device(ota_revoke_verdict *verdict,
                                     apr_array_header_t **serials,
                                     ota_db *db, const char *udid,
                                     int reason, apr_time_t now,
                                     const char **why, apr_pool_t *p)
{
    revoke_job j;
    apr_status_t rv;

    memset(&j, 0, sizeof(j));
    j.udid = udid;
    j.reason = reason;
    j.now = apr_time_sec(now);
    rv = revoke_run(&j, db, why, p);
    *verdict = j.verdict;
    *serials = j.serials ? j.serials
                         : apr_array_make(p, 1, sizeof(const char *));
    return rv;
}

apr_status_t ota_store_revoked_all(apr_array_header_t **out, ota_db *db,
                                   const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db,
                                              "ota_certificate_revoked_all");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ota_revoked *e;
    int null, rc;

    *out = apr_array_make(p, 16, sizeof(ota_revoked));
    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "revoked list not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, q, 1);
    if (rc) {
        return ota_sql_error(db, rc, "reading revoked certificates", why,
                             p);
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        e = apr_array_push(*out);
        e->serial = datum_text(db, row, 0, p);
        e->when = apr_time_from_sec(datum_int64(db, row, 1, &null));
        e->reason = (int)datum_int64(db, row, 2, &null);
    }
    return APR_SUCCESS;
}

/* ---- the CRL every server serves ---- */

apr_status_t ota_store_crl_get(ota_crl_row *row, ota_db *db, const char *ca,
                               int with_der, const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db, with_der ? "ota_crl_get"
                                                           : "ota_crl_head");
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *r = NULL;
    int null, rc;

    memset(row, 0, sizeof(*row));
    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "ota_crl_get not prepared", why);
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, q, 1, ca);
    if (rc) {
        return ota_sql_error(db, rc, "reading the CRL", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &r, -1) != 0) {
        return APR_SUCCESS;
    }
    row->found = 1;
    row->number = datum_int64(db, r, 0, &null);
    row->this_update = apr_time_from_sec(datum_int64(db, r, 1, &null));
    row->next_update = apr_time_from_sec(datum_int64(db, r, 2, &null));
    row->der_base64 = with_der ? datum_text(db, r, 3, p) : NULL;
    ota_sql_drain(db, res, &r, p);
    return APR_SUCCESS;
}

static apr_status_t crl_put_once(int *stored, ota_db *db, const char *ca,
                                 apr_int64_t prior, const ota_crl_row *row,
                                 const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db, prior ? "ota_crl_update"
                                                        : "ota_crl_insert");
    apr_int64_t number = row->number;
    apr_int64_t this_update = apr_time_sec(row->this_update);
    apr_int64_t next_update = apr_time_sec(row->next_update);
    apr_status_t rv;
    int nrows = 0, rc;

    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "CRL statements not prepared", why);
    }
    if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    rc = prior ? apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, q,
                                  &number, &this_update, &next_update,
                                  row->der_base64, ca, &prior)
               : apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, q, ca,
                                  &number, &this_update, &next_update,
                                  row->der_base64);
    ota_sql_write_unlock(db);
    *stored = !rc && nrows == 1;
    if (!rc) {
        return APR_SUCCESS;
    }
    /* An insert that lost the race to another server fails on the key:
     * not an error, the winner's CRL is there. */
    rv = ota_sql_error(db, rc, "storing the CRL", why, p);
    return prior || db->locked ? rv : APR_SUCCESS;
}

apr_status_t ota_store_crl_put(int *stored, ota_db *db, const char *ca,
                               apr_int64_t prior, const ota_crl_row *row,
                               const char **why, apr_pool_t *p)
{
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        rv = crl_put_once(stored, db, ca, prior, row, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

apr_status_t ota_store_crl_due(ota_db *db, const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *q = ota_sql_statement(db, "ota_crl_due");
    apr_status_t rv;
    int nrows = 0, rc, i = 0;

    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "ota_crl_due not prepared", why);
    }
    db->locked = 0;
    do {
        if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
            return rv;
        }
        rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, q);
        ota_sql_write_unlock(db);
        rv = rc ? ota_sql_error(db, rc, "marking the CRL due", why, p)
                : APR_SUCCESS;
    } while (ota_sql_again(db, rv, i++));
    return rv;
}
