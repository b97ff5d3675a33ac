/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in CA's OCSP responder (RFC 6960), on OpenSSL's OCSP API:
 * requests are judged against the CA's name and key hashes, computed once;
 * answers are basic responses signed by the CA or a delegated responder. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ota_ocsp.h"
#include "ota_crl.h"
#include "ota_pool.h"

struct ota_ocsp_responder {
    X509 *cert;                   /* signs the answers */
    EVP_PKEY *key;
    unsigned long sign_flags;     /* OCSP_RESPID_KEY */
    OCSP_CERTID *ids[2];          /* the CA's hashes: SHA-1, SHA-256 */
};

OTA_POOL_CLEANUP(free_certid, OCSP_CERTID_free)
OTA_POOL_CLEANUP(free_request, OCSP_REQUEST_free)
OTA_POOL_CLEANUP(free_der, OPENSSL_free)

/* The CA's issuerNameHash and issuerKeyHash in md, as a CertID with a
 * placeholder serial (only the issuer part is ever compared). */
static OCSP_CERTID *issuer_id(X509 *ca, const EVP_MD *md, apr_pool_t *p)
{
    ASN1_INTEGER *zero = ASN1_INTEGER_new();
    OCSP_CERTID *id = NULL;

    if (zero && ASN1_INTEGER_set(zero, 0)) {
        id = OCSP_cert_id_new(md, X509_get_subject_name(ca),
                              X509_get0_pubkey_bitstr(ca), zero);
    }
    ASN1_INTEGER_free(zero);
    return ota_own(p, id, free_certid);
}

/* A delegated responder: issued and signed by the CA, OCSPSigning, valid
 * now. NULL when it qualifies, else why not. */
static const char *delegate_refusal(X509 *cert, X509 *ca)
{
    uint32_t xku;

    if (X509_check_issued(ca, cert) != X509_V_OK
        || X509_verify(cert, X509_get0_pubkey(ca)) != 1) {
        ERR_clear_error();
        return "was not issued by the CA";
    }
    xku = X509_get_extended_key_usage(cert);
    if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE)
        || !(xku & XKU_OCSP_SIGN)) {
        return "lacks extendedKeyUsage OCSPSigning (id-kp-OCSPSigning)";
    }
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0
        || X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        return "is not valid now";
    }
    return NULL;
}

apr_status_t ota_ocsp_responder_new(ota_ocsp_responder **out,
                                    const ota_ca *ca,
                                    const ota_identity *signer,
                                    const char **why, apr_pool_t *p)
{
    ota_ocsp_responder *r = apr_pcalloc(p, sizeof(*r));
    X509 *ca_cert = ota_ca_cert(ca);
    const char *refusal;

    if (signer && (refusal = delegate_refusal(signer->cert, ca_cert))) {
        *why = apr_pstrcat(p, "the OCSP signing certificate ", refusal,
                           NULL);
        return APR_EINVAL;
    }
    r->cert = signer ? signer->cert : ca_cert;
    r->key = signer ? signer->key : ota_ca_identity(ca)->key;
    /* The signer's certificate goes with every answer, the CA's too:
     * verifiers such as mod_ssl look for the signer among the response's
     * certificates only. */
    r->sign_flags = OCSP_RESPID_KEY;
    r->ids[0] = issuer_id(ca_cert, EVP_sha1(), p);
    r->ids[1] = issuer_id(ca_cert, EVP_sha256(), p);
    if (!r->ids[0] || !r->ids[1]) {
        *why = "cannot hash the CA's name and key";
        return APR_EGENERAL;
    }
    *out = r;
    return APR_SUCCESS;
}

static const char *serial_hex(const ASN1_INTEGER *serial, apr_pool_t *p)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;
    const char *copy = hex ? apr_pstrdup(p, hex) : NULL;

    OPENSSL_free(hex);
    BN_free(bn);
    return copy;
}

static ota_ocsp_read_verdict read_fail(ota_ocsp_request *q,
                                       ota_ocsp_read_verdict v,
                                       const char *detail)
{
    q->verdict = v;
    q->detail = detail;
    return v;
}

/* Each CertID: a known hash, this CA's name and key hashes, a serial. */
static ota_ocsp_read_verdict read_ids(ota_ocsp_request *q,
                                      const ota_ocsp_responder *r,
                                      apr_pool_t *p)
{
    ASN1_OBJECT *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    OCSP_CERTID *id;
    int i, nid, *nids;

    q->serials = apr_pcalloc(p, sizeof(*q->serials) * q->count);
    q->hash_nids = nids = apr_pcalloc(p, sizeof(*nids) * q->count);
    for (i = 0; i < q->count; i++) {
        id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(q->req, i));
        if (!OCSP_id_get0_info(NULL, &alg, NULL, &serial, id)) {
            return read_fail(q, OTA_OCSP_READ_MALFORMED, "unreadable CertID");
        }
        nid = nids[i] = OBJ_obj2nid(alg);
        if (nid != NID_sha1 && nid != NID_sha256) {
            return read_fail(q, OTA_OCSP_READ_MALFORMED,
                             apr_psprintf(p, "CertID hash %s not supported "
                                          "(SHA-1, SHA-256)",
                                          OBJ_nid2sn(nid)));
        }
        if (OCSP_id_issuer_cmp(id, r->ids[nid == NID_sha1 ? 0 : 1]) != 0) {
            return read_fail(q, OTA_OCSP_READ_UNAUTHORIZED,
                             "a CertID names another issuer");
        }
        if (!(q->serials[i] = serial_hex(serial, p))) {
            return read_fail(q, OTA_OCSP_READ_MALFORMED,
                             "CertID serial is not a positive integer");
        }
    }
    return OTA_OCSP_READ_OK;
}

