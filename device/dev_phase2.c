/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 2: the device attributes signed and posted, the SCEP payload of
 * the answer read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ota_media.h"
#include "dev.h"

/* The payload's defaults (Apple's schema). */
#define DEFAULT_KEYSIZE     1024

#define DEFAULT_RETRIES     3

#define DEFAULT_RETRY_DELAY 10

static const char *attribute_value(const dev_ctx *ctx, const char *name)
{
    if (strcmp(name, "UDID") == 0) {
        return ctx->udid;
    }
    if (strcmp(name, "SERIAL") == 0) {
        return ctx->serial;
    }
    if (strcmp(name, "PRODUCT") == 0) {
        return ctx->product;
    }
    if (strcmp(name, "VERSION") == 0) {
        return ctx->version;
    }
    if (strcmp(name, "IMEI") == 0 || strcmp(name, "MEID") == 0) {
        return "";
    }
    if (strcmp(name, "DEVICE_NAME") == 0) {
        return "Test iPhone";
    }
    return NULL;
}

/* The attributes phase 1 asked for; phase 2 adds its CHALLENGE. */
int dev_attributes_build(const char **xml, apr_size_t *len,
                         const dev_ctx *ctx, int with_challenge)
{
    plist_t dict = plist_new_dict();
    apr_array_header_t *sent = apr_array_make(ctx->p, 8, sizeof(char *));
    const char *name, *value;

    ota_plist_free_with_pool(dict, ctx->p);
    for (int i = 0; ctx->attributes && i < ctx->attributes->nelts; i++) {
        name = APR_ARRAY_IDX(ctx->attributes, i, const char *);
        if ((value = attribute_value(ctx, name)) != NULL) {
            ota_plist_dict_set_string(dict, name, value);
            APR_ARRAY_PUSH(sent, const char *) = name;
        }
        else if (!ctx->quiet) {
            printf("  not sent: %s (unknown to the emulator)\n", name);
        }
    }
    if (with_challenge && ctx->challenge) {
        ota_plist_dict_set_string(dict, "CHALLENGE", ctx->challenge);
        APR_ARRAY_PUSH(sent, const char *) = "CHALLENGE";
    }
    if (!ctx->quiet) {
        printf("  attributes: %s\n", dev_list_text(sent, ctx->p));
    }
    return ota_plist_to_xml(xml, len, dict, ctx->p) == APR_SUCCESS ? 0
           : cli_complain(EXIT_LOCAL, "cannot serialize the attributes");
}

plist_t dev_scep_payload_find(plist_t root, apr_pool_t *p)
{
    plist_t list = plist_dict_get_item(root, "PayloadContent");
    plist_t item, content;
    const char *type;

    if (!list || plist_get_node_type(list) != PLIST_ARRAY) {
        return NULL;
    }
    for (uint32_t i = 0; i < plist_array_get_size(list); i++) {
        item = plist_array_get_item(list, i);
        type = ota_plist_dict_get_string(item, "PayloadType", p);
        content = type && strcmp(type, "com.apple.security.scep") == 0
                  ? plist_dict_get_item(item, "PayloadContent") : NULL;
        if (content && plist_get_node_type(content) == PLIST_DICT) {
            return content;
        }
    }
    return NULL;
}

static const char *uint_text(plist_t dict, const char *key, apr_pool_t *p)
{
    plist_t node = plist_dict_get_item(dict, key);
    uint64_t v = 0;

    if (!node) {
        return "(absent)";
    }
    if (plist_get_node_type(node) != PLIST_UINT) {
        return "(not an integer)";
    }
    plist_get_uint_val(node, &v);
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)v);
}

/* [[[oid, value]], ...] as /oid=value/... */
static const char *subject_text(plist_t subject, apr_pool_t *p)
{
    const char *out = "";
    apr_array_header_t *pair;
    plist_t rdn;

    if (!subject) {
        return "(absent)";
    }
    if (plist_get_node_type(subject) != PLIST_ARRAY) {
        return "(malformed)";
    }
    for (uint32_t i = 0; i < plist_array_get_size(subject); i++) {
        rdn = plist_array_get_item(subject, i);
        if (plist_get_node_type(rdn) != PLIST_ARRAY) {
            return "(malformed)";
        }
        for (uint32_t j = 0; j < plist_array_get_size(rdn); j++) {
            pair = dev_string_array(plist_array_get_item(rdn, j), p);
            if (!pair || pair->nelts != 2) {
                return "(malformed)";
            }
            out = apr_pstrcat(p, out, j ? "+" : "/",
                              APR_ARRAY_IDX(pair, 0, const char *), "=",
                              APR_ARRAY_IDX(pair, 1, const char *), NULL);
        }
    }
    return out;
}

