/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's actions on the ota-status location: a JSON object
 * (Content-Type application/json, which no page of another site can send
 * without a preflight) or an HTML form carrying a token tied to the user
 * (CSRF). Parsed and checked here, carried out by the glue. Pure APR,
 * OpenSSL (HMAC) and jansson. */
#ifndef OTA_ACTION_H
#define OTA_ACTION_H

#include <apr_pools.h>
#include <apr_time.h>

#define OTA_ACTION_MAX_BODY 4096
#define OTA_ACTION_MAX_FIELD 128      /* bytes of serial, udid, transaction */

typedef enum {
    OTA_ACTION_REVOKE = 0,
    OTA_ACTION_APPROVE,
    OTA_ACTION_REJECT,
    OTA_ACTION_RELEASE,
    OTA_ACTION_FORGET
} ota_action_kind;

typedef struct ota_action {
    ota_action_kind kind;
    const char *serial;           /* revoke: upper-case hex, normalised */
    const char *udid;             /* revoke, release, forget */
    const char *transaction;      /* approve, reject */
    int reason;                   /* revoke: RFC 5280 code; absent: 0 */
    const char *token;            /* a form's CSRF token, NULL for JSON */
} ota_action;

/* "revoke", "approve", ... */
const char *ota_action_name(ota_action_kind kind);

/* A JSON object: {"action": "revoke", "serial": "HEX" | "udid": "U",
 * "reason": "keyCompromise"}, {"action": "approve"|"reject",
 * "transaction": "ID"}, {"action": "release"|"forget", "udid": "U"}.
 * Unknown members, a wrong type, a missing or extra target, a value too
 * long or with control characters, an unknown reason: APR_EINVAL with
 * *why. */
apr_status_t ota_action_parse_json(ota_action *out, const char *body,
                                   apr_size_t len, const char **why,
                                   apr_pool_t *p);

/* The same as an application/x-www-form-urlencoded body, with a "csrf"
 * field (checked by ota_action_token_ok, not here). */
apr_status_t ota_action_parse_form(ota_action *out, const char *body,
                                   apr_size_t len, const char **why,
                                   apr_pool_t *p);

/* A serial as `openssl x509 -serial` prints it (hex, any case, optionally
 * after "serial="), in the registry's form; NULL when it is not one. */
const char *ota_serial_normalize(const char *text, apr_pool_t *p);

/* The form token of user for the hour of now: hex HMAC-SHA256 under key
 * (a secret every server of a cluster shares). */
const char *ota_action_token(const unsigned char *key, apr_size_t key_len,
                             const char *user, apr_time_t now,
                             apr_pool_t *p);

/* 1 when token is user's for this hour or the one before (constant
 * time). */
int ota_action_token_ok(const unsigned char *key, apr_size_t key_len,
                        const char *user, const char *token, apr_time_t now,
                        apr_pool_t *p);

#endif
