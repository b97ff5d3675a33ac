/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Enrollment state behind apr_dbd (mod_dbd hands the connection in).
 * Statements use apr_dbd's portable %s/%d placeholders so the same SQL runs
 * on sqlite3 and pgsql. Pure APR: unit tests open sqlite3 directly. */
#ifndef OTA_STORE_H
#define OTA_STORE_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_dbd.h>
#include <apr_time.h>

#include "ota_revoked.h"

typedef struct ota_store_statement {
    const char *label;
    const char *sql;
} ota_store_statement;

/* NULL-label-terminated list. The tables must exist before any of these
 * can be prepared, so rather than ap_dbd_prepare() the glue should call
 * ota_store_connection_init() on each connection it acquires. */
extern const ota_store_statement ota_store_statements[];

/* Statements whose SQL differs between sqlite3 and PostgreSQL (pgsql
 * NULL: the same), prepared with the others. */
typedef struct ota_store_driver_statement {
    const char *label;
    const char *sqlite;
    const char *pgsql;
} ota_store_driver_statement;

extern const ota_store_driver_statement ota_store_driver_statements[];

/* An optional lock every write of the registry takes before it starts
 * (before apr_dbd's BEGIN or single statement) and releases once it
 * committed or rolled back, on every path: the glue's process-wide mutex
 * for sqlite3, so that writers queue for it instead of sleeping in
 * apr_dbd's retry loop. */
typedef struct ota_db_lock {
    apr_status_t (*acquire)(void *baton);
    apr_status_t (*release)(void *baton);
    void *baton;
} ota_db_lock;

typedef struct ota_db {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;     /* label -> apr_dbd_prepared_t * */
    int locked;               /* the last error was sqlite3's "locked" */
    const ota_db_lock *lock;  /* NULL: none (PostgreSQL keeps row locks) */
    int lock_held;            /* taken by this connection now */
} ota_db;

/* Creates the tables if missing. Safe to run from several processes. */
apr_status_t ota_store_schema(ota_db *db, const char **why, apr_pool_t *p);

/* Prepares every statement not yet in db->prepared (created if NULL).
 * p must live as long as the connection. */
apr_status_t ota_store_prepare_all(ota_db *db, const char **why,
                                   apr_pool_t *p);

/* Readies a connection, once: on sqlite3 sets a busy timeout (else a
 * concurrent writer makes prepare fail with "database is locked"), then
 * runs the schema and prepare_all. Returns at once when every statement is
 * already prepared. With mod_dbd: db->prepared = ap_dbd_t.prepared and
 * p = ap_dbd_t.pool. */
apr_status_t ota_store_connection_init(ota_db *db, const char **why,
                                       apr_pool_t *p);

apr_status_t ota_store_challenge_add(ota_db *db, const char *challenge,
                                     const char *user, apr_time_t now,
                                     apr_interval_time_t lifetime,
                                     const char **why, apr_pool_t *p);

typedef enum {
    OTA_CHALLENGE_OK = 0,
    OTA_CHALLENGE_UNKNOWN,
    OTA_CHALLENGE_EXPIRED,
    OTA_CHALLENGE_USED,
    OTA_CHALLENGE_WRONG_USER,
    OTA_CHALLENGE_DEVICE_BOUND    /* the UDID is another user's device */
} ota_challenge_verdict;

const char *ota_challenge_verdict_name(ota_challenge_verdict v);

typedef struct ota_device_record {
    const char *udid;
    const char *serial;
    const char *product;
    const char *version;
    const char *user;         /* filled from the challenge when NULL */
    /* When set, a one-time SCEP challenge bound to this device and the
     * subject it was told to request is stored in the same transaction. */
    const char *scep_challenge;
    const char *scep_subject;
    apr_interval_time_t scep_lifetime;
    const char *scep_san;     /* ota_san_canonical() form; NULL or "": none */
    const char *identity;     /* the device identity's public key digest */
    /* out: the user the device was recorded for before (NULL: none), and
     * whether that user now comes with another device identity */
    const char *bound_user;
    int identity_changed;
} ota_device_record;

/* The user a phase-1 challenge was issued to, NULL when none (or when the
 * challenge is unknown). Consumes nothing. */
apr_status_t ota_store_challenge_owner(const char **owner, ota_db *db,
                                      const char *challenge,
                                      const char **why, apr_pool_t *p);

/* Redeems a challenge for a device: in one transaction, consumes the
 * challenge (once, atomically) and records the device. user is the
 * phase-2 request's authenticated user or NULL. On any verdict other than
 * OTA_CHALLENGE_OK nothing is changed. Returns an error status only when
 * the database failed. */
apr_status_t ota_store_challenge_redeem(ota_challenge_verdict *verdict,
                                        ota_db *db, const char *challenge,
                                        const char *user, apr_time_t now,
                                        ota_device_record *device,
                                        const char **why, apr_pool_t *p);

