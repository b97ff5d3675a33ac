/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Administrator actions: parsing the JSON object or the form (jansson,
 * apr), normalising serials (OpenSSL's BN) and the form token (HMAC). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ota_action.h"
#include "ota_crl.h"

static const char *const kind_names[] = {
    "revoke", "approve", "reject", "release", "forget", NULL
};

/* Which member names the target of each kind. */
static const char *const kind_targets[] = {
    NULL /* serial or udid */, "transaction", "transaction", "udid", "udid"
};

const char *ota_action_name(ota_action_kind kind)
{
    return (unsigned)kind <= OTA_ACTION_FORGET ? kind_names[kind] : "?";
}

const char *ota_serial_normalize(const char *text, apr_pool_t *p)
{
    BIGNUM *bn = NULL;
    char *hex = NULL;
    const char *out = NULL;
    apr_size_t n;

    if (text && !strncasecmp(text, "serial=", 7)) {
        text += 7;
    }
    n = text ? strlen(text) : 0;
    if (n == 0 || n > 40 || strspn(text, "0123456789abcdefABCDEF") != n) {
        return NULL;
    }
    if (BN_hex2bn(&bn, text) && !BN_is_zero(bn) && (hex = BN_bn2hex(bn))) {
        out = apr_pstrdup(p, hex);
    }
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

static int text_ok(const char *v)
{
    apr_size_t n = strlen(v);

    if (n == 0 || n > OTA_ACTION_MAX_FIELD) {
        return 0;
    }
    for (; *v; v++) {
        if (apr_iscntrl(*v)) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t refuse(const char **why, const char *text)
{
    *why = text;
    return APR_EINVAL;
}

static apr_status_t kind_set(int *kind, const char *value, const char **why,
                             apr_pool_t *p)
{
    for (int i = 0; kind_names[i]; i++) {
        if (!strcmp(kind_names[i], value)) {
            *kind = i;
            return APR_SUCCESS;
        }
    }
    return refuse(why, apr_psprintf(p, "unknown action '%.32s'", value));
}

static apr_status_t reason_set(ota_action *a, int *has_reason,
                               const char *value, const char **why,
                               apr_pool_t *p)
{
    *has_reason = 1;
    if ((a->reason = ota_reason_code(value)) < 0) {
        return refuse(why, apr_psprintf(p, "unknown reason '%.40s' (known: "
                                        "%s)", value, ota_reason_names()));
    }
    return APR_SUCCESS;
}

/* The string members, by name. */
static const char **slot_of(ota_action *a, const char *name)
{
    return !strcmp(name, "udid") ? &a->udid
           : !strcmp(name, "transaction") ? &a->transaction
           : !strcmp(name, "csrf") ? &a->token
           : !strcmp(name, "serial") ? &a->serial : NULL;
}

/* One named field: action, reason, or a string member. */
static apr_status_t field_set(ota_action *a, int *kind, int *has_reason,
                              const char *name, const char *value,
                              const char **why, apr_pool_t *p)
{
    const char **slot;

    if (!strcmp(name, "action")) {
        return kind_set(kind, value, why, p);
    }
    if (!strcmp(name, "reason")) {
        return reason_set(a, has_reason, value, why, p);
    }
    if (!(slot = slot_of(a, name))) {
        return refuse(why, apr_psprintf(p, "unknown member '%.32s'", name));
    }
    if (!text_ok(value)) {
        return refuse(why, apr_psprintf(p, "%s is empty, over %d bytes or "
                                        "has control characters", name,
                                        OTA_ACTION_MAX_FIELD));
    }
    if (*slot) {
        return refuse(why, apr_psprintf(p, "%s given twice", name));
    }
    *slot = slot == &a->serial ? ota_serial_normalize(value, p)
                               : apr_pstrdup(p, value);
    return *slot ? APR_SUCCESS
                 : refuse(why, "serial is not a hexadecimal serial number");
}

/* The kind is known and exactly its target is there. */
static apr_status_t fields_check(ota_action *a, int kind, int has_reason,
                                 const char **why, apr_pool_t *p)
{
    const char *target;

    if (kind < 0) {
        return refuse(why, "no action");
    }
    a->kind = (ota_action_kind)kind;
    target = kind_targets[kind];
    if (!target) {
        return !a->serial == !a->udid || a->transaction
               ? refuse(why, "revoke takes either serial or udid")
               : APR_SUCCESS;
    }
    if (has_reason || a->serial
        || (!strcmp(target, "udid") ? !a->udid || a->transaction
                                    : !a->transaction || a->udid)) {
        return refuse(why, apr_psprintf(p, "%s takes %s and nothing else",
                                        kind_names[kind], target));
    }
    return APR_SUCCESS;
}

apr_status_t ota_action_parse_json(ota_action *out, const char *body,
                                   apr_size_t len, const char **why,
                                   apr_pool_t *p)
{
    json_error_t err;
    json_t *root, *value;
    const char *name;
    apr_status_t rv = APR_SUCCESS;
    int kind = -1, has_reason = 0;

    memset(out, 0, sizeof(*out));
    if (len > OTA_ACTION_MAX_BODY) {
        return refuse(why, "body too long");
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return refuse(why, root ? "not a JSON object"
                                : apr_psprintf(p, "malformed JSON: %s",
                                               err.text));
    }
    json_object_foreach(root, name, value) {
        if (!json_is_string(value)) {
            rv = refuse(why, apr_psprintf(p, "%.32s is not a string", name));
            break;
        }
        if ((rv = field_set(out, &kind, &has_reason, name,
                            json_string_value(value), why, p))
            != APR_SUCCESS) {
            break;
        }
    }
    json_decref(root);
    if (rv == APR_SUCCESS && out->token) {
        rv = refuse(why, "unknown member 'csrf'");
    }
    return rv == APR_SUCCESS ? fields_check(out, kind, has_reason, why, p)
                             : rv;
}

/* application/x-www-form-urlencoded: '+' is a space, %XX a byte. */
static char *form_decode(char *text)
{
    char *in = text, *out = text;
    char hex[3] = { 0, 0, 0 };

    for (; *in; in++, out++) {
        if (*in == '+') {
            *out = ' ';
        }
        else if (*in == '%' && apr_isxdigit(in[1]) && apr_isxdigit(in[2])) {
            hex[0] = in[1];
            hex[1] = in[2];
            *out = (char)strtol(hex, NULL, 16);
            in += 2;
        }
        else if (*in == '%') {
            return NULL;
        }
        else {
            *out = *in;
        }
    }
    *out = '\0';
    return text;
}

apr_status_t ota_action_parse_form(ota_action *out, const char *body,
                                   apr_size_t len, const char **why,
                                   apr_pool_t *p)
{
    char *copy, *state = NULL, *pair, *value;
    apr_status_t rv;
    int kind = -1, has_reason = 0;

    memset(out, 0, sizeof(*out));
    if (len > OTA_ACTION_MAX_BODY || memchr(body, '\0', len)) {
        return refuse(why, "body too long or binary");
    }
    copy = apr_pstrmemdup(p, body, len);
    for (pair = apr_strtok(copy, "&", &state); pair;
         pair = apr_strtok(NULL, "&", &state)) {
        if (!(value = strchr(pair, '='))) {
            return refuse(why, "a form field without '='");
        }
        *value++ = '\0';
        if (!form_decode(pair) || !form_decode(value)) {
            return refuse(why, "malformed percent-encoding");
        }
        if ((rv = field_set(out, &kind, &has_reason, pair, value, why, p))
            != APR_SUCCESS) {
            return rv;
        }
    }
    return fields_check(out, kind, has_reason, why, p);
}

/* ---- the form token ---- */

#define TOKEN_PERIOD apr_time_from_sec(3600)

const char *ota_action_token(const unsigned char *key, apr_size_t key_len,
                             const char *user, apr_time_t now,
                             apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const char *msg = apr_psprintf(p, "ota-status|%s|%" APR_TIME_T_FMT,
                                   user ? user : "", now / TOKEN_PERIOD);
    char *hex;

    if (!key || !key_len
        || !HMAC(EVP_sha256(), key, (int)key_len,
                 (const unsigned char *)msg, strlen(msg), md, &md_len)) {
        return NULL;
    }
    hex = apr_palloc(p, 2 * md_len + 1);
    for (unsigned int i = 0; i < md_len; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return hex;
}

int ota_action_token_ok(const unsigned char *key, apr_size_t key_len,
                        const char *user, const char *token, apr_time_t now,
                        apr_pool_t *p)
{
    const char *want;
    int i;

    for (i = 0; token && i < 2; i++) {
        want = ota_action_token(key, key_len, user, now - i * TOKEN_PERIOD,
                                p);
        if (want && strlen(want) == strlen(token)
            && CRYPTO_memcmp(want, token, strlen(want)) == 0) {
            return 1;
        }
    }
    return 0;
}
