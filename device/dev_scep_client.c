/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The SCEP client: what a device does before PKIOperation (GetCACert,
 * GetCACaps, its choices), and one PKIOperation exchange, for enroll, scep
 * and load alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ota_ca.h"
#include "ota_media.h"
#include "ota_pool.h"
#include "scep_payload.h"
#include "dev.h"

#define NETWORK_LOST "A network error has occurred. " \
                     "The network connection was lost"

/* ---- SCEP: what a device does before PKIOperation ---- */

static const char *scep_url(const scep_info *s, const char *operation,
                            apr_pool_t *p)
{
    return dev_scep_url_build(s->url, operation, s->name, p);
}

/* GetCACert answers one DER certificate or a certs-only SignedData. */
static STACK_OF(X509) *ca_certs_parse(const http_answer *a, apr_pool_t *p)
{
    const unsigned char *at = (const unsigned char *)a->body;
    X509 *x = d2i_X509(NULL, &at, (long)a->len);
    STACK_OF(X509) *certs = NULL;
    CMS_ContentInfo *cms;

    if (x) {
        certs = sk_X509_new_null();
        sk_X509_push(certs, x);
    }
    else {
        at = (const unsigned char *)a->body;
        if ((cms = d2i_CMS_ContentInfo(NULL, &at, (long)a->len)) != NULL) {
            certs = CMS_get1_certs(cms);
            CMS_ContentInfo_free(cms);
        }
    }
    ERR_clear_error();
    ota_own_certs(p, certs);
    return certs && sk_X509_num(certs) > 0 ? certs : NULL;
}

/* A device refuses a CA that does not match the payload's CAFingerprint
 * (MD5, SHA-1 or SHA-256, told apart by length). */
static int fingerprint_check(const scep_info *s, apr_pool_t *p)
{
    const EVP_MD *md = s->fingerprint_len == 16 ? EVP_md5()
                       : s->fingerprint_len == 20 ? EVP_sha1()
                       : s->fingerprint_len == 32 ? EVP_sha256() : NULL;
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n;
    X509 *x;

    if (!s->fingerprint) {
        printf("CAFingerprint: none in the payload, CA not pinned\n");
        return 0;
    }
    for (int i = 0; md && i < sk_X509_num(s->ca_certs); i++) {
        x = sk_X509_value(s->ca_certs, i);
        if (X509_digest(x, md, buf, &n) == 1 && n == s->fingerprint_len
            && memcmp(buf, s->fingerprint, n) == 0) {
            printf("CAFingerprint: matches %s\n",
                   dev_name_text(X509_get_subject_name(x), p));
            return 0;
        }
    }
    return cli_complain(EXIT_SCEP, "GetCACert: no certificate matches "
                        "CAFingerprint");
}

/* Among GetCACert's certificates, the one to encrypt to (usage
 * KU_KEY_ENCIPHERMENT) or to verify CertReps with (KU_DIGITAL_SIGNATURE):
 * an RA (a certificate that is no CA), the one with that key usage when
 * there are two; else the lowest CA (one that issued none of the others).
 * CMS keeps certificates in DER order: the order says nothing. */
static X509 *scep_pick(STACK_OF(X509) *certs, uint32_t usage)
{
    X509 *x, *ra = NULL;
    int i, j, n = sk_X509_num(certs);

    for (i = 0; i < n; i++) {
        x = sk_X509_value(certs, i);
        if (X509_check_ca(x) == 0
            && (!ra || (!(X509_get_key_usage(ra) & usage)
                        && (X509_get_key_usage(x) & usage)))) {
            ra = x;
        }
    }
    for (i = 0; !ra && i < n; i++) {
        x = sk_X509_value(certs, i);
        for (j = 0; j < n; j++) {
            if (j != i && X509_check_issued(x, sk_X509_value(certs, j))
                              == X509_V_OK) {
                break;
            }
        }
        ra = j == n ? x : NULL;
    }
    return ra ? ra : sk_X509_value(certs, 0);
}

/* GetCACert at URL (with its operation) into *certs. */
int dev_ca_certs_fetch(dev_ctx *ctx, const char *url,
                       STACK_OF(X509) **certs)
{
    http_request rq = { "GET", url, NULL, 0, NULL, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms : SCEP_TIMEOUT_MS };
    http_answer *a;

    printf("-> GetCACert\n");
    a = dev_http_do(ctx, &rq);
    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        return cli_complain(EXIT_SCEP, "GetCACert: no answer: %s", a->error);
    }
    printf("<- %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", dev_excerpt(a->body, a->len, ctx->p));
        return cli_complain(EXIT_SCEP, "GetCACert: HTTP %ld", a->status);
    }
    if (!(*certs = ca_certs_parse(a, ctx->p))) {
        return cli_complain(EXIT_SCEP, "GetCACert: no certificate in the "
                            "answer");
    }
    return 0;
}

