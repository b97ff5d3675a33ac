/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in CA's CRL (mod_ota_enroll_revoke.c): the ota-crl handler,
 * and the current CRL for SCEP's GetCRL and for the revoke action. */
#ifndef MOD_OTA_ENROLL_REVOKE_H
#define MOD_OTA_ENROLL_REVOKE_H

#include "httpd.h"

#include "ota_store.h"

#include "mod_ota_enroll_config.h"

/* The process's CRL cache. */
void ota_revoke_child_init(apr_pool_t *pchild, server_rec *s);

int ota_crl_handler(request_rec *r);

/* The CRL of c's CA, as stored (built first when missing or due). */
int ota_crl_current(request_rec *r, const ota_conf *c, ota_db *db,
                    const unsigned char **der, apr_size_t *len,
                    apr_time_t *this_update);

/* After revocations: every stored CRL is due; the one of c's CA, when c
 * has one, is rebuilt at once. */
int ota_crl_revoked(request_rec *r, const ota_conf *c, ota_db *db);

#endif
