/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* mod_ota_enroll: Apple over-the-air enrollment for Apache httpd.
 *
 * This file is the httpd glue only: configuration, hooks, handlers and
 * logging. The protocol logic lives in the ota_*.c and scep_payload.c
 * files, which do not call httpd. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include "ota_cms.h"
#include "ota_plist.h"
#include "ota_challenge.h"
#include "ota_store.h"
#include "ota_profile.h"
#include "scep_payload.h"
#include "ota_getcacaps.h"
#include "ota_scep.h"

#include "mod_ota_enroll.h"

/* Per child: GetCACaps caches by SCEP URL (read-only once built) and the
 * default Apple device store. */
static apr_hash_t *caps_caches;
static ota_trust *default_device_trust;

static apr_array_header_t *default_subject;
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;

/* ---- startup ---- */

static int ota_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    ota_config_sections_reset(pconf);
    return OK;
}

static int pair_missing(server_rec *s, const char *first, const char *second)
{
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00002: %s is set "
                 "without %s", first, second);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* Capabilities only old devices need: allowed, but said at startup (a
 * front only describes another CA). */
static void warn_weak_capabilities(server_rec *s, const ota_conf *c)
{
    for (int i = 0; c->scep_front != 1 && c->scep_caps
                    && i < c->scep_caps->nelts; i++) {
        const char *cap = APR_ARRAY_IDX(c->scep_caps, i, const char *);

        if (!strcmp(cap, "DES3") || !strcmp(cap, "SHA-1")) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "OTA00075: "
                         "OTAEnrollSCEPCapabilities %s: the built-in CA "
                         "accepts this legacy algorithm where it is "
                         "configured; confine it (e.g. with <If>) to the "
                         "devices that need it", cap);
        }
    }
}

static int check_sections(server_rec *s)
{
    const apr_array_header_t *sections = ota_config_sections();

    for (int i = 0; i < sections->nelts; i++) {
        ota_conf *c = APR_ARRAY_IDX(sections, i, ota_conf *);

        if (!c->signing_cert_file != !c->signing_key_file) {
            return c->signing_cert_file
                   ? pair_missing(s, "OTAEnrollSigningCertificate",
                                  "OTAEnrollSigningKey")
                   : pair_missing(s, "OTAEnrollSigningKey",
                                  "OTAEnrollSigningCertificate");
        }
        if (!c->ca_cert_file != !c->ca_key_file) {
            return c->ca_cert_file
                   ? pair_missing(s, "OTAEnrollCACertificate",
                                  "OTAEnrollCAKey")
                   : pair_missing(s, "OTAEnrollCAKey",
                                  "OTAEnrollCACertificate");
        }
        warn_weak_capabilities(s, c);
    }
    return OK;
}

static int ota_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    const char *why = NULL;
    int rv;

    ota_config_read_done();
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    if (!dbd_acquire) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00001: "
                     "mod_ota_enroll keeps its state through mod_dbd: add "
                     "'LoadModule dbd_module' and 'DBDriver sqlite3' with "
                     "'DBDParams /var/lib/apache2/ota_enroll.db'");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = check_sections(s)) != OK) {
        return rv;
    }
    if (ota_scep_init() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00003: cannot "
                     "register the SCEP object identifiers with OpenSSL");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ota_subject_parse(&default_subject, "CN=%{UDID}", &why, pconf);
    /* The default Apple device store: only an error when a location that
     * needs it has no OTAEnrollDeviceCA (logged then). */
    default_device_trust = NULL;
    if (ota_trust_load(&default_device_trust, OTA_DEVICE_CA_DEFAULT,
                       OTA_TRUST_APPLE_DEVICE, &why, pconf)) {
        default_device_trust = NULL;
    }
    return OK;
}