/* The recipient and the CertRep signer among certs, printed. */
void dev_scep_peers(X509 **recipient, X509 **signer,
                    STACK_OF(X509) *certs, apr_pool_t *p)
{
    *recipient = scep_pick(certs, KU_KEY_ENCIPHERMENT);
    *signer = scep_pick(certs, KU_DIGITAL_SIGNATURE);
    printf("SCEP recipient: %s (%s)\n",
           dev_name_text(X509_get_subject_name(*recipient), p),
           X509_check_ca(*recipient) ? "CA" : "RA");
    if (*signer != *recipient) {
        printf("SCEP signer: %s (RA)\n",
               dev_name_text(X509_get_subject_name(*signer), p));
    }
}

int dev_scep_getcacert(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    const char *url = scep_url(s, "GetCACert", ctx->p);
    int rc;

    if (!url) {
        return cli_complain(EXIT_SCEP, "bad SCEP URL %s", s->url);
    }
    printf("SCEP: %s (CA name %s)\n", s->url, s->name ? s->name : "none");
    if ((rc = dev_ca_certs_fetch(ctx, url, &s->ca_certs)) != 0) {
        return rc;
    }
    dev_scep_peers(&s->recipient, &s->signer, s->ca_certs, ctx->p);
    return fingerprint_check(s, ctx->p);
}

char *dev_trim(char *s)
{
    char *end;

    while (apr_isspace(*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && apr_isspace(end[-1])) {
        *--end = '\0';
    }
    return s;
}

/* One capability a line; an answer with anything else is no answer. */
static apr_array_header_t *caps_parse(const http_answer *a, const char **why,
                                      apr_pool_t *p)
{
    apr_array_header_t *caps = apr_array_make(p, 8, sizeof(char *));
    char *copy = apr_pstrmemdup(p, a->body, a->len), *state = NULL, *line;

    for (line = apr_strtok(copy, "\r\n", &state); line;
         line = apr_strtok(NULL, "\r\n", &state)) {
        if (!*(line = dev_trim(line))) {
            continue;
        }
        if (!ota_scep_capability_valid(line)) {
            *why = "HTTP 200, not a capability list";
            return NULL;
        }
        APR_ARRAY_PUSH(caps, const char *) = line;
    }
    if (caps->nelts == 0) {
        *why = "HTTP 200 with an empty body";
        return NULL;
    }
    return caps;
}

static int caps_ask(dev_ctx *ctx, const char **why)
{
    http_request rq = { "GET", scep_url(&ctx->scep, "GetCACaps", ctx->p),
                        NULL, 0, NULL, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms : SCEP_TIMEOUT_MS };
    http_answer *a = dev_http_do(ctx, &rq);

    if (a->error) {
        *why = a->error;
        return 0;
    }
    if (a->status != 200) {
        *why = apr_psprintf(ctx->p, "HTTP %ld", a->status);
        return 0;
    }
    if (!(ctx->scep.caps = caps_parse(a, why, ctx->p))) {
        return 0;
    }
    printf("<- 200 %s\n", dev_list_text(ctx->scep.caps, ctx->p));
    return 1;
}

int dev_scep_getcacaps(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    const char *why = NULL;
    int i;

    if (s->payload_caps) {
        s->caps = s->payload_caps;
        printf("GetCACaps: from the payload, not asked\n");
        return 0;
    }
    for (i = 1; i <= ctx->os->getcacaps_attempts; i++) {
        printf("-> GetCACaps (attempt %d)\n", i);
        if (caps_ask(ctx, &why)) {
            return 0;
        }
        printf("<- no answer (%s)\n", why);
    }
    if (ctx->os->fail_without_caps) {
        printf("RESULT: failed: GetCACaps unanswered %d times\n", i - 1);
        fprintf(stderr, "%s\n", NETWORK_LOST);
        return EXIT_NETWORK;
    }
    printf("GetCACaps: no answer after %d attempt%s, falling back to "
           "GET, 3DES, SHA-1\n", i - 1, i - 1 == 1 ? "" : "s");
    s->caps = apr_array_make(ctx->p, 1, sizeof(const char *));
    return 0;
}

static int cap_present(const apr_array_header_t *caps, const char *cap)
{
    for (int i = 0; i < caps->nelts; i++) {
        if (strcasecmp(APR_ARRAY_IDX(caps, i, const char *), cap) == 0) {
            return 1;
        }
    }
    return 0;
}

/* What the device picks from the capabilities. SCEPStandard implies
 * POSTPKIOperation, AES and SHA-256 (RFC 8894 3.5.2). Without any: GET,
 * 3DES, SHA-1. */
int dev_scep_plan(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    int standard = cap_present(s->caps, "SCEPStandard");
    int aes = standard || cap_present(s->caps, "AES");
    int sha256 = standard || cap_present(s->caps, "SHA-256");

    s->post = standard || cap_present(s->caps, "POSTPKIOperation");
    s->cipher = aes ? EVP_aes_256_cbc() : EVP_des_ede3_cbc();
    s->md = sha256 ? EVP_sha256() : EVP_sha1();
    printf("capabilities: %s\n", s->caps->nelts
           ? dev_list_text(s->caps, ctx->p)
           : "none (device defaults: GET, 3DES, SHA-1)");
    printf("PKIOperation: method %s, cipher %s, digest %s\n",
           s->post ? "POST" : "GET", aes ? "AES" : "3DES",
           sha256 ? "SHA-256" : "SHA-1");
    return 0;
}

/* ---- SCEP: PKIOperation ---- */

/* A signed attribute of a pkiMessage, single-valued, of that type. */
static ASN1_STRING *attr_of(CMS_SignerInfo *si, const char *oid, int type)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_STRING *v = obj ? CMS_signed_get0_data_by_OBJ(si, obj, -3, type)
                         : NULL;

    ASN1_OBJECT_free(obj);
    return v;
}