/* Apple's Subject as a name: an array of RDNs, each an array of [oid,
 * value] pairs (several pairs: a multi-valued RDN). Absent: empty. */
static X509_NAME *subject_name(plist_t subject, const char **why,
                               apr_pool_t *p)
{
    X509_NAME *name = dev_name_new(p);
    apr_array_header_t *pair;
    plist_t rdn;
    uint32_t n;

    *why = "Subject is not an array of arrays of [oid, value] pairs";
    if (!name || !subject) {
        return name;
    }
    if (plist_get_node_type(subject) != PLIST_ARRAY) {
        return NULL;
    }
    for (uint32_t i = 0; i < plist_array_get_size(subject); i++) {
        rdn = plist_array_get_item(subject, i);
        if (plist_get_node_type(rdn) != PLIST_ARRAY
            || (n = plist_array_get_size(rdn)) == 0) {
            return NULL;
        }
        for (uint32_t j = 0; j < n; j++) {
            pair = dev_string_array(plist_array_get_item(rdn, j), p);
            if (!pair || pair->nelts != 2
                || !dev_name_add(name, APR_ARRAY_IDX(pair, 0, const char *),
                                 APR_ARRAY_IDX(pair, 1, const char *), j > 0,
                                 why, p)) {
                return NULL;
            }
        }
    }
    return name;
}

/* An integer of the payload, or its default. */
static int uint_get(plist_t dict, const char *key, int dflt)
{
    plist_t node = plist_dict_get_item(dict, key);
    uint64_t v = 0;

    if (!node || plist_get_node_type(node) != PLIST_UINT) {
        return dflt;
    }
    plist_get_uint_val(node, &v);
    return v > 100000 ? 100000 : (int)v;
}

static const char *string_of(plist_t node, apr_pool_t *p)
{
    char *v = NULL;
    const char *out;

    if (!node || plist_get_node_type(node) != PLIST_STRING) {
        return "";
    }
    plist_get_string_val(node, &v);
    out = apr_pstrdup(p, v ? v : "");
    free(v);
    return out;
}

/* The payload's SubjectAltName dict (each key a string or an array of
 * strings) as the names a device puts in its CSR. */
static apr_status_t san_read(GENERAL_NAMES **out, plist_t dict,
                             const char **why, apr_pool_t *p)
{
    plist_dict_iter it = NULL;
    plist_t v, item;
    char *key = NULL;
    const char *text = "";
    uint32_t i, n;

    *out = NULL;
    if (!dict || plist_get_node_type(dict) != PLIST_DICT) {
        return APR_SUCCESS;
    }
    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &v); key;
         plist_dict_next_item(dict, it, &key, &v)) {
        n = plist_get_node_type(v) == PLIST_ARRAY ? plist_array_get_size(v)
                                                  : 1;
        for (i = 0; i < n; i++) {
            item = plist_get_node_type(v) == PLIST_ARRAY
                   ? plist_array_get_item(v, i) : v;
            text = apr_pstrcat(p, text, *text ? "\n" : "", key, "=",
                               string_of(item, p), NULL);
        }
        free(key);
        key = NULL;
    }
    free(it);
    return ota_san_names(out, text, why, p);
}

/* What the device needs for its request. */
static int scep_request_read(scep_info *s, plist_t c, apr_pool_t *p)
{
    const char *why = NULL;

    if (!(s->subject = subject_name(plist_dict_get_item(c, "Subject"), &why,
                                    p))) {
        return cli_complain(EXIT_PHASE2, "phase 2: %s", why);
    }
    if (san_read(&s->san, plist_dict_get_item(c, "SubjectAltName"), &why,
                 p)) {
        return cli_complain(EXIT_PHASE2, "phase 2: SubjectAltName: %s", why);
    }
    s->challenge = ota_plist_dict_get_string(c, "Challenge", p);
    s->keysize = uint_get(c, "Keysize", DEFAULT_KEYSIZE);
    s->retries = uint_get(c, "Retries", DEFAULT_RETRIES);
    s->retry_delay = uint_get(c, "RetryDelay", DEFAULT_RETRY_DELAY);
    if (s->keysize < 1024 || s->keysize > 4096) {
        return cli_complain(EXIT_PHASE2, "phase 2: Keysize %d: a device asks "
                            "for 1024 to 4096 bits", s->keysize);
    }
    return 0;
}

