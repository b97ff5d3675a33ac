/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The phase-2 com.apple.security.scep payload. Key spellings follow
 * Apple's schema (com.apple.security.scep.yaml); GetCACaps, an array of
 * strings, is documented only in the 2010 iPhone OS Enterprise Deployment
 * Guide: when present, devices take it as the CA's capabilities and do not
 * ask the CA, which iOS 4 needs with CAs that never answer. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/objects.h>

#include "scep_payload.h"
#include "ota_plist.h"
#include "ota_san.h"

static const char *const template_fields[] = {
    "UDID", "SERIAL", "PRODUCT", "VERSION", "IMEI", "MEID", "DEVICE_NAME",
    "REMOTE_USER", NULL
};

static int field_known(const char *name, apr_size_t len)
{
    for (const char *const *f = template_fields; *f; f++) {
        if (strlen(*f) == len && strncmp(*f, name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

apr_status_t ota_template_check(const char *tmpl, const char **why,
                                apr_pool_t *p)
{
    const char *at = tmpl, *close;

    while ((at = strstr(at, "%{")) != NULL) {
        if (!(close = strchr(at + 2, '}'))) {
            *why = apr_psprintf(p, "unterminated %%{ in '%s'", tmpl);
            return APR_EINVAL;
        }
        if (!field_known(at + 2, close - at - 2)) {
            *why = apr_psprintf(p, "unknown field %%{%.*s}; known: UDID, "
                                "SERIAL, PRODUCT, VERSION, IMEI, MEID, "
                                "DEVICE_NAME, REMOTE_USER",
                                (int)(close - at - 2), at + 2);
            return APR_EINVAL;
        }
        at = close + 1;
    }
    return APR_SUCCESS;
}

/* Apple's payloads write E for the e-mail address; OpenSSL knows it as
 * emailAddress. */
static const char *attribute_openssl_name(const char *name)
{
    return strcmp(name, "E") ? name : "emailAddress";
}

static int attribute_name_valid(const char *name)
{
    ASN1_OBJECT *obj;
    const char *c;

    if (!*name || strlen(name) > 64) {
        return 0;
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '.') {
            return 0;
        }
    }
    /* The CA compares the request's subject by object identifier. */
    obj = OBJ_txt2obj(attribute_openssl_name(name), 0);
    ASN1_OBJECT_free(obj);
    return obj != NULL;
}

apr_status_t ota_subject_parse(apr_array_header_t **rdns, const char *tmpl,
                               const char **why, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(ota_subject_rdn));
    char *copy = apr_pstrdup(p, tmpl), *state = NULL, *part, *eq;
    ota_subject_rdn *rdn;
    apr_status_t rv;

    for (part = apr_strtok(copy, "/", &state); part;
         part = apr_strtok(NULL, "/", &state)) {
        if (!(eq = strchr(part, '=')) || eq[1] == '\0') {
            *why = apr_psprintf(p, "'%s' is not ATTRIBUTE=VALUE", part);
            return APR_EINVAL;
        }
        *eq = '\0';
        if (!attribute_name_valid(part)) {
            *why = apr_psprintf(p, "'%s' is not an attribute name or OID",
                                part);
            return APR_EINVAL;
        }
        if ((rv = ota_template_check(eq + 1, why, p)) != APR_SUCCESS) {
            return rv;
        }
        rdn = apr_array_push(out);
        rdn->attribute = part;
        rdn->value_template = eq + 1;
    }
    if (out->nelts == 0) {
        *why = "empty subject";
        return APR_EINVAL;
    }
    *rdns = out;
    return APR_SUCCESS;
}

const char *ota_template_fill(const char *tmpl, const apr_table_t *fields,
                              apr_pool_t *p)
{
    const char *at = tmpl, *open, *close, *value;
    char *out = "";

    if (!strstr(tmpl, "%{")) {
        return tmpl;
    }
    while ((open = strstr(at, "%{")) && (close = strchr(open, '}'))) {
        value = apr_table_get(fields, apr_pstrmemdup(p, open + 2,
                                                     close - open - 2));
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, at, open - at),
                          value ? value : "", NULL);
        at = close + 1;
    }
    return apr_pstrcat(p, out, at, NULL);
}