/* What a pkiMessage built elsewhere (--send) says its CertRep must echo,
 * from its signed attributes; NULL when it has none we can use. */
static ota_scep_sent *sent_from_der(const unsigned char *der,
                                    apr_size_t len, apr_pool_t *p)
{
    const unsigned char *at = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &at, (long)len);
    STACK_OF(CMS_SignerInfo) *sis = cms ? CMS_get0_SignerInfos(cms) : NULL;
    CMS_SignerInfo *si = NULL;
    ASN1_STRING *type = NULL, *tid = NULL, *nonce = NULL;
    ota_scep_sent *s = NULL;

    if (sk_CMS_SignerInfo_num(sis) == 1) {
        si = sk_CMS_SignerInfo_value(sis, 0);
        type = attr_of(si, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING);
        tid = attr_of(si, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING);
        nonce = attr_of(si, "2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING);
    }
    if (type && tid && nonce
        && ASN1_STRING_length(nonce) == OTA_SCEP_NONCE_LEN) {
        s = apr_pcalloc(p, sizeof(*s));
        s->der = der;
        s->len = len;
        s->type = atoi(apr_pstrmemdup(p, (const char *)
                                      ASN1_STRING_get0_data(type),
                                      ASN1_STRING_length(type)));
        s->transaction_id = apr_pstrmemdup(p, (const char *)
                                           ASN1_STRING_get0_data(tid),
                                           ASN1_STRING_length(tid));
        memcpy(s->sender_nonce, ASN1_STRING_get0_data(nonce),
               OTA_SCEP_NONCE_LEN);
    }
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return s;
}

/* Builds the request (--send: reads what its CertRep must echo). */
static int scep_op_build(dev_ctx *ctx, scep_op *op)
{
    apr_status_t rv;

    if (op->raw) {
        op->sent = sent_from_der(op->raw, op->raw_len, ctx->p);
        return 0;
    }
    if ((rv = ota_scep_request_build(&op->sent, &op->c, ctx->p))
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot build the %s: %s",
                            ota_scep_message_type_name(op->c.type),
                            rv == APR_EINVAL ? "incomplete request"
                                             : ota_openssl_error(ctx->p));
    }
    if (op->save_request
        && (rv = dev_file_write(op->save_request, op->sent->der,
                                op->sent->len, ctx->p)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot write %s: %s",
                            op->save_request, cli_apr_error(rv, ctx->p));
    }
    return 0;
}

static void scep_op_announce(const scep_op *op, apr_size_t len)
{
    const char *method = op->post ? "POST" : "GET";

    if (op->raw) {
        printf("-> PKIOperation (%s, %s as it is)\n", method, op->raw_file);
    }
    else {
        printf("-> PKIOperation (%s, %s, %s)\n", method,
               EVP_MD_get0_name(op->c.md ? op->c.md : EVP_sha256()),
               EVP_CIPHER_get0_name(op->c.cipher ? op->c.cipher
                                                 : EVP_aes_256_cbc()));
    }
    if (op->sent) {
        printf("   %s, transactionID %s, %" APR_SIZE_T_FMT " bytes\n",
               ota_scep_message_type_name(op->sent->type),
               op->sent->transaction_id, len);
    }
}

