/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The request helpers the handlers of mod_ota_enroll share: bodies, the
 * database through mod_dbd, the common refusals and errors, challenges,
 * the device's environment variables, and sending answers. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include "ota_cms.h"
#include "ota_challenge.h"
#include "ota_media.h"

#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_dbcheck.h"
#include "mod_ota_enroll_registry.h"

APLOG_USE_MODULE(ota_enroll);

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;

int ota_request_post_config(server_rec *s)
{
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    if (!dbd_acquire) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00001: "
                     "mod_ota_enroll keeps its state through mod_dbd: add "
                     "'LoadModule dbd_module' and 'DBDriver sqlite3' with "
                     "'DBDParams /var/lib/apache2/ota_enroll.db'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int ota_method_not_allowed(request_rec *r, int method, const char *id)
{
    r->allowed = AP_METHOD_BIT << method;
    ap_allow_methods(r, REPLACE_ALLOW, method == M_GET ? "GET" : "POST",
                     NULL);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: method %s not "
                  "allowed here", id, r->method);
    return HTTP_METHOD_NOT_ALLOWED;
}

int ota_config_missing(request_rec *r, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00012: %s is required "
                  "for %s", what, r->handler);
    return HTTP_INTERNAL_SERVER_ERROR;
}

int ota_handler_check(request_rec *r, const char *handler, int serves,
                      const char *id)
{
    int allowed = serves & OTA_SERVES_POST ? M_POST : M_GET;

    if (strcmp(r->handler, handler)) {
        return DECLINED;
    }
    if (!(r->method_number == M_GET && (serves & OTA_SERVES_GET))
        && !(r->method_number == M_POST && (serves & OTA_SERVES_POST))) {
        return ota_method_not_allowed(r, allowed, id);
    }
    return OK;
}

int ota_ca_conf_of(request_rec *r, const ota_conf **c)
{
    *c = ota_conf_of(r);
    return (*c)->ca ? OK
                    : ota_config_missing(r, "OTAEnrollCACertificate/Key");
}

static int body_too_large(request_rec *r, apr_size_t max)
{
    r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00021: request body "
                  "over OTAEnrollMaxBodySize (%" APR_SIZE_T_FMT " bytes)",
                  max);
    return HTTP_REQUEST_ENTITY_TOO_LARGE;
}

/* A body that is not all there by the deadline, or whose read timed out
 * (here or in mod_reqtimeout): 408, and the connection is not kept. */
static int body_timed_out(request_rec *r, apr_interval_time_t timeout)
{
    r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00017: the request "
                  "body did not arrive within OTAEnrollBodyTimeout (%"
                  APR_TIME_T_FMT " s)", apr_time_sec(timeout));
    return HTTP_REQUEST_TIME_OUT;
}

/* Copies a brigade's data after *total; 1 when it held EOS. */
static int body_take(apr_bucket_brigade *bb, char *buf, apr_size_t max,
                     apr_size_t *total, apr_status_t *rv)
{
    apr_bucket *e;
    const char *data;
    apr_size_t n;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            return 1;
        }
        if ((*rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ))
            != APR_SUCCESS) {
            return 0;
        }
        if (n > max + 1 - *total) {
            n = max + 1 - *total;
        }
        memcpy(buf + *total, data, n);
        *total += n;
    }
    return 0;
}

/* Reads the body through the input filters, each read bounded by what is
 * left of the deadline: a client trickling one byte at a time cannot
 * hold a worker longer than the deadline. */
static int body_loop(request_rec *r, char *buf, apr_size_t max,
                     apr_interval_time_t timeout, apr_size_t *total)
{
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    apr_time_t deadline = apr_time_now() + timeout;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_status_t rv = APR_SUCCESS;
    int eos = 0;

    while (!eos && *total <= max) {
        if (apr_time_now() >= deadline) {
            rv = APR_TIMEUP;
            break;
        }
        if (sock) {
            apr_socket_timeout_set(sock, deadline - apr_time_now());
        }
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, max + 1 - *total);
        if (rv == APR_SUCCESS) {
            eos = body_take(bb, buf, max, total, &rv);
        }
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (sock) {
        apr_socket_timeout_set(sock, r->server->timeout);
    }
    if (*total > max) {
        return body_too_large(r, max);
    }
    if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_ETIMEDOUT(rv)) {
        return body_timed_out(r, timeout);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "OTA00022: the "
                      "request body could not be read");
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