const char *ota_subject_canonical(const apr_array_header_t *rdns,
                                  const apr_table_t *fields, apr_pool_t *p)
{
    const char *out = "";

    for (int i = 0; i < rdns->nelts; i++) {
        const ota_subject_rdn *rdn = &APR_ARRAY_IDX(rdns, i, ota_subject_rdn);

        out = apr_pstrcat(p, out, i ? "\n" : "",
                          attribute_openssl_name(rdn->attribute), "=",
                          ota_template_fill(rdn->value_template, fields, p),
                          NULL);
    }
    return out;
}

apr_status_t ota_san_template_add(apr_array_header_t *names, const char *arg,
                                  const char **why, apr_pool_t *p)
{
    char *key = apr_pstrdup(p, arg), *eq = strchr(key, '=');
    ota_subject_rdn *name;
    apr_status_t rv;

    if (!eq || eq[1] == '\0') {
        *why = apr_psprintf(p, "'%s' is not KIND=VALUE", arg);
        return APR_EINVAL;
    }
    *eq = '\0';
    if (!ota_san_key_known(key)) {
        *why = apr_psprintf(p, "unknown kind '%s' (known: rfc822Name, "
                            "dNSName, uniformResourceIdentifier, "
                            "ntPrincipalName)", key);
        return APR_EINVAL;
    }
    if ((rv = ota_template_check(eq + 1, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if (names->nelts == OTA_SAN_MAX_NAMES) {
        *why = apr_psprintf(p, "more than %d names", OTA_SAN_MAX_NAMES);
        return APR_EINVAL;
    }
    name = apr_array_push(names);
    name->attribute = key;
    name->value_template = eq + 1;
    return APR_SUCCESS;
}

/* The filled value of names[i], NULL when it cannot be written. */
static const char *san_value(const apr_array_header_t *names, int i,
                             const apr_table_t *fields, apr_pool_t *p)
{
    const ota_subject_rdn *n = &APR_ARRAY_IDX(names, i, ota_subject_rdn);
    const char *value = ota_template_fill(n->value_template, fields, p);

    return ota_san_value_valid(n->attribute, value) ? value : NULL;
}

const char *ota_san_canonical(const apr_array_header_t *names,
                              const apr_table_t *fields, apr_pool_t *p)
{
    const char *out = "", *value;

    for (int i = 0; names && i < names->nelts; i++) {
        if ((value = san_value(names, i, fields, p)) != NULL) {
            out = apr_pstrcat(p, out, *out ? "\n" : "",
                              APR_ARRAY_IDX(names, i,
                                            ota_subject_rdn).attribute,
                              "=", value, NULL);
        }
    }
    return out;
}

/* Apple's SubjectAltName dict: one key per kind, a string, or an array
 * of strings when the kind comes more than once. NULL: no name. */
static plist_t san_build(const apr_array_header_t *names,
                         const apr_table_t *fields, apr_pool_t *p)
{
    plist_t dict = NULL, have, array;
    const char *key, *value;

    for (int i = 0; names && i < names->nelts; i++) {
        if (!(value = san_value(names, i, fields, p))) {
            continue;
        }
        key = APR_ARRAY_IDX(names, i, ota_subject_rdn).attribute;
        dict = dict ? dict : plist_new_dict();
        if (!(have = plist_dict_get_item(dict, key))) {
            plist_dict_set_item(dict, key, plist_new_string(value));
            continue;
        }
        if (plist_get_node_type(have) != PLIST_ARRAY) {
            array = plist_new_array();
            plist_array_append_item(array, plist_copy(have));
            plist_dict_set_item(dict, key, array);
            have = array;
        }
        plist_array_append_item(have, plist_new_string(value));
    }
    return dict;
}

int ota_scep_capability_valid(const char *cap)
{
    apr_size_t n = strlen(cap);

    if (n == 0 || n > 64) {
        return 0;
    }
    for (; *cap; cap++) {
        if (*cap <= 0x20 || *cap >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static plist_t subject_build(const apr_array_header_t *rdns,
                             const apr_table_t *fields, apr_pool_t *p)
{
    plist_t subject = plist_new_array();

    for (int i = 0; i < rdns->nelts; i++) {
        const ota_subject_rdn *rdn = &APR_ARRAY_IDX(rdns, i, ota_subject_rdn);
        plist_t set = plist_new_array(), pair = plist_new_array();

        plist_array_append_item(pair, plist_new_string(rdn->attribute));
        plist_array_append_item(pair, plist_new_string(
            ota_template_fill(rdn->value_template, fields, p)));
        plist_array_append_item(set, pair);
        plist_array_append_item(subject, set);
    }
    return subject;
}

static plist_t strings_build(const apr_array_header_t *strings)
{
    plist_t array = plist_new_array();

    for (int i = 0; i < strings->nelts; i++) {
        plist_array_append_item(array, plist_new_string(
            APR_ARRAY_IDX(strings, i, const char *)));
    }
    return array;
}

static plist_t content_build(const ota_scep_settings *s,
                             const apr_table_t *fields, apr_pool_t *p)
{
    plist_t c = plist_new_dict(), san;

    ota_plist_dict_set_string(c, "URL", s->url);
    if (s->name) {
        ota_plist_dict_set_string(c, "Name", s->name);
    }
    plist_dict_set_item(c, "Subject", subject_build(s->subject, fields, p));
    if (s->challenge) {
        ota_plist_dict_set_string(c, "Challenge", s->challenge);
    }
    if ((san = san_build(s->san, fields, p)) != NULL) {
        plist_dict_set_item(c, "SubjectAltName", san);
    }
    ota_plist_dict_set_uint(c, "Keysize", s->key_size);
    ota_plist_dict_set_string(c, "Key Type", "RSA");
    ota_plist_dict_set_uint(c, "Key Usage", s->key_usage);
    if (s->ca_fingerprint) {
        plist_dict_set_item(c, "CAFingerprint",
                            plist_new_data((const char *)s->ca_fingerprint,
                                           s->ca_fingerprint_len));
    }
    ota_plist_dict_set_uint(c, "Retries", s->retries);
    ota_plist_dict_set_uint(c, "RetryDelay", s->retry_delay);
    if (s->getcacaps) {
        plist_dict_set_item(c, "GetCACaps", strings_build(s->getcacaps));
    }
    return c;
}

apr_status_t ota_scep_payload_build(plist_t *out,
                                    const ota_scep_settings *settings,
                                    const ota_profile_meta *meta,
                                    const apr_table_t *fields,
                                    apr_pool_t *p)
{
    plist_t payload = plist_new_dict();

    ota_plist_dict_set_string(payload, "PayloadType",
                              "com.apple.security.scep");
    ota_plist_dict_set_string(payload, "PayloadIdentifier",
                              apr_pstrcat(p, meta->identifier, ".scep",
                                          NULL));
    ota_plist_dict_set_string(payload, "PayloadUUID", ota_uuid_new(p));
    ota_plist_dict_set_uint(payload, "PayloadVersion", 1);
    ota_plist_dict_set_string(payload, "PayloadDisplayName",
                              "Device identity (SCEP)");
    ota_plist_dict_set_string(payload, "PayloadDescription",
                              "Obtains this device's certificate from the "
                              "certificate authority.");
    ota_plist_dict_set_string(payload, "PayloadOrganization",
                              meta->organization);
    plist_dict_set_item(payload, "PayloadContent",
                        content_build(settings, fields, p));
    *out = payload;
    return APR_SUCCESS;
}