static void start_caps_caches(apr_pool_t *pchild, server_rec *s)
{
    caps_caches = apr_hash_make(pchild);
    for (int i = 0; ota_config_sections() && i < ota_config_sections()->nelts; i++) {
        ota_conf *c = APR_ARRAY_IDX(ota_config_sections(), i, ota_conf *);
        ota_getcacaps_cache *cache;

        if (!c->scep_url || c->caps == CAPS_OFF || c->caps == CAPS_LIST
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

static void ota_child_init(apr_pool_t *pchild, server_rec *s)
{
    start_caps_caches(pchild, s);
}

/* ---- request helpers ---- */

ota_conf *ota_conf_of(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &ota_enroll_module);
}

/* Default profile identifier: the server name reversed
 * (www.example.com -> com.example.www.ota). */
static const char *default_identifier(request_rec *r)
{
    const char *host = r->server->server_hostname ? r->server->server_hostname
                                                  : "localhost";
    char *copy = apr_pstrdup(r->pool, host), *state = NULL, *label;
    const char *out = "ota";

    if (strspn(host, "0123456789.:[]") == strlen(host)) {
        return "local.ota";          /* an address has no domain to reverse */
    }
    for (label = apr_strtok(copy, ".", &state); label;
         label = apr_strtok(NULL, ".", &state)) {
        out = apr_pstrcat(r->pool, label, ".", out, NULL);
    }
    return out;
}

void ota_meta_of(ota_profile_meta *meta, const ota_conf *c,
                    request_rec *r)
{
    meta->identifier = c->identifier ? c->identifier : default_identifier(r);
    meta->organization = c->organization ? c->organization
                                         : r->server->server_hostname;
    meta->display_name = c->display_name ? c->display_name
                                         : "Device enrollment";
    meta->description = c->description;
}

static const char *absolute_url(request_rec *r, const char *url)
{
    return url[0] == '/' ? ap_construct_url(r->pool, url, r) : url;
}

int ota_method_not_allowed(request_rec *r, int method, const char *id)
{
    r->allowed = AP_METHOD_BIT << method;
    ap_allow_methods(r, REPLACE_ALLOW, method == M_GET ? "GET" : "POST",
                     NULL);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: method %s not "
                  "allowed here", id, r->method);
    return HTTP_METHOD_NOT_ALLOWED;
}

int ota_config_missing(request_rec *r, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00012: %s is required "
                  "for %s", what, r->handler);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* A database connection from mod_dbd with our statements ready. They are
 * prepared per connection on first use, after the schema (and sqlite3's
 * busy timeout): registering them with ap_dbd_prepare would make mod_dbd
 * prepare them before the tables exist. */
int ota_db_open(ota_db *db, request_rec *r)
{
    ap_dbd_t *dbd = dbd_acquire(r);
    const char *why = NULL;

    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00013: no database "
                      "connection from mod_dbd (check DBDriver/DBDParams)");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    if (ota_store_connection_init(db, &why, dbd->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00014: cannot "
                      "prepare the enrollment tables: %s", why);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return OK;
}

int ota_db_failed(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00014: database error: "
                  "%s", why ? why : "unknown");
    return HTTP_SERVICE_UNAVAILABLE;
}