/* ---- the built-in CA's registry ---- */

typedef struct ota_scep_challenge_row {
    int found;
    int used;
    apr_time_t expires;
    const char *udid;
    const char *subject;      /* ota_subject_canonical() form */
    const char *san;          /* ota_san_canonical() form, NULL: none */
} ota_scep_challenge_row;

/* Looks a SCEP challenge up without consuming it. */
apr_status_t ota_store_scep_challenge_get(ota_scep_challenge_row *row,
                                          ota_db *db, const char *challenge,
                                          const char **why, apr_pool_t *p);

typedef struct ota_certificate_record {
    const char *serial;           /* upper-case hex */
    const char *transaction_id;
    const char *udid;             /* NULL when not tied to a device */
    const char *subject;
    apr_time_t not_after;
    apr_time_t revoked;           /* 0: not revoked */
    const char *pem;
    const char *requester;        /* SHA-256 hex of the requesting signer's
                                   * public key; NULL in rows from before */
    const char *user;             /* who the device enrolled for */
    /* ota_store_certificate_add: when set, the device's other unrevoked
     * certificates are revoked as superseded in the same transaction,
     * their serials pushed here (const char *). */
    apr_array_header_t *superseded;
} ota_certificate_record;

typedef enum {
    OTA_ISSUE_OK = 0,
    OTA_ISSUE_CHALLENGE_GONE,     /* used or expired meanwhile */
    OTA_ISSUE_REPLAY              /* transaction already has a certificate */
} ota_issue_verdict;

/* Records an issued certificate: in one transaction, consumes the SCEP
 * challenge (when not NULL), refuses a transaction that already has a
 * certificate, stores the certificate and moves the device to phase 3
 * (certificate issued). Nothing changes unless the verdict is OK. */
apr_status_t ota_store_certificate_add(ota_issue_verdict *verdict,
                                       ota_db *db,
                                       const char *scep_challenge,
                                       const ota_certificate_record *rec,
                                       apr_time_t now, const char **why,
                                       apr_pool_t *p);

/* Finds a certificate by "transaction" id or by "serial"; *out is NULL
 * when there is none. */
apr_status_t ota_store_certificate_find(ota_certificate_record **out,
                                        ota_db *db, const char *by,
                                        const char *key, const char **why,
                                        apr_pool_t *p);

/* ---- phase 3 ---- */

/* Phases: 2 attributes accepted, 3 certificate issued (built-in CA),
 * 4 enrolled (final profile sent). */
typedef struct ota_device_state {
    const char *user;
    int phase;
    apr_time_t phase2_at;
    const char *cert_serial;
    const char *identity;         /* public key digest of its phase-2 signer */
} ota_device_state;

/* *out is NULL when the device is unknown. */
apr_status_t ota_store_device_get(ota_device_state **out, ota_db *db,
                                  const char *udid, const char **why,
                                  apr_pool_t *p);

/* Phase 4: the final profile went to the device holding serial. */
apr_status_t ota_store_device_enrolled(ota_db *db, const char *udid,
                                       const char *serial, apr_time_t now,
                                       const char **why, apr_pool_t *p);

/* Counts, for tests and the status page: "challenge", "challenge_used",
 * "device", "scep_challenge", "scep_challenge_used", "certificate". */
apr_status_t ota_store_count(int *count, ota_db *db, const char *table,
                             const char **why, apr_pool_t *p);

/* ---- the status page (ota_store_list.c) ---- */

/* A device as the status page lists it: never a challenge or a key. */
typedef struct ota_device_summary {
    const char *udid;
    const char *serial;
    const char *product;
    const char *version;
    const char *user;
    int phase;
    const char *cert_serial;      /* NULL when none */
    apr_time_t cert_not_after;    /* 0: unknown (not in the registry:
                                   * an external CA's certificate) */
    apr_time_t cert_revoked;      /* 0: not revoked */
    apr_time_t last_seen;
    apr_int64_t id;               /* the order devices were recorded in */
} ota_device_summary;

/* Searches need this many characters: each is looked up in a trigram
 * index (sqlite3's FTS5 trigram tokenizer, PostgreSQL's pg_trgm). */
#define OTA_STORE_SEARCH_MIN 3
/* A search counts at most this many matching devices. */
#define OTA_STORE_COUNT_CAP 1000

/* Where a page of devices starts: after the device with this key. The
 * listing is ordered by last seen, then UDID, both descending: its key is
 * (n = last seen in seconds, udid). A search is ordered by the device's
 * id, descending (the devices recorded last first): its key is n = id.
 * A NULL cursor starts at the beginning. */
typedef struct ota_device_cursor {
    apr_int64_t n;
    const char *udid;
} ota_device_cursor;

/* The cursor of the page after one that ended with d. */
void ota_store_cursor_after(ota_device_cursor *c, const ota_device_summary *d,
                            int search);

