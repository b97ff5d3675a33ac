/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 3: the final profile, encrypted to the device (README: Phase 3).
 *
 * The administrator's file is parsed and checked once, at startup, and is
 * read-only afterwards: each request copies its payload array (libplist
 * reads do not modify a tree, so threads may copy the same one), fills the
 * templates in the copy, and encrypts the copy's XML with CMS_encrypt to
 * the device's certificate. Apple's TopLevel schema: with IsEncrypted
 * true, EncryptedPayloadContent replaces PayloadContent. */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/cms.h>
#include <openssl/objects.h>

#include "ota_final.h"
#include "ota_pool.h"
#include "ota_cms.h"
#include "scep_payload.h"

const ota_plist_limits ota_final_limits = {
    OTA_FINAL_MAX_FILE,   /* max_size */
    16,                   /* max_depth */
    512,                  /* max_keys: per dict, and payloads per profile */
    65536                 /* max_string: certificates in <data> fit */
};


static const struct {
    const char *name;
    const EVP_CIPHER *(*get)(void);
} content_ciphers[] = {
    { "aes-256-cbc", EVP_aes_256_cbc },
    { "aes-128-cbc", EVP_aes_128_cbc },
    { "des-ede3-cbc", EVP_des_ede3_cbc },
    { NULL, NULL }
};

/* Keys of a Configuration file that the built profile sets itself. */
static const char *const top_replaced[] = {
    "PayloadContent", "PayloadType", "PayloadVersion", "PayloadUUID",
    "PayloadIdentifier", "IsEncrypted", "EncryptedPayloadContent", NULL
};

static apr_status_t refuse(const char **why, apr_pool_t *p,
                           const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *why = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return APR_EINVAL;
}

/* ---- walking every string value, with where it is for messages ---- */

typedef struct walk_at {
    const struct walk_at *up;
    const char *key;          /* NULL: an array item */
    uint32_t index;
} walk_at;

typedef struct walk_ctx {
    const apr_table_t *fields;
    const char **why;
    apr_pool_t *p;
} walk_ctx;

typedef apr_status_t (*string_fn)(plist_t node, const walk_at *at,
                                  walk_ctx *c);

/* "payload 2/EAPClientConfiguration/TLSTrustedServerNames/#1" */
static const char *walk_path(const walk_at *at, apr_pool_t *p)
{
    const char *path = NULL, *seg;

    for (; at; at = at->up) {
        seg = at->key ? apr_pstrndup(p, at->key, 64)
                      : apr_psprintf(p, "#%u", at->index + 1);
        path = path ? apr_pstrcat(p, seg, "/", path, NULL) : seg;
    }
    return path ? path : "";
}

static apr_status_t walk_strings(plist_t node, const walk_at *at,
                                 string_fn fn, walk_ctx *c);

static apr_status_t walk_dict(plist_t dict, const walk_at *at,
                              string_fn fn, walk_ctx *c)
{
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t value = NULL;
    walk_at here = { at, NULL, 0 };
    apr_status_t rv = APR_SUCCESS;

    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &value);
         key && rv == APR_SUCCESS;
         plist_dict_next_item(dict, it, &key, &value)) {
        here.key = key;
        rv = walk_strings(value, &here, fn, c);
        free(key);
        key = NULL;
    }
    free(key);
    free(it);
    return rv;
}

/* Depth is bounded by ota_final_limits when the file was parsed. */
static apr_status_t walk_strings(plist_t node, const walk_at *at,
                                 string_fn fn, walk_ctx *c)
{
    walk_at here = { at, NULL, 0 };
    uint32_t n;
    apr_status_t rv = APR_SUCCESS;

    switch (plist_get_node_type(node)) {
    case PLIST_STRING:
        return fn(node, at, c);
    case PLIST_DICT:
        return walk_dict(node, at, fn, c);
    case PLIST_ARRAY:
        n = plist_array_get_size(node);
        for (; here.index < n && rv == APR_SUCCESS; here.index++) {
            rv = walk_strings(plist_array_get_item(node, here.index), &here,
                              fn, c);
        }
        return rv;
    default:
        return APR_SUCCESS;
    }
}

