/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared by the registry's own files (ota_store*.c) only: prepared
 * statements, reading rows, writes, transactions and the sqlite3 retry. */
#ifndef OTA_STORE_SQL_H
#define OTA_STORE_SQL_H

#include "ota_store.h"

/* The prepared statement of a label, NULL when not prepared. */
apr_dbd_prepared_t *ota_sql_statement(ota_db *db, const char *label);

/* Prepares sql under label unless a statement of that label is prepared
 * already (unlabelled: see ota_store_prepare_all). */
apr_status_t ota_sql_prepare(ota_db *db, const char *label, const char *sql,
                             const char **why, apr_pool_t *p);

/* The driver's message for rc, copied into *why ("what: message"); notes
 * whether sqlite3 was locked. Returns APR_EGENERAL. */
apr_status_t ota_sql_error(ota_db *db, int rc, const char *what,
                           const char **why, apr_pool_t *p);

/* Sets *why to msg and returns rv. */
apr_status_t ota_sql_fail(apr_status_t rv, const char *msg, const char **why);

/* ---- reading ---- */

/* A select's result and the row last read from it. */
typedef struct ota_sql_rows {
    ota_db *db;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    apr_pool_t *p;
} ota_sql_rows;

/* Runs the select of label with args, the pointers apr_dbd_pvbselect
 * would take, in an array (NULL when there are none); what names it in an
 * error ("what: driver message"). A missing statement is an error too. */
apr_status_t ota_sql_select(ota_sql_rows *r, ota_db *db, const char *label,
                            const void **args, const char *what,
                            const char **why, apr_pool_t *p);

/* Reads the next row: 1, or 0 past the last. */
int ota_sql_next(ota_sql_rows *r);

/* Copies the columns of the row read last into out[i] (NULL: skipped),
 * each as spec[i] says: 't' text into a const char * (copied into the
 * pool, NULL when NULL), 'n' a number into an apr_int64_t, 'i' one into an
 * int, 's' a time stored in seconds into an apr_time_t (numbers and times
 * 0 when NULL), 'u' into an int: 1 unless NULL. */
void ota_sql_columns(const ota_sql_rows *r, const char *spec,
                     void *const *out);

/* Reads past the last row, once the values needed are copied: a result
 * left open keeps pgsql busy, and its values go with it. */
void ota_sql_done(ota_sql_rows *r);

/* ota_sql_select, then its first row's columns as ota_sql_columns reads
 * them; *found 0 (out untouched) when there is no row. */
apr_status_t ota_sql_select_one(int *found, ota_db *db, const char *label,
                                const void **args, const char *spec,
                                void *const *out, const char *what,
                                const char **why, apr_pool_t *p);

/* Reads the row read last into elt, an element of an array. */
typedef void ota_sql_row_fn(void *elt, const ota_sql_rows *r);

/* ota_sql_select, each row read into a new element of out. */
apr_status_t ota_sql_select_all(apr_array_header_t *out,
                                ota_sql_row_fn *read, ota_db *db,
                                const char *label, const void **args,
                                const char *what, const char **why,
                                apr_pool_t *p);

/* ---- writing ---- */

/* Takes db->lock (when there is one) for a write: before its BEGIN or its
 * single statement. An error when the lock could not be taken (nothing is
 * held then). */
apr_status_t ota_sql_write_lock(ota_db *db, const char **why, apr_pool_t *p);

/* Releases what ota_sql_write_lock took; nothing when nothing is held. */
void ota_sql_write_unlock(ota_db *db);

/* Runs the statement of label with args (as ota_sql_select) under the
 * write lock, which a transaction already holds; *nrows: the rows it
 * changed. */
apr_status_t ota_sql_write(int *nrows, ota_db *db, const char *label,
                           const void **args, const char *what,
                           const char **why, apr_pool_t *p);

/* One attempt of a write, run again by ota_sql_retry. */
typedef apr_status_t ota_sql_attempt_fn(void *job, ota_db *db,
                                        const char **why, apr_pool_t *p);

/* Runs attempt until it succeeds, fails for another reason than a locked
 * sqlite3, or has been tried long enough. With the glue's write lock a
 * locked sqlite3 is rare: only writers that do not take it (another
 * program on the same file) can hold sqlite's. */
apr_status_t ota_sql_retry(ota_db *db, ota_sql_attempt_fn *attempt,
                           void *job, const char **why, apr_pool_t *p);

/* ota_sql_write, retried as ota_sql_retry does. */
apr_status_t ota_sql_write_retried(int *nrows, ota_db *db, const char *label,
                                   const void **args, const char *what,
                                   const char **why, apr_pool_t *p);

/* The statements of one transaction; *commit (0 on entry) set to 1 keeps
 * them, which an error never does. */
typedef apr_status_t ota_sql_txn_fn(int *commit, void *job, ota_db *db,
                                    const char **why, apr_pool_t *p);

/* Runs txn in a transaction of its own (under the write lock), again as
 * ota_sql_retry does. reset, when not NULL, first puts job's outputs back
 * as they were before any attempt, each time. */
apr_status_t ota_sql_txn_retry(ota_db *db, ota_sql_txn_fn *txn,
                               void (*reset)(void *job), void *job,
                               const char **why, apr_pool_t *p);

/* ---- what differs between sqlite3 and PostgreSQL (ota_store_scale.c) ---- */

int ota_store_is_pgsql(const ota_db *db);

/* The statements of migration `version` that only one driver runs, after
 * those both run; an empty list when there are none. */
const char *const *ota_store_migration_driver(ota_db *db, int version);

/* Prepares ota_store_driver_statements not yet in db->prepared, each in
 * its driver's SQL. */
apr_status_t ota_store_prepare_driver(ota_db *db, const char **why,
                                      apr_pool_t *p);

/* ---- shared by the writes of several files ---- */

/* Inside the transaction that uses it: consumes the SCEP challenge of
 * digest (NULL: none to consume); *gone 1 when it was used or had expired
 * (ota_store.c). */
apr_status_t ota_store_scep_consume(int *gone, ota_db *db, const char *digest,
                                    apr_int64_t now, const char **why,
                                    apr_pool_t *p);

/* Inside the transaction that adds rec: revokes the device's other
 * unrevoked certificates as superseded, pushing their serials to
 * rec->superseded (ota_store_revoke.c). */
apr_status_t ota_store_supersede(ota_db *db,
                                 const ota_certificate_record *rec,
                                 apr_int64_t now, const char **why,
                                 apr_pool_t *p);

#endif