int ota_sign_profile(request_rec *r, const ota_conf *c, plist_t root,
                     const unsigned char **der, apr_size_t *len)
{
    const char *xml;
    apr_size_t xml_len;

    if (ota_plist_to_xml(&xml, &xml_len, root, r->pool)
        || ota_cms_sign(der, len, c->identity, xml, xml_len, NULL, 1,
                        r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00015: cannot sign "
                      "the profile: %s", ota_openssl_error(r->pool));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int ota_send_profile(request_rec *r, const unsigned char *der,
                     apr_size_t len)
{
    ap_set_content_type(r, ASPEN_CONFIG);
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rwrite(der, (int)len, r);
    }
    return OK;
}

static int respond_signed(request_rec *r, const ota_conf *c, plist_t root)
{
    const unsigned char *der;
    apr_size_t len;
    int rv = ota_sign_profile(r, c, root, &der, &len);

    return rv == OK ? ota_send_profile(r, der, len) : rv;
}

/* ---- phase 1: the Profile Service payload ---- */

static const char *const default_attributes[] = {
    "UDID", "VERSION", "PRODUCT", "SERIAL", "MEID", "IMEI", NULL
};

static const apr_array_header_t *attributes_of(const ota_conf *c,
                                               apr_pool_t *p)
{
    apr_array_header_t *a;

    if (c->attributes) {
        return c->attributes;
    }
    a = apr_array_make(p, 8, sizeof(const char *));
    for (const char *const *n = default_attributes; *n; n++) {
        APR_ARRAY_PUSH(a, const char *) = *n;
    }
    return a;
}

static int profile_service_handler(request_rec *r)
{
    ota_conf *c;
    ota_profile_meta meta;
    ota_db db;
    const char *challenge, *why = NULL;
    plist_t root;
    int rv, lifetime;

    if (strcmp(r->handler, "ota-profile-service")) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return ota_method_not_allowed(r, M_GET, "OTA00010");
    }
    c = ota_conf_of(r);
    if (!c->identity) {
        return ota_config_missing(r, "OTAEnrollSigningCertificate/Key");
    }
    if (!c->url) {
        return ota_config_missing(r, "OTAEnrollURL");
    }
    if ((rv = ota_db_open(&db, r)) != OK) {
        return rv;
    }
    lifetime = c->challenge_lifetime != UNSET ? c->challenge_lifetime
                                              : DEFAULT_CHALLENGE_LIFETIME;
    if (ota_challenge_new(&challenge, r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00016: the random "
                      "generator failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ota_store_challenge_add(&db, challenge, r->user, apr_time_now(),
                                apr_time_from_sec(lifetime), &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    apr_table_setn(r->subprocess_env, "OTA_PHASE", "1");
    ota_meta_of(&meta, c, r);
    ota_profile_service_build(&root, &meta, absolute_url(r, c->url),
                              attributes_of(c, r->pool), challenge, r->pool);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "OTA00011: profile service "
                  "sent, challenge valid %d s%s%s", lifetime,
                  r->user ? " for user " : "", r->user ? r->user : "");
    return respond_signed(r, c, root);
}

/* ---- phase 2: device attributes in, SCEP payload out ---- */

/* How each refusal of a posted SignedData is logged and answered. */
static const struct {
    const char *id;
    int status;
} cms_refusals[] = {
    [OTA_CMS_MALFORMED]       = { "OTA00023", HTTP_BAD_REQUEST },
    [OTA_CMS_NOT_SIGNED_DATA] = { "OTA00024", HTTP_BAD_REQUEST },
    [OTA_CMS_NO_SIGNER]       = { "OTA00025", HTTP_BAD_REQUEST },
    [OTA_CMS_MANY_SIGNERS]    = { "OTA00026", HTTP_BAD_REQUEST },
    [OTA_CMS_DETACHED]        = { "OTA00027", HTTP_BAD_REQUEST },
    [OTA_CMS_NESTED]          = { "OTA00028", HTTP_BAD_REQUEST },
    [OTA_CMS_NO_SIGNER_CERT]  = { "OTA00029", HTTP_BAD_REQUEST },
    [OTA_CMS_WEAK_DIGEST]     = { "OTA00030", HTTP_BAD_REQUEST },
    [OTA_CMS_BAD_SIGNATURE]   = { "OTA00031", HTTP_BAD_REQUEST },
    [OTA_CMS_WEAK_KEY]        = { "OTA00032", HTTP_FORBIDDEN },
    [OTA_CMS_UNTRUSTED]       = { "OTA00033", HTTP_FORBIDDEN },
    [OTA_CMS_NOT_DEVICE_CA]   = { "OTA00034", HTTP_FORBIDDEN },
};

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
};

int ota_read_body(request_rec *r, apr_size_t max, const char **body,
                     apr_size_t *len)
{
    char *buf;
    apr_size_t total = 0;
    long n;
    int rv;

    if ((rv = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rv;
    }
    if (r->remaining > (apr_off_t)max) {
        goto too_large;
    }
    buf = apr_palloc(r->pool, max + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + total, max + 1 - total)) > 0) {
            total += n;
            if (total > max) {
                goto too_large;
            }
        }
        if (n < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00022: the "
                          "request body could not be read");
            return HTTP_BAD_REQUEST;
        }
    }
    *body = buf;
    *len = total;
    return OK;

