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

/* A row of ota_pending_get or ota_pending_open (same columns). */
static void pending_of(void *elt, const ota_sql_rows *r)
{
    ota_pending_record *rec = elt;
    void *const col[] = {
        &rec->transaction_id, &rec->udid, &rec->subject, &rec->san,
        &rec->user, &rec->product, &rec->requester, &rec->csr,
        &rec->requested, &rec->expires, &rec->decided, &rec->decision,
        &rec->decided_by
    };

    memset(rec, 0, sizeof(*rec));
    ota_sql_columns(r, "ttttttttssstt", col);
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
    const void *args[] = { transaction_id };
    ota_sql_rows r;
    apr_status_t rv;

    *out = NULL;
    rv = ota_sql_select(&r, db, "ota_pending_get", args,
                        "reading held request", why, p);
    if (rv == APR_SUCCESS && ota_sql_next(&r)) {
        *out = apr_palloc(p, sizeof(**out));
        pending_of(*out, &r);
        ota_sql_done(&r);
    }
    return rv;
}

apr_status_t ota_store_pending_open(apr_array_header_t **out, ota_db *db,
                                    apr_time_t now, int limit,
                                    const char **why, apr_pool_t *p)
{
    apr_int64_t t = apr_time_sec(now);
    const void *args[] = { &t, &limit };

    *out = apr_array_make(p, 8, sizeof(ota_pending_record));
    return ota_sql_select_all(*out, pending_of, db, "ota_pending_open", args,
                              "listing held requests", why, p);
}

apr_status_t ota_store_pending_approved_at(apr_time_t *decided, ota_db *db,
                                           const char *serial,
                                           const char **why, apr_pool_t *p)
{
    const void *args[] = { serial };
    void *const out[] = { decided };
    int found;

    *decided = 0;
    return ota_sql_select_one(&found, db, "ota_pending_approved_at", args,
                              "s", out, "reading an approval", why, p);
}

/* ---- the audit ---- */

static apr_status_t audit_insert(ota_db *db, const ota_audit_entry *e,
                                 const char **why, apr_pool_t *p)
{
    apr_int64_t at = apr_time_sec(e->at);
    const void *args[] = {
        &at, e->admin ? e->admin : "", e->remote, e->action, e->udid,
        e->serial, e->transaction_id, e->detail
    };
    int nrows = 0;

    /* APR_EGENERAL also when the write lock could not be taken */
    return ota_sql_write(&nrows, db, "ota_audit_add", args,
                         "writing the audit", why, p) == APR_SUCCESS
           ? APR_SUCCESS : APR_EGENERAL;
}

static apr_status_t audit_attempt(void *job, ota_db *db, const char **why,
                                  apr_pool_t *p)
{
    return audit_insert(db, job, why, p);
}

apr_status_t ota_store_audit_add(ota_db *db, const ota_audit_entry *e,
                                 const char **why, apr_pool_t *p)
{
    return ota_sql_retry(db, audit_attempt, (void *)e, why, p);
}

static void audit_of(void *elt, const ota_sql_rows *r)
{
    ota_audit_entry *e = elt;
    void *const col[] = {
        &e->at, &e->admin, &e->remote, &e->action, &e->udid, &e->serial,
        &e->transaction_id, &e->detail
    };

    ota_sql_columns(r, "sttttttt", col);
}

apr_status_t ota_store_audit_recent(apr_array_header_t **out, ota_db *db,
                                    int limit, const char **why,
                                    apr_pool_t *p)
{
    const void *args[] = { &limit };

    *out = apr_array_make(p, 16, sizeof(ota_audit_entry));
    return ota_sql_select_all(*out, audit_of, db, "ota_audit_recent", args,
                              "reading the audit", why, p);
}

/* ---- holding a request ---- */

