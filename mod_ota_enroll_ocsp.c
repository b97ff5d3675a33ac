/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota-ocsp: the built-in CA's OCSP responder (RFC 6960 A.1): POST with
 * Content-Type application/ocsp-request, or GET with the request's base64
 * after the location's path. Every answer is an OCSPResponse: statuses
 * from the registry, read on each request (a revocation through any
 * server of a cluster is answered at once), or malformedRequest,
 * unauthorized, tryLater. Never a 500 for what a client sent. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_base64.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "ota_crl.h"
#include "ota_media.h"
#include "ota_ocsp.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_ocsp.h"

APLOG_USE_MODULE(ota_enroll);

#define OCSP_MAX_REQUEST 16384        /* bytes: POST body or decoded GET */
#define RESPONDERS 8                  /* (CA, signer) pairs per process */
#define ANSWERS 4096                  /* pre-produced answers per process */
#define ANSWER_AGE apr_time_from_sec(60)

/* Responders are built once per (CA, delegated signer) in each process:
 * the CA's name and key hashes, the signer's checks. */
static struct {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;
    struct {
        const ota_ca *ca;
        const ota_identity *signer;
        ota_ocsp_responder *responder;
    } slot[RESPONDERS];
    int used;
} responders;

/* Answers to requests without a nonce, reused while the certificate's
 * status is what it was when they were signed, for at most ANSWER_AGE
 * (RFC 5019's pre-produced responses): the registry is still read on
 * every request, so a revocation is answered at once; only the signature
 * is saved. A request with a nonce is always signed anew. */
typedef struct answer {
    ota_ocsp_status st;
    apr_time_t produced;
    const ota_ocsp_responder *by;
    unsigned char *der;
    apr_size_t len;
} answer;

static struct {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;             /* cleared when ANSWERS are kept */
    apr_hash_t *by_id;            /* "hash-nid:serial" -> answer */
} answers;

void ota_ocsp_child_init(apr_pool_t *pchild, server_rec *s)
{
    memset(&responders, 0, sizeof(responders));
    responders.pool = pchild;
    apr_thread_mutex_create(&responders.lock, APR_THREAD_MUTEX_DEFAULT,
                            pchild);
    apr_thread_mutex_create(&answers.lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    apr_pool_create(&answers.pool, pchild);
    answers.by_id = apr_hash_make(answers.pool);
}

static const char *answer_key(const ota_ocsp_request *q, apr_pool_t *p)
{
    return q->count == 1 && !q->nonce
           ? apr_psprintf(p, "%d:%s", q->hash_nids[0], q->serials[0]) : NULL;
}

/* A kept answer for the same status, still young: copied into p. */
static int answer_find(const char *key, const ota_ocsp_responder *by,
                       const ota_ocsp_status *st, const unsigned char **der,
                       apr_size_t *len, apr_pool_t *p)
{
    answer *a;
    int found = 0;

    apr_thread_mutex_lock(answers.lock);
    a = apr_hash_get(answers.by_id, key, APR_HASH_KEY_STRING);
    if (a && a->by == by && a->st.status == st->status
        && a->st.revoked == st->revoked && a->st.reason == st->reason
        && apr_time_now() - a->produced < ANSWER_AGE) {
        *der = apr_pmemdup(p, a->der, a->len);
        *len = a->len;
        found = 1;
    }
    apr_thread_mutex_unlock(answers.lock);
    return found;
}

static void answer_keep(const char *key, const ota_ocsp_responder *by,
                        const ota_ocsp_status *st, const unsigned char *der,
                        apr_size_t len)
{
    answer *a;

    apr_thread_mutex_lock(answers.lock);
    if (apr_hash_count(answers.by_id) >= ANSWERS) {
        apr_pool_clear(answers.pool);
        answers.by_id = apr_hash_make(answers.pool);
    }
    a = apr_palloc(answers.pool, sizeof(*a));
    a->st = *st;
    a->produced = apr_time_now();
    a->by = by;
    a->der = apr_pmemdup(answers.pool, der, len);
    a->len = len;
    apr_hash_set(answers.by_id, apr_pstrdup(answers.pool, key),
                 APR_HASH_KEY_STRING, a);
    apr_thread_mutex_unlock(answers.lock);
}

static ota_ocsp_responder *responder_of(const ota_conf *c, const char **why)
{
    ota_ocsp_responder *found = NULL;
    int i;

    apr_thread_mutex_lock(responders.lock);
    for (i = 0; i < responders.used && !found; i++) {
        if (responders.slot[i].ca == c->ca
            && responders.slot[i].signer == c->ocsp_identity) {
            found = responders.slot[i].responder;
        }
    }
    if (!found && responders.used < RESPONDERS
        && ota_ocsp_responder_new(&found, c->ca, c->ocsp_identity, why,
                                  responders.pool) == APR_SUCCESS) {
        responders.slot[responders.used].ca = c->ca;
        responders.slot[responders.used].signer = c->ocsp_identity;
        responders.slot[responders.used++].responder = found;
    }
    apr_thread_mutex_unlock(responders.lock);
    return found;
}

static int send_response(request_rec *r, const unsigned char *der,
                         apr_size_t len)
{
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    return ota_send_bytes(r, OTA_MEDIA_OCSP_RESPONSE, der, len);
}

/* An unsuccessful OCSPResponse, logged with its id. */
static int send_error(request_rec *r, int status, const char *id,
                      const char *why)
{
    const unsigned char *der;
    apr_size_t len;

    if (id) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: OCSP request "
                      "refused (%s): %s", id,
                      OCSP_response_status_str(status), why);
    }
    if (ota_ocsp_error_build(&der, &len, status, r->pool) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return send_response(r, der, len);
}

