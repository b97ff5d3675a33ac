/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's side of the registry: requests held for approval
 * and the decisions on them, releasing and forgetting devices, and the
 * audit. Every change an admin makes is written in one transaction with
 * its audit row, and retried like the other writes while sqlite3 is
 * locked. */
#include <string.h>
#include <apr_strings.h>

#include "ota_challenge.h"
#include "ota_store.h"
#include "ota_store_sql.h"
#include "ota_store_approval.h"

/* ---- reading rows ---- */

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

static apr_time_t datum_time(ota_db *db, apr_dbd_row_t *row, int col)
{
    apr_int64_t v = 0;

    if (apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_LONGLONG, &v)
        != APR_SUCCESS) {
        return 0;
    }
    return apr_time_from_sec(v);
}

/* A row of ota_pending_get or ota_pending_open (same columns). */
static void pending_of(ota_pending_record *rec, ota_db *db,
                       apr_dbd_row_t *row, apr_pool_t *p)
{
    memset(rec, 0, sizeof(*rec));
    rec->transaction_id = datum_text(db, row, 0, p);
    rec->udid = datum_text(db, row, 1, p);
    rec->subject = datum_text(db, row, 2, p);
    rec->san = datum_text(db, row, 3, p);
    rec->user = datum_text(db, row, 4, p);
    rec->product = datum_text(db, row, 5, p);
    rec->requester = datum_text(db, row, 6, p);
    rec->csr = datum_text(db, row, 7, p);
    rec->requested = datum_time(db, row, 8);
    rec->expires = datum_time(db, row, 9);
    rec->decided = datum_time(db, row, 10);
    rec->decision = datum_text(db, row, 11, p);
    rec->decided_by = datum_text(db, row, 12, p);
}

static apr_dbd_prepared_t *statement(ota_db *db, const char *label,
                                     const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = ota_sql_statement(db, label);

    if (!st && why) {
        *why = apr_pstrcat(p, label, " not prepared", NULL);
    }
    return st;
}

ota_pending_state ota_pending_state_of(const ota_pending_record *rec,
                                       apr_time_t now)
{
    if (rec->decision && !strcmp(rec->decision, OTA_DECISION_APPROVED)) {
        return OTA_PENDING_APPROVED;
    }
    if (rec->decision) {
        return OTA_PENDING_REJECTED;
    }
    return rec->expires <= now ? OTA_PENDING_EXPIRED : OTA_PENDING_OPEN;
}

const char *ota_decide_verdict_name(ota_decide_verdict v)
{
    switch (v) {
    case OTA_DECIDE_DONE:
        return "done";
    case OTA_DECIDE_UNKNOWN:
        return "unknown";
    case OTA_DECIDE_DECIDED:
        return "already decided";
    case OTA_DECIDE_EXPIRED:
        return "expired";
    }
    return "invalid";
}

apr_status_t ota_store_pending_get(ota_pending_record **out, ota_db *db,
                                   const char *transaction_id,
                                   const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_pending_get", why, p);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    *out = NULL;
    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1,
                           transaction_id);
    if (rc) {
        return ota_sql_error(db, rc, "reading held request", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        *out = apr_palloc(p, sizeof(**out));
        pending_of(*out, db, row, p);
        ota_sql_drain(db, res, &row, p);
    }
    return APR_SUCCESS;
}

apr_status_t ota_store_pending_open(apr_array_header_t **out, ota_db *db,
                                    apr_time_t now, int limit,
                                    const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_pending_open", why, p);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t t = apr_time_sec(now);
    int rc;

    *out = apr_array_make(p, 8, sizeof(ota_pending_record));
    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, &t,
                           &limit);
    if (rc) {
        return ota_sql_error(db, rc, "listing held requests", why, p);
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        pending_of(apr_array_push(*out), db, row, p);
    }
    return APR_SUCCESS;
}

apr_status_t ota_store_pending_approved_at(apr_time_t *decided, ota_db *db,
                                           const char *serial,
                                           const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_pending_approved_at", why,
                                       p);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    *decided = 0;
    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, serial);
    if (rc) {
        return ota_sql_error(db, rc, "reading an approval", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        *decided = datum_time(db, row, 0);
        ota_sql_drain(db, res, &row, p);
    }
    return APR_SUCCESS;
}

/* ---- the audit ---- */

static apr_status_t audit_insert(ota_db *db, const ota_audit_entry *e,
                                 const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_audit_add", why, p);
    apr_int64_t at = apr_time_sec(e->at);
    int nrows = 0, rc;

    if (!st) {
        return APR_EGENERAL;
    }
    if (ota_sql_write_lock(db, why, p) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, &at,
                          e->admin ? e->admin : "", e->remote, e->action,
                          e->udid, e->serial, e->transaction_id, e->detail);
    ota_sql_write_unlock(db);
    return rc ? ota_sql_error(db, rc, "writing the audit", why, p)
              : APR_SUCCESS;
}