/* Each payload is walked as "payload N". */
static apr_status_t walk_payloads(plist_t payloads, string_fn fn,
                                  walk_ctx *c)
{
    walk_at at = { NULL, NULL, 0 };
    uint32_t n = plist_array_get_size(payloads);
    apr_status_t rv = APR_SUCCESS;

    for (uint32_t i = 0; i < n && rv == APR_SUCCESS; i++) {
        at.key = apr_psprintf(c->p, "payload %u", i + 1);
        rv = walk_strings(plist_array_get_item(payloads, i), &at, fn, c);
    }
    return rv;
}

/* ---- templates ---- */

/* What a device sends ends up in XML: C0 controls would make it invalid. */
static int text_ok(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n'
            && *s != '\r') {
            return 0;
        }
    }
    return 1;
}

static apr_status_t check_string(plist_t node, const walk_at *at,
                                 walk_ctx *c)
{
    const char *tmpl = plist_get_string_ptr(node, NULL), *why = NULL;

    if (ota_template_check(tmpl, &why, c->p)) {
        return refuse(c->why, c->p, "%s in %s", why, walk_path(at, c->p));
    }
    /* C0 controls would make the device's XML invalid; with a %{FIELD},
     * fill_string would refuse the string for every device */
    if (!text_ok(tmpl)) {
        return refuse(c->why, c->p, "control characters in %s",
                      walk_path(at, c->p));
    }
    return APR_SUCCESS;
}

static apr_status_t fill_string(plist_t node, const walk_at *at,
                                walk_ctx *c)
{
    const char *tmpl = plist_get_string_ptr(node, NULL), *filled;

    if (!strstr(tmpl, "%{")) {
        return APR_SUCCESS;
    }
    filled = ota_template_fill(tmpl, c->fields, c->p);
    if (!text_ok(filled)) {
        return refuse(c->why, c->p, "a device field filled into %s holds "
                      "control characters", walk_path(at, c->p));
    }
    plist_set_string_val(node, filled);
    return APR_SUCCESS;
}

/* ---- loading ---- */

static apr_status_t file_read(char **buf, apr_size_t *len, const char *file,
                              const char **why, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char err[120];

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
        if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
            apr_file_close(f);
            return refuse(why, p, "not a regular file");
        }
        if (rv == APR_SUCCESS && fi.size > OTA_FINAL_MAX_FILE) {
            apr_file_close(f);
            return refuse(why, p, "larger than %d bytes", OTA_FINAL_MAX_FILE);
        }
        if (rv == APR_SUCCESS) {
            *buf = apr_palloc(p, (apr_size_t)fi.size + 1);
            rv = apr_file_read_full(f, *buf, (apr_size_t)fi.size, len);
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        *why = apr_pstrcat(p, "cannot read: ",
                           apr_strerror(rv, err, sizeof(err)), NULL);
        return rv;
    }
    (*buf)[*len] = '\0';
    return APR_SUCCESS;
}

/* Tells the usual wrong files apart before the XML parser sees them. */
static apr_status_t format_check(char **buf, apr_size_t *len,
                                 const char **why, apr_pool_t *p)
{
    const char *c;

    if (*len >= 3 && memcmp(*buf, "\xEF\xBB\xBF", 3) == 0) {
        *buf += 3;                          /* UTF-8 byte order mark */
        *len -= 3;
    }
    if (*len >= 6 && memcmp(*buf, "bplist", 6) == 0) {
        return refuse(why, p, "a binary property list; convert it with "
                      "'plistutil -f xml'");
    }
    if (*len >= 1 && (unsigned char)**buf == 0x30) {
        return refuse(why, p, "looks like a signed (CMS) profile; give the "
                      "unsigned XML property list");
    }
    for (c = *buf; c < *buf + *len && apr_isspace(*c); c++) {
        ;
    }
    if (c == *buf + *len || *c != '<') {
        return refuse(why, p, "not an XML property list");
    }
    return APR_SUCCESS;
}

static int dict_true(plist_t dict, const char *key)
{
    plist_t item = plist_dict_get_item(dict, key);

    return item && plist_get_node_type(item) == PLIST_BOOLEAN
           && plist_bool_val_is_true(item);
}

