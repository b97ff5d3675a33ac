/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* subjectAltName as the built-in CA binds it to a device: parsed from the
 * stored text, compared with what a request asks for, written into the
 * certificate by ota_ca_issue. Only OpenSSL's X509V3 API. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "ota_san.h"

typedef struct san_kind {
    const char *key;
    int type;                   /* GEN_EMAIL, GEN_DNS, GEN_URI, GEN_OTHERNAME */
} san_kind;

static const san_kind san_kinds[] = {
    { "rfc822Name", GEN_EMAIL },
    { "dNSName", GEN_DNS },
    { "uniformResourceIdentifier", GEN_URI },
    { "ntPrincipalName", GEN_OTHERNAME },
    { NULL, 0 }
};

static const san_kind *kind_of(const char *key)
{
    for (const san_kind *k = san_kinds; k->key; k++) {
        if (!strcmp(k->key, key)) {
            return k;
        }
    }
    return NULL;
}

int ota_san_key_known(const char *key)
{
    return kind_of(key) != NULL;
}

static apr_status_t free_names(void *names)
{
    GENERAL_NAMES_free(names);
    return APR_SUCCESS;
}

static GENERAL_NAMES *own_names(apr_pool_t *p, GENERAL_NAMES *names)
{
    if (names) {
        apr_pool_cleanup_register(p, names, free_names,
                                  apr_pool_cleanup_null);
    }
    return names;
}

/* A UPN: otherName 1.3.6.1.4.1.311.20.2.3 holding a UTF8String. */
static int set_upn(GENERAL_NAME *gn, const char *value)
{
    ASN1_UTF8STRING *utf8 = ASN1_UTF8STRING_new();
    ASN1_TYPE *any = ASN1_TYPE_new();

    if (!utf8 || !any || !ASN1_STRING_set(utf8, value, -1)) {
        ASN1_UTF8STRING_free(utf8);
        ASN1_TYPE_free(any);
        return 0;
    }
    ASN1_TYPE_set(any, V_ASN1_UTF8STRING, utf8);
    if (!GENERAL_NAME_set0_othername(gn, OBJ_nid2obj(NID_ms_upn), any)) {
        ASN1_TYPE_free(any);
        return 0;
    }
    return 1;
}

static GENERAL_NAME *name_new(const san_kind *k, const char *value)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5;

    if (!gn) {
        return NULL;
    }
    if (k->type == GEN_OTHERNAME) {
        if (set_upn(gn, value)) {
            return gn;
        }
    }
    else if ((ia5 = ASN1_IA5STRING_new()) != NULL) {
        if (ASN1_STRING_set(ia5, value, -1)) {
            GENERAL_NAME_set0_value(gn, k->type, ia5);
            return gn;
        }
        ASN1_IA5STRING_free(ia5);
    }
    GENERAL_NAME_free(gn);
    return NULL;
}

/* Printable ASCII for the IA5String kinds; any UTF-8 without controls for
 * a UPN. */
static int value_valid(const san_kind *k, const char *value)
{
    apr_size_t n = strlen(value);

    if (n == 0 || n > OTA_SAN_MAX_VALUE) {
        return 0;
    }
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || (k->type != GEN_OTHERNAME && *c > 0x7e)) {
            return 0;
        }
    }
    return 1;
}

int ota_san_value_valid(const char *key, const char *value)
{
    const san_kind *k = kind_of(key);

    return k && value_valid(k, value);
}

