/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The database under a running server (mod_ota_enroll_dbcheck.c): each
 * sqlite3 connection mod_dbd opens is tied to the file it opened, and
 * every request checks that this file is still the one at DBDParams and
 * the one the server started with; database errors are told apart
 * (read-only, disk, damaged) and answered with 503 and Retry-After. Used
 * by mod_ota_enroll_request.c's ota_db_open/ota_db_failed and by the
 * status page. */
#ifndef MOD_OTA_ENROLL_DBCHECK_H
#define MOD_OTA_ENROLL_DBCHECK_H

#include "httpd.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

/* Seconds a client is told to wait after a database failure. */
#define OTA_DB_RETRY_AFTER "30"

/* register_hooks: mod_dbd's post_connect, where each new connection is
 * tied to its file. */
void ota_dbcheck_register_hooks(apr_pool_t *p);

/* post_config: the sqlite3 files this server starts with (every
 * DBDParams naming an existing file). */
int ota_dbcheck_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                            server_rec *s);

/* OK when dbd's file is the server's and still at its path (a connection
 * on another file is reopened on it when it is back); else 503, logged
 * (OTA00005 gone, OTA00006 replaced). Not sqlite3: OK. */
int ota_dbcheck_connection(request_rec *r, ap_dbd_t *dbd);

/* A failed statement or transaction: logged with what fixes it
 * (OTA00007 read-only, OTA00008 disk, OTA00009 damaged, else OTA00014);
 * returns 503. */
int ota_dbcheck_error(request_rec *r, const char *why);

/* 503 with Retry-After, id and reason noted for the status page (the
 * caller logged it). */
int ota_dbcheck_unavailable(request_rec *r, const char *id,
                            const char *reason);

/* 1 when the store is failing for this request: a failure answered with
 * 503 above, or (sqlite3) files the server cannot write; *id and *reason
 * say which. */
int ota_dbcheck_store_failing(request_rec *r, const char **id,
                              const char **reason);

#endif