/* A string item of a dict: 1 with *value set, 0 if absent, -1 if it is
 * there and not a string. */
static int dict_text(const char **value, plist_t dict, const char *key,
                     apr_pool_t *p)
{
    *value = NULL;
    if (!plist_dict_get_item(dict, key)) {
        return 0;
    }
    *value = ota_plist_dict_get_string(dict, key, p);
    return *value ? 1 : -1;
}

/* Same, and an empty string does not count. */
static int dict_name(const char **value, plist_t dict, const char *key,
                     apr_pool_t *p)
{
    int found = dict_text(value, dict, key, p);

    return found == 1 && !**value ? -1 : found;
}

static apr_status_t payload_check(plist_t d, uint32_t i, apr_hash_t *ids,
                                  apr_hash_t *uuids, const char **why,
                                  apr_pool_t *p)
{
    const char *type, *id, *uuid;
    plist_t version;

    if (plist_get_node_type(d) != PLIST_DICT) {
        return refuse(why, p, "payload %u is not a dict", i + 1);
    }
    if (dict_name(&type, d, "PayloadType", p) != 1) {
        return refuse(why, p, "payload %u has no PayloadType string", i + 1);
    }
    if (strcmp(type, "Configuration") == 0) {
        return refuse(why, p, "payload %u is a Configuration profile: "
                      "profiles cannot be nested", i + 1);
    }
    if (dict_true(d, "IsEncrypted")
        || plist_dict_get_item(d, "EncryptedPayloadContent")) {
        return refuse(why, p, "payload %u (%.64s) is encrypted: give it "
                      "unencrypted", i + 1, type);
    }
    if (dict_name(&id, d, "PayloadIdentifier", p) != 1) {
        return refuse(why, p, "payload %u (%.64s) has no PayloadIdentifier "
                      "string", i + 1, type);
    }
    if (apr_hash_get(ids, id, APR_HASH_KEY_STRING)) {
        return refuse(why, p, "payload %u (%.64s): PayloadIdentifier %.64s "
                      "is used twice; it must be unique in a profile",
                      i + 1, type, id);
    }
    apr_hash_set(ids, id, APR_HASH_KEY_STRING, id);
    if (dict_name(&uuid, d, "PayloadUUID", p) < 0) {
        return refuse(why, p, "payload %u (%.64s): PayloadUUID is empty or "
                      "not a string", i + 1, type);
    }
    if (uuid && apr_hash_get(uuids, uuid, APR_HASH_KEY_STRING)) {
        return refuse(why, p, "payload %u (%.64s): PayloadUUID %.64s is "
                      "used twice", i + 1, type, uuid);
    }
    if (uuid) {
        apr_hash_set(uuids, uuid, APR_HASH_KEY_STRING, uuid);
    }
    version = plist_dict_get_item(d, "PayloadVersion");
    if (version && plist_get_node_type(version) != PLIST_UINT) {
        return refuse(why, p, "payload %u (%.64s): PayloadVersion is not an "
                      "integer", i + 1, type);
    }
    return APR_SUCCESS;
}

static apr_status_t payloads_check(plist_t payloads, const char **why,
                                   apr_pool_t *p)
{
    apr_hash_t *ids = apr_hash_make(p), *uuids = apr_hash_make(p);
    uint32_t n = plist_array_get_size(payloads);
    apr_status_t rv = APR_SUCCESS;

    if (n == 0) {
        return refuse(why, p, "no payloads: the array is empty");
    }
    for (uint32_t i = 0; i < n && rv == APR_SUCCESS; i++) {
        rv = payload_check(plist_array_get_item(payloads, i), i, ids, uuids,
                           why, p);
    }
    return rv;
}

