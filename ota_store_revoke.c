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

apr_status_t ota_store_certificate_status(ota_cert_status *st, ota_db *db,
                                          const char *serial,
                                          const char **why, apr_pool_t *p)
{
    const void *args[] = { serial };
    void *const out[] = { &st->revoked, &st->reason, &st->udid };

    memset(st, 0, sizeof(*st));
    return ota_sql_select_one(&st->found, db, "ota_certificate_status", args,
                              "sit", out, "reading certificate status", why,
                              p);
}

static void serial_of(void *elt, const ota_sql_rows *r)
{
    void *const col[] = { elt };

    ota_sql_columns(r, "t", col);
}

/* The serials a select of one text column answers. */
static apr_status_t serials_of(apr_array_header_t **out, ota_db *db,
                               const char *label, const char *arg,
                               const char **why, apr_pool_t *p)
{
    const void *args[] = { arg };

    *out = apr_array_make(p, 2, sizeof(const char *));
    return ota_sql_select_all(*out, serial_of, db, label, args,
                              "reading certificates", why, p);
}

static apr_status_t revoke_one(int *changed, ota_db *db, const char *serial,
                               int reason, apr_int64_t now, const char **why,
                               apr_pool_t *p)
{
    const void *args[] = { &now, &reason, serial };

    *changed = 0;
    return ota_sql_write(changed, db, "ota_certificate_revoke", args,
                         "revoking", why, p);
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

static apr_status_t revoke_attempt(int *commit, void *job, ota_db *db,
                                   const char **why, apr_pool_t *p)
{
    *commit = 1;
    return revoke_txn(job, db, why, p);
}

static void revoke_reset(void *job)
{
    ((revoke_job *)job)->verdict = OTA_REVOKE_UNKNOWN;
}

/* Runs j in its transaction; *verdict: what it did. */
static apr_status_t revoke_run(ota_revoke_verdict *verdict, revoke_job *j,
                               ota_db *db, const char **why, apr_pool_t *p)
{
    apr_status_t rv = ota_sql_txn_retry(db, revoke_attempt, revoke_reset, j,
                                        why, p);

    *verdict = j->verdict;
    return rv;
}

apr_status_t ota_store_revoke_serial(ota_revoke_verdict *verdict,
                                     ota_db *db, const char *serial,
                                     int reason, apr_time_t now,
                                     const char **why, apr_pool_t *p)
{
    revoke_job j = { serial, NULL, reason, apr_time_sec(now),
                     OTA_REVOKE_UNKNOWN, NULL };

    return revoke_run(verdict, &j, db, why, p);
}

apr_status_t ota_store_revoke_device(ota_revoke_verdict *verdict,
                                     apr_array_header_t **serials,
                                     ota_db *db, const char *udid,
                                     int reason, apr_time_t now,
                                     const char **why, apr_pool_t *p)
{
    revoke_job j = { NULL, udid, reason, apr_time_sec(now),
                     OTA_REVOKE_UNKNOWN, NULL };
    apr_status_t rv = revoke_run(verdict, &j, db, why, p);

    *serials = j.serials ? j.serials
                         : apr_array_make(p, 1, sizeof(const char *));
    return rv;
}

static void revoked_of(void *elt, const ota_sql_rows *r)
{
    ota_revoked *e = elt;
    void *const col[] = { &e->serial, &e->when, &e->reason };

    ota_sql_columns(r, "tsi", col);
}

apr_status_t ota_store_revoked_all(apr_array_header_t **out, ota_db *db,
                                   const char **why, apr_pool_t *p)
{
    *out = apr_array_make(p, 16, sizeof(ota_revoked));
    return ota_sql_select_all(*out, revoked_of, db,
                              "ota_certificate_revoked_all", NULL,
                              "reading revoked certificates", why, p);
}

/* ---- the CRL every server serves ---- */

apr_status_t ota_store_crl_get(ota_crl_row *row, ota_db *db, const char *ca,
                               int with_der, const char **why, apr_pool_t *p)
{
    const void *args[] = { ca };
    void *const out[] = {
        &row->number, &row->this_update, &row->next_update, &row->der_base64
    };

    memset(row, 0, sizeof(*row));
    return ota_sql_select_one(&row->found, db, with_der ? "ota_crl_get"
                                                        : "ota_crl_head",
                              args, with_der ? "nsst" : "nss", out,
                              "reading the CRL", why, p);
}

typedef struct crl_job {
    int *stored;
    const char *ca;
    apr_int64_t prior;            /* the number stored, 0: none */
    const ota_crl_row *row;
} crl_job;

static apr_status_t crl_put_once(void *job, ota_db *db, const char **why,
                                 apr_pool_t *p)
{
    crl_job *j = job;
    apr_int64_t number = j->row->number;
    apr_int64_t this_update = apr_time_sec(j->row->this_update);
    apr_int64_t next_update = apr_time_sec(j->row->next_update);
    const void *update[] = {
        &number, &this_update, &next_update, j->row->der_base64, j->ca,
        &j->prior
    };
    const void *insert[] = {
        j->ca, &number, &this_update, &next_update, j->row->der_base64
    };
    apr_dbd_prepared_t *q = ota_sql_statement(db, j->prior
                                                  ? "ota_crl_update"
                                                  : "ota_crl_insert");
    apr_status_t rv;
    int nrows = 0, rc;

    if (!q) {
        return ota_sql_fail(APR_EGENERAL, "CRL statements not prepared", why);
    }
    if ((rv = ota_sql_write_lock(db, why, p)) != APR_SUCCESS) {
        return rv;
    }
    rc = apr_dbd_pbquery(db->driver, p, db->handle, &nrows, q,
                         j->prior ? update : insert);
    ota_sql_write_unlock(db);
    *j->stored = !rc && nrows == 1;
    if (!rc) {
        return APR_SUCCESS;
    }
    /* An insert that lost the race to another server fails on the key:
     * not an error, the winner's CRL is there. */
    rv = ota_sql_error(db, rc, "storing the CRL", why, p);
    return j->prior || db->locked ? rv : APR_SUCCESS;
}

apr_status_t ota_store_crl_put(int *stored, ota_db *db, const char *ca,
                               apr_int64_t prior, const ota_crl_row *row,
                               const char **why, apr_pool_t *p)
{
    crl_job j = { stored, ca, prior, row };

    return ota_sql_retry(db, crl_put_once, &j, why, p);
}

apr_status_t ota_store_crl_due(ota_db *db, const char **why, apr_pool_t *p)
{
    int nrows = 0;

    return ota_sql_write_retried(&nrows, db, "ota_crl_due", NULL,
                                 "marking the CRL due", why, p);
}
