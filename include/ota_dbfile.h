/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The sqlite3 database file under a running server (ota_dbfile.c): which
 * file a path names now (device and inode, so a file deleted or replaced
 * under open connections is noticed), what a driver's error message says
 * about the disk, and which of the database's files this process cannot
 * write. Pure C over APR and POSIX: no httpd calls. */
#ifndef OTA_DBFILE_H
#define OTA_DBFILE_H

#include <apr_pools.h>

/* A file by identity, not by name. */
typedef struct ota_dbfile_id {
    int found;                /* 0: nothing at the path */
    apr_uint64_t dev;
    apr_uint64_t ino;
} ota_dbfile_id;

/* What path names now: found 0 when there is no such file. A stat()
 * failure other than "no such file" is returned (id->found 0). */
apr_status_t ota_dbfile_id_of(ota_dbfile_id *id, const char *path);

/* 1 when both name the same existing file. */
int ota_dbfile_id_same(const ota_dbfile_id *a, const ota_dbfile_id *b);

/* 1 when sqlite3 connection parameters name a file by its path: not "",
 * ":memory:" or a "file:" URI. */
int ota_dbfile_is_path(const char *params);

typedef enum {
    OTA_DBFILE_ERROR_OTHER = 0,
    OTA_DBFILE_ERROR_READONLY,    /* SQLITE_READONLY, _CANTOPEN, _PERM */
    OTA_DBFILE_ERROR_DISK,        /* SQLITE_FULL, SQLITE_IOERR */
    OTA_DBFILE_ERROR_DAMAGED      /* SQLITE_CORRUPT, SQLITE_NOTADB */
} ota_dbfile_error;

/* The kind of a database error, from sqlite3's message in why (as
 * ota_store's errors carry it: "what: message"); OTHER for anything else,
 * NULL included. */
ota_dbfile_error ota_dbfile_error_kind(const char *why);

/* The database's files this process cannot write: path, path-wal and
 * path-shm (those that exist) and their directory, each as "FILE (owner
 * USER, mode 0NNN)" or "FILE (read-only file system)", joined by ", ";
 * NULL when all of them are writable. */
const char *ota_dbfile_unwritable(const char *path, apr_pool_t *p);

/* Below this many bytes free, the file system is full for the store. */
#define OTA_DBFILE_MIN_FREE (64 * 1024)

/* The bytes this process may still write on the file system of path's
 * directory, or the statvfs() error. */
apr_status_t ota_dbfile_space(apr_uint64_t *avail, const char *path,
                              apr_pool_t *p);

#endif
