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

#include "ota_final.h"
#include "ota_plist.h"
#include "ota_profile.h"
#include "scep_payload.h"
#include "ota_store_approval.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_final.h"

APLOG_USE_MODULE(ota_enroll);

/* One phase-3 request. */
typedef struct phase3 {
    request_rec *r;
    const ota_conf *c;
    ota_signed_message *msg;
    ota_device_attributes *a;
    ota_db db;
    ota_device_state *device;
    const char *serial;
    const char *user;             /* whom the certificate was issued for */
} phase3;

static int refuse(phase3 *x, const char *id, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, "%s: phase 3 refused "
                  "for device %s, certificate %s: %s", id, x->a->udid,
                  x->serial, why);
    return HTTP_FORBIDDEN;
}

/* The template fields: the device's attributes and the user its
 * certificate was issued for (the device row's for certificates of an
 * external CA, or recorded before certificates kept their user). */
static apr_table_t *device_fields(const phase3 *x)
{
    apr_table_t *fields = apr_table_copy(x->r->pool, x->a->all);
    const char *user = x->user ? x->user : x->device->user;

    if (user) {
        apr_table_setn(fields, "REMOTE_USER", user);
    }
    return fields;
}

/* A certificate issued for a request held for approval: the window
 * counts from the approval (the device waited for a person). *since is 0
 * for any other certificate. */
static int approved_at(phase3 *x, apr_time_t *since)
{
    const char *why = NULL;

    if (ota_store_pending_approved_at(since, &x->db, x->serial, &why,
                                      x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    return OK;
}

/* The device passed phase 2 (or its held request was approved), recently
 * enough. */
static int check_device(phase3 *x)
{
    const char *why = NULL;
    int window = ota_cfg_enrollment_window(x->c), late, rv;
    apr_time_t approved = 0;

    if (ota_store_device_get(&x->device, &x->db, x->a->udid, &why,
                             x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (!x->device || x->device->phase < 2) {
        return refuse(x, "OTA00080", "the device did not pass phase 2");
    }
    late = apr_time_now() - x->device->phase2_at > apr_time_from_sec(window);
    if (late && (rv = approved_at(x, &approved)) != OK) {
        return rv;
    }
    if (late && apr_time_now() - approved > apr_time_from_sec(window)) {
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
    const char *subject, *why = NULL;
    int count;

    if (ota_store_certificate_find(&rec, &x->db, "serial", x->serial, &why,
                                   x->r->pool)) {
        return ota_db_failed(x->r, why);
    }
    if (rec) {
        if (rec->revoked) {
            return refuse(x, "OTA00082", "the certificate is revoked");
        }
        x->user = rec->user;
        return rec->udid && !strcmp(rec->udid, x->a->udid) ? OK
               : refuse(x, "OTA00083", "the certificate was issued to "
                        "another device");
    }
    if (!x->c->issuer_trust) {
        return refuse(x, "OTA00084", "a certificate of the built-in CA that "
                      "its registry does not know");
    }
    subject = ota_subject_canonical(ota_cfg_scep_subject(x->c),
                                    device_fields(x), x->r->pool);
    if (ota_ca_subject_entries(&entries, &count, subject, x->r->pool)
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
    const unsigned char *der;
    apr_size_t len;
    const char *why = NULL;
    plist_t root;
    int rv;

    ota_cfg_profile_meta(&meta, x->c, r->server, r->pool);
    if (ota_final_build(&root, x->c->final_profile, &meta, device_fields(x),
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

int ota_phase3(request_rec *r, const ota_conf *c, ota_signed_message *msg,
               ota_device_attributes *a)
{
    phase3 x;
    int rv;

    memset(&x, 0, sizeof(x));
    x.r = r;
    x.c = c;
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
