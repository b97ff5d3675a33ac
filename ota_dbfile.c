/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The sqlite3 database file under a running server: identities by device
 * and inode, sqlite3's error messages sorted by what fixes them, and the
 * files a read-only database leaves unwritable. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <apr_errno.h>
#include <apr_strings.h>
#include <apr_user.h>

#include "ota_dbfile.h"

apr_status_t ota_dbfile_id_of(ota_dbfile_id *id, const char *path)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (stat(path, &st) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? APR_SUCCESS
                                                   : APR_FROM_OS_ERROR(errno);
    }
    id->found = 1;
    id->dev = (apr_uint64_t)st.st_dev;
    id->ino = (apr_uint64_t)st.st_ino;
    return APR_SUCCESS;
}

int ota_dbfile_id_same(const ota_dbfile_id *a, const ota_dbfile_id *b)
{
    return a->found && b->found && a->dev == b->dev && a->ino == b->ino;
}

int ota_dbfile_is_path(const char *params)
{
    return params && *params && strcmp(params, ":memory:")
           && strncmp(params, "file:", 5);
}

/* sqlite3's messages (sqlite3ErrStr) for the codes each kind covers. */
static const struct {
    const char *text;
    ota_dbfile_error kind;
} messages[] = {
    { "attempt to write a readonly database", OTA_DBFILE_ERROR_READONLY },
    { "unable to open database file", OTA_DBFILE_ERROR_READONLY },
    { "access permission denied", OTA_DBFILE_ERROR_READONLY },
    { "database or disk is full", OTA_DBFILE_ERROR_DISK },
    { "disk I/O error", OTA_DBFILE_ERROR_DISK },
    { "database disk image is malformed", OTA_DBFILE_ERROR_DAMAGED },
    { "file is not a database", OTA_DBFILE_ERROR_DAMAGED },
    { NULL, OTA_DBFILE_ERROR_OTHER }
};

ota_dbfile_error ota_dbfile_error_kind(const char *why)
{
    int i;

    if (!why) {
        return OTA_DBFILE_ERROR_OTHER;
    }
    for (i = 0; messages[i].text; i++) {
        if (strstr(why, messages[i].text)) {
            return messages[i].kind;
        }
    }
    return OTA_DBFILE_ERROR_OTHER;
}

/* Why this process cannot write file, NULL when it can (or when an
 * optional file is not there). */
static const char *unwritable(const char *file, int optional, apr_pool_t *p)
{
    struct stat st;
    char *owner = NULL;
    char err[120];

    if (access(file, W_OK) == 0) {
        return NULL;
    }
    if (errno == ENOENT && optional) {
        return NULL;
    }
    if (errno == EROFS) {
        return apr_pstrcat(p, file, " (read-only file system)", NULL);
    }
    if (errno != EACCES || stat(file, &st) != 0) {
        apr_strerror(APR_FROM_OS_ERROR(errno), err, sizeof(err));
        return apr_pstrcat(p, file, " (", err, ")", NULL);
    }
    if (apr_uid_name_get(&owner, st.st_uid, p) != APR_SUCCESS) {
        owner = apr_psprintf(p, "uid %ld", (long)st.st_uid);
    }
    return apr_psprintf(p, "%s (owner %s, mode %04o)", file, owner,
                        (unsigned)(st.st_mode & 07777));
}

/* The directory path is in. */
static const char *dir_of(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');

    return !slash ? "." : slash == path ? "/"
                        : apr_pstrmemdup(p, path, slash - path);
}

const char *ota_dbfile_unwritable(const char *path, apr_pool_t *p)
{
    const char *files[4], *why, *out = NULL;
    int i;

    files[0] = path;
    files[1] = apr_pstrcat(p, path, "-wal", NULL);
    files[2] = apr_pstrcat(p, path, "-shm", NULL);
    files[3] = dir_of(path, p);
    for (i = 0; i < 4; i++) {
        /* -wal and -shm exist only while the database is open */
        if ((why = unwritable(files[i], i == 1 || i == 2, p))) {
            out = out ? apr_pstrcat(p, out, ", ", why, NULL) : why;
        }
    }
    return out;
}

apr_status_t ota_dbfile_space(apr_uint64_t *avail, const char *path,
                              apr_pool_t *p)
{
    struct statvfs vfs;

    *avail = 0;
    if (statvfs(dir_of(path, p), &vfs) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    *avail = (apr_uint64_t)vfs.f_bavail * (apr_uint64_t)vfs.f_frsize;
    return APR_SUCCESS;
}
