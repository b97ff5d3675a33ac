/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in CA's CRL (RFC 5280 5): built with OpenSSL's X509_CRL API
 * from the registry's revoked certificates, signed by the CA. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ota_crl.h"

typedef struct reason_name {
    const char *name;
    int code;
} reason_name;

static const reason_name reasons[] = {
    { "unspecified", OTA_REASON_UNSPECIFIED },
    { "keyCompromise", OTA_REASON_KEY_COMPROMISE },
    { "affiliationChanged", OTA_REASON_AFFILIATION_CHANGED },
    { "superseded", OTA_REASON_SUPERSEDED },
    { "cessationOfOperation", OTA_REASON_CESSATION },
    { "privilegeWithdrawn", OTA_REASON_PRIVILEGE_WITHDRAWN },
    { NULL, -1 }
};

int ota_reason_code(const char *name)
{
    for (const reason_name *r = reasons; name && r->name; r++) {
        if (!strcmp(r->name, name)) {
            return r->code;
        }
    }
    return -1;
}

const char *ota_reason_name(int code)
{
    for (const reason_name *r = reasons; r->name; r++) {
        if (r->code == code) {
            return r->name;
        }
    }
    return "unspecified";
}

const char *ota_reason_names(void)
{
    return "unspecified, keyCompromise, affiliationChanged, superseded, "
           "cessationOfOperation, privilegeWithdrawn";
}

static apr_status_t free_der(void *der)
{
    OPENSSL_free(der);
    return APR_SUCCESS;
}

static int set_time(int (*set)(X509_CRL *, const ASN1_TIME *), X509_CRL *crl,
                    apr_time_t when)
{
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)apr_time_sec(when));
    int ok = t && set(crl, t);

    ASN1_TIME_free(t);
    return ok;
}

static int serial_is_hex(const char *serial)
{
    apr_size_t n = serial ? strlen(serial) : 0;

    return n > 0 && n <= 40 && strspn(serial, "0123456789ABCDEFabcdef") == n;
}

static int add_reason(X509_REVOKED *rev, int code)
{
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
    int ok = reason && ASN1_ENUMERATED_set(reason, code)
             && X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0,
                                          0) == 1;

    ASN1_ENUMERATED_free(reason);
    return ok;
}

/* One entry: serial, revocationDate, and reasonCode unless unspecified
 * (RFC 5280 5.3.1: absent rather than unspecified). */
static int add_entry(X509_CRL *crl, const ota_revoked *e)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)apr_time_sec(e->when));
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    int ok;

    ok = rev && when && BN_hex2bn(&bn, e->serial)
         && (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL
         && X509_REVOKED_set_serialNumber(rev, serial)
         && X509_REVOKED_set_revocationDate(rev, when)
         && (e->reason == OTA_REASON_UNSPECIFIED
             || add_reason(rev, e->reason))
         && X509_CRL_add0_revoked(crl, rev);
    if (!ok) {
        X509_REVOKED_free(rev);
    }
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    BN_free(bn);
    return ok;
}

/* Version 2, issuer, times, CRL number and authority key id. */
static int crl_header(X509_CRL *crl, const ota_ca *ca, apr_int64_t number,
                      apr_time_t this_update, apr_time_t next_update)
{
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    X509_EXTENSION *akid = ota_ca_authority_key_id(ca);
    int ok;

    ok = num && ASN1_INTEGER_set_int64(num, number)
         && X509_CRL_set_version(crl, X509_CRL_VERSION_2)
         && X509_CRL_set_issuer_name(crl,
                                     X509_get_subject_name(ota_ca_cert(ca)))
         && set_time(X509_CRL_set1_lastUpdate, crl, this_update)
         && set_time(X509_CRL_set1_nextUpdate, crl, next_update)
         && X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1
         && akid && X509_CRL_add_ext(crl, akid, -1);
    ASN1_INTEGER_free(num);
    return ok;
}

apr_status_t ota_crl_build(const unsigned char **der, apr_size_t *len,
                           const char **why, const ota_ca *ca,
                           const ota_revoked *entries, int count,
                           apr_int64_t number, apr_time_t this_update,
                           apr_time_t next_update, apr_pool_t *p)
{
    X509_CRL *crl;
    unsigned char *out = NULL;
    int i, n;

    for (i = 0; i < count; i++) {
        if (!serial_is_hex(entries[i].serial)) {
            *why = apr_psprintf(p, "revoked serial '%s' is not hex",
                                entries[i].serial ? entries[i].serial : "");
            return APR_EINVAL;
        }
    }
    if (!(crl = X509_CRL_new())) {
        *why = "out of memory";
        return APR_ENOMEM;
    }
    for (i = 0; i < count && add_entry(crl, &entries[i]); i++) {
    }
    if (i < count || !crl_header(crl, ca, number, this_update, next_update)
        || !X509_CRL_sort(crl)
        || !X509_CRL_sign(crl, ota_ca_identity(ca)->key, ota_ca_digest(ca))
        || (n = i2d_X509_CRL(crl, &out)) <= 0) {
        *why = apr_psprintf(p, "cannot build the CRL: %s",
                            ota_openssl_error(p));
        X509_CRL_free(crl);
        return APR_EGENERAL;
    }
    X509_CRL_free(crl);
    apr_pool_cleanup_register(p, out, free_der, apr_pool_cleanup_null);
    *der = out;
    *len = (apr_size_t)n;
    return APR_SUCCESS;
}
