/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The registry's housekeeping (mod_ota_enroll_registry.c): the write lock
 * that queues sqlite3 writers across the server's processes and threads
 * (an APR global mutex, "ota-enroll-db" for the Mutex directive), and the
 * retention purge, a background pass that deletes old challenges. Used by
 * mod_ota_enroll_request.c's ota_db_open and by the module root. */
#ifndef MOD_OTA_ENROLL_REGISTRY_H
#define MOD_OTA_ENROLL_REGISTRY_H

#include "httpd.h"

#include "ota_store.h"

/* The name of the write lock for the Mutex directive. */
#define OTA_DB_MUTEX "ota-enroll-db"

/* register_hooks: pre_config (the mutex type), post_config (the mutex,
 * the purge's schedule), child_init (the mutex in the child, the purge's
 * thread). */
void ota_registry_register_hooks(apr_pool_t *p);

/* Gives a sqlite3 connection the write lock (others none). Every
 * connection the module uses goes through here before its first write. */
void ota_registry_attach(ota_db *db);

#endif