/* GET: the request is the base64 (URL-encoded) after some '/' of the
 * path; the first suffix that decodes to a whole OCSPRequest is it, so
 * the location's own path needs no configuration. Its '/' come as %2F:
 * the server needs AllowEncodedSlashes NoDecode. */
static int get_request(request_rec *r, const unsigned char **der,
                       apr_size_t *len)
{
    const char *at;
    char *text;
    unsigned char *buf;
    int n;

    if (strlen(r->uri) > 4 * OCSP_MAX_REQUEST / 3 + 16) {
        return 0;
    }
    for (at = strchr(r->uri, '/'); at; at = strchr(at + 1, '/')) {
        text = apr_pstrdup(r->pool, at + 1);
        if (ap_unescape_all(text) != OK || !*text
            || strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                            "vwxyz0123456789+/=") != strlen(text)) {
            continue;
        }
        buf = apr_palloc(r->pool, apr_base64_decode_len(text));
        n = apr_base64_decode_binary(buf, text);
        if (n > 0 && buf[0] == 0x30) {
            *der = buf;
            *len = (apr_size_t)n;
            if (ota_ocsp_request_is_whole(buf, (apr_size_t)n)) {
                return 1;
            }
        }
    }
    return 0;
}

/* The request's DER; a refusal has been answered when rv is not OK. */
static int request_der(request_rec *r, const unsigned char **der,
                       apr_size_t *len, int *answered)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    const char *body;
    int rv;

    *answered = 0;
    if (r->method_number == M_GET) {
        if (!get_request(r, der, len)) {
            *der = (const unsigned char *)"";
            *len = 0;
        }
        return OK;
    }
    if (!type || strcasecmp(type, OTA_MEDIA_OCSP_REQUEST)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00106: OCSP "
                      "request with Content-Type %s, not "
                      OTA_MEDIA_OCSP_REQUEST, type ? type : "(none)");
        *answered = 1;
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if ((rv = ota_read_body(r, OCSP_MAX_REQUEST, &body, len)) != OK) {
        *answered = 1;
        return rv;
    }
    *der = (const unsigned char *)body;
    return OK;
}

/* Each CertID's status, from the registry. */
static int statuses_of(request_rec *r, const ota_ocsp_request *q,
                       ota_ocsp_status *st)
{
    ota_cert_status cs;
    const char *why = NULL;
    ota_db db;
    int i, rv;

    if ((rv = ota_db_open(&db, r)) != OK) {
        return rv;
    }
    for (i = 0; i < q->count; i++) {
        if (ota_store_certificate_status(&cs, &db, q->serials[i], &why,
                                         r->pool)) {
            return ota_db_failed(r, why);
        }
        st[i].status = !cs.found ? OTA_OCSP_UNKNOWN
                       : cs.revoked ? OTA_OCSP_REVOKED : OTA_OCSP_GOOD;
        st[i].revoked = cs.revoked;
        st[i].reason = cs.reason;
    }
    return OK;
}

static int respond(request_rec *r, const ota_ocsp_responder *resp,
                   const ota_ocsp_request *q)
{
    ota_ocsp_status st[OTA_OCSP_MAX_IDS];
    const unsigned char *der;
    const char *key;
    apr_size_t len;
    int rv;

    if ((rv = statuses_of(r, q, st)) != OK) {
        /* the registry cannot say: the client may ask again */
        apr_table_setn(r->err_headers_out, "Retry-After", "30");
        send_error(r, OCSP_RESPONSE_STATUS_TRYLATER, NULL, NULL);
        return rv == HTTP_SERVICE_UNAVAILABLE ? OK : rv;
    }
    key = answer_key(q, r->pool);
    if (key && answer_find(key, resp, st, &der, &len, r->pool)) {
        return send_response(r, der, len);
    }
    if (ota_ocsp_response_build(&der, &len, q, st, resp, apr_time_now(), 0,
                                r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00015: cannot sign "
                      "the OCSP response: %s", ota_openssl_error(r->pool));
        return send_error(r, OCSP_RESPONSE_STATUS_INTERNALERROR, NULL, NULL);
    }
    if (key) {
        answer_keep(key, resp, st, der, len);
    }
    return send_response(r, der, len);
}

int ota_ocsp_handler(request_rec *r)
{
    const ota_conf *c;
    const ota_ocsp_responder *resp;
    ota_ocsp_request *q;
    const unsigned char *der;
    const char *why = NULL;
    apr_size_t len;
    int rv, answered;

    if ((rv = ota_handler_check(r, "ota-ocsp",
                                OTA_SERVES_GET | OTA_SERVES_POST,
                                "OTA00105")) != OK
        || (rv = ota_ca_conf_of(r, &c)) != OK) {
        return rv;
    }
    if (!(resp = responder_of(c, &why))) {
        return ota_config_missing(r, why ? why : "an OCSP responder");
    }
    if ((rv = request_der(r, &der, &len, &answered)) != OK || answered) {
        return rv;
    }
    if (ota_ocsp_request_read(&q, der, len, resp, r->pool) != APR_SUCCESS) {
        return send_error(r, OCSP_RESPONSE_STATUS_INTERNALERROR, NULL, NULL);
    }
    if (q->verdict == OTA_OCSP_READ_UNAUTHORIZED) {
        return send_error(r, OCSP_RESPONSE_STATUS_UNAUTHORIZED, "OTA00108",
                          q->detail);
    }
    if (q->verdict != OTA_OCSP_READ_OK) {
        return send_error(r, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
                          "OTA00107", q->detail);
    }
    return respond(r, resp, q);
}
