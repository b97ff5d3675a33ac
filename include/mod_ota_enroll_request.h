/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* What the handlers of mod_ota_enroll share (mod_ota_enroll_request.c):
 * reading bodies, the database through mod_dbd, the common refusals and
 * errors, one-time challenges, the device's environment variables, and
 * sending answers. Each helper that fails logs with its id and returns the
 * HTTP status to answer. */
#ifndef MOD_OTA_ENROLL_REQUEST_H
#define MOD_OTA_ENROLL_REQUEST_H

#include "httpd.h"
#include <plist/plist.h>

#include "ota_plist.h"
#include "ota_store.h"

#include "mod_ota_enroll_config.h"

/* post_config: finds mod_dbd (OTA00001 when it is not loaded). */
int ota_request_post_config(server_rec *s);

/* 405 naming the one method allowed, logged as id. */
int ota_method_not_allowed(request_rec *r, int method, const char *id);
/* 500 for a setting (or resource) the handler cannot do without. */
int ota_config_missing(request_rec *r, const char *what);

/* The methods a handler serves, for ota_handler_check. */
#define OTA_SERVES_GET  0x1
#define OTA_SERVES_POST 0x2
/* Every handler's first step: DECLINED for another handler's request;
 * for a method it does not serve, 405 (logged as id) naming POST if it
 * serves POST, else GET; OK otherwise. */
int ota_handler_check(request_rec *r, const char *handler, int serves,
                      const char *id);
/* The built-in CA's handlers: r's configuration in *c; 500 when it has
 * no CA. */
int ota_ca_conf_of(request_rec *r, const ota_conf **c);

/* The whole body, at most max bytes (413 beyond, the connection closed). */
int ota_read_body(request_rec *r, apr_size_t max, const char **body,
                  apr_size_t *len);

/* A mod_dbd connection with the enrollment statements ready; 503 when
 * there is none. */
int ota_db_open(ota_db *db, request_rec *r);
/* 503 for a failed statement. */
int ota_db_failed(request_rec *r, const char *why);

/* A new random challenge; 500 when the random generator fails. */
int ota_challenge_make(request_rec *r, const char **challenge);

/* OTA_PHASE, OTA_UDID, OTA_SERIAL, OTA_PRODUCT, OTA_VERSION. */
void ota_export_device(request_rec *r, const ota_device_attributes *a,
                       const char *phase);

/* The profile as CMS SignedData by the configured signing identity. */
int ota_sign_profile(request_rec *r, const ota_conf *c, plist_t root,
                     const unsigned char **der, apr_size_t *len);
/* A signed profile, never cached. */
int ota_send_profile(request_rec *r, const unsigned char *der,
                     apr_size_t len);
/* Both: signs the profile and sends it. */
int ota_respond_signed(request_rec *r, const ota_conf *c, plist_t root);
/* A JSON body with that status, never cached. Returns OK (the status is
 * r->status). */
int ota_send_json_status(request_rec *r, int status, const char *json);
/* A body of the given type (none for HEAD). */
int ota_send_bytes(request_rec *r, const char *type, const void *data,
                   apr_size_t len);

#endif
