/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 2 (handler ota-enroll): the device posts its attributes, signed by
 * its Apple identity, and receives the SCEP payload, GetCACaps included.
 * A post signed by the identity SCEP gave the device is phase 3, handed to
 * mod_ota_enroll_final.c. httpd glue only: the payload is built by
 * scep_payload.c, GetCACaps learnt by ota_getcacaps.c. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_uri.h"

#include "ota_cms.h"
#include "ota_plist.h"
#include "ota_store.h"
#include "ota_profile.h"
#include "scep_payload.h"
#include "ota_getcacaps.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_final.h"
#include "mod_ota_enroll_phase2.h"

APLOG_USE_MODULE(ota_enroll);

#define GETCACAPS_REFRESH apr_time_from_sec(3600)
#define GETCACAPS_TIMEOUT apr_time_from_sec(3)

/* Per child: GetCACaps caches by SCEP URL, read-only once built. */
static apr_hash_t *caps_caches;

void ota_phase2_child_init(apr_pool_t *pchild, server_rec *s)
{
    const apr_array_header_t *sections = ota_config_sections();
    const apr_array_header_t *list;

    caps_caches = apr_hash_make(pchild);
    for (int i = 0; sections && i < sections->nelts; i++) {
        ota_conf *c = APR_ARRAY_IDX(sections, i, ota_conf *);
        ota_getcacaps_cache *cache;

        if (!c->scep_url || ota_cfg_getcacaps(c, &list) != OTA_CAPS_AUTO
            || apr_hash_get(caps_caches, c->scep_url, APR_HASH_KEY_STRING)) {
            continue;
        }
        if (ota_getcacaps_cache_start(&cache, c->scep_url, GETCACAPS_REFRESH,
                                      GETCACAPS_TIMEOUT, pchild)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "OTA00052: cannot "
                         "start the GetCACaps refresher for %s", c->scep_url);
            continue;
        }
        apr_hash_set(caps_caches, c->scep_url, APR_HASH_KEY_STRING, cache);
    }
}

/* How each refusal of a posted SignedData is logged. */
static const char *const cms_refusal_ids[] = {
    [OTA_CMS_MALFORMED] = "OTA00023", [OTA_CMS_NOT_SIGNED_DATA] = "OTA00024",
    [OTA_CMS_NO_SIGNER] = "OTA00025", [OTA_CMS_MANY_SIGNERS] = "OTA00026",
    [OTA_CMS_DETACHED] = "OTA00027", [OTA_CMS_NESTED] = "OTA00028",
    [OTA_CMS_NO_SIGNER_CERT] = "OTA00029", [OTA_CMS_WEAK_DIGEST] = "OTA00030",
    [OTA_CMS_BAD_SIGNATURE] = "OTA00031", [OTA_CMS_WEAK_KEY] = "OTA00032",
    [OTA_CMS_UNTRUSTED] = "OTA00033", [OTA_CMS_NOT_DEVICE_CA] = "OTA00034",
};

/* And answered: a signer refused for its key or its chain is forbidden,
 * any other refusal a bad request. */
static int cms_refusal_status(ota_cms_verdict verdict)
{
    return verdict == OTA_CMS_WEAK_KEY || ota_cms_verdict_is_trust(verdict)
           ? HTTP_FORBIDDEN : HTTP_BAD_REQUEST;
}

static const struct {
    const char *id;
    const char *text;
} challenge_refusals[] = {
    [OTA_CHALLENGE_UNKNOWN]    = { "OTA00037", "unknown challenge (not "
                                   "issued here)" },
    [OTA_CHALLENGE_EXPIRED]    = { "OTA00038", "challenge expired" },
    [OTA_CHALLENGE_USED]       = { "OTA00039", "challenge already used" },
    [OTA_CHALLENGE_WRONG_USER] = { "OTA00040", "challenge belongs to "
                                   "another user" },
    [OTA_CHALLENGE_DEVICE_BOUND] = { "OTA00042", "the device is enrolled "
                                     "for another user (an administrator "
                                     "must release it first)" },
};