int ota_read_body(request_rec *r, apr_size_t max, const char **body,
                  apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_interval_time_t timeout = ota_cfg_body_timeout(ota_conf_of(r));
    char *buf;
    apr_size_t total = 0;
    int rv;

    if (cl && apr_atoi64(cl) > (apr_int64_t)max) {
        return body_too_large(r, max);
    }
    buf = apr_palloc(r->pool, max + 1);
    if ((rv = body_loop(r, buf, max, timeout, &total)) != OK) {
        return rv;
    }
    buf[total] = '\0';
    *body = buf;
    *len = total;
    return OK;
}

/* Our statements are prepared per connection on first use, after the
 * schema (and sqlite3's busy timeout): registering them with
 * ap_dbd_prepare would make mod_dbd prepare them before the tables
 * exist. */
int ota_db_open(ota_db *db, request_rec *r)
{
    ap_dbd_t *dbd = dbd_acquire(r);
    const char *why = NULL;
    int rv;

    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00013: no database "
                      "connection from mod_dbd (check DBDriver/DBDParams)");
        return ota_dbcheck_unavailable(r, "OTA00013", "no database "
                                       "connection from mod_dbd");
    }
    /* sqlite3: the connection's file is still the one at DBDParams */
    if ((rv = ota_dbcheck_connection(r, dbd)) != OK) {
        return rv;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    ota_registry_attach(db);            /* sqlite3: the write lock */
    if (ota_store_connection_init(db, &why, dbd->pool)) {
        return ota_dbcheck_error(r, apr_pstrcat(r->pool, "cannot prepare "
                                                "the enrollment tables: ",
                                                why, NULL));
    }
    return OK;
}

/* Logged by what fixes it (OTA00007 read-only, OTA00008 disk, OTA00009
 * damaged, OTA00014 the rest), 503 with Retry-After. */
int ota_db_failed(request_rec *r, const char *why)
{
    return ota_dbcheck_error(r, why);
}

int ota_challenge_make(request_rec *r, const char **challenge)
{
    if (ota_challenge_new(challenge, r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00016: the random "
                      "generator failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void ota_export_device(request_rec *r, const ota_device_attributes *a,
                       const char *phase)
{
    apr_table_t *env = r->subprocess_env;

    apr_table_setn(env, "OTA_PHASE", phase);
    apr_table_setn(env, "OTA_UDID", a->udid);
    if (a->serial) {
        apr_table_setn(env, "OTA_SERIAL", a->serial);
    }
    if (a->product) {
        apr_table_setn(env, "OTA_PRODUCT", a->product);
    }
    if (a->version) {
        apr_table_setn(env, "OTA_VERSION", a->version);
    }
}

int ota_sign_profile(request_rec *r, const ota_conf *c, plist_t root,
                     const unsigned char **der, apr_size_t *len)
{
    const char *xml;
    apr_size_t xml_len;

    if (ota_plist_to_xml(&xml, &xml_len, root, r->pool)
        || ota_cms_sign(der, len, c->identity, xml, xml_len, NULL, 1,
                        r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00015: cannot sign "
                      "the profile: %s", ota_openssl_error(r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int ota_send_bytes(request_rec *r, const char *type, const void *data,
                   apr_size_t len)
{
    ap_set_content_type(r, type);
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(data, (int)len, r);
    }
    return OK;
}

int ota_send_json_status(request_rec *r, int status, const char *json)
{
    r->status = status;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    return ota_send_bytes(r, OTA_MEDIA_JSON, json, strlen(json));
}

int ota_send_profile(request_rec *r, const unsigned char *der,
                     apr_size_t len)
{
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return ota_send_bytes(r, OTA_MEDIA_ASPEN_CONFIG, der, len);
}

int ota_respond_signed(request_rec *r, const ota_conf *c, plist_t root)
{
    const unsigned char *der;
    apr_size_t len;
    int rv = ota_sign_profile(r, c, root, &der, &len);

    return rv == OK ? ota_send_profile(r, der, len) : rv;
}
