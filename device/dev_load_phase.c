/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* load: what each phase (1, 2, 3, scep) prepares before the clock
 * starts and checks once it stops. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "ota_media.h"
#include "dev.h"
#include "dev_load.h"

#define LOAD_KEEP_PHASE1     5000       /* phase-1 answers kept to check */

/* The profile in an answer: its signature checked when --trust was
 * given (quietly: there are thousands), its property list parsed. */
static int load_profile(plist_t *root, const load_ctx *lc,
                        const load_res *r, const ota_plist_limits *limits,
                        const char **why)
{
    const dev_ctx *ctx = lc->dc;
    const unsigned char *at = (const unsigned char *)r->body;
    CMS_ContentInfo *cms;
    ASN1_OCTET_STRING **content;
    ota_signed_message *m;
    const char *xml = NULL;
    apr_size_t len = 0;

    if (!r->body || !r->len) {
        *why = "empty answer";
        return 0;
    }
    if (ctx->trust) {
        if (ota_cms_verify(&m, at, r->len, ctx->trust, lc->p) != APR_SUCCESS
            || m->verdict != OTA_CMS_OK) {
            *why = "signature refused";
            return 0;
        }
        xml = m->content;
        len = m->content_len;
    }
    else {
        cms = d2i_CMS_ContentInfo(NULL, &at, (long)r->len);
        content = cms ? CMS_get0_content(cms) : NULL;
        if (content && *content) {
            len = ASN1_STRING_length(*content);
            xml = apr_pstrmemdup(lc->p, (const char *)
                                 ASN1_STRING_get0_data(*content), len);
        }
        CMS_ContentInfo_free(cms);
        ERR_clear_error();
        if (!xml) {
            *why = "not a SignedData with content";
            return 0;
        }
    }
    if (ota_plist_parse(root, xml, len, limits, why, lc->p) != APR_SUCCESS
        || plist_get_node_type(*root) != PLIST_DICT) {
        *why = *why ? *why : "not a dict";
        return 0;
    }
    return 1;
}

/* Counts a bad answer, keeping the first reason. */
static int load_bad(load_ctx *lc, int i, const char *why)
{
    if (!lc->first_error) {
        lc->first_error = apr_psprintf(lc->p, "answer %d: %s", i, why);
    }
    return 1;
}

/* An answer that passed the HTTP checks (2xx, Content-Type). */
static int load_http_ok(const load_res *r)
{
    return r->status >= 200 && r->status <= 299 && r->type_ok;
}

static int load_type_is(plist_t root, const char *want, apr_pool_t *p)
{
    const char *type = ota_plist_dict_get_string(root, "PayloadType", p);

    return type && strcmp(type, want) == 0;
}

/* A device UDID per request, unique across runs. */
static const char *load_udid(const load_ctx *lc, int i)
{
    return apr_psprintf(lc->p, "%08X-0000-4000-8000-%012X",
                        (unsigned)lc->run_id, (unsigned)i);
}

/* Checks a kept answer that passed the HTTP checks: 1 if it is bad. */
typedef int (*load_check)(load_ctx *lc, int i, const load_res *r,
                          void *baton);

/* The timed run of phase's n prepared requests (POSTs of content_type,
 * or GETs for NULL), then each kept answer checked, the line "check:
 * checked" and the report. */
static int load_measure(load_ctx *lc, const char *phase,
                        const char *content_type, const load_req *reqs,
                        int n, load_check check, void *baton,
                        const char *checked)
{
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    load_timing t;
    int bad = 0, rc;

    if (content_type) {
        lc->headers = curl_slist_append(lc->headers, apr_pstrcat(
                          lc->p, "Content-Type: ", content_type, NULL));
    }
    if ((rc = dev_load_timed(lc, reqs, res, n, &t)) != 0) {
        return rc;
    }
    n = t.requests;
    for (int i = 0; lc->keep && i < n; i++) {
        if (load_http_ok(&res[i])) {
            bad += check(lc, i, &res[i], baton);
        }
    }
    printf("check: %s\n", checked);
    return dev_load_report(lc, phase, res, n, bad, &t);
}