/* POST the DER, or GET it in base64 as message=. */
static http_answer *scep_op_send(dev_ctx *ctx, const scep_op *op)
{
    const unsigned char *der = op->raw ? op->raw : op->sent->der;
    apr_size_t len = op->raw ? op->raw_len : op->sent->len;
    http_request rq = { "POST", NULL, NULL, 0, OTA_MEDIA_PKI_MESSAGE,
                        NULL, ctx->timeout_ms ? ctx->timeout_ms
                                              : PHASE_TIMEOUT_MS };
    http_answer *a;
    char *b64;

    scep_op_announce(op, len);
    if (op->post) {
        rq.url = dev_scep_url_build(op->url, "PKIOperation", NULL, ctx->p);
        rq.body = (const char *)der;
        rq.len = len;
    }
    else {
        b64 = apr_palloc(ctx->p, apr_base64_encode_len((int)len));
        apr_base64_encode_binary(b64, der, (int)len);
        rq.method = "GET";
        rq.url = dev_scep_url_build(op->url, "PKIOperation", b64, ctx->p);
    }
    if (!rq.url) {
        a = apr_pcalloc(ctx->p, sizeof(*a));
        a->error = apr_pstrcat(ctx->p, "bad SCEP URL ", op->url, NULL);
        return a;
    }
    return dev_http_do(ctx, &rq);
}

/* The certificate of the reply for that key, or NULL. */
X509 *dev_cert_for_key(STACK_OF(X509) *certs, EVP_PKEY *key)
{
    X509 *x;

    for (int i = 0; key && i < sk_X509_num(certs); i++) {
        x = sk_X509_value(certs, i);
        if (EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1) {
            return x;
        }
    }
    return NULL;
}

static void reply_print(const scep_op *op, apr_pool_t *p)
{
    const ota_scep_reply *r = op->reply;
    X509 *x = op->issued ? op->issued : r->cert;

    printf("status: %s\n", ota_scep_status_name(r->status));
    printf("CertRep: signed with %s%s%s\n", r->digest_name,
           r->status == OTA_SCEP_SUCCESS ? ", enciphered with " : "",
           r->status == OTA_SCEP_SUCCESS ? OBJ_nid2sn(r->cipher_nid) : "");
    if (r->status == OTA_SCEP_FAILURE) {
        printf("failInfo: %s\n", ota_scep_fail_info_name(r->fail_info));
        if (r->fail_text) {
            printf("failInfoText: %s\n", r->fail_text);
        }
    }
    if (r->status == OTA_SCEP_SUCCESS && x) {
        printf("subject: %s\n", dev_name_text(X509_get_subject_name(x), p));
        printf("serial: %s\n", ota_ca_serial_hex(x, p));
        printf("issuer: %s\n", dev_name_text(X509_get_issuer_name(x), p));
        printf("notAfter: %s\n", dev_time_text(X509_get0_notAfter(x), p));
    }
}

/* Reads the CertRep: 0 when it was read and verified (op->reply->status
 * says what it holds), EXIT_SCEP when there was none to read. */
static int scep_op_answer(dev_ctx *ctx, scep_op *op, const http_answer *a)
{
    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        printf("SCEP: PKIOperation not answered (%s)\n", a->error);
        return EXIT_SCEP;
    }
    printf("<- HTTP %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", dev_excerpt(a->body, a->len, ctx->p));
        printf("SCEP: PKIOperation not answered (HTTP %ld)\n", a->status);
        return EXIT_SCEP;
    }
    if (op->save_reply && dev_save(ctx, op->save_reply, a->body, a->len)) {
        return EXIT_LOCAL;
    }
    if (!dev_media_type_is(a->content_type, OTA_MEDIA_PKI_MESSAGE)) {
        printf("   (Content-Type is not " OTA_MEDIA_PKI_MESSAGE ")\n");
    }
    if (!op->sent) {
        printf("status: not read (what was sent carries no SCEP "
               "attributes to match)\n");
        return EXIT_SCEP;
    }
    if (ota_scep_reply_parse(&op->reply, (const unsigned char *)a->body,
                             a->len, op->sent, &op->c, op->signer,
                             op->flags, ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot read the CertRep: %s",
                            ota_openssl_error(ctx->p));
    }
    if (!op->reply->ok) {
        printf("status: unreadable (%s)\n", op->reply->detail);
        printf("SCEP: CertRep refused: %s\n", op->reply->detail);
        return EXIT_SCEP;
    }
    op->issued = dev_cert_for_key(op->reply->certs, op->csr_key);
    reply_print(op, ctx->p);
    return 0;
}

int dev_scep_op_run(dev_ctx *ctx, scep_op *op)
{
    int rc = scep_op_build(ctx, op);

    return rc ? rc : scep_op_answer(ctx, op, scep_op_send(ctx, op));
}
