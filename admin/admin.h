/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The admin command's private header: exit statuses, the files a command
 * writes (staged beside their final name, checked, then renamed into
 * place) and the commands, one file each (cmd_*.c). */
#ifndef ADMIN_H
#define ADMIN_H

#include <apr_pools.h>
#include <apr_file_info.h>

#include "cli.h"

#define ADM_EXIT_OK      0
#define ADM_EXIT_USAGE   1      /* bad options */
#define ADM_EXIT_EXISTS  2      /* would overwrite: --force */
#define ADM_EXIT_FAILED  3      /* could not make, check or write a file */

#define ADM_DEFAULT_DIR   "/etc/apache2/ota-enroll"
#define ADM_APACHE_GROUP  "www-data"
#define ADM_STATE_DIR     "/var/lib/ota-enroll"

/* One file to write: its content, its mode, and whether the Apache
 * group may read it (the Basic auth files). */
typedef struct adm_file {
    const char *name;           /* in the directory */
    const char *what;           /* one line for the summary */
    const char *content;
    apr_size_t len;
    apr_fileperms_t perms;
    int apache_group;
    const char *staged;         /* where it was written first, or NULL */
} adm_file;

/* ---- adm_files.c ---- */
/* The path of a file in dir. */
const char *adm_path(const char *dir, const char *name, apr_pool_t *p);
/* How many of files already exist in dir (each printed to stderr). */
int adm_files_existing(const adm_file *files, int n, const char *dir,
                       apr_pool_t *p);
/* Writes each file to a new temporary name in dir with its mode (and
 * group when run as root); *note says when the Apache group could not
 * be given. On failure the staged files are removed. */
apr_status_t adm_files_stage(adm_file *files, int n, const char *dir,
                             const char *group, const char **note,
                             const char **why, apr_pool_t *p);
/* Renames the staged files into place. */
apr_status_t adm_files_commit(adm_file *files, int n, const char *dir,
                              const char **why, apr_pool_t *p);
/* Removes what is still staged. */
void adm_files_discard(adm_file *files, int n);

/* ---- the commands ---- */
int adm_cmd_init(int argc, const char *const *argv, apr_pool_t *p);
extern const char adm_init_usage[];

#endif