static int nonce_ok(OCSP_REQUEST *req)
{
    int i = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    ASN1_OCTET_STRING *value;

    if (i < 0) {
        return 1;
    }
    if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, i) >= 0) {
        return 0;
    }
    value = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, i));
    /* RFC 8954: 1 to 32 octets, often wrapped in an OCTET STRING. */
    return ASN1_STRING_length(value) >= 1
           && ASN1_STRING_length(value) <= OTA_OCSP_MAX_NONCE + 2;
}

int ota_ocsp_request_is_whole(const unsigned char *der, apr_size_t len)
{
    const unsigned char *cursor = der;
    OCSP_REQUEST *req = len && len < 0x7fffffff
                        ? d2i_OCSP_REQUEST(NULL, &cursor, (long)len) : NULL;
    int whole = req && (apr_size_t)(cursor - der) == len;

    OCSP_REQUEST_free(req);
    ERR_clear_error();
    return whole;
}

apr_status_t ota_ocsp_request_read(ota_ocsp_request **out,
                                   const unsigned char *der, apr_size_t len,
                                   const ota_ocsp_responder *r,
                                   apr_pool_t *p)
{
    ota_ocsp_request *q = apr_pcalloc(p, sizeof(*q));
    const unsigned char *cursor = der;

    *out = q;
    q->req = len && len < 0x7fffffff
             ? d2i_OCSP_REQUEST(NULL, &cursor, (long)len) : NULL;
    ERR_clear_error();
    if (!q->req) {
        read_fail(q, OTA_OCSP_READ_MALFORMED, "not a DER OCSPRequest");
        return APR_SUCCESS;
    }
    apr_pool_cleanup_register(p, q->req, free_request,
                              apr_pool_cleanup_null);
    q->count = OCSP_request_onereq_count(q->req);
    if ((apr_size_t)(cursor - der) != len) {
        read_fail(q, OTA_OCSP_READ_MALFORMED, "bytes after the OCSPRequest");
    }
    else if (q->count < 1 || q->count > OTA_OCSP_MAX_IDS) {
        read_fail(q, OTA_OCSP_READ_MALFORMED,
                  apr_psprintf(p, "%d CertIDs (1 to %d allowed)", q->count,
                               OTA_OCSP_MAX_IDS));
    }
    else if (!nonce_ok(q->req)) {
        read_fail(q, OTA_OCSP_READ_MALFORMED, "nonce repeated, empty or "
                  "longer than 32 octets");
    }
    else if (read_ids(q, r, p) == OTA_OCSP_READ_OK) {
        q->detail = "ok";
        q->nonce = OCSP_REQUEST_get_ext_by_NID(q->req, NID_id_pkix_OCSP_Nonce,
                                               -1) >= 0;
    }
    return APR_SUCCESS;
}

static apr_status_t response_der(const unsigned char **der, apr_size_t *len,
                                 OCSP_RESPONSE *resp, apr_pool_t *p)
{
    unsigned char *out = NULL;
    int n = resp ? i2d_OCSP_RESPONSE(resp, &out) : -1;

    OCSP_RESPONSE_free(resp);
    if (n <= 0) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, out, free_der, apr_pool_cleanup_null);
    *der = out;
    *len = (apr_size_t)n;
    return APR_SUCCESS;
}

apr_status_t ota_ocsp_error_build(const unsigned char **der, apr_size_t *len,
                                  int status, apr_pool_t *p)
{
    return response_der(der, len, OCSP_response_create(status, NULL), p);
}

static int add_status(OCSP_BASICRESP *bs, OCSP_CERTID *id,
                      const ota_ocsp_status *st, ASN1_TIME *now,
                      ASN1_TIME *next)
{
    static const int kinds[] = {
        V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED,
        V_OCSP_CERTSTATUS_UNKNOWN
    };
    ASN1_TIME *revtime = NULL;
    int reason = OCSP_REVOKED_STATUS_NOSTATUS, ok;

    if (st->status == OTA_OCSP_REVOKED) {
        revtime = ASN1_TIME_set(NULL, (time_t)apr_time_sec(st->revoked));
        if (!revtime) {
            return 0;
        }
        if (st->reason != OTA_REASON_UNSPECIFIED) {
            reason = st->reason;
        }
    }
    ok = OCSP_basic_add1_status(bs, id, kinds[st->status], reason, revtime,
                                now, next) != NULL;
    ASN1_TIME_free(revtime);
    return ok;
}

apr_status_t ota_ocsp_response_build(const unsigned char **der,
                                     apr_size_t *len,
                                     const ota_ocsp_request *req,
                                     const ota_ocsp_status *statuses,
                                     const ota_ocsp_responder *r,
                                     apr_time_t now,
                                     apr_interval_time_t validity,
                                     apr_pool_t *p)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    ASN1_TIME *this_update = ASN1_TIME_set(NULL, (time_t)apr_time_sec(now));
    ASN1_TIME *next = validity
                      ? ASN1_TIME_set(NULL, (time_t)apr_time_sec(now
                                                                 + validity))
                      : NULL;
    OCSP_RESPONSE *resp = NULL;
    int i, ok = bs && this_update && (!validity || next);

    for (i = 0; ok && i < req->count; i++) {
        ok = add_status(bs, OCSP_onereq_get0_id(
                                OCSP_request_onereq_get0(req->req, i)),
                        &statuses[i], this_update, next);
    }
    ok = ok && OCSP_copy_nonce(bs, req->req) > 0
         && OCSP_basic_sign(bs, r->cert, r->key, EVP_sha256(), NULL,
                            r->sign_flags) == 1;
    if (ok) {
        resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    }
    OCSP_BASICRESP_free(bs);
    ASN1_TIME_free(this_update);
    ASN1_TIME_free(next);
    return response_der(der, len, resp, p);
}
