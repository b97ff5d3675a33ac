/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* What the module refuses at startup, checked in the check_config hook,
 * which runs for `apache2 -t` as well as for a start or graceful restart:
 * a configuration that passes `configtest` starts. The checks read the
 * configuration tree itself, so every message names the directive, the
 * section and the file and line. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_check.h"

APLOG_USE_MODULE(ota_enroll);

/* Directives that come in pairs: each needs the other in its section. */
static const char *const pairs[][2] = {
    { "OTAEnrollSigningCertificate", "OTAEnrollSigningKey" },
    { "OTAEnrollCACertificate", "OTAEnrollCAKey" },
    { "OTAEnrollOCSPSigningCertificate", "OTAEnrollOCSPSigningKey" },
};

/* What each handler cannot work without, set in its section or around
 * it (a server-wide setting counts). */
static const struct {
    const char *handler;
    const char *needs;
} needs[] = {
    { "ota-profile-service", "OTAEnrollURL" },
    { "ota-profile-service", "OTAEnrollSigningCertificate" },
    { "ota-enroll", "OTAEnrollSCEPURL" },
    { "ota-enroll", "OTAEnrollSigningCertificate" },
    { "ota-scep", "OTAEnrollCACertificate" },
    { "ota-crl", "OTAEnrollCACertificate" },
    { "ota-ocsp", "OTAEnrollCACertificate" },
};

/* A directive among a section's own children (not in nested sections). */
static const ap_directive_t *child(const ap_directive_t *section,
                                   const char *name)
{
    const ap_directive_t *d;

    for (d = section ? section->first_child : ap_conftree; d; d = d->next) {
        if (!strcasecmp(d->directive, name)) {
            return d;
        }
    }
    return NULL;
}

/* In the section or any around it, up to the server config. */
static int set_around(const ap_directive_t *section, const char *name)
{
    for (; section; section = section->parent) {
        if (child(section, name)) {
            return 1;
        }
    }
    return child(NULL, name) != NULL;
}

static const char *where(const ap_directive_t *section, apr_pool_t *p)
{
    if (!section) {
        return "the server configuration";
    }
    return apr_psprintf(p, "%s %s", section->directive, section->args);
}

static int check_pairs(const ap_directive_t *section, server_rec *s,
                       apr_pool_t *p)
{
    const ap_directive_t *d;
    int i, k;

    for (i = 0; i < (int)(sizeof(pairs) / sizeof(pairs[0])); i++) {
        for (k = 0; k < 2; k++) {
            if ((d = child(section, pairs[i][k]))
                && !child(section, pairs[i][1 - k])) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00002: %s "
                             "is set without %s in %s (%s:%d); they go "
                             "together, in the same section", pairs[i][k],
                             pairs[i][1 - k], where(section, p),
                             d->filename, d->line_num);
                return 0;
            }
        }
    }
    return 1;
}

static int check_handler(const ap_directive_t *section, server_rec *s,
                         apr_pool_t *p)
{
    const ap_directive_t *h = child(section, "SetHandler");
    int i;

    for (i = 0; h && i < (int)(sizeof(needs) / sizeof(needs[0])); i++) {
        if (!strcasecmp(h->args, needs[i].handler)
            && !set_around(section, needs[i].needs)
            && !(!strcasecmp(h->args, "ota-scep")
                 && set_around(section, "OTAEnrollSCEPFront"))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "OTA00004: SetHandler "
                         "%s in %s (%s:%d) needs %s", h->args,
                         where(section, p), h->filename, h->line_num,
                         needs[i].needs);
            return 0;
        }
    }
    return 1;
}

/* Every section below first (NULL: the top level), depth first. */
static int check_tree(const ap_directive_t *section, server_rec *s,
                      apr_pool_t *p)
{
    const ap_directive_t *d;

    if (!check_pairs(section, s, p) || !check_handler(section, s, p)) {
        return 0;
    }
    for (d = section ? section->first_child : ap_conftree; d; d = d->next) {
        if (d->first_child && !check_tree(d, s, p)) {
            return 0;
        }
    }
    return 1;
}

int ota_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s)
{
    int rv;

    if ((rv = ota_request_post_config(s)) != OK) {
        return rv;
    }
    return check_tree(NULL, s, ptemp) ? OK : HTTP_INTERNAL_SERVER_ERROR;
}
