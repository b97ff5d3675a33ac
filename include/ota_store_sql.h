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

/* Commits (rv APR_SUCCESS and commit) or rolls back. */
apr_status_t ota_sql_txn_end(ota_db *db, apr_dbd_transaction_t *trans,
                             apr_status_t rv, int commit, const char **why,
                             apr_pool_t *p);

/* 1 when a write that found sqlite3 locked should run again (after a
 * short random pause); attempt counts from 0. */
int ota_sql_again(ota_db *db, apr_status_t rv, int attempt);

/* Inside the transaction that adds rec: revokes the device's other
 * unrevoked certificates as superseded, pushing their serials to
 * rec->superseded (ota_store_revoke.c). */
apr_status_t ota_store_supersede(ota_db *db,
                                 const ota_certificate_record *rec,
                                 apr_int64_t now, const char **why,
                                 apr_pool_t *p);

#endif
