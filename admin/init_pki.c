/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* `ota-enroll init`: the profile signing identity and the built-in CA,
 * made with the module's own core (ota_keygen.c), and the check of what
 * was staged with the loaders the module runs at startup. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "init.h"
#include "ota_ca.h"
#include "ota_cms.h"
#include "ota_final.h"
#include "ota_keygen.h"

static void file_set(adm_file *f, const char *what, const char *content,
                     apr_fileperms_t perms)
{
    f->what = what;
    f->content = content;
    f->len = strlen(content);
    f->perms = perms;
}

#define PUBLIC_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD \
                      | APR_FPROT_WREAD)
#define ROOT_PERMS   (APR_FPROT_UREAD | APR_FPROT_UWRITE)

/* The common name a certificate shows: NAME + suffix when it fits. */
static const char *common_name(const char *name, const char *suffix,
                               const char *otherwise, apr_pool_t *p)
{
    if (name && strlen(name) + strlen(suffix) <= INIT_MAX_NAME) {
        return apr_pstrcat(p, name, suffix, NULL);
    }
    return otherwise;
}

/* A key and its self-signed certificate into two files. */
static apr_status_t make_pair(adm_file *cert_file, adm_file *key_file,
                              const ota_keygen_spec *spec, int bits,
                              const char **why, apr_pool_t *p)
{
    EVP_PKEY *key;
    X509 *cert;
    const char *pem, *key_pem;
    apr_status_t rv;

    if ((rv = ota_keygen_rsa(&key, bits, why, p)) != APR_SUCCESS
        || (rv = ota_keygen_self_signed(&cert, spec, key, why, p))
           != APR_SUCCESS
        || (rv = ota_keygen_key_pem(&key_pem, key, why, p))
           != APR_SUCCESS) {
        return rv;
    }
    if (!(pem = ota_cert_pem(cert, p))) {
        *why = "cannot encode the certificate";
        return APR_EGENERAL;
    }
    cert_file->content = pem;
    cert_file->len = strlen(pem);
    key_file->content = key_pem;
    key_file->len = strlen(key_pem);
    return APR_SUCCESS;
}

/* The site's identity, copied as PEM: the certificate, then its chain. */
static apr_status_t copy_identity(adm_file *files, const init_opts *o,
                                  const char **why, apr_pool_t *p)
{
    ota_identity *id;
    const char *pem, *key_pem;
    apr_status_t rv;

    if ((rv = ota_identity_load(&id, o->signing_cert, o->signing_key, why,
                                p)) != APR_SUCCESS) {
        return rv;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(id->cert)) < 0) {
        *why = apr_psprintf(p, "%s has expired", o->signing_cert);
        return APR_EINVAL;
    }
    if (!(pem = ota_cert_pem(id->cert, p))) {
        *why = "cannot encode the certificate";
        return APR_EGENERAL;
    }
    for (int i = 0; i < sk_X509_num(id->chain); i++) {
        const char *more = ota_cert_pem(sk_X509_value(id->chain, i), p);

        pem = apr_pstrcat(p, pem, more ? more : "", NULL);
    }
    if ((rv = ota_keygen_key_pem(&key_pem, id->key, why, p))
        != APR_SUCCESS) {
        return rv;
    }
    files[INIT_SIGNING_CERT].content = pem;
    files[INIT_SIGNING_CERT].len = strlen(pem);
    files[INIT_SIGNING_KEY].content = key_pem;
    files[INIT_SIGNING_KEY].len = strlen(key_pem);
    return APR_SUCCESS;
}

apr_status_t init_signing(adm_file *files, init_opts *o, const char **why,
                          apr_pool_t *p)
{
    ota_keygen_spec spec;

    file_set(&files[INIT_SIGNING_CERT],
             "signs every profile (certificate and chain)", "",
             PUBLIC_PERMS);
    file_set(&files[INIT_SIGNING_KEY], "its key (root only)", "",
             ROOT_PERMS);
    o->self_signed = o->signing_cert == NULL;
    if (!o->self_signed) {
        files[INIT_SIGNING_CERT].what = apr_pstrcat(p, "signs every "
                                                    "profile (from ",
                                                    o->signing_cert, ")",
                                                    NULL);
        return copy_identity(files, o, why, p);
    }
    memset(&spec, 0, sizeof(spec));
    spec.kind = OTA_KEYGEN_SIGNER;
    spec.organization = o->organization;
    spec.common_name = common_name(o->host, "", "Profile signing", p);
    spec.days = o->signing_days;
    files[INIT_SIGNING_CERT].what = "signs every profile (self-signed: "
                                    "devices show \"Not Verified\")";
    return make_pair(&files[INIT_SIGNING_CERT], &files[INIT_SIGNING_KEY],
                     &spec, INIT_SIGNING_BITS, why, p);
}

apr_status_t init_ca(adm_file *files, const init_opts *o, const char **why,
                     apr_pool_t *p)
{
    ota_keygen_spec spec;

    file_set(&files[INIT_CA_CERT], "the built-in SCEP CA's certificate", "",
             PUBLIC_PERMS);
    file_set(&files[INIT_CA_KEY], "its key (root only)", "", ROOT_PERMS);
    memset(&spec, 0, sizeof(spec));
    spec.kind = OTA_KEYGEN_CA;
    spec.organization = o->organization;
    spec.common_name = common_name(o->organization, " device CA",
                                   "Device enrollment CA", p);
    spec.days = o->ca_days;
    return make_pair(&files[INIT_CA_CERT], &files[INIT_CA_KEY], &spec,
                     INIT_CA_BITS, why, p);
}

apr_status_t init_check_staged(const adm_file *files, const char **why,
                               apr_pool_t *p)
{
    ota_identity *id;
    ota_ca *ca;
    ota_final_profile *fp;
    apr_status_t rv;

    if ((rv = ota_identity_load(&id, files[INIT_SIGNING_CERT].staged,
                                files[INIT_SIGNING_KEY].staged, why, p))
        != APR_SUCCESS) {
        *why = apr_pstrcat(p, "the signing identity: ", *why, NULL);
        return rv;
    }
    if ((rv = ota_ca_load(&ca, files[INIT_CA_CERT].staged,
                          files[INIT_CA_KEY].staged, why, p))
        != APR_SUCCESS) {
        *why = apr_pstrcat(p, "the CA: ", *why, NULL);
        return rv;
    }
    if ((rv = ota_final_load(&fp, files[INIT_FINAL].staged, why, p))
        != APR_SUCCESS) {
        *why = apr_pstrcat(p, "the final profile: ", *why, NULL);
        return rv;
    }
    return APR_SUCCESS;
}
