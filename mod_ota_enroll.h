/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared by the httpd glue files (mod_ota_enroll*.c): the configuration
 * record and the helpers the handlers have in common. */
#ifndef MOD_OTA_ENROLL_H
#define MOD_OTA_ENROLL_H

#include "httpd.h"
#include "http_config.h"
#include "apr_dbd.h"

#include "ota_cms.h"
#include "ota_ca.h"
#include "ota_store.h"
#include <plist/plist.h>

extern module AP_MODULE_DECLARE_DATA ota_enroll_module;

#define UNSET (-1)
#define DEFAULT_CHALLENGE_LIFETIME 900
#define DEFAULT_MAX_BODY 65536
#define MAX_BODY_CEILING (1024 * 1024)
#define GETCACAPS_REFRESH apr_time_from_sec(3600)
#define GETCACAPS_TIMEOUT apr_time_from_sec(3)
#define ASPEN_CONFIG "application/x-apple-aspen-config"
#define DEFAULT_CERTIFICATE_LIFETIME 365
#define DEFAULT_ENROLLMENT_WINDOW 3600

typedef enum {
    CAPS_UNSET = 0,
    CAPS_AUTO,
    CAPS_OFF,
    CAPS_LIST
} caps_mode;

typedef struct ota_conf {
    /* profile signing identity; the certificate and key travel together
     * through merges */
    const char *signing_cert_file;
    const char *signing_key_file;
    ota_identity *identity;

    const char *organization;
    const char *identifier;
    const char *display_name;
    const char *description;

    /* phase 1 */
    const char *url;
    apr_array_header_t *attributes;
    int challenge_lifetime;

    /* phase 2 */
    const char *device_ca_file;
    ota_trust *device_trust;
    int max_body;
    const char *scep_url;
    const char *scep_name;
    const char *scep_subject_text;
    apr_array_header_t *scep_subject;
    apr_array_header_t *scep_san;   /* OTAEnrollSCEPSubjectAltName; an
                                     * empty array: none (overrides) */
    int scep_dynamic;               /* UNSET, or 1 for dynamic, 0 static */
    const char *scep_challenge;     /* the static secret */
    int scep_key_size;
    int scep_key_usage;
    int scep_retries;
    int scep_retry_delay;
    unsigned char *scep_ca_fingerprint;
    STACK_OF(X509) *scep_ca_certs;  /* OTAEnrollSCEPCACertificate */
    caps_mode caps;
    apr_array_header_t *caps_list;

    /* the built-in CA; certificate and key travel together */
    const char *ca_cert_file;
    const char *ca_key_file;
    ota_ca *ca;
    ota_trust *ca_trust;            /* strict store of the CA's chain */
    int cert_lifetime;
    apr_array_header_t *scep_caps;  /* OTAEnrollSCEPCapabilities */
    int scep_front;                 /* answer GetCACaps before mod_proxy */

    /* phase 3 */
    ota_trust *issuer_trust;        /* OTAEnrollIssuerCA */
    struct ota_final_profile *final_profile;
    const EVP_CIPHER *profile_cipher;
    int enrollment_window;
} ota_conf;

/* Configuration (mod_ota_enroll_config.c). */
extern const command_rec ota_cmds[];
void *ota_create_dir_conf(apr_pool_t *p, char *dir);
void *ota_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
/* Every section created while the configuration is read: post_config
 * checks them, child_init starts their GetCACaps caches. */
void ota_config_sections_reset(apr_pool_t *pconf);
const apr_array_header_t *ota_config_sections(void);
void ota_config_read_done(void);

/* Request helpers (mod_ota_enroll.c). */
ota_conf *ota_conf_of(request_rec *r);
int ota_method_not_allowed(request_rec *r, int method, const char *id);
int ota_config_missing(request_rec *r, const char *what);
int ota_read_body(request_rec *r, apr_size_t max, const char **body,
                  apr_size_t *len);
int ota_db_open(ota_db *db, request_rec *r);
int ota_db_failed(request_rec *r, const char *why);
apr_size_t ota_max_body(const ota_conf *c);
struct ota_profile_meta;
struct ota_device_attributes;
void ota_meta_of(struct ota_profile_meta *meta, const ota_conf *c,
                 request_rec *r);
const apr_array_header_t *ota_subject_of(const ota_conf *c);
void ota_export_device(request_rec *r,
                       const struct ota_device_attributes *a,
                       const char *phase);
int ota_sign_profile(request_rec *r, const ota_conf *c, plist_t root,
                     const unsigned char **der, apr_size_t *len);
int ota_send_profile(request_rec *r, const unsigned char *der,
                     apr_size_t len);

/* Phase 3 (mod_ota_enroll_final.c): msg was verified in the issuer's
 * strict store. */
int ota_phase3(request_rec *r, const ota_conf *c, const ota_conf *local_ca,
               ota_signed_message *msg, struct ota_device_attributes *a);

/* The built-in CA (mod_ota_enroll_scep.c). */
int ota_scep_handler(request_rec *r);
int ota_scep_front_handler(request_rec *r);
const apr_array_header_t *ota_scep_capabilities(const ota_conf *c,
                                                apr_pool_t *p);

/* The admin view (mod_ota_enroll_status.c); its hooks count refusals. */
int ota_status_handler(request_rec *r);
void ota_status_register_hooks(apr_pool_t *p);

#endif
