/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in SCEP CA (handler ota-scep) and the GetCACaps front for
 * external CAs behind mod_proxy. With OTAEnrollSCEPApproval manual a
 * request that would issue is held (PENDING) until an administrator
 * decides; the requester's next GetCertInitial then gets the certificate
 * or FAILURE. httpd glue only: the SCEP messages are ota_scep.c, issuance
 * ota_ca.c, the registry ota_store.c and ota_store_approval.c. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "ota_challenge.h"
#include "ota_media.h"
#include "ota_scep.h"
#include "ota_scepmsg.h"
#include "ota_store_approval.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_revoke.h"
#include "mod_ota_enroll_scep.h"

APLOG_USE_MODULE(ota_enroll);

int ota_scep_post_config(server_rec *s)
{
    if (ota_scep_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00003: cannot "
                     "register the SCEP object identifiers with OpenSSL");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int has_capability(const apr_array_header_t *caps, const char *name)
{
    for (int i = 0; i < caps->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(caps, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* The value of a query argument, form-decoded; NULL when absent. */
static const char *query_arg(request_rec *r, const char *name)
{
    return ota_query_arg(r->args, name, r->pool);
}

static int send_capabilities(request_rec *r, const apr_array_header_t *caps)
{
    const char *text = apr_array_pstrcat(r->pool, caps, '\n');

    text = apr_pstrcat(r->pool, text, "\n", NULL);
    return ota_send_bytes(r, OTA_MEDIA_TEXT, text, strlen(text));
}

/* GetCACert: the certificate alone, or the chain as certificates-only
 * SignedData. */
static int send_ca_certs(request_rec *r, STACK_OF(X509) *certs)
{
    const unsigned char *der;
    apr_size_t len;

    if (sk_X509_num(certs) > 1) {
        if (ota_scep_certs_only(&der, &len, certs, r->pool)) {
            return ota_config_missing(r, "a CA chain OpenSSL can encode");
        }
        return ota_send_bytes(r, OTA_MEDIA_CA_RA_CERT, der, len);
    }
    if (ota_cert_der(&der, &len, sk_X509_value(certs, 0), r->pool)) {
        return ota_config_missing(r, "a CA certificate OpenSSL can encode");
    }
    return ota_send_bytes(r, OTA_MEDIA_CA_CERT, der, len);
}

/* ---- PKIOperation ---- */

/* One SCEP exchange: the request, what the registry and CA make of it. */
typedef struct scep_exchange {
    request_rec *r;
    const ota_conf *c;
    ota_scep_request *req;
    ota_db db;
    ota_scep_policy policy;
    const char *udid;                   /* from the SCEP challenge */
    const char *subject;                /* expected, canonical */
    const char *san;                    /* bound names, canonical */
    const GENERAL_NAMES *san_names;     /* the same, or a renewed cert's */
    const char *ignored;                /* what the CSR asked, not issued */
    const char *user;                   /* a held request's user */
    const char *approver;               /* who approved it */
} scep_exchange;

static int reply(scep_exchange *x, ota_scep_status status,
                 ota_scep_fail_info fail, X509 *issued)
{
    const unsigned char *der;
    apr_size_t len;

    if (ota_scep_reply_build(&der, &len, ota_ca_identity(x->c->ca), x->req,
                             status, fail, NULL, issued, x->r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r, "OTA00015: cannot "
                      "sign the CertRep: %s", ota_openssl_error(x->r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return ota_send_bytes(x->r, OTA_MEDIA_PKI_MESSAGE, der, len);
}

/* A refusal the client can read: a CertRep FAILURE, logged with id. It
 * returns DONE, never OK, so a caller's "!= OK" stops there: the exchange
 * is over. */
static int refuse(scep_exchange *x, const char *id, ota_scep_fail_info fail,
                  const char *why)
{
    int rv;

    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, "%s: SCEP %s "
                  "refused (%s): %s", id,
                  ota_scep_message_type_name(x->req->type),
                  ota_scep_fail_info_name(fail), why);
    rv = reply(x, OTA_SCEP_FAILURE, fail, NULL);
    return rv == OK ? DONE : rv;
}

/* The message= argument of a GET, or the body of a POST. */
static int pki_message(request_rec *r, const ota_conf *c,
                       const unsigned char **der, apr_size_t *len)
{
    const char *body;
    int rv;

    if (r->method_number == M_POST) {
        if ((rv = ota_read_body(r, ota_cfg_max_body(c), &body, len)) != OK) {
            return rv;
        }
        *der = (const unsigned char *)body;
        return OK;
    }
    if (ota_scep_message_decode(der, len, r->args, ota_cfg_max_body(c),
                                r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00072: "
                      "PKIOperation by GET without a base64 message");
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

/* PKCSReq: a challenge, then a CSR that matches what the device was told
 * to request, signed by the key it certifies. */
static int check_challenge(scep_exchange *x)
{
    const ota_conf *c = x->c;
    ota_scep_challenge_row row;
    const char *why = NULL;

    if (!x->req->challenge) {
        return refuse(x, "OTA00065", OTA_SCEP_BAD_REQUEST,
                      "no challengePassword in the CSR");
    }
    if (!ota_cfg_scep_dynamic(c, c)) {
        return ota_challenge_equal(x->req->challenge, c->scep_challenge)
               ? OK : refuse(x, "OTA00066", OTA_SCEP_BAD_REQUEST,
                             "wrong challengePassword");
    }
    if (ota_store_scep_challenge_get(&row, &x->db, x->req->challenge, &why,
                                     x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (!row.found || row.used || row.expires <= apr_time_now()) {
        return refuse(x, "OTA00065", OTA_SCEP_BAD_REQUEST,
                      !row.found ? "unknown SCEP challenge"
                      : row.used ? "SCEP challenge already used"
                                 : "SCEP challenge expired");
    }
    x->udid = row.udid;
    x->subject = row.subject;
    x->san = row.san;
    return OK;
}

static int check_csr(scep_exchange *x, EVP_PKEY *must_key)
{
    ota_ca_policy policy;
    ota_ca_csr_verdict verdict;
    const char *detail = NULL;

    memset(&policy, 0, sizeof(policy));
    policy.allow_sha1 = x->policy.allow_sha1;
    policy.key = must_key;
    if (x->subject && ota_ca_subject_entries(&policy.subject,
                                             &policy.subject_count,
                                             x->subject, x->r->pool)) {
        return ota_config_missing(x->r, "a readable stored subject");
    }
    if (x->san && ota_san_names((GENERAL_NAMES **)&x->san_names, x->san,
                                &detail, x->r->pool)) {
        return ota_config_missing(x->r, "readable stored subjectAltNames");
    }
    policy.san = x->san_names;
    if (ota_ca_csr_check(&verdict, &detail, x->req->csr, &policy,
                         x->r->pool)) {
        return ota_config_missing(x->r, "memory");
    }
    if (verdict != OTA_CA_CSR_OK) {
        return refuse(x, "OTA00067", verdict == OTA_CA_CSR_BAD_ALGORITHM
                                     ? OTA_SCEP_BAD_ALG
                                     : verdict == OTA_CA_CSR_BAD_POP
                                     ? OTA_SCEP_BAD_MESSAGE_CHECK
                                     : OTA_SCEP_BAD_REQUEST,
                      apr_pstrcat(x->r->pool,
                                  ota_ca_csr_verdict_name(verdict), ": ",
                                  detail ? detail : "", NULL));
    }
    x->ignored = detail;
    return OK;
}

/* The device's older certificates, revoked as superseded with this one:
 * logged, and the CRL made due. */
static int superseded(scep_exchange *x, const ota_certificate_record *rec)
{
    int i;

    if (!rec->superseded || rec->superseded->nelts == 0) {
        return OK;
    }
    for (i = 0; i < rec->superseded->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r, "OTA00114: "
                      "certificate %s of device %s revoked as superseded "
                      "by %s", APR_ARRAY_IDX(rec->superseded, i,
                                             const char *),
                      rec->udid, rec->serial);
    }
    return ota_crl_revoked(x->r, x->c, &x->db);
}

/* The store's verdict on recording a transaction: OK, else refused as
 * a replay (replay_text) or for a challenge used meanwhile. */
static int store_verdict(scep_exchange *x, ota_issue_verdict verdict,
                         const char *replay_text)
{
    if (verdict == OTA_ISSUE_OK) {
        return OK;
    }
    return verdict == OTA_ISSUE_REPLAY
           ? refuse(x, "OTA00064", OTA_SCEP_BAD_REQUEST, replay_text)
           : refuse(x, "OTA00065", OTA_SCEP_BAD_REQUEST,
                    "SCEP challenge used meanwhile");
}

/* Records the certificate, consuming the dynamic challenge in the same
 * transaction; a refusal has been answered unless OK. */
static int record(scep_exchange *x, X509 *cert, const char *serial,
                  const char *challenge, ota_certificate_record *rec)
{
    ota_issue_verdict verdict;
    const char *why = NULL;
    int days = ota_cfg_cert_lifetime(x->c);

    memset(rec, 0, sizeof(*rec));
    rec->serial = serial;
    rec->transaction_id = x->req->transaction_id;
    rec->udid = x->udid;
    rec->subject = ota_ca_name_text(X509_get_subject_name(cert), x->r->pool);
    rec->not_after = apr_time_now() + apr_time_from_sec((apr_time_t)days
                                                        * 86400);
    rec->pem = ota_cert_pem(cert, x->r->pool);
    rec->requester = ota_key_digest_hex(X509_get0_pubkey(x->req->signer),
                                        x->r->pool);
    rec->user = x->user;
    if (x->udid && ota_cfg_supersede(x->c)) {
        rec->superseded = apr_array_make(x->r->pool, 2,
                                         sizeof(const char *));
    }
    if (ota_store_certificate_add(&verdict, &x->db, challenge, rec,
                                  apr_time_now(), &why, x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    return store_verdict(x, verdict, "transaction already has a "
                         "certificate");
}

/* Issues, records and answers. */
static int issue(scep_exchange *x, const char *challenge)
{
    ota_certificate_record rec;
    ota_ca_issue_opts opts;
    X509 *cert;
    const char *serial, *why = NULL;
    int rv;

    memset(&opts, 0, sizeof(opts));
    opts.lifetime_days = ota_cfg_cert_lifetime(x->c);
    opts.san = x->san_names;
    if (ota_ca_url_extensions((STACK_OF(X509_EXTENSION) **)&opts.urls,
                              x->c->crl_url, x->c->ocsp_url, x->r->pool)
        || ota_ca_issue(&cert, &serial, &why, x->c->ca, x->req->csr, &opts,
                        x->r->pool)) {
        return refuse(x, "OTA00067", OTA_SCEP_BAD_REQUEST,
                      why ? why : "cannot add the CRL and OCSP URLs");
    }
    if ((rv = record(x, cert, serial, challenge, &rec)) != OK) {
        return rv;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r, "OTA00069: issued "
                  "certificate %s to %s%s%s, valid %d days%s%s%s%s", serial,
                  rec.subject, x->udid ? " for device " : "",
                  x->udid ? x->udid : "", opts.lifetime_days,
                  x->approver ? ", approved by " : "",
                  x->approver ? x->approver : "",
                  x->ignored ? "; " : "", x->ignored ? x->ignored : "");
    if (x->udid) {
        apr_table_setn(x->r->subprocess_env, "OTA_UDID", x->udid);
    }
    if ((rv = superseded(x, &rec)) != OK) {
        return rv;
    }
    return reply(x, OTA_SCEP_SUCCESS, 0, cert);
}

static int replayed(scep_exchange *x)
{
    ota_certificate_record *prior;
    const char *why = NULL;

    if (ota_store_certificate_find(&prior, &x->db, "transaction",
                                   x->req->transaction_id, &why,
                                   x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    return prior ? refuse(x, "OTA00064", OTA_SCEP_BAD_REQUEST,
                          "transaction already has a certificate")
                 : OK;
}

/* ---- requests held for approval ---- */

/* Holds a request that passed every check, so a held request is one that
 * would issue: recorded, the dynamic challenge consumed in the same
 * transaction, and answered PENDING. */
static int hold(scep_exchange *x, const char *challenge)
{
    ota_pending_record rec;
    ota_issue_verdict verdict;
    apr_pool_t *p = x->r->pool;
    const char *why = NULL;
    int rv;

    memset(&rec, 0, sizeof(rec));
    rec.transaction_id = x->req->transaction_id;
    rec.udid = x->udid;
    rec.subject = ota_ca_name_text(X509_REQ_get_subject_name(x->req->csr),
                                   p);
    rec.san = x->san;
    rec.requester = ota_key_digest_hex(X509_get0_pubkey(x->req->signer), p);
    rec.csr = ota_ca_csr_pem(x->req->csr, p);
    rec.expires = apr_time_now()
                  + apr_time_from_sec(ota_cfg_pending_lifetime(x->c));
    if (!rec.requester || !rec.csr) {
        return ota_config_missing(x->r, "memory");
    }
    if (ota_store_pending_add(&verdict, &x->db, challenge, &rec,
                              apr_time_now(), &why, p)) {
        return ota_db_failed(x->r, why);
    }
    if ((rv = store_verdict(x, verdict, "transaction already held or "
                            "answered")) != OK) {
        return rv;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r, "OTA00125: certificate "
                  "request %s for %s%s%s%s%s held for approval (PENDING "
                  "until %s)", rec.transaction_id, rec.subject,
                  x->udid ? ", device " : "", x->udid ? x->udid : "",
                  rec.user ? ", user " : "", rec.user ? rec.user : "",
                  ap_ht_time(p, rec.expires, "%Y-%m-%d %H:%M:%S UTC", 1));
    if (x->udid) {
        apr_table_setn(x->r->subprocess_env, "OTA_UDID", x->udid);
    }
    return reply(x, OTA_SCEP_PENDING, 0, NULL);
}

/* An approved request: the CA's normal issuance, with the names bound to
 * the device when it was held, for the user it was held for. */
static int approved_issue(scep_exchange *x, const ota_pending_record *rec,
                          X509_REQ *csr)
{
    int rv;

    x->req->csr = csr;
    x->udid = rec->udid;
    x->san = rec->san;
    x->user = rec->user;
    x->approver = rec->decided_by ? rec->decided_by : "?";
    if ((rv = check_csr(x, X509_get0_pubkey(x->req->signer))) != OK) {
        return rv;
    }
    return issue(x, NULL);
}

/* A held request, polled (or sent again) by its requester: PENDING while
 * it waits, then the certificate or FAILURE. */
static int held_answer(scep_exchange *x, const ota_pending_record *rec,
                       X509_REQ *csr)
{
    const char *digest = ota_key_digest_hex(X509_get0_pubkey(x->req->signer),
                                            x->r->pool);

    if (!digest || !rec->requester || strcmp(digest, rec->requester)) {
        return refuse(x, "OTA00070", OTA_SCEP_BAD_CERT_ID,
                      "the poll is not signed by the requester's key");
    }
    switch (ota_pending_state_of(rec, apr_time_now())) {
    case OTA_PENDING_OPEN:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, x->r, "OTA00128: request "
                      "%s still waits for approval", rec->transaction_id);
        return reply(x, OTA_SCEP_PENDING, 0, NULL);
    case OTA_PENDING_REJECTED:
        return refuse(x, "OTA00126", OTA_SCEP_BAD_REQUEST, apr_pstrcat(
                      x->r->pool, "request ", rec->transaction_id,
                      " rejected by ", rec->decided_by ? rec->decided_by
                                                       : "?", NULL));
    case OTA_PENDING_EXPIRED:
        return refuse(x, "OTA00127", OTA_SCEP_BAD_REQUEST, apr_pstrcat(
                      x->r->pool, "request ", rec->transaction_id,
                      " expired undecided (OTAEnrollPendingLifetime)",
                      NULL));
    default:
        return approved_issue(x, rec, csr);
    }
}

/* The held request of this transaction: *rec NULL when there is none;
 * its stored CSR in *csr. */
static int held_find(scep_exchange *x, ota_pending_record **rec,
                     X509_REQ **csr)
{
    const char *why = NULL;

    *csr = NULL;
    if (ota_store_pending_get(rec, &x->db, x->req->transaction_id, &why,
                              x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (*rec && !(*csr = ota_ca_csr_from_pem((*rec)->csr, x->r->pool))) {
        return ota_config_missing(x->r, "a readable held request");
    }
    return OK;
}

static int pkcs_req(scep_exchange *x)
{
    ota_pending_record *held;
    X509_REQ *csr;
    const char *challenge;
    int rv;

    if ((rv = replayed(x)) != OK || (rv = held_find(x, &held, &csr)) != OK) {
        return rv;
    }
    if (held) {
        return held_answer(x, held, csr);   /* sent again while held */
    }
    if ((rv = check_challenge(x)) != OK
        || (rv = check_csr(x, X509_get0_pubkey(x->req->signer))) != OK) {
        return rv;
    }
    challenge = ota_cfg_scep_dynamic(x->c, x->c) ? x->req->challenge : NULL;
    return ota_cfg_scep_manual(x->c) ? hold(x, challenge)
                                     : issue(x, challenge);
}

/* RenewalReq: signed by a still-valid certificate we issued, for the same
 * subject; the key may be new. */
static int renewal_req(scep_exchange *x)
{
    ota_certificate_record *prior;
    ota_cms_verdict verdict;
    STACK_OF(X509) *chain;
    const char *detail = NULL, *why = NULL, *serial;
    int rv;

    if ((rv = replayed(x)) != OK) {
        return rv;
    }
    if (ota_trust_verify_cert(&verdict, &chain, &detail, x->c->ca_trust,
                              x->req->signer, x->req->certs, x->r->pool)) {
        return ota_config_missing(x->r, "memory");
    }
    if (verdict != OTA_CMS_OK) {
        return refuse(x, "OTA00068", OTA_SCEP_BAD_MESSAGE_CHECK,
                      apr_pstrcat(x->r->pool, "renewal signer: ", detail,
                                  NULL));
    }
    serial = ota_ca_serial_hex(x->req->signer, x->r->pool);
    if (ota_store_certificate_find(&prior, &x->db, "serial", serial, &why,
                                   x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (!prior || prior->revoked) {
        return refuse(x, "OTA00068", OTA_SCEP_BAD_MESSAGE_CHECK,
                      !prior ? "renewal signer was not issued here"
                             : "renewal signer is revoked");
    }
    if (!ota_ca_same_subject(x->req->csr, x->req->signer)) {
        return refuse(x, "OTA00067", OTA_SCEP_BAD_REQUEST,
                      "renewal for another subject");
    }
    /* The renewed certificate keeps the names bound at enrollment. */
    x->udid = prior->udid;
    x->san_names = ota_san_of_cert(x->req->signer, x->r->pool);
    if ((rv = check_csr(x, NULL)) != OK) {
        return rv;
    }
    return issue(x, NULL);
}

/* Only the requester may collect a certificate: the poll is signed by
 * the key that signed the request (recorded with the certificate; rows
 * from before that record fall back to the certificate's own key, which
 * is the requester's for every PKCSReq). */
static int poller_is_requester(scep_exchange *x,
                               const ota_certificate_record *prior,
                               X509 *cert)
{
    EVP_PKEY *key = X509_get0_pubkey(x->req->signer);
    const char *digest;

    if (prior->requester) {
        digest = ota_key_digest_hex(key, x->r->pool);
        return digest && !strcmp(digest, prior->requester);
    }
    return EVP_PKEY_eq(key, X509_get0_pubkey(cert)) == 1;
}

/* Whether the message names the built-in CA as the issuer. */
static int issuer_is_ca(const scep_exchange *x)
{
    return x->req->issuer
           && !X509_NAME_cmp(x->req->issuer,
                             X509_get_subject_name(ota_ca_cert(x->c->ca)));
}

/* GetCertInitial for a transaction without a certificate: a held request
 * of this CA, for this subject. */
static int held_poll(scep_exchange *x)
{
    ota_pending_record *rec;
    X509_REQ *csr;
    int rv;

    if ((rv = held_find(x, &rec, &csr)) != OK) {
        return rv;
    }
    if (!rec || !ota_ca_csr_has_subject(csr, x->req->subject)
        || !issuer_is_ca(x)) {
        return refuse(x, "OTA00070", OTA_SCEP_BAD_CERT_ID,
                      "no certificate or held request for this "
                      "transaction, issuer and subject");
    }
    return held_answer(x, rec, csr);
}

/* GetCertInitial: the certificate of a transaction, to a poller; for a
 * held request, what its decision says. */
static int cert_poll(scep_exchange *x)
{
    ota_certificate_record *prior;
    const char *why = NULL;
    X509 *cert;

    if (ota_store_certificate_find(&prior, &x->db, "transaction",
                                   x->req->transaction_id, &why,
                                   x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (!prior) {
        return held_poll(x);
    }
    if (!(cert = ota_cert_from_pem(prior->pem, x->r->pool))
        || !ota_ca_cert_has_subject(cert, x->req->subject)
        || !issuer_is_ca(x)) {
        return refuse(x, "OTA00070", OTA_SCEP_BAD_CERT_ID,
                      "no certificate for this transaction, issuer and "
                      "subject");
    }
    if (!poller_is_requester(x, prior, cert)) {
        return refuse(x, "OTA00070", OTA_SCEP_BAD_CERT_ID,
                      "the poll is not signed by the requester's key");
    }
    return reply(x, OTA_SCEP_SUCCESS, 0, cert);
}

/* GetCRL (RFC 8894 3.3.4): the CRL ota-crl serves, to a requester that
 * names this CA as the issuer. */
static int get_crl(scep_exchange *x)
{
    const unsigned char *crl, *der;
    apr_size_t crl_len, len;
    apr_time_t this_update;
    int rv;

    if (!issuer_is_ca(x)) {
        return refuse(x, "OTA00071", OTA_SCEP_BAD_CERT_ID,
                      "GetCRL for another issuer");
    }
    if ((rv = ota_crl_current(x->r, x->c, &x->db, &crl, &crl_len,
                              &this_update)) != OK) {
        return rv;
    }
    if (ota_scep_reply_crl(&der, &len, ota_ca_identity(x->c->ca), x->req,
                           crl, crl_len, x->r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r, "OTA00015: cannot "
                      "sign the CertRep: %s", ota_openssl_error(x->r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return ota_send_bytes(x->r, OTA_MEDIA_PKI_MESSAGE, der, len);
}

static int pki_operation(request_rec *r, const ota_conf *c)
{
    const apr_array_header_t *caps = ota_cfg_scep_capabilities(c);
    scep_exchange x;
    const unsigned char *der;
    apr_size_t len;
    int rv;

    if ((rv = pki_message(r, c, &der, &len)) != OK) {
        return rv;
    }
    memset(&x, 0, sizeof(x));
    x.r = r;
    x.c = c;
    x.policy.allow_sha1 = has_capability(caps, "SHA-1");
    x.policy.allow_3des = has_capability(caps, "DES3");
    if (ota_scep_request_parse(&x.req, der, len, ota_ca_identity(c->ca),
                               &x.policy, r->pool)) {
        return ota_config_missing(r, "memory");
    }
    if (!x.req->ok) {
        if (!x.req->replyable) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00063: SCEP "
                          "message unreadable: %s", x.req->detail);
            return HTTP_BAD_REQUEST;
        }
        return refuse(&x, "OTA00063", x.req->fail_info, x.req->detail);
    }
    if ((rv = ota_db_open(&x.db, r)) != OK) {
        return rv;
    }
    switch (x.req->type) {
    case OTA_SCEP_PKCS_REQ:
        return pkcs_req(&x);
    case OTA_SCEP_RENEWAL_REQ:
        return has_capability(caps, "Renewal") ? renewal_req(&x)
               : refuse(&x, "OTA00071", OTA_SCEP_BAD_REQUEST,
                        "Renewal is not among the capabilities");
    case OTA_SCEP_CERT_POLL:
        return cert_poll(&x);
    case OTA_SCEP_GET_CRL:
        return get_crl(&x);
    default:
        return refuse(&x, "OTA00071", OTA_SCEP_BAD_REQUEST,
                      "message type not supported");
    }
}

int ota_scep_handler(request_rec *r)
{
    const ota_conf *c;
    const char *op;
    int rv;

    if ((rv = ota_handler_check(r, "ota-scep",
                                OTA_SERVES_GET | OTA_SERVES_POST,
                                "OTA00061")) != OK
        || (rv = ota_ca_conf_of(r, &c)) != OK) {
        return rv;
    }
    op = query_arg(r, "operation");
    if (op && !strcmp(op, "GetCACaps")) {
        return send_capabilities(r, ota_cfg_scep_capabilities(c));
    }
    if (op && !strcmp(op, "GetCACert")) {
        return send_ca_certs(r, ota_ca_chain(c->ca));
    }
    if (op && !strcmp(op, "PKIOperation")) {
        rv = pki_operation(r, c);
        return rv == DONE ? OK : rv;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00062: unknown SCEP "
                  "operation '%s'", op ? ap_escape_logitem(r->pool, op) : "");
    return HTTP_BAD_REQUEST;
}

/* Runs before mod_proxy: where OTAEnrollSCEPFront is on, GetCACaps (and
 * GetCACert when OTAEnrollSCEPCACertificate is set) are answered here, so
 * clients get an answer even from a CA that gives none. */
int ota_scep_front_handler(request_rec *r)
{
    const ota_conf *c = ota_conf_of(r);
    const char *op;

    if (!ota_cfg_scep_front(c) || r->method_number != M_GET) {
        return DECLINED;
    }
    op = query_arg(r, "operation");
    if (op && !strcmp(op, "GetCACaps")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "OTA00074: GetCACaps "
                      "answered in front of the CA");
        return send_capabilities(r, ota_cfg_front_capabilities(c));
    }
    if (op && !strcmp(op, "GetCACert") && c->scep_ca_certs) {
        return send_ca_certs(r, c->scep_ca_certs);
    }
    return DECLINED;
}
