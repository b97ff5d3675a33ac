/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 3: the attributes signed with the identity SCEP gave, the
 * encrypted final profile opened. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>

#include "ota_media.h"
#include "dev.h"

static const char *key_text(EVP_PKEY *key, apr_pool_t *p)
{
    const char *type = EVP_PKEY_get0_type_name(key);

    return apr_psprintf(p, "%s %d", type ? type : "key",
                        EVP_PKEY_get_bits(key));
}

/* The attributes without CHALLENGE, signed with the phase-3 identity. */
int dev_phase3_request(const unsigned char **der, apr_size_t *len,
                       const dev_ctx *ctx)
{
    const ota_identity *id = ctx->p3_id;
    const char *xml;
    apr_size_t xml_len;
    int rc;

    if ((rc = dev_attributes_build(&xml, &xml_len, ctx, 0)) != 0) {
        return rc;
    }
    if (ota_cms_sign(der, len, id, xml, xml_len, ctx->p3_md,
                     ctx->with_attributes, ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot sign phase 3 with %s (%s)",
                            ctx->p3_md_name, ota_openssl_error(ctx->p));
    }
    printf("  signed: %" APR_SIZE_T_FMT " bytes, %s, %s, by %s (%s)\n",
           *len, ctx->p3_md_name, ctx->with_attributes
                                  ? "with signed attributes"
                                  : "no signed attributes",
           dev_name_text(X509_get_subject_name(id->cert), ctx->p),
           key_text(id->key, ctx->p));
    return 0;
}

/* Whom the EnvelopedData is for: 1 when one of them is us. */
static int recipients_print(CMS_ContentInfo *cms, const ota_identity *id,
                            apr_pool_t *p)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    CMS_RecipientInfo *ri;
    X509_NAME *issuer;
    ASN1_INTEGER *serial;
    BIGNUM *bn;
    char *hex;
    int ours, found = 0;

    for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        ri = sk_CMS_RecipientInfo_value(ris, i);
        issuer = NULL;
        serial = NULL;
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS
            || !CMS_RecipientInfo_ktri_get0_signer_id(ri, NULL, &issuer,
                                                      &serial)
            || !issuer || !serial) {
            printf("  recipient %d: not by issuer and serial (type %d)\n",
                   i + 1, CMS_RecipientInfo_type(ri));
            continue;
        }
        bn = ASN1_INTEGER_to_BN(serial, NULL);
        hex = bn ? BN_bn2hex(bn) : NULL;
        ours = CMS_RecipientInfo_ktri_cert_cmp(ri, id->cert) == 0;
        printf("  recipient %d: serial %s, issuer %s%s\n", i + 1,
               hex ? hex : "?", dev_name_text(issuer, p),
               ours ? " (this device)" : "");
        found |= ours;
        OPENSSL_free(hex);
        BN_free(bn);
    }
    ERR_clear_error();
    return found;
}

/* A DER EnvelopedData, nothing after it. */
static CMS_ContentInfo *envelope_parse(const unsigned char *der,
                                       apr_size_t len, const char **why,
                                       apr_pool_t *p)
{
    const unsigned char *at = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &at, (long)len);
    int nid;

    if (!cms) {
        *why = apr_pstrcat(p, "not CMS: ", ota_openssl_error(p), NULL);
        return NULL;
    }
    if ((nid = OBJ_obj2nid(CMS_get0_type(cms))) != NID_pkcs7_enveloped) {
        *why = apr_psprintf(p, "a %s, not an EnvelopedData",
                            OBJ_nid2sn(nid));
    }
    else if (at != der + len) {
        *why = "bytes after the EnvelopedData";
    }
    else {
        return cms;
    }
    CMS_ContentInfo_free(cms);
    return NULL;
}

/* Decrypts EncryptedPayloadContent with the phase-3 identity, as the
 * device does with the key it just had certified. */
static int envelope_open(const char **xml, apr_size_t *len,
                         const dev_ctx *ctx, const unsigned char *der,
                         apr_size_t der_len)
{
    CMS_ContentInfo *cms;
    BIO *out;
    char *data = NULL;
    const char *why = NULL;
    long n = 0;

    if (!(cms = envelope_parse(der, der_len, &why, ctx->p))) {
        return cli_complain(EXIT_PHASE3, "phase 3: EncryptedPayloadContent: "
                            "%s", why);
    }
    printf("  EncryptedPayloadContent: EnvelopedData, %" APR_SIZE_T_FMT
           " bytes, %d recipient(s)\n", der_len,
           sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)));
    out = BIO_new(BIO_s_mem());
    /* OpenSSL says nothing when no recipient is ours: say it first */
    if (!recipients_print(cms, ctx->p3_id, ctx->p)) {
        why = "not encrypted to this device's certificate";
    }
    else if (!out || CMS_decrypt(cms, ctx->p3_id->key, ctx->p3_id->cert,
                                 NULL, out, CMS_BINARY) != 1) {
        why = ota_openssl_error(ctx->p);
    }
    else if ((n = BIO_get_mem_data(out, &data)) <= 0) {
        why = "nothing inside";
    }
    *len = n > 0 ? (apr_size_t)n : 0;
    *xml = apr_pstrmemdup(ctx->p, data ? data : "", *len);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    if (why) {
        return cli_complain(EXIT_PHASE3, "phase 3: cannot decrypt "
                            "EncryptedPayloadContent: %s", why);
    }
    printf("  decrypted: %" APR_SIZE_T_FMT " bytes\n", *len);
    return 0;
}

