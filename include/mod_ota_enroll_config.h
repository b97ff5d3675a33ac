/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The configuration of mod_ota_enroll (mod_ota_enroll_config.c): the
 * per-directory record, its directives, the startup checks, and the
 * accessors that resolve every default. The other glue files read settings
 * with a default only through these accessors: an unset field holds a
 * sentinel, never its default. */
#ifndef MOD_OTA_ENROLL_CONFIG_H
#define MOD_OTA_ENROLL_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "apr_tables.h"

#include "ota_cms.h"
#include "ota_ca.h"
#include "ota_profile.h"

/* OTAEnrollGetCACaps */
typedef enum {
    OTA_CAPS_UNSET = 0,             /* means auto */
    OTA_CAPS_AUTO,
    OTA_CAPS_OFF,
    OTA_CAPS_LIST
} ota_caps_mode;

struct ota_final_profile;

/* One configuration section, or the merge of several. Integer settings
 * and the challenge mode read -1 while unset. */
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
    int scep_dynamic;               /* 1 dynamic, 0 static, -1 unset */
    const char *scep_challenge;     /* the static secret */
    int scep_key_size;
    int scep_key_usage;
    int scep_retries;
    int scep_retry_delay;
    unsigned char *scep_ca_fingerprint;
    STACK_OF(X509) *scep_ca_certs;  /* OTAEnrollSCEPCACertificate */
    ota_caps_mode caps;
    apr_array_header_t *caps_list;

    /* the built-in CA; certificate and key travel together */
    const char *ca_cert_file;
    const char *ca_key_file;
    ota_ca *ca;
    ota_trust *ca_trust;            /* strict store of the CA's chain */
    int cert_lifetime;
    apr_array_header_t *scep_caps;  /* OTAEnrollSCEPCapabilities */
    int scep_caps_confined;         /* set inside <If>: no warning */
    int scep_front;                 /* answer GetCACaps before mod_proxy */

    /* revocation */
    const char *crl_url;            /* OTAEnrollCRLURL */
    const char *ocsp_url;           /* OTAEnrollOCSPURL */
    int crl_lifetime;               /* seconds */
    const char *ocsp_cert_file;     /* the delegated OCSP responder; */
    const char *ocsp_key_file;      /* certificate and key travel together */
    ota_identity *ocsp_identity;
    int supersede;                  /* OTAEnrollSupersede */

    /* approval */
    int scep_approval;              /* OTAEnrollSCEPApproval: 1 manual */
    int pending_lifetime;           /* OTAEnrollPendingLifetime, seconds */

    /* every handler */
    int body_timeout;               /* OTAEnrollBodyTimeout, seconds */
    int anonymous;                  /* OTAEnrollAnonymous */

    /* phase 3 */
    ota_trust *issuer_trust;        /* OTAEnrollIssuerCA */
    struct ota_final_profile *final_profile;
    const EVP_CIPHER *profile_cipher;
    int enrollment_window;
} ota_conf;

/* ---- the module's configuration hooks ---- */

extern const command_rec ota_cmds[];
void *ota_create_dir_conf(apr_pool_t *p, char *dir);
void *ota_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* pre_config: starts recording every section created while the
 * configuration is read. */
void ota_config_sections_reset(apr_pool_t *pconf);
/* Those sections (child_init starts their GetCACaps caches). */
const apr_array_header_t *ota_config_sections(void);
/* post_config: checks the sections (OTA00002, OTA00075) and builds the
 * defaults the accessors hand out, once per configuration cycle. */
int ota_config_post_config(apr_pool_t *pconf, server_rec *s);

/* ---- accessors: the merged configuration, defaults resolved ---- */

ota_conf *ota_conf_of(request_rec *r);

/* The Profile Service and Configuration profiles' names: the server name
 * reversed (com.example.www.ota), the server name, "Device enrollment". */
void ota_cfg_profile_meta(ota_profile_meta *meta, const ota_conf *c,
                          server_rec *s, apr_pool_t *p);

/* phase 1 */
const apr_array_header_t *ota_cfg_device_attributes(const ota_conf *c);
int ota_cfg_challenge_lifetime(const ota_conf *c);      /* seconds */

/* phase 2 */
apr_size_t ota_cfg_max_body(const ota_conf *c);
/* The Apple device store: OTAEnrollDeviceCA, else the chain installed with
 * the module; NULL when neither could be loaded. */
const ota_trust *ota_cfg_device_trust(const ota_conf *c);
const apr_array_header_t *ota_cfg_scep_subject(const ota_conf *c);
int ota_cfg_key_size(const ota_conf *c);
int ota_cfg_key_usage(const ota_conf *c);
/* Retries and RetryDelay of the payload: as set, else fitted to the
 * built-in CA ca (NULL: none): where it holds requests for approval, the
 * device keeps polling for its OTAEnrollPendingLifetime. */
int ota_cfg_retries(const ota_conf *c, const ota_conf *ca);
int ota_cfg_retry_delay(const ota_conf *c, const ota_conf *ca); /* s */
/* Whether SCEP challenges are one-time ones: as OTAEnrollSCEPChallenge
 * says, else as the built-in CA ca (NULL: none; c itself for the CA's own
 * location) does, whose default is dynamic. */
int ota_cfg_scep_dynamic(const ota_conf *c, const ota_conf *ca);
/* OTAEnrollGetCACaps: auto (the default), off, or a list put in *list. */
ota_caps_mode ota_cfg_getcacaps(const ota_conf *c,
                                const apr_array_header_t **list);
/* What is assumed of a CA that does not answer GetCACaps. */
const apr_array_header_t *ota_cfg_caps_fallback(void);

/* the built-in CA and the front */
const apr_array_header_t *ota_cfg_scep_capabilities(const ota_conf *c);
int ota_cfg_cert_lifetime(const ota_conf *c);              /* days */
int ota_cfg_scep_front(const ota_conf *c);
/* What the front answers to GetCACaps: OTAEnrollSCEPCapabilities, else
 * the fallback. */
const apr_array_header_t *ota_cfg_front_capabilities(const ota_conf *c);

/* phase 3 */
int ota_cfg_enrollment_window(const ota_conf *c);          /* seconds */

/* revocation */
int ota_cfg_crl_lifetime(const ota_conf *c);               /* seconds */
int ota_cfg_supersede(const ota_conf *c);

/* approval: OTAEnrollSCEPApproval manual holds every PKCSReq (PENDING)
 * until an administrator decides, for OTAEnrollPendingLifetime */
int ota_cfg_scep_manual(const ota_conf *c);
int ota_cfg_pending_lifetime(const ota_conf *c);           /* seconds */

/* every handler */
apr_interval_time_t ota_cfg_body_timeout(const ota_conf *c);
int ota_cfg_anonymous(const ota_conf *c);

/* OTAEnrollRetention: how long after their expiry used and
 * expired challenges are kept (server-wide, default 7 days). */
apr_interval_time_t ota_cfg_retention(void);

#endif