/* A phase-1 answer: a Profile Service with a challenge. */
static int load_phase1_answer(load_ctx *lc, int i, const load_res *r,
                              void *unused)
{
    const char *why = NULL;
    plist_t root, content;

    if (!load_profile(&root, lc, r, &dev_profile_limits, &why)) {
        return load_bad(lc, i, why);
    }
    return !load_type_is(root, "Profile Service", lc->p)
           || !(content = plist_dict_get_item(root, "PayloadContent"))
           || !ota_plist_dict_get_string(content, "Challenge", lc->p)
           ? load_bad(lc, i, "not a Profile Service with a challenge") : 0;
}

/* Phase 1: N GETs of --url. Up to LOAD_KEEP_PHASE1 answers are kept and
 * read; beyond, only status and Content-Type are checked. */
int dev_load_phase1(load_ctx *lc, int n)
{
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));

    for (int i = 0; i < n; i++) {
        reqs[i].url = lc->dc->url;
    }
    lc->keep = n <= LOAD_KEEP_PHASE1;
    lc->want_type = OTA_MEDIA_ASPEN_CONFIG;
    return load_measure(lc, "1", NULL, reqs, n, load_phase1_answer, NULL,
                        lc->keep ? "every answer read"
                                 : "status and Content-Type only");
}

/* Phase 2, before the clock: N challenges minted by phase-1 GETs, and N
 * attribute bodies (a new UDID each) signed as a real device signs. */
static int load_phase2_prepare(load_ctx *lc, load_req *reqs, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *mint = apr_pcalloc(lc->p, n * sizeof(*mint));
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    const char *why = NULL, *url, *xml;
    const unsigned char *der;
    apr_size_t xml_len, der_len;
    apr_time_t t0 = dev_mono_now();
    plist_t root, content;
    int rc;

    for (int i = 0; i < n; i++) {
        mint[i].url = ctx->url;
    }
    ctx->quiet = 1;
    lc->keep = 1;
    lc->want_type = OTA_MEDIA_ASPEN_CONFIG;
    if ((rc = dev_load_run(lc, mint, res, n, 0)) != 0) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (!load_http_ok(&res[i])) {
            return cli_complain(EXIT_PHASE1, "minting challenge %d: HTTP "
                                "%ld%s%s", i, res[i].status,
                                lc->first_error ? ": " : "",
                                lc->first_error ? lc->first_error : "");
        }
        if (!load_profile(&root, lc, &res[i], &dev_profile_limits, &why)
            || !(content = plist_dict_get_item(root, "PayloadContent"))
            || plist_get_node_type(content) != PLIST_DICT
            || !(ctx->challenge = ota_plist_dict_get_string(
                                      content, "Challenge", lc->p))
            || !(url = ota_plist_dict_get_string(content, "URL", lc->p))) {
            return cli_complain(EXIT_PHASE1, "minting challenge %d: %s", i,
                                why ? why : "no Challenge or URL");
        }
        if (i == 0) {
            ctx->enroll_url = dev_url_resolve(ctx->url, url, lc->p);
            ctx->attributes = dev_string_array(plist_dict_get_item(
                                  content, "DeviceAttributes"), lc->p);
            if (!ctx->enroll_url) {
                return cli_complain(EXIT_PHASE1, "phase 1: bad URL %s", url);
            }
        }
        ctx->udid = load_udid(lc, i);
        if ((rc = dev_attributes_build(&xml, &xml_len, ctx, 1)) != 0) {
            return rc;
        }
        if (ota_cms_sign(&der, &der_len, ctx->id, xml, xml_len, ctx->md,
                         ctx->with_attributes, lc->p) != APR_SUCCESS) {
            return cli_complain(EXIT_LOCAL, "cannot sign the attributes: %s",
                                ota_openssl_error(lc->p));
        }
        reqs[i].url = ctx->enroll_url;
        reqs[i].body = (const char *)der;
        reqs[i].len = der_len;
    }
    printf("prepare: %d challenges minted by phase-1 GETs and %d bodies "
           "signed (%s, %s, %" APR_SIZE_T_FMT " bytes) in %.1f s\n", n, n,
           ctx->md_name, ctx->with_attributes ? "signed attributes"
                                              : "no signed attributes",
           reqs[0].len, (double)(dev_mono_now() - t0) / APR_USEC_PER_SEC);
    printf("enrollment URL: %s\n", ctx->enroll_url);
    lc->first_error = NULL;
    return 0;
}

