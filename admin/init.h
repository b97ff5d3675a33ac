/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* `ota-enroll init`, shared by its files: cmd_init.c (options, the order
 * of work, the next steps), init_pki.c (the signing identity and the
 * built-in CA), init_text.c (the site settings and the final profile). */
#ifndef INIT_H
#define INIT_H

#include <apr_pools.h>

#include "admin.h"

#define INIT_CA_DAYS        3650
#define INIT_SIGNING_DAYS   1095
#define INIT_CA_BITS        3072
#define INIT_SIGNING_BITS   2048
#define INIT_MAX_NAME       64     /* X.520 upper bound of O= and CN= */

/* The files, in the order they are listed. */
enum {
    INIT_SIGNING_CERT = 0, INIT_SIGNING_KEY, INIT_CA_CERT, INIT_CA_KEY,
    INIT_USERS, INIT_ADMINS, INIT_FINAL, INIT_SETTINGS, INIT_NFILES
};

/* Their names in the directory, by the index above. */
extern const char *const init_file_names[INIT_NFILES];

typedef struct init_opts {
    const char *dir;
    const char *url;            /* https://host[:port], no path */
    const char *host;           /* its host name */
    const char *organization;
    const char *identifier;     /* reverse-DNS prefix of PayloadIdentifier */
    const char *signing_cert;   /* the site's identity; NULL: self-signed */
    const char *signing_key;
    const char *group;          /* reads the Basic auth files */
    int ca_days;
    int signing_days;
    int force;
    int self_signed;            /* set by init_signing */
} init_opts;

/* ---- init_pki.c ---- */
/* The profile signing identity: the one given (checked: the key matches,
 * not expired) or a new self-signed one. */
apr_status_t init_signing(adm_file *files, init_opts *o, const char **why,
                          apr_pool_t *p);
/* A new built-in CA. */
apr_status_t init_ca(adm_file *files, const init_opts *o, const char **why,
                     apr_pool_t *p);
/* Loads the staged identity, CA and final profile as the module does. */
apr_status_t init_check_staged(const adm_file *files, const char **why,
                               apr_pool_t *p);

/* ---- init_text.c ---- */
apr_status_t init_settings(adm_file *files, const init_opts *o,
                           const char **why, apr_pool_t *p);
apr_status_t init_final_profile(adm_file *files, const init_opts *o,
                                const char **why, apr_pool_t *p);

#endif
