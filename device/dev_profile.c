/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Signed profiles (phases 1, 2 and 3): an answer checked, its signature
 * verified (with --trust), its property list parsed. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "ota_media.h"
#include "dev.h"

const ota_plist_limits dev_profile_limits = {
    1024 * 1024, 32, 4096, 65536
};

/* Phase 3's profile and payloads: certificates and PKCS#12 in <data>,
 * and the EnvelopedData of all of them in one. */
const ota_plist_limits dev_final_limits = {
    MAX_BODY, 32, 4096, MAX_BODY
};

/* The eContent of a SignedData whose signature is not checked. */
static int cms_content_unchecked(const char **xml, apr_size_t *len,
                                 const http_answer *a, const char **why,
                                 apr_pool_t *p)
{
    const unsigned char *at = (const unsigned char *)a->body;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &at, (long)a->len);
    ASN1_OCTET_STRING **content = NULL;
    int found;

    if (cms && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed) {
        content = CMS_get0_content(cms);
    }
    if ((found = content && *content) != 0) {
        *len = ASN1_STRING_length(*content);
        *xml = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(*content),
                              *len);
        printf("signature not checked (no --trust)\n");
    }
    else {
        *why = cms ? "not a SignedData with content"
                   : apr_pstrcat(p, "not CMS: ", ota_openssl_error(p), NULL);
    }
    ERR_clear_error();
    CMS_ContentInfo_free(cms);
    return found;
}

static int cms_content(const char **xml, apr_size_t *len,
                       const dev_ctx *ctx, const http_answer *a,
                       const char **why)
{
    ota_signed_message *m;

    if (!ctx->trust) {
        return cms_content_unchecked(xml, len, a, why, ctx->p);
    }
    if (ota_cms_verify(&m, (const unsigned char *)a->body, a->len,
                       ctx->trust, ctx->p) != APR_SUCCESS) {
        *why = apr_pstrcat(ctx->p, "cannot verify: ",
                           ota_openssl_error(ctx->p), NULL);
        return 0;
    }
    if (m->verdict != OTA_CMS_OK) {
        *why = apr_psprintf(ctx->p, "signature refused: %s (%s)",
                            ota_cms_verdict_name(m->verdict),
                            m->detail ? m->detail : "");
        return 0;
    }
    printf("signature: ok, signed by %s (%s)\n",
           dev_name_text(X509_get_subject_name(m->signer), ctx->p),
           m->digest_name);
    *xml = m->content;
    *len = m->content_len;
    return 1;
}

/* The exit status of a failed phase 1, 2 or 3. */
static int phase_failed(int phase)
{
    return phase == 1 ? EXIT_PHASE1 : phase == 2 ? EXIT_PHASE2 : EXIT_PHASE3;
}

/* Checks a phase-1, -2 or -3 answer and parses the profile in it. */
int dev_profile_answer(plist_t *root, const dev_ctx *ctx, int phase,
                       const http_answer *a)
{
    int code = phase_failed(phase);
    const char *xml = NULL, *why = NULL;
    apr_size_t len = 0;
    int rc;

    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        return cli_complain(code, "phase %d: no answer: %s", phase, a->error);
    }
    printf("<- %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", dev_excerpt(a->body, a->len, ctx->p));
        return cli_complain(code, "phase %d: HTTP %ld", phase, a->status);
    }
    if (!dev_media_type_is(a->content_type, OTA_MEDIA_ASPEN_CONFIG)) {
        return cli_complain(code, "phase %d: Content-Type %s, not "
                            OTA_MEDIA_ASPEN_CONFIG, phase,
                            a->content_type);
    }
    if ((rc = dev_save(ctx, apr_psprintf(ctx->p, "phase%d.der", phase),
                       a->body, a->len)) != 0) {
        return rc;
    }
    if (!cms_content(&xml, &len, ctx, a, &why)) {
        return cli_complain(code, "phase %d: %s", phase, why);
    }
    if ((rc = dev_save(ctx, apr_psprintf(ctx->p, "phase%d.plist", phase),
                       xml, len)) != 0) {
        return rc;
    }
    if (ota_plist_parse(root, xml, len,
                        phase == 3 ? &dev_final_limits : &dev_profile_limits,
                        &why, ctx->p) != APR_SUCCESS
        || plist_get_node_type(*root) != PLIST_DICT) {
        return cli_complain(code, "phase %d: property list refused: %s", phase,
                            why ? why : "not a dict");
    }
    return 0;
}

int dev_profile_post(plist_t *root, const dev_ctx *ctx, int phase,
                     const unsigned char *der, apr_size_t len)
{
    http_request rq = { "POST", ctx->enroll_url, (const char *)der, len,
                        OTA_MEDIA_PKCS7_SIG, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms
                                        : PHASE_TIMEOUT_MS };
    int rc;

    if ((rc = dev_save(ctx, apr_psprintf(ctx->p, "phase%d-request.der",
                                         phase), der, len)) != 0) {
        return rc;
    }
    return dev_profile_answer(root, ctx, phase, dev_http_do(ctx, &rq));
}

int dev_profile_is_configuration(plist_t root, const dev_ctx *ctx,
                                 int phase)
{
    const char *type = ota_plist_dict_get_string(root, "PayloadType",
                                                 ctx->p);

    if (!type || strcmp(type, "Configuration") != 0) {
        return cli_complain(phase_failed(phase), "phase %d: PayloadType is "
                            "%s, not Configuration", phase,
                            type ? type : "missing");
    }
    return 0;
}

apr_array_header_t *dev_string_array(plist_t node, apr_pool_t *p)
{
    apr_array_header_t *out;
    uint32_t n;
    uint64_t len = 0;
    const char *s;

    if (!node || plist_get_node_type(node) != PLIST_ARRAY) {
        return NULL;
    }
    n = plist_array_get_size(node);
    out = apr_array_make(p, n ? n : 1, sizeof(const char *));
    for (uint32_t i = 0; i < n; i++) {
        plist_t item = plist_array_get_item(node, i);

        if (plist_get_node_type(item) != PLIST_STRING) {
            return NULL;
        }
        s = plist_get_string_ptr(item, &len);
        APR_ARRAY_PUSH(out, const char *) = apr_pstrmemdup(p, s, len);
    }
    return out;
}

const char *dev_list_text(const apr_array_header_t *a, apr_pool_t *p)
{
    const char *out;

    if (!a) {
        return "(absent)";
    }
    if (!a->nelts) {
        return "(empty)";
    }
    out = APR_ARRAY_IDX(a, 0, const char *);
    for (int i = 1; i < a->nelts; i++) {
        out = apr_pstrcat(p, out, ", ", APR_ARRAY_IDX(a, i, const char *),
                          NULL);
    }
    return out;
}