/* A phase-2 answer: a Configuration with a SCEP payload. */
static int load_phase2_answer(load_ctx *lc, int i, const load_res *r,
                              void *unused)
{
    const char *why = NULL;
    plist_t root;

    if (!load_profile(&root, lc, r, &dev_profile_limits, &why)) {
        return load_bad(lc, i, why);
    }
    return !load_type_is(root, "Configuration", lc->p)
           || !dev_scep_payload_find(root, lc->p)
           ? load_bad(lc, i, "not a Configuration with a SCEP payload") : 0;
}

int dev_load_phase2(load_ctx *lc, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    int rc;

    if ((rc = dev_identity_load(ctx)) != 0
        || (rc = load_phase2_prepare(lc, reqs, n)) != 0) {
        return rc;
    }
    return load_measure(lc, "2", OTA_MEDIA_PKCS7_SIG, reqs, n,
                        load_phase2_answer, NULL, ctx->trust
                        ? "every answer read, its signature verified"
                        : "every answer read");
}

/* A phase-3 answer: an encrypted Configuration. */
static int load_phase3_answer(load_ctx *lc, int i, const load_res *r,
                              void *unused)
{
    const char *why = NULL;
    plist_t root, flag;
    uint8_t encrypted = 0;

    if (!load_profile(&root, lc, r, &dev_final_limits, &why)) {
        return load_bad(lc, i, why);
    }
    flag = plist_dict_get_item(root, "IsEncrypted");
    if (flag && plist_get_node_type(flag) == PLIST_BOOLEAN) {
        plist_get_bool_val(flag, &encrypted);
    }
    if (!load_type_is(root, "Configuration", lc->p) || !encrypted
        || !plist_dict_get_item(root, "EncryptedPayloadContent")) {
        return load_bad(lc, i, "not an encrypted Configuration");
    }
    /* the first one is opened as the device would */
    return i == 0 && dev_phase3_read(lc->dc, root) != 0
           ? load_bad(lc, i, "cannot open EncryptedPayloadContent") : 0;
}

/* Phase 3: one device enrolled first (phases 1, 2 and SCEP, printed as
 * enroll prints them), then N phase-3 posts signed by its SCEP
 * identity. */
int dev_load_phase3(load_ctx *lc, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    apr_time_t t0 = dev_mono_now();
    int rc;

    printf("prepare: one device through phases 1, 2 and SCEP\n");
    if ((rc = dev_enroll_prepare(ctx)) != 0
        || (rc = dev_enroll_to_scep(ctx)) != 0) {
        return rc < 0 ? EXIT_LOCAL : rc;
    }
    ctx->quiet = 1;
    for (int i = 0; i < n; i++) {
        /* without signed attributes every signature is the same bytes */
        if ((i == 0 || ctx->with_attributes)
            && (rc = dev_phase3_request(&der, &len, ctx)) != 0) {
            return rc;
        }
        reqs[i].url = ctx->enroll_url;
        reqs[i].body = (const char *)der;
        reqs[i].len = len;
    }
    printf("prepare: %d phase-3 bodies (%s, %" APR_SIZE_T_FMT " bytes) in "
           "%.1f s\n", n, ctx->p3_md_name, len,
           (double)(dev_mono_now() - t0) / APR_USEC_PER_SEC);
    lc->keep = 1;
    lc->want_type = OTA_MEDIA_ASPEN_CONFIG;
    return load_measure(lc, "3", OTA_MEDIA_PKCS7_SIG, reqs, n,
                        load_phase3_answer, NULL, ctx->trust
                        ? "every answer read, its signature verified, the "
                          "first one decrypted"
                        : "every answer read, the first one decrypted");
}

/* One PKCSReq per request: one key, self-signed signer and challenge for
 * all, a new subject (CN) and transactionID each, so none is a replay
 * and no CA finds a second certificate for a subject. */
