/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* `ota-enroll init`: the site settings (settings.conf, included by
 * site.conf) and a minimal final profile (final.mobileconfig). */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <plist/plist.h>

#include "init.h"
#include "ota_plist.h"
#include "ota_profile.h"
#include "scep_payload.h"

#define PUBLIC_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD \
                      | APR_FPROT_WREAD)

/* O=<organization>/CN=%{UDID} when the organization reads as one value
 * of a subject template, else CN=%{UDID}. */
static const char *subject_template(const init_opts *o, apr_pool_t *p)
{
    apr_array_header_t *rdns;
    const char *why = NULL, *tmpl;

    if (strpbrk(o->organization, "/=+,\\%")) {
        return "CN=%{UDID}";
    }
    tmpl = apr_pstrcat(p, "O=", o->organization, "/CN=%{UDID}", NULL);
    return ota_subject_parse(&rdns, tmpl, &why, p) == APR_SUCCESS
           ? tmpl : "CN=%{UDID}";
}

static const char *today(apr_pool_t *p)
{
    apr_time_exp_t t;
    char buf[16];
    apr_size_t len;

    apr_time_exp_lt(&t, apr_time_now());
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%d", &t);
    return apr_pstrdup(p, buf);
}

apr_status_t init_settings(adm_file *files, const init_opts *o,
                           const char **why, apr_pool_t *p)
{
    adm_file *f = &files[INIT_SETTINGS];

    f->what = "this site's names and URL (included by site.conf)";
    f->perms = PUBLIC_PERMS;
    f->content = apr_psprintf(p,
"# mod_ota_enroll: this site's settings, written by `ota-enroll init` on\n"
"# %s; yours to edit. /etc/apache2/ota-enroll/site.conf includes this\n"
"# file inside the TLS virtual host; README.md describes every directive.\n"
"\n"
"# What devices show, and the reverse-DNS prefix of every profile's\n"
"# PayloadIdentifier (keep it: devices replace a profile by identifier).\n"
"OTAEnrollOrganization \"%s\"\n"
"OTAEnrollIdentifier %s\n"
"OTAEnrollDisplayName \"%s device enrollment\"\n"
"\n"
"# The built-in CA's SCEP URL as devices reach it: the host name and port\n"
"# of this virtual host, so that phase 2 finds the CA without a network\n"
"# round trip and writes its capabilities and fingerprint in.\n"
"OTAEnrollSCEPURL %s/ota/scep\n"
"\n"
"# The subject of the device certificates the built-in CA issues.\n"
"OTAEnrollSCEPSubject \"%s\"\n"
"\n"
"# Where relying parties (Wi-Fi, VPN, this intranet) learn that a\n"
"# certificate was revoked: written into every certificate issued.\n"
"OTAEnrollCRLURL %s/ota/crl\n"
"OTAEnrollOCSPURL %s/ota/ocsp\n",
        today(p), o->organization, o->identifier, o->organization,
        o->url, subject_template(o, p), o->url, o->url);
    f->len = strlen(f->content);
    return APR_SUCCESS;
}

/* One web clip to the intranet: harmless, and shows that phase 3 worked. */
static plist_t web_clip(const init_opts *o, apr_pool_t *p)
{
    plist_t d = plist_new_dict();

    ota_plist_dict_set_string(d, "PayloadType", "com.apple.webClip.managed");
    ota_plist_dict_set_uint(d, "PayloadVersion", 1);
    ota_plist_dict_set_string(d, "PayloadIdentifier",
                              apr_pstrcat(p, o->identifier,
                                          ".final.intranet", NULL));
    ota_plist_dict_set_string(d, "PayloadUUID", ota_uuid_new(p));
    ota_plist_dict_set_string(d, "PayloadDisplayName", "Intranet");
    ota_plist_dict_set_string(d, "Label", "Intranet");
    ota_plist_dict_set_string(d, "URL", apr_pstrcat(p, o->url, "/", NULL));
    ota_plist_dict_set_bool(d, "IsRemovable", 1);
    return d;
}

apr_status_t init_final_profile(adm_file *files, const init_opts *o,
                                const char **why, apr_pool_t *p)
{
    adm_file *f = &files[INIT_FINAL];
    plist_t root = ota_plist_free_with_pool(plist_new_dict(), p);
    plist_t content = plist_new_array();
    const char *xml;
    apr_size_t len;

    f->what = "the final profile (a web clip: put your Wi-Fi, VPN, mail "
              "payloads here)";
    f->perms = PUBLIC_PERMS;
    ota_plist_dict_set_string(root, "PayloadType", "Configuration");
    ota_plist_dict_set_uint(root, "PayloadVersion", 1);
    ota_plist_dict_set_string(root, "PayloadIdentifier",
                              apr_pstrcat(p, o->identifier, ".final", NULL));
    ota_plist_dict_set_string(root, "PayloadUUID", ota_uuid_new(p));
    ota_plist_dict_set_string(root, "PayloadDisplayName",
                              "Enrolled device settings");
    ota_plist_dict_set_string(root, "PayloadOrganization", o->organization);
    ota_plist_dict_set_string(root, "PayloadDescription",
                              "Installed on %{DEVICE_NAME} for "
                              "%{REMOTE_USER} after enrollment.");
    plist_array_append_item(content, web_clip(o, p));
    plist_dict_set_item(root, "PayloadContent", content);
    if (ota_plist_to_xml(&xml, &len, root, p) != APR_SUCCESS) {
        *why = "cannot write the final profile as XML";
        return APR_EGENERAL;
    }
    f->content = xml;
    f->len = len;
    return APR_SUCCESS;
}