static apr_status_t configuration_check(plist_t root, const char **why,
                                        apr_pool_t *p)
{
    const char *type, *text;
    plist_t content = plist_dict_get_item(root, "PayloadContent");

    if (dict_name(&type, root, "PayloadType", p) != 1) {
        return refuse(why, p, "a dict without PayloadType: expected a "
                      "Configuration profile or an array of payloads");
    }
    if (strcmp(type, "Configuration") != 0) {
        return refuse(why, p, "one %.64s payload, not a Configuration "
                      "profile: put it in an array or in a Configuration "
                      "profile's PayloadContent", type);
    }
    if (dict_true(root, "IsEncrypted")
        || plist_dict_get_item(root, "EncryptedPayloadContent")) {
        return refuse(why, p, "the profile is encrypted already: give its "
                      "payloads unencrypted");
    }
    if (!content || plist_get_node_type(content) != PLIST_ARRAY) {
        return refuse(why, p, "the Configuration profile's PayloadContent "
                      "is %s", content ? "not an array" : "missing");
    }
    if (dict_name(&text, root, "PayloadIdentifier", p) < 0) {
        return refuse(why, p, "the profile's PayloadIdentifier is empty or "
                      "not a string");
    }
    if (text && strstr(text, "%{")) {
        return refuse(why, p, "the profile's PayloadIdentifier cannot hold "
                      "%%{FIELD}: it must stay the same for a device (the "
                      "UDID is appended to it)");
    }
    return APR_SUCCESS;
}

/* The file's shown strings, kept in top too. */
static apr_status_t top_texts(ota_final_profile *fp, plist_t root,
                              const char **why, apr_pool_t *p)
{
    if (dict_text(&fp->display_name, root, "PayloadDisplayName", p) < 0
        || dict_text(&fp->organization, root, "PayloadOrganization", p) < 0
        || dict_text(&fp->description, root, "PayloadDescription", p) < 0) {
        return refuse(why, p, "the profile's PayloadDisplayName, "
                      "PayloadOrganization and PayloadDescription must be "
                      "strings");
    }
    dict_text(&fp->identifier, root, "PayloadIdentifier", p);
    return APR_SUCCESS;
}

/* Copies what is kept of the parsed file into p. */
static apr_status_t root_take(ota_final_profile *fp, plist_t root,
                              const char **why, apr_pool_t *p)
{
    plist_type type = plist_get_node_type(root);
    plist_t content = root;
    apr_status_t rv;

    if (type == PLIST_ARRAY) {
        fp->top = ota_plist_free_with_pool(plist_new_dict(), p);
    }
    else if (type == PLIST_DICT) {
        if ((rv = configuration_check(root, why, p)) != APR_SUCCESS
            || (rv = top_texts(fp, root, why, p)) != APR_SUCCESS) {
            return rv;
        }
        content = plist_dict_get_item(root, "PayloadContent");
        fp->top = ota_plist_free_with_pool(plist_copy(root), p);
        for (const char *const *k = top_replaced; *k; k++) {
            plist_dict_remove_item(fp->top, *k);
        }
    }
    else {
        return refuse(why, p, "neither a Configuration profile nor an array "
                      "of payloads");
    }
    fp->payloads = ota_plist_free_with_pool(plist_copy(content), p);
    fp->count = (int)plist_array_get_size(fp->payloads);
    return APR_SUCCESS;
}

static apr_status_t templates_check(ota_final_profile *fp, const char **why,
                                    apr_pool_t *p)
{
    walk_ctx c = { NULL, why, p };
    walk_at top = { NULL, "profile", 0 };
    apr_status_t rv;

    if ((rv = walk_payloads(fp->payloads, check_string, &c))
        != APR_SUCCESS) {
        return rv;
    }
    return walk_strings(fp->top, &top, check_string, &c);
}

apr_status_t ota_final_load(ota_final_profile **out, const char *file,
                            const char **why, apr_pool_t *p)
{
    ota_final_profile *fp = apr_pcalloc(p, sizeof(*fp));
    apr_pool_t *tmp;
    char *buf = NULL;
    apr_size_t len = 0;
    plist_t root = NULL;
    apr_status_t rv;

    *out = NULL;
    *why = NULL;
    fp->file = apr_pstrdup(p, file);
    apr_pool_create(&tmp, p);
    rv = file_read(&buf, &len, file, why, tmp);
    if (rv == APR_SUCCESS) {
        rv = format_check(&buf, &len, why, tmp);
    }
    if (rv == APR_SUCCESS) {
        rv = ota_plist_parse(&root, buf, len, &ota_final_limits, why, tmp);
    }
    if (rv == APR_SUCCESS) {
        rv = root_take(fp, root, why, p);
    }
    if (rv == APR_SUCCESS) {
        rv = payloads_check(fp->payloads, why, tmp);
    }
    if (rv == APR_SUCCESS) {
        rv = templates_check(fp, why, tmp);
    }
    if (*why) {
        *why = apr_pstrdup(p, *why);        /* tmp goes now */
    }
    apr_pool_destroy(tmp);
    if (rv == APR_SUCCESS) {
        *out = fp;
    }
    return rv;
}

