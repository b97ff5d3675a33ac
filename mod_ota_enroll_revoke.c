/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Revocation that relying parties read: the built-in CA's CRL (ota-crl)
 * and its OCSP responder (ota-ocsp). The CRL lives in the shared store,
 * so every server of a cluster serves the same one; it is built when a
 * revocation makes it due or its nextUpdate comes near, never per
 * request, and each process keeps the current one in memory. OCSP reads
 * the registry on each request, so a revocation through any server is
 * answered at once everywhere. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_base64.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "ota_crl.h"
#include "ota_media.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_revoke.h"

APLOG_USE_MODULE(ota_enroll);

/* The CRL this process serves, one per CA (a cluster has one CA). */
static struct {
    apr_thread_mutex_t *lock;
    char ca[41];                      /* hex SHA-1 of the CA certificate */
    apr_int64_t number;
    apr_time_t this_update;
    unsigned char *der;               /* malloc'd */
    apr_size_t len;
} cached;

static apr_status_t cache_free(void *unused)
{
    free(cached.der);
    memset(&cached, 0, sizeof(cached));
    return APR_SUCCESS;
}

void ota_revoke_child_init(apr_pool_t *pchild, server_rec *s)
{
    memset(&cached, 0, sizeof(cached));
    apr_thread_mutex_create(&cached.lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    apr_pool_cleanup_register(pchild, NULL, cache_free,
                              apr_pool_cleanup_null);
}

static const char *ca_id(const ota_ca *ca, apr_pool_t *p)
{
    unsigned char md[20];
    char *hex = apr_palloc(p, 41);

    if (ota_cert_sha1(md, ota_ca_cert(ca)) != APR_SUCCESS) {
        return NULL;
    }
    for (int i = 0; i < 20; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02X", md[i]);
    }
    return hex;
}

/* Due: none stored, marked due by a revocation, or three quarters of its
 * life gone. */
static int crl_due(const ota_crl_row *row, const ota_conf *c, apr_time_t now)
{
    apr_interval_time_t life = apr_time_from_sec(ota_cfg_crl_lifetime(c));

    return !row->found || row->next_update <= now + life / 4;
}

static int crl_build(request_rec *r, const ota_conf *c, ota_db *db,
                     const char *ca, const ota_crl_row *prior)
{
    apr_array_header_t *revoked;
    ota_crl_row row;
    const unsigned char *der;
    apr_size_t len;
    const char *why = NULL;
    char *b64;
    int stored = 0;

    memset(&row, 0, sizeof(row));
    row.number = prior->found ? prior->number + 1 : 1;
    row.this_update = apr_time_now();
    row.next_update = row.this_update
                      + apr_time_from_sec(ota_cfg_crl_lifetime(c));
    if (ota_store_revoked_all(&revoked, db, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (ota_crl_build(&der, &len, &why, c->ca,
                      (const ota_revoked *)revoked->elts, revoked->nelts,
                      row.number, row.this_update, row.next_update,
                      r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00101: cannot build "
                      "the CRL: %s", why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    b64 = apr_palloc(r->pool, apr_base64_encode_len((int)len));
    apr_base64_encode(b64, (const char *)der, (int)len);
    row.der_base64 = b64;
    if (ota_store_crl_put(&stored, db, ca, prior->found ? prior->number : 0,
                          &row, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (stored) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "OTA00102: CRL %"
                      APR_INT64_T_FMT " built: %d revoked certificates, "
                      "%" APR_SIZE_T_FMT " bytes", row.number,
                      revoked->nelts, len);
    }
    return OK;
}

/* The stored CRL, built first when due (by this server, or by another
 * that won the race to store it). */
static int crl_stored(request_rec *r, const ota_conf *c, ota_db *db,
                      const char *ca, ota_crl_row *row)
{
    const char *why = NULL;
    int rv;

    if (ota_store_crl_get(row, db, ca, 0, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (crl_due(row, c, apr_time_now())) {
        if ((rv = crl_build(r, c, db, ca, row)) != OK) {
            return rv;
        }
        if (ota_store_crl_get(row, db, ca, 0, &why, r->pool)) {
            return ota_db_failed(r, why);
        }
    }
    return row->found ? OK : ota_db_failed(r, "no CRL stored");
}

/* Copies the stored DER into the process cache when it is newer. */
static int cache_fill(request_rec *r, ota_db *db, const char *ca,
                      const ota_crl_row *head)
{
    ota_crl_row row;
    const char *why = NULL;
    unsigned char *der;
    int len;

    if (!strcmp(cached.ca, ca) && cached.number == head->number) {
        return OK;
    }
    if (ota_store_crl_get(&row, db, ca, 1, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (!row.found || !row.der_base64
        || !(der = malloc(apr_base64_decode_len(row.der_base64)))) {
        return ota_db_failed(r, "the stored CRL is unreadable");
    }
    len = apr_base64_decode_binary(der, row.der_base64);
    free(cached.der);
    cached.der = der;
    cached.len = (apr_size_t)len;
    cached.number = row.number;
    cached.this_update = row.this_update;
    apr_cpystrn(cached.ca, ca, sizeof(cached.ca));
    return OK;
}

int ota_crl_current(request_rec *r, const ota_conf *c, ota_db *db,
                    const unsigned char **der, apr_size_t *len,
                    apr_time_t *this_update)
{
    const char *ca = ca_id(c->ca, r->pool);
    ota_crl_row head;
    int rv;

    if (!ca) {
        return ota_config_missing(r, "a readable CA certificate");
    }
    if ((rv = crl_stored(r, c, db, ca, &head)) != OK) {
        return rv;
    }
    apr_thread_mutex_lock(cached.lock);
    rv = cache_fill(r, db, ca, &head);
    if (rv == OK) {
        *der = apr_pmemdup(r->pool, cached.der, cached.len);
        *len = cached.len;
        *this_update = cached.this_update;
    }
    apr_thread_mutex_unlock(cached.lock);
    return rv;
}

int ota_crl_revoked(request_rec *r, const ota_conf *c, ota_db *db)
{
    const char *why = NULL, *ca;
    ota_crl_row row;

    if (ota_store_crl_due(db, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (!c->ca || !(ca = ca_id(c->ca, r->pool))) {
        return OK;                    /* built at its next fetch */
    }
    if (ota_store_crl_get(&row, db, ca, 0, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    return crl_build(r, c, db, ca, &row);
}

int ota_crl_handler(request_rec *r)
{
    const ota_conf *c;
    const unsigned char *der;
    apr_size_t len;
    apr_time_t this_update;
    ota_db db;
    int rv;

    if ((rv = ota_handler_check(r, "ota-crl", OTA_SERVES_GET,
                                "OTA00100")) != OK
        || (rv = ota_ca_conf_of(r, &c)) != OK
        || (rv = ota_db_open(&db, r)) != OK
        || (rv = ota_crl_current(r, c, &db, &der, &len, &this_update))
           != OK) {
        return rv;
    }
    ap_update_mtime(r, this_update);
    ap_set_last_modified(r);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    return ota_send_bytes(r, OTA_MEDIA_PKIX_CRL, der, len);
}