too_large:
    r->connection->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00021: request body "
                  "over OTAEnrollMaxBodySize (%" APR_SIZE_T_FMT " bytes)", max);
    return HTTP_REQUEST_ENTITY_TOO_LARGE;
}

apr_size_t ota_max_body(const ota_conf *c)
{
    return c->max_body != UNSET ? (apr_size_t)c->max_body : DEFAULT_MAX_BODY;
}

static const ota_trust *device_trust_of(const ota_conf *c)
{
    return c->device_trust ? c->device_trust : default_device_trust;
}

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

    if (!(trusts[0] = device_trust_of(c))) {
        return ota_config_missing(r, "OTAEnrollDeviceCA (the default "
                              OTA_DEVICE_CA_DEFAULT " is missing)");
    }
    trusts[1] = issuer;
    if ((rv = ota_read_body(r, ota_max_body(c), &body, &len)) != OK) {
        return rv;
    }
    if (ota_cms_verify_any(msg, (const unsigned char *)body, len, trusts,
                           issuer ? 2 : 1, r->pool)) {
        return ota_config_missing(r, "memory");
    }
    if ((*msg)->verdict != OTA_CMS_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: refused: %s (%s)",
                      cms_refusals[(*msg)->verdict].id,
                      ota_cms_verdict_name((*msg)->verdict),
                      (*msg)->detail ? (*msg)->detail : "");
        return cms_refusals[(*msg)->verdict].status;
    }
    return OK;
}

void ota_export_device(request_rec *r, const ota_device_attributes *a,
                          const char *phase)
{
    apr_table_t *env = r->subprocess_env;

    apr_table_setn(env, "OTA_PHASE", phase);
    apr_table_setn(env, "OTA_UDID", a->udid);
    if (a->serial) {
        apr_table_setn(env, "OTA_SERIAL", a->serial);
    }
    if (a->product) {
        apr_table_setn(env, "OTA_PRODUCT", a->product);
    }
    if (a->version) {
        apr_table_setn(env, "OTA_VERSION", a->version);
    }
}

/* One phase-2 request: what the device says and what it will be told. */
typedef struct phase2 {
    request_rec *r;
    const ota_conf *c;
    const ota_conf *local_ca;      /* the ota-scep behind OTAEnrollSCEPURL */
    ota_device_attributes *a;
    ota_db db;
    const char *user;              /* the phase-1 user, or NULL */
    apr_table_t *fields;           /* for the Subject template */
    const char *scep_challenge;    /* what the payload carries */
    int dynamic;
    unsigned char fingerprint[20];
} phase2;

/* The built-in CA configuration serving OTAEnrollSCEPURL on this server
 * (same scheme, host name and port), found by a lookup subrequest (no HTTP round trip): its capabilities,
 * challenge mode and certificate go into the payload. The subrequest is
 * kept, its configuration lives in its pool. */
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
    sc = ap_get_module_config(sub->per_dir_config, &ota_enroll_module);
    return sc->ca ? sc : NULL;
}

