/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_dbfile: a database file followed by identity through rename,
 * replacement and deletion; sqlite3's messages sorted; the files a
 * read-only database leaves unwritable, as root's server user sees them. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "ota_dbfile.h"
#include "unit.h"

#define NOBODY 65534

static int contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static int touch(const char *file, mode_t mode)
{
    int fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0600);

    return fd >= 0 && close(fd) == 0 && chmod(file, mode) == 0;
}

static void test_identity(void)
{
    const char *db = scratch_file("ota.db");
    const char *moved = scratch_file("ota.db.moved");
    const char *other = scratch_file("other.db");
    ota_dbfile_id first, now;

    ok(touch(db, 0644) && touch(other, 0644), "files made");
    is_int(ota_dbfile_id_of(&first, db), APR_SUCCESS, "stat of the file");
    ok(first.found, "found");
    ota_dbfile_id_of(&now, db);
    ok(ota_dbfile_id_same(&first, &now), "the same file, asked twice");
    ok(rename(db, moved) == 0, "moved away");
    is_int(ota_dbfile_id_of(&now, db), APR_SUCCESS,
           "nothing at the path is not an error");
    ok(!now.found && !ota_dbfile_id_same(&first, &now), "gone");
    ota_dbfile_id_of(&now, moved);
    ok(ota_dbfile_id_same(&first, &now), "a rename keeps the identity");
    ok(rename(other, db) == 0, "another file renamed into place");
    ota_dbfile_id_of(&now, db);
    ok(now.found && !ota_dbfile_id_same(&first, &now),
       "a replaced file is another file");
    ok(rename(moved, db) == 0, "the first moved back");
    ota_dbfile_id_of(&now, db);
    ok(ota_dbfile_id_same(&first, &now), "back: the same file again");
    ota_dbfile_id_of(&now, scratch_file("ota.db/below"));
    ok(!now.found, "a path below a file: not found");
    memset(&first, 0, sizeof(first));
    memset(&now, 0, sizeof(now));
    ok(!ota_dbfile_id_same(&first, &now), "two missing files differ");
}

static void test_params(void)
{
    ok(ota_dbfile_is_path("/var/lib/ota-enroll/ota.db"), "a path");
    ok(ota_dbfile_is_path("ota.db"), "a relative path");
    ok(!ota_dbfile_is_path(""), "empty");
    ok(!ota_dbfile_is_path(NULL), "NULL");
    ok(!ota_dbfile_is_path(":memory:"), ":memory:");
    ok(!ota_dbfile_is_path("file:ota.db?mode=ro"), "a URI");
}

static void test_kinds(void)
{
    is_int(ota_dbfile_error_kind("storing challenge: attempt to write a "
                                 "readonly database"),
           OTA_DBFILE_ERROR_READONLY, "SQLITE_READONLY");
    is_int(ota_dbfile_error_kind("preparing x: unable to open database "
                                 "file"),
           OTA_DBFILE_ERROR_READONLY, "SQLITE_CANTOPEN");
    is_int(ota_dbfile_error_kind("x: database or disk is full"),
           OTA_DBFILE_ERROR_DISK, "SQLITE_FULL");
    is_int(ota_dbfile_error_kind("committing: disk I/O error"),
           OTA_DBFILE_ERROR_DISK, "SQLITE_IOERR");
    is_int(ota_dbfile_error_kind("reading schema version: file is not a "
                                 "database"),
           OTA_DBFILE_ERROR_DAMAGED, "SQLITE_NOTADB");
    is_int(ota_dbfile_error_kind("x: database disk image is malformed"),
           OTA_DBFILE_ERROR_DAMAGED, "SQLITE_CORRUPT");
    is_int(ota_dbfile_error_kind("x: database is locked"),
           OTA_DBFILE_ERROR_OTHER, "locked is none of them");
    is_int(ota_dbfile_error_kind(NULL), OTA_DBFILE_ERROR_OTHER, "NULL");
}

/* ota_dbfile_unwritable(path) as the user a server runs as: root may
 * write anything, so as root it runs in a child that became nobody. */
static const char *unwritable_as_server(const char *path)
{
    char buf[2048];
    const char *out;
    ssize_t n = 0, got;
    int fd[2], status;
    pid_t pid;

    if (geteuid() != 0) {
        return ota_dbfile_unwritable(path, pool);
    }
    if (pipe(fd) != 0 || (pid = fork()) < 0) {
        return "fork failed";
    }
    if (pid == 0) {
        close(fd[0]);
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
            _exit(2);
        }
        out = ota_dbfile_unwritable(path, pool);
        _exit(out && write(fd[1], out, strlen(out)) < 0 ? 3 : 0);
    }
    close(fd[1]);
    while ((got = read(fd[0], buf + n, sizeof(buf) - 1 - n)) > 0) {
        n += got;
    }
    close(fd[0]);
    waitpid(pid, &status, 0);
    buf[n] = '\0';
    return n ? apr_pstrdup(pool, buf) : NULL;
}

static void test_unwritable(void)
{
    const char *dir = scratch_file("ro");
    const char *db = apr_pstrcat(pool, dir, "/ota.db", NULL);
    const char *wal = apr_pstrcat(pool, db, "-wal", NULL);
    const char *shm = apr_pstrcat(pool, db, "-shm", NULL);
    const char *out;

    ok(chmod(scratch, 0755) == 0 && mkdir(dir, 0777) == 0
       && chmod(dir, 0777) == 0 && touch(db, 0666), "database made");
    ok(ota_dbfile_unwritable(db, pool) == NULL,
       "all writable by its owner (no -wal, no -shm)");
    ok(unwritable_as_server(db) == NULL, "and by the server's user");
    ok(chmod(db, 0444) == 0 && touch(wal, 0666) && touch(shm, 0444),
       "database and -shm made read-only, -wal writable");
    out = unwritable_as_server(db);
    ok(contains(out, apr_pstrcat(pool, db, " (owner ", NULL))
       && contains(out, "ota.db (owner ") && contains(out, ", mode 0444)"),
       "the database named with its owner and mode");
    ok(contains(out, "ota.db-shm (owner ") && !contains(out, "-wal"),
       "the -shm named, the writable -wal not");
    ok(contains(out, "), ") && !contains(out, "ro (owner"),
       "joined by commas; the writable directory not named");
    printf("# %s\n", out ? out : "(null)");
    ok(chmod(dir, 0755) == 0 && geteuid() == 0
       ? contains(unwritable_as_server(db), "ro (owner ")
       : 1, "a directory the server cannot write is named");
    ok(chmod(dir, 0777) == 0 && unlink(db) == 0 && unlink(wal) == 0
       && unlink(shm) == 0, "database deleted");
    is_str(unwritable_as_server(db),
           apr_pstrcat(pool, db, " (No such file or directory)", NULL),
           "a missing database is named");
}

static void test_space(void)
{
    apr_uint64_t avail = 1;

    is_int(ota_dbfile_space(&avail, scratch_file("ota.db"), pool),
           APR_SUCCESS, "free space of the scratch file system");
    ok(avail > 0, "some bytes free");
    ok(ota_dbfile_space(&avail, scratch_file("no/such/dir/ota.db"), pool)
       != APR_SUCCESS && avail == 0, "a missing directory: an error");
}

int main(int argc, char **argv)
{
    static const unit_test tests[] = {
        test_identity, test_params, test_kinds, test_unwritable,
        test_space, NULL
    };

    return unit_main(argc, argv, UNIT_SCRATCH, tests);
}
