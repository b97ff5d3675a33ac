/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A SCEP PKIOperation body (a pkiMessage) as the built-in CA reads it:
 * ota_scep_request_parse with the CA identity of fuzz/pki (signing-ca,
 * the shape of t/pki.sh's), after ota_scep_init, under the most
 * permissive policy (SHA-1 and 3DES listed) so that more of it is
 * reached; then, as the glue does with a request it refuses, the CertRep
 * FAILURE that echoes what was read. */
#include <openssl/err.h>

#include "ota_scep.h"
#include "fuzz.h"

static ota_identity *ca;

static void setup(void)
{
    const char *why = NULL;

    fuzz_apr_init();
    if (ota_scep_init() != APR_SUCCESS) {
        fuzz_setup_failed("ota_scep_init", NULL);
    }
    if (ota_identity_load(&ca, fuzz_path("fuzz/pki/signing-ca.pem"),
                          fuzz_path("fuzz/pki/signing-ca.key"), &why,
                          fuzz_pool) != APR_SUCCESS) {
        fuzz_setup_failed("fuzz/pki/signing-ca", why);
    }
}

/* Also the second half of fuzz_scep_get, which includes this file. */
static void fuzz_scep_request(const unsigned char *der, apr_size_t len,
                       apr_pool_t *p)
{
    static const ota_scep_policy policy = { 1, 1, 0 };
    static int ready;
    ota_scep_request *req = NULL;
    const unsigned char *reply;
    apr_size_t reply_len;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (ota_scep_request_parse(&req, der, len, ca, &policy, p)
        != APR_SUCCESS) {
        return;
    }
    if (req->ok && (!req->replyable || !req->signer || !req->transaction_id
                    || !req->sender_nonce)) {
        abort();                    /* ok promises what the CA relies on */
    }
    if (req->ok && (req->type == OTA_SCEP_PKCS_REQ
                    || req->type == OTA_SCEP_RENEWAL_REQ) && !req->csr) {
        abort();
    }
    if (!req->ok && !req->detail) {
        abort();
    }
    if (req->replyable
        && ota_scep_reply_build(&reply, &reply_len, ca, req,
                                OTA_SCEP_FAILURE, req->fail_info, NULL, NULL,
                                p) != APR_SUCCESS) {
        abort();                    /* a replyable request gets a CertRep */
    }
}

#ifndef FUZZ_SCEP_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;

    p = fuzz_input_pool();
    fuzz_scep_request(data, size, p);
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
#endif