static int scep_payload_read(scep_info *s, plist_t c, apr_pool_t *p)
{
    plist_t fp = plist_dict_get_item(c, "CAFingerprint");
    plist_t caps = plist_dict_get_item(c, "GetCACaps");
    uint64_t len = 0;

    if (!(s->url = ota_plist_dict_get_string(c, "URL", p))) {
        return cli_complain(EXIT_PHASE2, "phase 2: the SCEP payload has no "
                            "URL");
    }
    s->name = ota_plist_dict_get_string(c, "Name", p);
    if (fp && plist_get_node_type(fp) == PLIST_DATA) {
        s->fingerprint = (const unsigned char *)plist_get_data_ptr(fp, &len);
        s->fingerprint = apr_pmemdup(p, s->fingerprint, len);
        s->fingerprint_len = len;
    }
    s->payload_caps = dev_string_array(caps, p);
    if (caps && !s->payload_caps) {
        printf("  GetCACaps is not an array of strings: ignored\n");
    }
    return 0;
}

static void scep_payload_print(const scep_info *s, plist_t c, apr_pool_t *p)
{
    const char *challenge = ota_plist_dict_get_string(c, "Challenge", p);

    printf("SCEP payload:\n");
    printf("  URL: %s\n", s->url);
    printf("  Name: %s\n", s->name ? s->name : "(absent)");
    printf("  Subject: %s\n",
           subject_text(plist_dict_get_item(c, "Subject"), p));
    if (challenge) {
        printf("  Challenge: <present, %" APR_SIZE_T_FMT " chars>\n",
               strlen(challenge));
    }
    else {
        printf("  Challenge: (absent)\n");
    }
    printf("  Keysize: %s\n", uint_text(c, "Keysize", p));
    printf("  Key Type: %s\n", ota_plist_dict_get_string(c, "Key Type", p));
    printf("  Key Usage: %s\n", uint_text(c, "Key Usage", p));
    printf("  CAFingerprint: %s\n", s->fingerprint
           ? dev_hex_text(s->fingerprint, s->fingerprint_len, p) : "(absent)");
    printf("  Retries: %s\n", uint_text(c, "Retries", p));
    printf("  RetryDelay: %s\n", uint_text(c, "RetryDelay", p));
    if (plist_dict_get_item(c, "SubjectAltName")) {
        printf("  SubjectAltName: (present)\n");
    }
    printf("  GetCACaps: %s\n", dev_list_text(s->payload_caps, p));
}

static int phase2_read(dev_ctx *ctx, plist_t root)
{
    plist_t content;
    int rc;

    if ((rc = dev_profile_is_configuration(root, ctx, 2)) != 0) {
        return rc;
    }
    if (!(content = dev_scep_payload_find(root, ctx->p))) {
        return cli_complain(EXIT_PHASE2, "phase 2: no com.apple.security.scep "
                            "payload");
    }
    if ((rc = scep_payload_read(&ctx->scep, content, ctx->p)) != 0) {
        return rc;
    }
    if (!(ctx->scep.url = dev_url_resolve(ctx->enroll_url, ctx->scep.url,
                                          ctx->p))) {
        return cli_complain(EXIT_PHASE2, "phase 2: bad SCEP URL");
    }
    scep_payload_print(&ctx->scep, content, ctx->p);
    return scep_request_read(&ctx->scep, content, ctx->p);
}

int dev_phase2(dev_ctx *ctx)
{
    const unsigned char *der;
    const char *xml;
    apr_size_t xml_len, len;
    plist_t root = NULL;
    int rc;

    printf("phase 2: POST %s\n", ctx->enroll_url);
    if ((rc = dev_attributes_build(&xml, &xml_len, ctx, 1)) != 0) {
        return rc;
    }
    if (ota_cms_sign(&der, &len, ctx->id, xml, xml_len, ctx->md,
                     ctx->with_attributes, ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot sign the attributes with %s "
                            "(ota_cms_sign reports no reason)", ctx->md_name);
    }
    printf("  signed: %" APR_SIZE_T_FMT " bytes, %s, %s\n", len,
           ctx->md_name, ctx->with_attributes ? "with signed attributes"
                                              : "no signed attributes");
    if ((rc = dev_profile_post(&root, ctx, 2, der, len)) != 0) {
        return rc;
    }
    return phase2_read(ctx, root);
}