/* The GetCACaps array to write: NULL for none. */
static const apr_array_header_t *caps_of(const phase2 *x)
{
    request_rec *r = x->r;
    const ota_conf *c = x->c;
    ota_getcacaps_cache *cache;
    ota_caps_source source;
    const char *why = NULL;
    apr_array_header_t *caps;

    if (c->caps == CAPS_OFF) {
        return NULL;
    }
    if (c->caps == CAPS_LIST) {
        return c->caps_list;
    }
    if (x->local_ca) {
        return ota_scep_capabilities(x->local_ca, r->pool);
    }
    cache = caps_caches ? apr_hash_get(caps_caches, c->scep_url,
                                       APR_HASH_KEY_STRING) : NULL;
    if (!cache) {
        return ota_getcacaps_fallback(r->pool);
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

const apr_array_header_t *ota_subject_of(const ota_conf *c)
{
    return c->scep_subject ? c->scep_subject : default_subject;
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
    s.subject = ota_subject_of(c);
    s.san = c->scep_san;
    s.challenge = x->scep_challenge;
    s.key_size = c->scep_key_size != UNSET ? c->scep_key_size : 2048;
    s.key_usage = c->scep_key_usage != UNSET ? c->scep_key_usage : 5;
    s.ca_fingerprint = fingerprint_of(x);
    s.ca_fingerprint_len = s.ca_fingerprint ? 20 : 0;
    s.retries = c->scep_retries != UNSET ? c->scep_retries : 3;
    s.retry_delay = c->scep_retry_delay != UNSET ? c->scep_retry_delay : 10;
    s.getcacaps = caps_of(x);
    ota_meta_of(&meta, c, x->r);
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
    int mode = x->c->scep_dynamic;

    if (ota_store_challenge_owner(&owner, &x->db, x->a->challenge, &why,
                                  x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    x->user = x->r->user ? x->r->user : owner;
    x->fields = apr_table_copy(x->r->pool, x->a->all);
    if (x->user) {
        apr_table_setn(x->fields, "REMOTE_USER", x->user);
    }
    x->dynamic = mode == 1
                 || (mode == UNSET && x->local_ca
                     && x->local_ca->scep_dynamic != 0);
    if (!x->dynamic) {
        x->scep_challenge = x->c->scep_challenge;
        return OK;
    }
    if (ota_challenge_new(&x->scep_challenge, x->r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r, "OTA00016: the random "
                      "generator failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int redeem(phase2 *x)
{
    request_rec *r = x->r;
    ota_device_record device;
    ota_challenge_verdict verdict;
    const char *why = NULL;
    int lifetime = x->c->challenge_lifetime != UNSET
                   ? x->c->challenge_lifetime : DEFAULT_CHALLENGE_LIFETIME;

    memset(&device, 0, sizeof(device));
    device.udid = x->a->udid;
    device.serial = x->a->serial;
    device.product = x->a->product;
    device.version = x->a->version;
    device.user = x->user;
    if (x->dynamic) {
        device.scep_challenge = x->scep_challenge;
        device.scep_subject = ota_subject_canonical(ota_subject_of(x->c),
                                                    x->fields, r->pool);
        device.scep_san = ota_san_canonical(x->c->scep_san, x->fields,
                                            r->pool);
        device.scep_lifetime = apr_time_from_sec(lifetime);
    }
    if (ota_store_challenge_redeem(&verdict, &x->db, x->a->challenge,
                                   r->user, apr_time_now(), &device, &why,
                                   r->pool)) {
        return ota_db_failed(r, why);
    }
    if (verdict != OTA_CHALLENGE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: refused device "
                      "%s: %s", challenge_refusals[verdict].id, x->a->udid,
                      challenge_refusals[verdict].text);
        return HTTP_FORBIDDEN;
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

static int enroll_handler(request_rec *r)
{
    phase2 x;
    ota_signed_message *msg;
    plist_t root;
    int rv;

    if (strcmp(r->handler, "ota-enroll")) {
        return DECLINED;
    }
    if (r->method_number != M_POST) {
        return ota_method_not_allowed(r, M_POST, "OTA00020");
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
    if (msg->trust != device_trust_of(x.c)) {
        return ota_phase3(r, x.c, x.local_ca, msg, x.a);
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
    return respond_signed(r, x.c, root);
}

static void ota_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ota_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ota_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ota_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(profile_service_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(enroll_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_scep_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ota_status_register_hooks(p);      /* the error_log hook that counts */
    ap_hook_handler(ota_scep_front_handler, NULL, NULL,
                    APR_HOOK_REALLY_FIRST);
}

AP_DECLARE_MODULE(ota_enroll) = {
    STANDARD20_MODULE_STUFF,
    ota_create_dir_conf,
    ota_merge_dir_conf,
    NULL,
    NULL,
    ota_cmds,
    ota_register_hooks
};