/* At most limit devices after the cursor: whose UDID, serial, product,
 * user or certificate serial contains q (case-insensitive; "" matches
 * every device, otherwise at least OTA_STORE_SEARCH_MIN characters; '%'
 * and '_' are plain characters) and whose phase is phase (0: any). *more
 * is 1 when devices follow. One SELECT through an index (no OFFSET, no
 * sort of the matches), the certificates LEFT JOINed by serial. *out
 * holds ota_device_summary. */
apr_status_t ota_store_device_page(apr_array_header_t **out, int *more,
                                   ota_db *db, const char *q, int phase,
                                   const ota_device_cursor *after, int limit,
                                   const char **why, apr_pool_t *p);

/* Rows per table and devices per phase, from the tallies the triggers of
 * schema 6 keep (one row, or 16 on PostgreSQL: no scan). */
typedef struct ota_store_tally {
    apr_int64_t challenges;
    apr_int64_t scep_challenges;
    apr_int64_t devices;
    apr_int64_t certificates;
    apr_int64_t pending;
    apr_int64_t audit;
    apr_int64_t phase[5];         /* devices in phases 0 to 4 */
} ota_store_tally;

apr_status_t ota_store_tally_get(ota_store_tally *t, ota_db *db,
                                 const char **why, apr_pool_t *p);

/* counts[0..max] (zeroed first): the devices in each phase; with q (as
 * above), those matching it, among the first OTA_STORE_COUNT_CAP matches
 * (*capped 1 when there were more). Without q from the tallies. */
apr_status_t ota_store_device_phases(int *counts, int max, int *capped,
                                     ota_db *db, const char *q,
                                     const char **why, apr_pool_t *p);

/* ---- retention (ota_store_list.c) ---- */

/* Deletes at most limit phase-1 ("challenge") or SCEP ("scep_challenge")
 * challenges, used or not, that expired before `before`; *deleted: how
 * many. Takes the write lock, in a transaction of its own. */
apr_status_t ota_store_purge(int *deleted, ota_db *db, const char *table,
                             apr_time_t before, int limit, const char **why,
                             apr_pool_t *p);

/* ---- revocation (ota_store_revoke.c) ---- */

typedef struct ota_cert_status {
    int found;                    /* issued here */
    apr_time_t revoked;           /* 0: not revoked */
    int reason;
    const char *udid;
} ota_cert_status;

/* One certificate's status by serial (upper-case hex): OCSP's lookup. */
apr_status_t ota_store_certificate_status(ota_cert_status *st, ota_db *db,
                                          const char *serial,
                                          const char **why, apr_pool_t *p);

typedef enum {
    OTA_REVOKE_DONE = 0,
    OTA_REVOKE_ALREADY,           /* revoked before: nothing changed */
    OTA_REVOKE_UNKNOWN            /* no such certificate or device */
} ota_revoke_verdict;

/* Revokes one certificate (once: an earlier revocation keeps its time
 * and reason). */
apr_status_t ota_store_revoke_serial(ota_revoke_verdict *verdict,
                                     ota_db *db, const char *serial,
                                     int reason, apr_time_t now,
                                     const char **why, apr_pool_t *p);

/* Revokes every unrevoked certificate of a device, in one transaction;
 * *serials: those revoked now (const char *). OTA_REVOKE_UNKNOWN when the
 * registry has neither the device nor a certificate of it. */
apr_status_t ota_store_revoke_device(ota_revoke_verdict *verdict,
                                     apr_array_header_t **serials,
                                     ota_db *db, const char *udid,
                                     int reason, apr_time_t now,
                                     const char **why, apr_pool_t *p);

/* Every revoked certificate (ota_revoked), for the CRL. */
apr_status_t ota_store_revoked_all(apr_array_header_t **out, ota_db *db,
                                   const char **why, apr_pool_t *p);

/* The CRL every server serves, one row per CA (its key id in hex). */
typedef struct ota_crl_row {
    int found;
    apr_int64_t number;
    apr_time_t this_update;
    apr_time_t next_update;
    const char *der_base64;
} ota_crl_row;

/* The CA's stored CRL; with_der 0 reads all but its DER (cheap, to see
 * whether a cached copy is current). */
apr_status_t ota_store_crl_get(ota_crl_row *row, ota_db *db, const char *ca,
                               int with_der, const char **why, apr_pool_t *p);

/* Every stored CRL is due: rebuilt at its next fetch (after a
 * revocation by a server that does not hold the CA). */
apr_status_t ota_store_crl_due(ota_db *db, const char **why, apr_pool_t *p);

/* Stores row as the CA's CRL if the stored one is still prior (0: none
 * stored): of servers racing, one wins (*stored 1), the others keep
 * theirs unstored and read the winner's. */
apr_status_t ota_store_crl_put(int *stored, ota_db *db, const char *ca,
                               apr_int64_t prior, const ota_crl_row *row,
                               const char **why, apr_pool_t *p);

#endif
