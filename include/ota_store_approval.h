/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's side of the registry (ota_store_approval.c):
 * certificate requests held for approval (OTAEnrollSCEPApproval manual),
 * the decisions on them, releasing and forgetting devices, and the audit
 * of every admin action, all in the shared store so that every server of
 * a cluster sees the same. Pure APR over apr_dbd, like ota_store.c. */
#ifndef OTA_STORE_APPROVAL_H
#define OTA_STORE_APPROVAL_H

#include "ota_store.h"

#define OTA_DECISION_APPROVED "approved"
#define OTA_DECISION_REJECTED "rejected"

/* One admin action, as the audit keeps it. */
typedef struct ota_audit_entry {
    apr_time_t at;
    const char *admin;            /* REMOTE_USER */
    const char *remote;           /* the client's address */
    const char *action;           /* "revoke", "approve", ... */
    const char *udid;             /* NULL when none */
    const char *serial;
    const char *transaction_id;
    const char *detail;
} ota_audit_entry;

/* A certificate request held for an administrator. */
typedef struct ota_pending_record {
    const char *transaction_id;
    const char *udid;             /* NULL: not tied to a device (static
                                   * challenge) */
    const char *subject;          /* the CSR's subject, RFC 2253 text */
    const char *san;              /* the names bound to the device
                                   * (ota_san_canonical form), or NULL */
    const char *user;             /* the device's user when it was held */
    const char *product;
    const char *requester;        /* SHA-256 hex of the signer's key */
    const char *csr;              /* PEM */
    apr_time_t requested;
    apr_time_t expires;
    apr_time_t decided;           /* 0: undecided */
    const char *decision;         /* OTA_DECISION_*, NULL: undecided */
    const char *decided_by;
} ota_pending_record;

typedef enum {
    OTA_PENDING_OPEN = 0,         /* waiting for a decision */
    OTA_PENDING_APPROVED,
    OTA_PENDING_REJECTED,
    OTA_PENDING_EXPIRED           /* undecided past its expiry */
} ota_pending_state;

ota_pending_state ota_pending_state_of(const ota_pending_record *rec,
                                       apr_time_t now);

/* Holds a request: in one transaction, consumes the SCEP challenge (when
 * not NULL), refuses a transaction that already has a certificate or a
 * held request (OTA_ISSUE_REPLAY), fills rec->user and rec->product from
 * the device's row, and stores it. Nothing changes unless the verdict is
 * OK. */
apr_status_t ota_store_pending_add(ota_issue_verdict *verdict, ota_db *db,
                                   const char *scep_challenge,
                                   ota_pending_record *rec, apr_time_t now,
                                   const char **why, apr_pool_t *p);

/* The held request of a transaction; *out NULL when there is none. */
apr_status_t ota_store_pending_get(ota_pending_record **out, ota_db *db,
                                   const char *transaction_id,
                                   const char **why, apr_pool_t *p);

/* The requests still waiting at now, oldest first, at most limit
 * (ota_pending_record, without their CSRs). */
apr_status_t ota_store_pending_open(apr_array_header_t **out, ota_db *db,
                                    apr_time_t now, int limit,
                                    const char **why, apr_pool_t *p);

typedef enum {
    OTA_DECIDE_DONE = 0,
    OTA_DECIDE_UNKNOWN,           /* no such request */
    OTA_DECIDE_DECIDED,           /* decided before: nothing changed */
    OTA_DECIDE_EXPIRED            /* not decided in time */
} ota_decide_verdict;

const char *ota_decide_verdict_name(ota_decide_verdict v);

/* Approves or rejects a waiting request and audits it (with the
 * request's device), in one transaction; of two admins deciding at once,
 * one wins. *rec (NULL when unknown): the request as it is now. */
apr_status_t ota_store_pending_decide(ota_decide_verdict *verdict,
                                      ota_pending_record **rec, ota_db *db,
                                      const char *transaction_id,
                                      int approve,
                                      const ota_audit_entry *audit,
                                      const char **why, apr_pool_t *p);

/* When the certificate serial was issued for an approved request: the
 * approval's time, else 0. */
apr_status_t ota_store_pending_approved_at(apr_time_t *decided, ota_db *db,
                                           const char *serial,
                                           const char **why, apr_pool_t *p);

/* Releases a device from its user, in one transaction with its audit:
 * the next phase 2 may bind it to anyone; its unused SCEP challenges are
 * retired. *found 0 for an unknown device (nothing changed); *prior_user
 * whom it was bound to (NULL: nobody). */
apr_status_t ota_store_device_release(int *found, const char **prior_user,
                                      ota_db *db, const char *udid,
                                      const ota_audit_entry *audit,
                                      const char **why, apr_pool_t *p);

/* Forgets a device, in one transaction with its audit: its row goes, its
 * unused SCEP challenges are retired and its waiting requests rejected.
 * Its certificates stay in the registry (the CRL and OCSP need them):
 * revoke them first. *found 0 for an unknown device. */
apr_status_t ota_store_device_forget(int *found, ota_db *db,
                                     const char *udid,
                                     const ota_audit_entry *audit,
                                     const char **why, apr_pool_t *p);

/* Adds one audit row (retried while sqlite3 is locked). */
apr_status_t ota_store_audit_add(ota_db *db, const ota_audit_entry *e,
                                 const char **why, apr_pool_t *p);

/* The latest audit rows, newest first, at most limit (ota_audit_entry). */
apr_status_t ota_store_audit_recent(apr_array_header_t **out, ota_db *db,
                                    int limit, const char **why,
                                    apr_pool_t *p);

#endif