/* ---- building, per device ---- */

const char *ota_final_identifier(const ota_final_profile *fp,
                                 const ota_profile_meta *meta,
                                 const char *udid, apr_pool_t *p)
{
    const char *base = fp->identifier;

    if (!base && meta->identifier && *meta->identifier) {
        base = apr_pstrcat(p, meta->identifier, ".final", NULL);
    }
    if (!base || !udid) {
        return NULL;
    }
    return apr_pstrcat(p, base, ".", udid, NULL);
}

/* The UDID goes into PayloadIdentifier: reverse-DNS characters only. */
static int udid_ok(const char *udid)
{
    apr_size_t n = udid ? strlen(udid) : 0;

    if (n == 0 || n > 64) {
        return 0;
    }
    for (; *udid; udid++) {
        if (!apr_isalnum(*udid) && *udid != '-') {
            return 0;
        }
    }
    return 1;
}

static int cipher_allowed(const EVP_CIPHER *cipher)
{
    for (int i = 0; content_ciphers[i].name; i++) {
        if (EVP_CIPHER_get_nid(cipher)
            == EVP_CIPHER_get_nid(content_ciphers[i].get())) {
            return 1;
        }
    }
    return 0;
}

/* Devices obtain RSA keys by SCEP; anything else would give another kind
 * of recipient than key transport. */
static apr_status_t recipient_check(X509 *cert, const EVP_CIPHER *cipher,
                                    const char **why, apr_pool_t *p)
{
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;

    if (!key) {
        return refuse(why, p, "no device certificate, or no key in it");
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        return refuse(why, p, "the device certificate's key is not RSA");
    }
    if (!cipher_allowed(cipher)) {
        return refuse(why, p, "content cipher %s is not allowed",
                      OBJ_nid2sn(EVP_CIPHER_get_nid(cipher)));
    }
    return APR_SUCCESS;
}

/* Fills the copy in place; payloads without PayloadUUID get a new one. */
static apr_status_t payloads_fill(plist_t payloads, walk_ctx *c)
{
    uint32_t n = plist_array_get_size(payloads);
    plist_t d;
    apr_status_t rv;

    if ((rv = walk_payloads(payloads, fill_string, c)) != APR_SUCCESS) {
        return rv;
    }
    for (uint32_t i = 0; i < n; i++) {
        d = plist_array_get_item(payloads, i);
        if (!plist_dict_get_item(d, "PayloadUUID")) {
            ota_plist_dict_set_string(d, "PayloadUUID", ota_uuid_new(c->p));
        }
    }
    return APR_SUCCESS;
}

static apr_status_t bio_cleanup(void *bio)
{
    BIO_free(bio);
    return APR_SUCCESS;
}

/* DER EnvelopedData of xml, to cert alone. */
static apr_status_t envelope(const unsigned char **der, apr_size_t *len,
                             const char *xml, apr_size_t xml_len, X509 *cert,
                             const EVP_CIPHER *cipher, const char **why,
                             apr_pool_t *p)
{
    STACK_OF(X509) *certs;
    BIO *in;
    CMS_ContentInfo *cms = NULL;
    unsigned char *buf = NULL;
    int n = 0;

    if (xml_len > INT_MAX) {
        return refuse(why, p, "filled payloads too large to encrypt");
    }
    certs = ota_own_stack(p, sk_X509_new_null());   /* the caller owns cert */
    if ((in = BIO_new_mem_buf(xml, (int)xml_len)) != NULL) {
        apr_pool_cleanup_register(p, in, bio_cleanup, apr_pool_cleanup_null);
    }
    if (certs && in && sk_X509_push(certs, cert) > 0
        && (cms = CMS_encrypt(certs, in, cipher, CMS_BINARY)) != NULL) {
        ota_own_cms(p, cms);
        n = i2d_CMS_ContentInfo(cms, &buf);
    }
    if (n <= 0) {
        return refuse(why, p, "CMS encryption failed: %s",
                      ota_openssl_error(p));
    }
    *der = apr_pmemdup(p, buf, n);
    *len = (apr_size_t)n;
    OPENSSL_free(buf);
    return APR_SUCCESS;
}

