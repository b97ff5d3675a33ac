/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 3: a device posts again, signed by the identity it obtained by
 * SCEP, and receives its final profile encrypted to that identity. httpd
 * glue only: the profile is built by ota_final.c. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_ota_enroll.h"
#include "ota_final.h"
#include "ota_plist.h"
#include "ota_profile.h"
#include "scep_payload.h"

APLOG_USE_MODULE(ota_enroll);

/* One phase-3 request. */
typedef struct phase3 {
    request_rec *r;
    const ota_conf *c;
    const ota_conf *local_ca;
    ota_signed_message *msg;
    ota_device_attributes *a;
    ota_db db;
    ota_device_state *device;
    const char *serial;
} phase3;

static int refuse(phase3 *x, const char *id, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, "%s: phase 3 refused "
                  "for device %s, certificate %s: %s", id, x->a->udid,
                  x->serial, why);
    return HTTP_FORBIDDEN;
}

/* The device passed phase 2, recently enough. */
static int check_device(phase3 *x)
{
    const char *why = NULL;
    int window = x->c->enrollment_window != UNSET
                 ? x->c->enrollment_window : DEFAULT_ENROLLMENT_WINDOW;

    if (ota_store_device_get(&x->device, &x->db, x->a->udid, &why,
                             x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (!x->device || x->device->phase < 2) {
        return refuse(x, "OTA00080", "the device did not pass phase 2");
    }
    if (apr_time_now() - x->device->phase2_at
        > apr_time_from_sec(window)) {
        return refuse(x, "OTA00081", apr_psprintf(x->r->pool, "phase 2 was "
                      "more than OTAEnrollEnrollmentWindow (%d s) ago",
                      window));
    }
    return OK;
}

/* A certificate from the built-in CA must be in its registry, unrevoked
 * and the device's; one from an external CA must name the subject this
 * device was told to request. */
static int check_certificate(phase3 *x)
{
    ota_certificate_record *rec;
    const ota_ca_subject_entry *entries;
    apr_table_t *fields;
    const char *why = NULL;
    int count;

    if (ota_store_certificate_find(&rec, &x->db, "serial", x->serial, &why,
                                   x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (rec) {
        if (rec->revoked) {
            return refuse(x, "OTA00082", "the certificate is revoked");
        }
        return rec->udid && !strcmp(rec->udid, x->a->udid) ? OK
               : refuse(x, "OTA00083", "the certificate was issued to "
                        "another device");
    }
    if (!x->c->issuer_trust) {
        return refuse(x, "OTA00084", "a certificate of the built-in CA that "
                      "its registry does not know");
    }
    fields = apr_table_copy(x->r->pool, x->a->all);
    if (x->device->user) {
        apr_table_setn(fields, "REMOTE_USER", x->device->user);
    }
    if (ota_ca_subject_entries(&entries, &count,
                               ota_subject_canonical(ota_subject_of(x->c),
                                                     fields, x->r->pool),
                               x->r->pool)
        || !ota_ca_cert_subject_is(x->msg->signer, entries, count)) {
        return refuse(x, "OTA00083", "the certificate's subject is not the "
                      "one this device was told to request");
    }
    return OK;
}

static int send_final(phase3 *x)
{
    request_rec *r = x->r;
    ota_profile_meta meta;
    apr_table_t *fields = apr_table_copy(r->pool, x->a->all);
    const unsigned char *der;
    apr_size_t len;
    const char *why = NULL;
    plist_t root;
    int rv;

    if (x->device->user) {
        apr_table_setn(fields, "REMOTE_USER", x->device->user);
    }
    ota_meta_of(&meta, x->c, r);
    if (ota_final_build(&root, x->c->final_profile, &meta, fields,
                        x->msg->signer, x->c->profile_cipher, &why,
                        r->pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00086: cannot build "
                      "the final profile for %s: %s", x->a->udid, why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = ota_sign_profile(r, x->c, root, &der, &len)) != OK) {
        return rv;
    }
    /* recorded once the answer exists, before it is sent */
    if (ota_store_device_enrolled(&x->db, x->a->udid, x->serial,
                                  apr_time_now(), &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "OTA00085: device %s "
                  "enrolled: final profile %s sent, encrypted to certificate "
                  "%s", x->a->udid,
                  ota_final_identifier(x->c->final_profile, &meta,
                                       x->a->udid, r->pool), x->serial);
    return ota_send_profile(r, der, len);
}

int ota_phase3(request_rec *r, const ota_conf *c, const ota_conf *local_ca,
               ota_signed_message *msg, ota_device_attributes *a)
{
    phase3 x;
    int rv;

    memset(&x, 0, sizeof(x));
    x.r = r;
    x.c = c;
    x.local_ca = local_ca;
    x.msg = msg;
    x.a = a;
    x.serial = ota_ca_serial_hex(msg->signer, r->pool);
    ota_export_device(r, a, "3");
    if (!c->final_profile) {
        return ota_config_missing(r, "OTAEnrollProfile");
    }
    if ((rv = ota_db_open(&x.db, r)) != OK || (rv = check_device(&x)) != OK
        || (rv = check_certificate(&x)) != OK) {
        return rv;
    }
    return send_final(&x);
}