/* One phase-2 request: what the device says and what it will be told. */
typedef struct phase2 {
    request_rec *r;
    const ota_conf *c;
    const ota_conf *local_ca;      /* the ota-scep behind OTAEnrollSCEPURL */
    ota_device_attributes *a;
    const char *identity;          /* the device identity's key digest */
    ota_db db;
    const char *user;              /* the phase-1 user, or NULL */
    apr_table_t *fields;           /* for the Subject template */
    const char *scep_challenge;    /* what the payload carries */
    int dynamic;
    unsigned char fingerprint[20];
} phase2;

/* Phase 2 signers chain to the device CA, phase 3 signers to the issuer
 * of device identities: one verification, the store chosen by the
 * signer's issuer. */
static int verify_device(request_rec *r, const ota_conf *c,
                         const ota_trust *issuer, ota_signed_message **msg)
{
    const ota_trust *trusts[2];
    const char *body;
    apr_size_t len;
    int rv;

    if (!(trusts[0] = ota_cfg_device_trust(c))) {
        return ota_config_missing(r, "OTAEnrollDeviceCA (the default "
                                  OTA_DEVICE_CA_DEFAULT " is missing)");
    }
    trusts[1] = issuer;
    if ((rv = ota_read_body(r, ota_cfg_max_body(c), &body, &len)) != OK) {
        return rv;
    }
    if (ota_cms_verify_any(msg, (const unsigned char *)body, len, trusts,
                           issuer ? 2 : 1, r->pool)) {
        return ota_config_missing(r, "memory");
    }
    if ((*msg)->verdict != OTA_CMS_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: refused: %s (%s)",
                      cms_refusal_ids[(*msg)->verdict],
                      ota_cms_verdict_name((*msg)->verdict),
                      (*msg)->detail ? (*msg)->detail : "");
        return cms_refusal_status((*msg)->verdict);
    }
    return OK;
}

/* The built-in CA configuration serving OTAEnrollSCEPURL on this server
 * (same scheme, host name and port), found by a lookup subrequest (no HTTP
 * round trip): its capabilities, challenge mode and certificate go into
 * the payload. The subrequest is kept, its configuration lives in its
 * pool. */
static const ota_conf *local_ca_of(request_rec *r, const ota_conf *c)
{
    apr_uri_t uri;
    request_rec *sub;
    const ota_conf *sc;

    if (apr_uri_parse(r->pool, c->scep_url, &uri) != APR_SUCCESS
        || !uri.hostname || !uri.path
        || strcasecmp(uri.scheme, ap_http_scheme(r))
        || (uri.port_str ? uri.port
                         : apr_uri_port_of_scheme(uri.scheme))
           != ap_get_server_port(r)
        || (strcasecmp(uri.hostname, r->hostname ? r->hostname : "")
            && strcasecmp(uri.hostname, r->server->server_hostname))) {
        return NULL;
    }
    sub = ap_sub_req_lookup_uri(uri.path, r, NULL);
    if (sub->status != HTTP_OK || !sub->handler
        || strcmp(sub->handler, "ota-scep")) {
        return NULL;
    }
    sc = ota_conf_of(sub);
    return sc->ca ? sc : NULL;
}

