/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 2 and 3 as the ota-enroll handler reads a posted body: the CMS
 * SignedData checked by ota_cms_verify_any against the Apple-like device
 * store (fuzz/pki/device-ca-chain.pem, the shape of t/pki.sh's) and the
 * strict store of the CA that issues device identities
 * (fuzz/pki/signing-ca.pem), then, when the verdict is ok, the content
 * through ota_device_attributes_parse. The same body is also checked
 * against Apple's real chain (apple/apple-device-ca-chain.pem), which
 * the real macOS 13 body of t/fixtures/apple-real passes. */
#include <openssl/err.h>

#include "ota_cms.h"
#include "ota_plist.h"
#include "fuzz.h"

static const ota_trust *stores[2];      /* device store, strict store */
static const ota_trust *apple;

static const ota_trust *trust(const char *file, ota_trust_kind kind)
{
    ota_trust *t = NULL;
    const char *why = NULL;

    if (ota_trust_load(&t, fuzz_path(file), kind, &why, fuzz_pool)
        != APR_SUCCESS) {
        fuzz_setup_failed(file, why);
    }
    return t;
}

static void setup(void)
{
    fuzz_apr_init();
    stores[0] = trust("fuzz/pki/device-ca-chain.pem", OTA_TRUST_APPLE_DEVICE);
    stores[1] = trust("fuzz/pki/signing-ca.pem", OTA_TRUST_STRICT);
    apple = trust("apple/apple-device-ca-chain.pem", OTA_TRUST_APPLE_DEVICE);
}

static void attributes(const ota_signed_message *m, apr_pool_t *p)
{
    ota_device_attributes *a = NULL;
    const char *why = NULL;

    if (m->verdict != OTA_CMS_OK) {
        return;
    }
    if (!m->content || !m->signer || !m->trust || !m->chain) {
        abort();                        /* an ok verdict says all of it */
    }
    if (ota_device_attributes_parse(&a, m->content, m->content_len, &why, p)
        == APR_SUCCESS) {
        if (!a || !a->udid || !a->all) {
            abort();
        }
    }
    else if (!why) {
        abort();                        /* every refusal says why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    ota_signed_message *m = NULL;
    apr_pool_t *p;

    if (!ready) {
        setup();
        ready = 1;
    }
    apr_pool_create(&p, fuzz_pool);
    if (ota_cms_verify_any(&m, data, size, stores, 2, p) == APR_SUCCESS) {
        attributes(m, p);
    }
    if (ota_cms_verify(&m, data, size, apple, p) == APR_SUCCESS) {
        attributes(m, p);
    }
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