static apr_status_t names_add(GENERAL_NAMES *names, char *line,
                              const char **why, apr_pool_t *p)
{
    char *eq = strchr(line, '=');
    const san_kind *k;
    GENERAL_NAME *gn;

    if (!eq) {
        *why = apr_psprintf(p, "'%s' is not KEY=VALUE", line);
        return APR_EINVAL;
    }
    *eq = '\0';
    if (!(k = kind_of(line))) {
        *why = apr_psprintf(p, "unknown subjectAltName kind '%s' (known: "
                            "rfc822Name, dNSName, uniformResourceIdentifier,"
                            " ntPrincipalName)", line);
        return APR_EINVAL;
    }
    if (!value_valid(k, eq + 1)) {
        *why = apr_psprintf(p, "%s value is empty, longer than %d bytes or "
                            "not printable", line, OTA_SAN_MAX_VALUE);
        return APR_EINVAL;
    }
    if (sk_GENERAL_NAME_num(names) == OTA_SAN_MAX_NAMES) {
        *why = apr_psprintf(p, "more than %d names", OTA_SAN_MAX_NAMES);
        return APR_EINVAL;
    }
    if (!(gn = name_new(k, eq + 1)) || !sk_GENERAL_NAME_push(names, gn)) {
        GENERAL_NAME_free(gn);
        *why = "out of memory";
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

apr_status_t ota_san_names(GENERAL_NAMES **out, const char *text,
                           const char **why, apr_pool_t *p)
{
    GENERAL_NAMES *names;
    char *copy, *state = NULL, *line;
    apr_status_t rv;

    *out = NULL;
    if (!text || !*text) {
        return APR_SUCCESS;
    }
    if (!(names = own_names(p, GENERAL_NAMES_new()))) {
        return APR_ENOMEM;
    }
    copy = apr_pstrdup(p, text);
    for (line = apr_strtok(copy, "\n", &state); line;
         line = apr_strtok(NULL, "\n", &state)) {
        if ((rv = names_add(names, line, why, p)) != APR_SUCCESS) {
            return rv;
        }
    }
    *out = sk_GENERAL_NAME_num(names) ? names : NULL;
    return APR_SUCCESS;
}

static int contains(const GENERAL_NAMES *set, GENERAL_NAME *gn)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(set); i++) {
        if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(set, i), gn) == 0) {
            return 1;
        }
    }
    return 0;
}

static int subset(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(a); i++) {
        if (!contains(b, sk_GENERAL_NAME_value(a, i))) {
            return 0;
        }
    }
    return 1;
}

int ota_san_equal(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
    int na = a ? sk_GENERAL_NAME_num(a) : 0;
    int nb = b ? sk_GENERAL_NAME_num(b) : 0;

    return na == nb && (na == 0 || (subset(a, b) && subset(b, a)));
}

static const char *others_of(STACK_OF(X509_EXTENSION) *asked, apr_pool_t *p)
{
    const char *out = NULL;
    ASN1_OBJECT *obj;
    char name[80];

    for (int i = 0; i < sk_X509_EXTENSION_num(asked); i++) {
        obj = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(asked, i));
        if (OBJ_obj2nid(obj) == NID_subject_alt_name) {
            continue;
        }
        OBJ_obj2txt(name, sizeof(name), obj, 0);
        out = out ? apr_pstrcat(p, out, ", ", name, NULL)
                  : apr_pstrdup(p, name);
    }
    return out;
}

int ota_san_requested(GENERAL_NAMES **san, const char **others,
                      X509_REQ *csr, apr_pool_t *p)
{
    STACK_OF(X509_EXTENSION) *asked = X509_REQ_get_extensions(csr);
    int crit = -1, ok;

    *san = NULL;
    *others = NULL;
    if (!asked) {
        /* OpenSSL answers an empty stack when nothing is asked: NULL means
         * an extension request it cannot read. */
        ERR_clear_error();
        return 0;
    }
    *san = own_names(p, X509V3_get_d2i(asked, NID_subject_alt_name, &crit,
                                       NULL));
    *others = others_of(asked, p);
    ok = (*san && sk_GENERAL_NAME_num(*san) > 0) || crit == -1;
    sk_X509_EXTENSION_pop_free(asked, X509_EXTENSION_free);
    ERR_clear_error();
    return ok;
}

GENERAL_NAMES *ota_san_of_cert(X509 *cert, apr_pool_t *p)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
                                            NULL, NULL);

    ERR_clear_error();
    return own_names(p, names);
}