/* The GetCACaps array to write: NULL for none. */
static const apr_array_header_t *caps_of(const phase2 *x)
{
    request_rec *r = x->r;
    const ota_conf *c = x->c;
    const apr_array_header_t *list;
    ota_getcacaps_cache *cache;
    ota_caps_source source;
    const char *why = NULL;
    apr_array_header_t *caps;

    switch (ota_cfg_getcacaps(c, &list)) {
    case OTA_CAPS_OFF:
        return NULL;
    case OTA_CAPS_LIST:
        return list;
    default:
        break;
    }
    if (x->local_ca) {
        return ota_cfg_scep_capabilities(x->local_ca);
    }
    cache = caps_caches ? apr_hash_get(caps_caches, c->scep_url,
                                       APR_HASH_KEY_STRING) : NULL;
    if (!cache) {
        return ota_cfg_caps_fallback();
    }
    caps = ota_getcacaps_cache_get(cache, &source, &why, r->pool);
    if (source == OTA_CAPS_FALLBACK
        && ota_getcacaps_cache_fallback_first(cache)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00050: the CA at "
                      "%s did not answer GetCACaps (%s); writing the "
                      "fallback DES3, SHA-1 until it does", c->scep_url,
                      why ? why : "no answer");
    }
    return caps;
}

static const unsigned char *fingerprint_of(phase2 *x)
{
    if (x->c->scep_ca_fingerprint) {
        return x->c->scep_ca_fingerprint;
    }
    if (x->local_ca
        && ota_cert_sha1(x->fingerprint, ota_ca_cert(x->local_ca->ca))
           == APR_SUCCESS) {
        return x->fingerprint;
    }
    return NULL;
}

static int scep_profile_build(plist_t *root, phase2 *x)
{
    const ota_conf *c = x->c;
    ota_scep_settings s;
    ota_profile_meta meta;
    plist_t payload, payloads = plist_new_array();

    memset(&s, 0, sizeof(s));
    s.url = c->scep_url;
    s.name = c->scep_name;
    s.subject = ota_cfg_scep_subject(c);
    s.san = c->scep_san;
    s.challenge = x->scep_challenge;
    s.key_size = ota_cfg_key_size(c);
    s.key_usage = ota_cfg_key_usage(c);
    s.ca_fingerprint = fingerprint_of(x);
    s.ca_fingerprint_len = s.ca_fingerprint ? 20 : 0;
    s.retries = ota_cfg_retries(c, x->local_ca);
    s.retry_delay = ota_cfg_retry_delay(c, x->local_ca);
    s.getcacaps = caps_of(x);
    ota_cfg_profile_meta(&meta, c, x->r->server, x->r->pool);
    ota_scep_payload_build(&payload, &s, &meta, x->fields, x->r->pool);
    plist_array_append_item(payloads, payload);
    return ota_profile_configuration_build(root, &meta, "enrollment",
                                           payloads, x->r->pool);
}

/* Who the device enrolls for, the template fields, and the SCEP challenge:
 * a one-time one bound to the device and its subject when dynamic (the
 * default in front of the built-in CA), else the static secret. */
static int prepare_scep(phase2 *x)
{
    const char *owner = NULL, *why = NULL;

    if (ota_store_challenge_owner(&owner, &x->db, x->a->challenge, &why,
                                  x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    x->user = x->r->user ? x->r->user : owner;
    x->fields = apr_table_copy(x->r->pool, x->a->all);
    if (x->user) {
        apr_table_setn(x->fields, "REMOTE_USER", x->user);
    }
    x->dynamic = ota_cfg_scep_dynamic(x->c, x->local_ca);
    if (!x->dynamic) {
        x->scep_challenge = x->c->scep_challenge;
        return OK;
    }
    return ota_challenge_make(x->r, &x->scep_challenge);
}

static int redeem(phase2 *x)
{
    request_rec *r = x->r;
    ota_device_record device;
    ota_challenge_verdict verdict;
    const char *why = NULL;

    memset(&device, 0, sizeof(device));
    device.udid = x->a->udid;
    device.serial = x->a->serial;
    device.product = x->a->product;
    device.version = x->a->version;
    device.user = x->user;
    device.identity = x->identity;
    if (x->dynamic) {
        device.scep_challenge = x->scep_challenge;
        device.scep_subject = ota_subject_canonical(ota_cfg_scep_subject(x->c),
                                                    x->fields, r->pool);
        device.scep_san = ota_san_canonical(x->c->scep_san, x->fields,
                                            r->pool);
        device.scep_lifetime =
            apr_time_from_sec(ota_cfg_challenge_lifetime(x->c));
    }
    if (ota_store_challenge_redeem(&verdict, &x->db, x->a->challenge,
                                   r->user, apr_time_now(), &device, &why,
                                   r->pool)) {
        return ota_db_failed(r, why);
    }
    if (verdict != OTA_CHALLENGE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: refused device "
                      "%s%s%s: %s", challenge_refusals[verdict].id,
                      x->a->udid, x->user ? " for user " : "",
                      x->user ? x->user : "",
                      challenge_refusals[verdict].text);
        return HTTP_FORBIDDEN;
    }
    if (device.identity_changed) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00043: device %s "
                      "re-enrolled for its user %s with another device "
                      "identity (key %.16s...)", x->a->udid,
                      device.bound_user ? device.bound_user : "?",
                      x->identity ? x->identity : "?");
    }
    return OK;
}