/* The device's user (unless the caller knows it) and product. */
static apr_status_t device_of(ota_pending_record *rec, ota_db *db,
                              const char **why, apr_pool_t *p)
{
    const void *args[] = { rec->udid };
    void *const out[] = { rec->user ? NULL : &rec->user, &rec->product };
    int found;

    return ota_sql_select_one(&found, db, "ota_pending_device", args, "tt",
                              out, "reading the device", why, p);
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

typedef struct pending_job {
    ota_issue_verdict *verdict;
    const char *digest;           /* of the SCEP challenge, NULL: none */
    ota_pending_record *rec;
    const char *user;             /* rec->user as the caller set it */
    apr_int64_t now;
} pending_job;

static void pending_reset(void *job)
{
    pending_job *j = job;

    j->rec->user = j->user;
    *j->verdict = OTA_ISSUE_CHALLENGE_GONE;
}

static apr_status_t pending_txn(int *commit, void *job, ota_db *db,
                                const char **why, apr_pool_t *p)
{
    pending_job *j = job;
    ota_pending_record *rec = j->rec;
    apr_int64_t expires = apr_time_sec(rec->expires);
    const void *args[] = {
        rec->transaction_id, rec->udid, rec->subject, rec->san, NULL, NULL,
        rec->requester, j->digest, rec->csr, &j->now, &expires
    };
    apr_status_t rv;
    int nrows = 0, seen = 0, gone;

    if ((rv = ota_store_scep_consume(&gone, db, j->digest, j->now, why, p))
        != APR_SUCCESS || gone) {
        return rv;
    }
    if ((rv = pending_seen(&seen, db, rec->transaction_id, why, p))
        != APR_SUCCESS || seen
        || (rec->udid && (rv = device_of(rec, db, why, p)) != APR_SUCCESS)) {
        *j->verdict = OTA_ISSUE_REPLAY;
        return rv;
    }
    args[4] = rec->user;
    args[5] = rec->product;
    if ((rv = ota_sql_write(&nrows, db, "ota_pending_add", args,
                            "holding the request", why, p)) != APR_SUCCESS) {
        return rv;
    }
    *j->verdict = OTA_ISSUE_OK;
    *commit = 1;
    return APR_SUCCESS;
}

apr_status_t ota_store_pending_add(ota_issue_verdict *verdict, ota_db *db,
                                   const char *scep_challenge,
                                   ota_pending_record *rec, apr_time_t now,
                                   const char **why, apr_pool_t *p)
{
    pending_job j;

    j.digest = NULL;
    if (scep_challenge
        && !(j.digest = ota_challenge_digest(scep_challenge, p))) {
        return ota_sql_fail(APR_EGENERAL, "cannot hash the challenge", why);
    }
    rec->requested = apr_time_from_sec(apr_time_sec(now));
    j.verdict = verdict;
    j.rec = rec;
    j.user = rec->user;
    j.now = apr_time_sec(now);
    return ota_sql_txn_retry(db, pending_txn, pending_reset, &j, why, p);
}

/* ---- deciding ---- */

typedef struct decide_job {
    ota_decide_verdict *verdict;
    ota_pending_record **rec;
    const char *tid;
    int approve;
    const ota_audit_entry *audit;
} decide_job;

static void decide_reset(void *job)
{
    *((decide_job *)job)->rec = NULL;
}

static apr_status_t decide_txn(int *commit, void *job, ota_db *db,
                               const char **why, apr_pool_t *p)
{
    decide_job *j = job;
    apr_int64_t now = apr_time_sec(j->audit->at);
    const void *args[] = {
        &now, j->approve ? OTA_DECISION_APPROVED : OTA_DECISION_REJECTED,
        j->audit->admin, j->tid, &now
    };
    ota_audit_entry entry;
    apr_status_t rv;
    int nrows = 0;

    *j->verdict = OTA_DECIDE_UNKNOWN;
    if ((rv = ota_sql_write(&nrows, db, "ota_pending_decide", args,
                            "deciding", why, p)) != APR_SUCCESS
        || (rv = ota_store_pending_get(j->rec, db, j->tid, why, p))
           != APR_SUCCESS
        || !*j->rec) {
        return rv;
    }
    if (nrows == 1) {
        *j->verdict = OTA_DECIDE_DONE;
        *commit = 1;
        entry = *j->audit;
        entry.udid = entry.udid ? entry.udid : (*j->rec)->udid;
        return audit_insert(db, &entry, why, p);
    }
    *j->verdict = (*j->rec)->decided ? OTA_DECIDE_DECIDED
                                     : OTA_DECIDE_EXPIRED;
    return APR_SUCCESS;
}

apr_status_t ota_store_pending_decide(ota_decide_verdict *verdict,
                                      ota_pending_record **rec, ota_db *db,
                                      const char *transaction_id,
                                      int approve,
                                      const ota_audit_entry *audit,
                                      const char **why, apr_pool_t *p)
{
    decide_job j = { verdict, rec, transaction_id, approve, audit };

    return ota_sql_txn_retry(db, decide_txn, decide_reset, &j, why, p);
}

/* ---- releasing and forgetting devices ---- */

typedef struct device_job {
    int *found;
    const char **prior_user;      /* releasing: the user it was bound to */
    const char *udid;
    const ota_audit_entry *audit;
    int forget;
} device_job;

static void device_reset(void *job)
{
    device_job *j = job;

    *j->found = 0;
    if (j->prior_user) {
        *j->prior_user = NULL;
    }
}

/* A device known is no longer bound to its user. */
static apr_status_t device_release(int *commit, device_job *j, ota_db *db,
                                   const char **why, apr_pool_t *p)
{
    const void *args[] = { j->udid };
    ota_device_state *device = NULL;
    apr_status_t rv;
    int nrows = 0;

    if ((rv = ota_store_device_get(&device, db, j->udid, why, p))
        != APR_SUCCESS || !device) {
        return rv;
    }
    *j->found = 1;
    *commit = 1;
    *j->prior_user = device->user;
    return ota_sql_write(&nrows, db, "ota_device_release", args,
                         "releasing the device", why, p);
}

/* The device's record goes, its held requests are rejected. */
static apr_status_t device_forget(int *commit, device_job *j, ota_db *db,
                                  apr_int64_t now, const char **why,
                                  apr_pool_t *p)
{
    const void *del[] = { j->udid };
    const void *reject[] = { &now, j->audit->admin, j->udid };
    apr_status_t rv;
    int nrows = 0;

    *commit = 1;
    if ((rv = ota_sql_write(&nrows, db, "ota_device_delete", del,
                            "forgetting the device", why, p))
        != APR_SUCCESS) {
        return rv;
    }
    *j->found = nrows > 0;
    return ota_sql_write(&nrows, db, "ota_pending_reject_device", reject,
                         "rejecting its requests", why, p);
}

/* Released or forgotten, the device's unused SCEP challenges can no
 * longer be redeemed, and the admin's action is audited. */
static apr_status_t device_txn(int *commit, void *job, ota_db *db,
                               const char **why, apr_pool_t *p)
{
    device_job *j = job;
    apr_int64_t now = apr_time_sec(j->audit->at);
    const void *args[] = { &now, j->udid };
    apr_status_t rv;
    int nrows = 0;

    rv = j->forget ? device_forget(commit, j, db, now, why, p)
                   : device_release(commit, j, db, why, p);
    if (rv != APR_SUCCESS || !*commit
        || (rv = ota_sql_write(&nrows, db, "ota_scep_challenge_retire", args,
                               "retiring SCEP challenges", why, p))
           != APR_SUCCESS) {
        return rv;
    }
    return audit_insert(db, j->audit, why, p);
}

apr_status_t ota_store_device_release(int *found, const char **prior_user,
                                      ota_db *db, const char *udid,
                                      const ota_audit_entry *audit,
                                      const char **why, apr_pool_t *p)
{
    device_job j = { found, prior_user, udid, audit, 0 };

    return ota_sql_txn_retry(db, device_txn, device_reset, &j, why, p);
}

apr_status_t ota_store_device_forget(int *found, ota_db *db,
                                     const char *udid,
                                     const ota_audit_entry *audit,
                                     const char **why, apr_pool_t *p)
{
    device_job j = { found, NULL, udid, audit, 1 };

    return ota_sql_txn_retry(db, device_txn, device_reset, &j, why, p);
}