static int load_scep_prepare(load_ctx *lc, scep_op *op,
                             ota_scep_client *clients, ota_scep_sent **sent,
                             load_req *reqs, int n)
{
    dev_ctx *ctx = lc->dc;
    const scep_opts *o = &ctx->so;
    const char *url = dev_scep_url_build(ctx->url, "PKIOperation", NULL,
                                         lc->p);
    const char *why = NULL;
    apr_time_t t0 = dev_mono_now();
    X509_NAME *name;
    int rc;

    if (!url) {
        return cli_complain(EXIT_LOCAL, "bad SCEP URL %s", ctx->url);
    }
    if ((rc = dev_scep_cli_ca(ctx, op)) != 0) {
        return rc;
    }
    if (!(op->csr_key = dev_rsa_generate(o->keysize, lc->p))
        || ota_scep_self_signed(&op->c.cert, op->csr_key, "ota-device load",
                                7, lc->p)) {
        return cli_complain(EXIT_LOCAL, "cannot make the key or its signer: "
                            "%s", ota_openssl_error(lc->p));
    }
    op->c.key = op->csr_key;
    op->c.type = OTA_SCEP_PKCS_REQ;
    if ((rc = dev_scep_cli_algorithms(ctx, op)) != 0) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (!(name = o->subject ? dev_name_parse(o->subject, &why, lc->p)
                                : dev_name_new(lc->p))
            || !dev_name_add(name, "CN",
                             apr_psprintf(lc->p, "ota-load-%08X-%d",
                                          (unsigned)lc->run_id, i),
                             0, &why, lc->p)) {
            return cli_complain(EXIT_LOCAL, "--subject: %s",
                                why ? why : "out of memory");
        }
        clients[i] = op->c;
        clients[i].transaction_id = apr_psprintf(lc->p, "OTALOAD%08X%08X",
                                                 (unsigned)lc->run_id,
                                                 (unsigned)i);
        if (ota_scep_csr(&clients[i].csr, op->csr_key, name, o->challenge,
                         lc->p)
            || ota_scep_request_build(&sent[i], &clients[i], lc->p)) {
            return cli_complain(EXIT_LOCAL, "cannot build PKCSReq %d: %s", i,
                                ota_openssl_error(lc->p));
        }
        reqs[i].url = url;
        reqs[i].body = (const char *)sent[i]->der;
        reqs[i].len = sent[i]->len;
    }
    printf("prepare: %d PKCSReq (RSA %d, %s, %s, %" APR_SIZE_T_FMT
           " bytes) in %.1f s\n", n, o->keysize,
           EVP_MD_get0_name(op->c.md), EVP_CIPHER_get0_name(op->c.cipher),
           reqs[0].len, (double)(dev_mono_now() - t0) / APR_USEC_PER_SEC);
    return 0;
}

/* The PKCSReqs of a SCEP run, to read their CertReps with. */
typedef struct scep_batch {
    const scep_op *op;
    const ota_scep_client *clients;
    ota_scep_sent *const *sent;
} scep_batch;

/* A CertRep: SUCCESS with a certificate for our key. */
static int load_scep_answer(load_ctx *lc, int i, const load_res *r,
                            void *baton)
{
    const scep_batch *b = baton;
    const scep_op *op = b->op;
    ota_scep_reply *reply;

    if (ota_scep_reply_parse(&reply, (const unsigned char *)r->body, r->len,
                             b->sent[i], &b->clients[i], op->signer,
                             op->flags, lc->p)
        != APR_SUCCESS || !reply->ok) {
        return load_bad(lc, i, apr_pstrcat(lc->p, "CertRep unreadable: ",
                                           reply && reply->detail
                                           ? reply->detail : "", NULL));
    }
    if (reply->status != OTA_SCEP_SUCCESS) {
        return load_bad(lc, i, apr_psprintf(lc->p, "%s %s%s%s",
                        ota_scep_status_name(reply->status),
                        ota_scep_fail_info_name(reply->fail_info),
                        reply->fail_text ? ": " : "",
                        reply->fail_text ? reply->fail_text : ""));
    }
    return dev_cert_for_key(reply->certs, op->csr_key) ? 0
           : load_bad(lc, i, "SUCCESS without a certificate for our key");
}

int dev_load_scep(load_ctx *lc, int n)
{
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    ota_scep_client *clients = apr_pcalloc(lc->p, n * sizeof(*clients));
    ota_scep_sent **sent = apr_pcalloc(lc->p, n * sizeof(*sent));
    scep_op op;
    scep_batch batch = { &op, clients, sent };
    int rc;

    memset(&op, 0, sizeof(op));
    if ((rc = load_scep_prepare(lc, &op, clients, sent, reqs, n)) != 0) {
        return rc;
    }
    lc->keep = 1;
    lc->want_type = OTA_MEDIA_PKI_MESSAGE;
    return load_measure(lc, "scep", OTA_MEDIA_PKI_MESSAGE, reqs, n,
                        load_scep_answer, &batch,
                        "every CertRep verified and opened");
}
