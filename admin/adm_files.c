/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Writing a set of files all or nothing: each is staged under a new
 * temporary name in its directory with its final mode, the caller checks
 * the staged files with the module's own loaders, then they are renamed
 * into place. Nothing is half-written under a final name. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "admin.h"

const char *adm_path(const char *dir, const char *name, apr_pool_t *p)
{
    size_t n = strlen(dir);

    return apr_pstrcat(p, dir, n && dir[n - 1] == '/' ? "" : "/", name,
                       NULL);
}

int adm_files_existing(const adm_file *files, int n, const char *dir,
                       apr_pool_t *p)
{
    apr_finfo_t fi;
    int found = 0;

    for (int i = 0; i < n; i++) {
        const char *path = adm_path(dir, files[i].name, p);

        if (apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS) {
            fprintf(stderr, "ota-enroll: %s exists\n", path);
            found++;
        }
    }
    return found;
}

/* The Apache group for a file it must read; when it cannot be given (not
 * root, no such group) the file is made readable by all instead, and
 * *note says so. */
static apr_status_t give_group(adm_file *f, const char *group,
                               const char **note, apr_pool_t *p)
{
    struct group *gr = getgrnam(group);

    if (gr && chown(f->staged, geteuid() == 0 ? 0 : (uid_t)-1,
                    gr->gr_gid) == 0) {
        return APR_SUCCESS;
    }
    *note = apr_psprintf(p, "the group %s could not be given to the Basic "
                         "auth files (%s): they are readable by all", group,
                         gr ? strerror(errno) : "no such group");
    f->perms |= APR_FPROT_WREAD;
    return apr_file_perms_set(f->staged, f->perms);
}

static apr_status_t stage_one(adm_file *f, const char *dir,
                              const char *group, const char **note,
                              apr_pool_t *p)
{
    char *tmpl = apr_pstrcat(p, adm_path(dir, ".", p), f->name, ".XXXXXX",
                             NULL);
    apr_file_t *out;
    apr_status_t rv, rv2;

    rv = apr_file_mktemp(&out, tmpl, APR_FOPEN_CREATE | APR_FOPEN_READ
                         | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                         | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    f->staged = tmpl;
    rv = f->len ? apr_file_write_full(out, f->content, f->len, NULL)
                : APR_SUCCESS;
    rv2 = apr_file_close(out);
    rv = rv != APR_SUCCESS ? rv : rv2;
    if (rv == APR_SUCCESS) {
        rv = apr_file_perms_set(f->staged, f->perms);
    }
    if (rv == APR_SUCCESS && f->apache_group) {
        rv = give_group(f, group, note, p);
    }
    return rv;
}

apr_status_t adm_files_stage(adm_file *files, int n, const char *dir,
                             const char *group, const char **note,
                             const char **why, apr_pool_t *p)
{
    apr_status_t rv;

    for (int i = 0; i < n; i++) {
        if ((rv = stage_one(&files[i], dir, group, note, p))
            != APR_SUCCESS) {
            *why = apr_psprintf(p, "cannot write %s: %s",
                                adm_path(dir, files[i].name, p),
                                cli_apr_error(rv, p));
            adm_files_discard(files, n);
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t adm_files_commit(adm_file *files, int n, const char *dir,
                              const char **why, apr_pool_t *p)
{
    apr_status_t rv;

    for (int i = 0; i < n; i++) {
        const char *path = adm_path(dir, files[i].name, p);

        if ((rv = apr_file_rename(files[i].staged, path, p))
            != APR_SUCCESS) {
            *why = apr_psprintf(p, "cannot rename %s to %s: %s",
                                files[i].staged, path, cli_apr_error(rv, p));
            adm_files_discard(files, n);
            return rv;
        }
        files[i].staged = NULL;
    }
    return APR_SUCCESS;
}

void adm_files_discard(adm_file *files, int n)
{
    for (int i = 0; i < n; i++) {
        if (files[i].staged) {
            unlink(files[i].staged);
            files[i].staged = NULL;
        }
    }
}