apr_status_t ota_store_audit_add(ota_db *db, const ota_audit_entry *e,
                                 const char **why, apr_pool_t *p)
{
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        rv = audit_insert(db, e, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

apr_status_t ota_store_audit_recent(apr_array_header_t **out, ota_db *db,
                                    int limit, const char **why,
                                    apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_audit_recent", why, p);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ota_audit_entry *e;
    int rc;

    *out = apr_array_make(p, 16, sizeof(ota_audit_entry));
    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1, &limit);
    if (rc) {
        return ota_sql_error(db, rc, "reading the audit", why, p);
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        e = apr_array_push(*out);
        e->at = datum_time(db, row, 0);
        e->admin = datum_text(db, row, 1, p);
        e->remote = datum_text(db, row, 2, p);
        e->action = datum_text(db, row, 3, p);
        e->udid = datum_text(db, row, 4, p);
        e->serial = datum_text(db, row, 5, p);
        e->transaction_id = datum_text(db, row, 6, p);
        e->detail = datum_text(db, row, 7, p);
    }
    return APR_SUCCESS;
}

/* ---- holding a request ---- */

/* The device's user (unless the caller knows it) and product. */
static apr_status_t device_of(ota_pending_record *rec, ota_db *db,
                              const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_pending_device", why, p);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc;

    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbselect(db->driver, p, db->handle, &res, st, 1,
                           rec->udid);
    if (rc) {
        return ota_sql_error(db, rc, "reading the device", why, p);
    }
    if (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (!rec->user) {
            rec->user = datum_text(db, row, 0, p);
        }
        rec->product = datum_text(db, row, 1, p);
        ota_sql_drain(db, res, &row, p);
    }
    return APR_SUCCESS;
}

/* A transaction already answered (a certificate) or held: a replay. */
static apr_status_t pending_seen(int *seen, ota_db *db, const char *tid,
                                 const char **why, apr_pool_t *p)
{
    ota_certificate_record *cert = NULL;
    ota_pending_record *prior = NULL;
    apr_status_t rv;

    rv = ota_store_certificate_find(&cert, db, "transaction", tid, why, p);
    if (rv == APR_SUCCESS && !cert) {
        rv = ota_store_pending_get(&prior, db, tid, why, p);
    }
    *seen = cert || prior;
    return rv;
}

static apr_status_t pending_txn(ota_issue_verdict *verdict, ota_db *db,
                                const char *digest, ota_pending_record *rec,
                                apr_int64_t now, const char **why,
                                apr_pool_t *p)
{
    apr_dbd_prepared_t *consume =
        statement(db, "ota_scep_challenge_consume", why, p);
    apr_dbd_prepared_t *add = statement(db, "ota_pending_add", why, p);
    apr_int64_t expires = apr_time_sec(rec->expires);
    apr_status_t rv;
    int nrows = 0, seen = 0, rc;

    if (!consume || !add) {
        return APR_EGENERAL;
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
    if ((rv = pending_seen(&seen, db, rec->transaction_id, why, p))
        != APR_SUCCESS || seen
        || (rec->udid && (rv = device_of(rec, db, why, p)) != APR_SUCCESS)) {
        *verdict = OTA_ISSUE_REPLAY;
        return rv;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, add,
                          rec->transaction_id, rec->udid, rec->subject,
                          rec->san, rec->user, rec->product, rec->requester,
                          digest, rec->csr, &now, &expires);
    if (rc) {
        return ota_sql_error(db, rc, "holding the request", why, p);
    }
    *verdict = OTA_ISSUE_OK;
    return APR_SUCCESS;
}

apr_status_t ota_store_pending_add(ota_issue_verdict *verdict, ota_db *db,
                                   const char *scep_challenge,
                                   ota_pending_record *rec, apr_time_t now,
                                   const char **why, apr_pool_t *p)
{
    apr_dbd_transaction_t *trans;
    const char *digest = NULL, *user = rec->user;
    apr_status_t rv;
    int i = 0;

    if (scep_challenge
        && !(digest = ota_challenge_digest(scep_challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    rec->requested = apr_time_from_sec(apr_time_sec(now));
    db->locked = 0;
    do {
        trans = NULL;
        rec->user = user;
        *verdict = OTA_ISSUE_CHALLENGE_GONE;
        rv = ota_sql_txn_start(db, &trans, why, p);
        rv = rv ? rv : pending_txn(verdict, db, digest, rec,
                                   apr_time_sec(now), why, p);
        rv = ota_sql_txn_end(db, trans, rv, *verdict == OTA_ISSUE_OK, why,
                             p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

/* ---- deciding ---- */

static apr_status_t decide_txn(ota_decide_verdict *verdict,
                               ota_pending_record **rec, ota_db *db,
                               const char *tid, int approve,
                               const ota_audit_entry *audit,
                               const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_pending_decide", why, p);
    apr_int64_t now = apr_time_sec(audit->at);
    ota_audit_entry entry;
    apr_status_t rv;
    int nrows = 0, rc;

    *verdict = OTA_DECIDE_UNKNOWN;
    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, &now,
                          approve ? OTA_DECISION_APPROVED
                                  : OTA_DECISION_REJECTED,
                          audit->admin, tid, &now);
    if (rc) {
        return ota_sql_error(db, rc, "deciding", why, p);
    }
    if ((rv = ota_store_pending_get(rec, db, tid, why, p)) != APR_SUCCESS
        || !*rec) {
        return rv;
    }
    if (nrows == 1) {
        *verdict = OTA_DECIDE_DONE;
        entry = *audit;
        entry.udid = entry.udid ? entry.udid : (*rec)->udid;
        return audit_insert(db, &entry, why, p);
    }
    *verdict = (*rec)->decided ? OTA_DECIDE_DECIDED : OTA_DECIDE_EXPIRED;
    return APR_SUCCESS;
}

apr_status_t ota_store_pending_decide(ota_decide_verdict *verdict,
                                      ota_pending_record **rec, ota_db *db,
                                      const char *transaction_id,
                                      int approve,
                                      const ota_audit_entry *audit,
                                      const char **why, apr_pool_t *p)
{
    apr_dbd_transaction_t *trans;
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        trans = NULL;
        *rec = NULL;
        rv = ota_sql_txn_start(db, &trans, why, p);
        rv = rv ? rv : decide_txn(verdict, rec, db, transaction_id,
                                  approve, audit, why, p);
        rv = ota_sql_txn_end(db, trans, rv, *verdict == OTA_DECIDE_DONE,
                             why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

/* ---- releasing and forgetting devices ---- */

/* Unused SCEP challenges of the device can no longer be redeemed. */
static apr_status_t challenges_retire(ota_db *db, const char *udid,
                                      apr_int64_t now, const char **why,
                                      apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_scep_challenge_retire", why,
                                       p);
    int nrows = 0, rc;

    if (!st) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, &now,
                          udid);
    return rc ? ota_sql_error(db, rc, "retiring SCEP challenges", why, p)
              : APR_SUCCESS;
}

static apr_status_t release_txn(int *found, const char **prior_user,
                                ota_db *db, const char *udid,
                                const ota_audit_entry *audit,
                                const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *st = statement(db, "ota_device_release", why, p);
    ota_device_state *device = NULL;
    apr_status_t rv;
    int nrows = 0, rc;

    *found = 0;
    if (!st) {
        return APR_EGENERAL;
    }
    if ((rv = ota_store_device_get(&device, db, udid, why, p))
        != APR_SUCCESS || !device) {
        return rv;
    }
    *found = 1;
    *prior_user = device->user;
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, st, udid);
    if (rc) {
        return ota_sql_error(db, rc, "releasing the device", why, p);
    }
    rv = challenges_retire(db, udid, apr_time_sec(audit->at), why, p);
    return rv == APR_SUCCESS ? audit_insert(db, audit, why, p) : rv;
}

apr_status_t ota_store_device_release(int *found, const char **prior_user,
                                      ota_db *db, const char *udid,
                                      const ota_audit_entry *audit,
                                      const char **why, apr_pool_t *p)
{
    apr_dbd_transaction_t *trans;
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        trans = NULL;
        *found = 0;
        *prior_user = NULL;
        rv = ota_sql_txn_start(db, &trans, why, p);
        rv = rv ? rv : release_txn(found, prior_user, db, udid, audit,
                                   why, p);
        rv = ota_sql_txn_end(db, trans, rv, *found, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}

static apr_status_t forget_txn(int *found, ota_db *db, const char *udid,
                               const ota_audit_entry *audit,
                               const char **why, apr_pool_t *p)
{
    apr_dbd_prepared_t *del = statement(db, "ota_device_delete", why, p);
    apr_dbd_prepared_t *reject = statement(db, "ota_pending_reject_device",
                                           why, p);
    apr_int64_t now = apr_time_sec(audit->at);
    apr_status_t rv;
    int nrows = 0, rc;

    if (!del || !reject) {
        return APR_EGENERAL;
    }
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, del, udid);
    if (rc) {
        return ota_sql_error(db, rc, "forgetting the device", why, p);
    }
    *found = nrows > 0;
    rc = apr_dbd_pvbquery(db->driver, p, db->handle, &nrows, reject, &now,
                          audit->admin, udid);
    if (rc) {
        return ota_sql_error(db, rc, "rejecting its requests", why, p);
    }
    rv = challenges_retire(db, udid, now, why, p);
    return rv == APR_SUCCESS ? audit_insert(db, audit, why, p) : rv;
}

apr_status_t ota_store_device_forget(int *found, ota_db *db,
                                     const char *udid,
                                     const ota_audit_entry *audit,
                                     const char **why, apr_pool_t *p)
{
    apr_dbd_transaction_t *trans;
    apr_status_t rv;
    int i = 0;

    db->locked = 0;
    do {
        trans = NULL;
        *found = 0;
        rv = ota_sql_txn_start(db, &trans, why, p);
        rv = rv ? rv : forget_txn(found, db, udid, audit, why, p);
        rv = ota_sql_txn_end(db, trans, rv, 1, why, p);
    } while (ota_sql_again(db, rv, i++));
    return rv;
}
