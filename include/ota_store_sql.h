/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared by the registry's own files (ota_store*.c) only: prepared
 * statements, errors, transactions and the sqlite3 retry. */
#ifndef OTA_STORE_SQL_H
#define OTA_STORE_SQL_H

#include "ota_store.h"

/* The prepared statement of a label, NULL when not prepared. */
apr_dbd_prepared_t *ota_sql_statement(ota_db *db, const char *label);

/* The driver's message for rc, copied into *why ("what: message"); notes
 * whether sqlite3 was locked. Returns APR_EGENERAL. */
apr_status_t ota_sql_error(ota_db *db, int rc, const char *what,
                           const char **why, apr_pool_t *p);

/* Sets *why to msg and returns rv. */
apr_status_t ota_sql_fail(apr_status_t rv, const char *msg, const char **why);

/* Reads past the last row (a result left open keeps pgsql busy). */
void ota_sql_drain(ota_db *db, apr_dbd_results_t *res, apr_dbd_row_t **row,
                   apr_pool_t *p);

/* Takes db->lock (when there is one) for a write: before its BEGIN or its
 * single statement. An error when the lock could not be taken (nothing is
 * held then). */
apr_status_t ota_sql_write_lock(ota_db *db, const char **why, apr_pool_t *p);

/* Releases what ota_sql_write_lock took; nothing when nothing is held. */
void ota_sql_write_unlock(ota_db *db);

/* ota_sql_write_lock, then apr_dbd's BEGIN. ota_sql_txn_end, which every
 * started transaction ends with (also when this failed), releases it. */
apr_status_t ota_sql_txn_start(ota_db *db, apr_dbd_transaction_t **trans,
                               const char **why, apr_pool_t *p);

/* Commits (rv APR_SUCCESS and commit) or rolls back, then releases the
 * write lock. */
apr_status_t ota_sql_txn_end(ota_db *db, apr_dbd_transaction_t *trans,
                             apr_status_t rv, int commit, const char **why,
                             apr_pool_t *p);

/* 1 when a write that found sqlite3 locked should run again (after a
 * short random pause, with the write lock released); attempt counts from
 * 0. With the glue's write lock this is rare: only writers that do not
 * take it (another program on the same file) can hold sqlite's. */
int ota_sql_again(ota_db *db, apr_status_t rv, int attempt);

/* ---- what differs between sqlite3 and PostgreSQL (ota_store_scale.c) ---- */

int ota_store_is_pgsql(const ota_db *db);

/* The statements of migration `version` that only one driver runs, after
 * those both run; an empty list when there are none. */
const char *const *ota_store_migration_driver(ota_db *db, int version);

/* Prepares ota_store_driver_statements not yet in db->prepared, each in
 * its driver's SQL. */
apr_status_t ota_store_prepare_driver(ota_db *db, const char **why,
                                      apr_pool_t *p);

/* Inside the transaction that adds rec: revokes the device's other
 * unrevoked certificates as superseded, pushing their serials to
 * rec->superseded (ota_store_revoke.c). */
apr_status_t ota_store_supersede(ota_db *db,
                                 const ota_certificate_record *rec,
                                 apr_int64_t now, const char **why,
                                 apr_pool_t *p);

#endif