/* The strict store phase-3 signers chain to: OTAEnrollIssuerCA, else the
 * built-in CA in scope or behind OTAEnrollSCEPURL. */
static const ota_trust *issuer_of(const phase2 *x)
{
    if (x->c->issuer_trust) {
        return x->c->issuer_trust;
    }
    if (x->c->ca_trust) {
        return x->c->ca_trust;
    }
    return x->local_ca ? x->local_ca->ca_trust : NULL;
}

/* The device's signature and attributes, before anything is stored. */
static int device_read(phase2 *x, ota_signed_message **msg)
{
    request_rec *r = x->r;
    const char *why = NULL;
    int rv;

    if ((rv = verify_device(r, x->c, issuer_of(x), msg)) != OK) {
        return rv;
    }
    x->identity = ota_cert_key_digest_hex((*msg)->signer, r->pool);
    if (ota_device_attributes_parse(&x->a, (*msg)->content,
                                    (*msg)->content_len, &why, r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00035: device "
                      "attributes refused: %s", why);
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

static int phase2_check(phase2 *x)
{
    request_rec *r = x->r;

    ota_export_device(r, x->a, "2");
    if (!x->a->challenge) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00036: device %s "
                      "sent no CHALLENGE", x->a->udid);
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

int ota_enroll_handler(request_rec *r)
{
    phase2 x;
    ota_signed_message *msg;
    plist_t root;
    int rv;

    if ((rv = ota_handler_check(r, "ota-enroll", OTA_SERVES_POST,
                                "OTA00020")) != OK) {
        return rv;
    }
    memset(&x, 0, sizeof(x));
    x.r = r;
    x.c = ota_conf_of(r);
    if (!x.c->identity) {
        return ota_config_missing(r, "OTAEnrollSigningCertificate/Key");
    }
    if (!x.c->scep_url) {
        return ota_config_missing(r, "OTAEnrollSCEPURL");
    }
    x.local_ca = local_ca_of(r, x.c);
    if ((rv = device_read(&x, &msg)) != OK) {
        return rv;
    }
    if (msg->trust != ota_cfg_device_trust(x.c)) {
        return ota_phase3(r, x.c, msg, x.a);
    }
    if ((rv = phase2_check(&x)) != OK || (rv = ota_db_open(&x.db, r)) != OK
        || (rv = prepare_scep(&x)) != OK || (rv = redeem(&x)) != OK) {
        return rv;
    }
    scep_profile_build(&root, &x);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "OTA00041: device %s (%s %s) "
                  "enrolled%s%s, SCEP payload sent%s", x.a->udid,
                  x.a->product ? x.a->product : "?",
                  x.a->version ? x.a->version : "?",
                  x.user ? " for user " : "", x.user ? x.user : "",
                  x.dynamic ? " with a one-time SCEP challenge" : "");
    return ota_respond_signed(r, x.c, root);
}