static void default_text(plist_t dict, const char *key, const char *value)
{
    if (value && !plist_dict_get_item(dict, key)) {
        ota_plist_dict_set_string(dict, key, value);
    }
}

static apr_status_t outer_build(plist_t *out, const ota_final_profile *fp,
                                const ota_profile_meta *meta,
                                const char *identifier,
                                const unsigned char *der, apr_size_t len,
                                walk_ctx *c)
{
    walk_at at = { NULL, "profile", 0 };
    plist_t root = ota_plist_free_with_pool(plist_copy(fp->top), c->p);
    apr_status_t rv;

    if ((rv = walk_strings(root, &at, fill_string, c)) != APR_SUCCESS) {
        return rv;
    }
    ota_plist_dict_set_string(root, "PayloadType", "Configuration");
    ota_plist_dict_set_uint(root, "PayloadVersion", 1);
    ota_plist_dict_set_string(root, "PayloadIdentifier", identifier);
    ota_plist_dict_set_string(root, "PayloadUUID", ota_uuid_new(c->p));
    default_text(root, "PayloadDisplayName", meta->display_name);
    default_text(root, "PayloadOrganization", meta->organization);
    default_text(root, "PayloadDescription", meta->description);
    ota_plist_dict_set_bool(root, "IsEncrypted", 1);
    plist_dict_set_item(root, "EncryptedPayloadContent",
                        plist_new_data((const char *)der, len));
    *out = root;
    return APR_SUCCESS;
}

apr_status_t ota_final_build(plist_t *out, const ota_final_profile *fp,
                             const ota_profile_meta *meta,
                             const apr_table_t *fields, X509 *device_cert,
                             const EVP_CIPHER *cipher, const char **why,
                             apr_pool_t *p)
{
    walk_ctx c = { fields, why, p };
    const char *udid = apr_table_get(fields, "UDID"), *identifier, *xml;
    const unsigned char *der = NULL;
    apr_size_t xml_len = 0, der_len = 0;
    plist_t payloads;
    apr_status_t rv;

    *out = NULL;
    cipher = cipher ? cipher : EVP_aes_256_cbc();
    if (!udid_ok(udid)) {
        return refuse(why, p, "the device's UDID is missing or malformed");
    }
    if (!(identifier = ota_final_identifier(fp, meta, udid, p))) {
        return refuse(why, p, "no PayloadIdentifier prefix, neither in the "
                      "file nor in the configuration");
    }
    if ((rv = recipient_check(device_cert, cipher, why, p)) != APR_SUCCESS) {
        return rv;
    }
    /* a working copy, freed as soon as it is serialized */
    payloads = plist_copy(fp->payloads);
    rv = payloads_fill(payloads, &c);
    if (rv == APR_SUCCESS
        && ota_plist_to_xml(&xml, &xml_len, payloads, p) != APR_SUCCESS) {
        rv = refuse(why, p, "cannot write the payloads as XML");
    }
    plist_free(payloads);
    if (rv == APR_SUCCESS) {
        rv = envelope(&der, &der_len, xml, xml_len, device_cert, cipher,
                      why, p);
    }
    if (rv == APR_SUCCESS) {
        rv = outer_build(out, fp, meta, identifier, der, der_len, &c);
    }
    return rv;
}

const EVP_CIPHER *ota_final_cipher(const char *name)
{
    for (int i = 0; name && content_ciphers[i].name; i++) {
        if (strcasecmp(name, content_ciphers[i].name) == 0) {
            return content_ciphers[i].get();
        }
    }
    return NULL;
}