/* The decrypted payloads: an array of dicts, each with a PayloadType and
 * a PayloadIdentifier. */
static int final_payloads_check(plist_t list, apr_pool_t *p)
{
    plist_t item;
    uint32_t n;

    if (plist_get_node_type(list) != PLIST_ARRAY) {
        return cli_complain(EXIT_PHASE3, "phase 3: the decrypted content is "
                            "not an array of payloads");
    }
    if ((n = plist_array_get_size(list)) == 0) {
        return cli_complain(EXIT_PHASE3, "phase 3: no payload in the "
                            "decrypted content");
    }
    for (uint32_t i = 0; i < n; i++) {
        item = plist_array_get_item(list, i);
        if (plist_get_node_type(item) != PLIST_DICT) {
            return cli_complain(EXIT_PHASE3, "phase 3: payload %u is not a "
                                "dict", i + 1);
        }
        if (!ota_plist_dict_get_string(item, "PayloadType", p)
            || !ota_plist_dict_get_string(item, "PayloadIdentifier", p)) {
            return cli_complain(EXIT_PHASE3, "phase 3: payload %u has no "
                                "PayloadType or PayloadIdentifier", i + 1);
        }
    }
    return 0;
}

static int final_payloads(const dev_ctx *ctx, const char *identifier,
                          const char *xml, apr_size_t len)
{
    plist_t list = NULL, item;
    const char *why = NULL, *name;
    uint32_t n;
    int rc;

    if (ota_plist_parse(&list, xml, len, &dev_final_limits, &why, ctx->p)
        != APR_SUCCESS) {
        return cli_complain(EXIT_PHASE3, "phase 3: decrypted content refused: "
                            "%s", why ? why : "not a property list");
    }
    if ((rc = final_payloads_check(list, ctx->p)) != 0) {
        return rc;
    }
    n = plist_array_get_size(list);
    printf("final profile: PayloadIdentifier %s, %u payload(s)\n",
           identifier, n);
    for (uint32_t i = 0; i < n; i++) {
        item = plist_array_get_item(list, i);
        name = ota_plist_dict_get_string(item, "PayloadDisplayName", ctx->p);
        printf("  payload %u: PayloadType %s, PayloadIdentifier %s, "
               "PayloadDisplayName %s\n", i + 1,
               ota_plist_dict_get_string(item, "PayloadType", ctx->p),
               ota_plist_dict_get_string(item, "PayloadIdentifier", ctx->p),
               name ? name : "(absent)");
    }
    return 0;
}

/* The final profile: a Configuration with IsEncrypted true and its
 * payloads in EncryptedPayloadContent only. */
static int phase3_profile(const unsigned char **der, apr_size_t *len,
                          const dev_ctx *ctx, plist_t root)
{
    plist_t flag = plist_dict_get_item(root, "IsEncrypted");
    plist_t data = plist_dict_get_item(root, "EncryptedPayloadContent");
    uint8_t encrypted = 0;
    uint64_t n = 0;
    int rc;

    if ((rc = dev_profile_is_configuration(root, ctx, 3)) != 0) {
        return rc;
    }
    if (flag && plist_get_node_type(flag) == PLIST_BOOLEAN) {
        plist_get_bool_val(flag, &encrypted);
    }
    if (!encrypted) {
        return cli_complain(EXIT_PHASE3, "phase 3: IsEncrypted is %s",
                            flag ? "not true" : "missing");
    }
    if (plist_dict_get_item(root, "PayloadContent")) {
        return cli_complain(EXIT_PHASE3, "phase 3: PayloadContent beside "
                            "EncryptedPayloadContent");
    }
    if (!data || plist_get_node_type(data) != PLIST_DATA
        || !(*der = (const unsigned char *)plist_get_data_ptr(data, &n))
        || n == 0) {
        return cli_complain(EXIT_PHASE3, "phase 3: no EncryptedPayloadContent "
                            "data");
    }
    *len = (apr_size_t)n;
    return 0;
}

int dev_phase3_read(const dev_ctx *ctx, plist_t root)
{
    const char *identifier = ota_plist_dict_get_string(
                                 root, "PayloadIdentifier", ctx->p);
    const unsigned char *der = NULL;
    const char *xml = NULL;
    apr_size_t der_len = 0, xml_len = 0;
    int rc;

    if (!identifier) {
        return cli_complain(EXIT_PHASE3, "phase 3: no PayloadIdentifier");
    }
    if ((rc = phase3_profile(&der, &der_len, ctx, root)) != 0
        || (rc = dev_save(ctx, "encrypted-content.der", der, der_len)) != 0
        || (rc = envelope_open(&xml, &xml_len, ctx, der, der_len)) != 0
        || (rc = dev_save(ctx, "final-payloads.plist", xml, xml_len)) != 0) {
        return rc;
    }
    return final_payloads(ctx, identifier, xml, xml_len);
}

int dev_phase3(dev_ctx *ctx)
{
    const unsigned char *der;
    apr_size_t len;
    plist_t root = NULL;
    int rc;

    printf("phase 3: POST %s\n", ctx->enroll_url);
    if ((rc = dev_phase3_request(&der, &len, ctx)) != 0
        || (rc = dev_profile_post(&root, ctx, 3, der, len)) != 0) {
        return rc;
    }
    return dev_phase3_read(ctx, root);
}
