/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 3's final profile: the input is the administrator's
 * OTAEnrollProfile file. ota_final_load has only a file API, so each
 * input is written to a memfd and loaded through /proc/self/fd/N; a
 * profile it accepts is then built for a device with ota_final_build
 * (templates filled, payloads encrypted to fuzz/pki/ourca-device.pem),
 * once with ordinary fields and once with hostile ones. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ota_final.h"
#include "fuzz.h"

static int memfd = -1;
static const char *memfd_path;
static X509 *device;
static const ota_profile_meta meta = {
    "org.example.fuzz", "Fuzz Org", "Fuzzed", "Final settings"
};

static apr_status_t free_x509(void *x)
{
    X509_free(x);
    return APR_SUCCESS;
}

static void setup(void)
{
    const char *file;
    BIO *b;

    fuzz_apr_init();
    memfd = memfd_create("ota-final-profile", MFD_CLOEXEC);
    if (memfd < 0) {
        fuzz_setup_failed("memfd_create", NULL);
    }
    memfd_path = apr_psprintf(fuzz_pool, "/proc/self/fd/%d", memfd);
    file = fuzz_path("fuzz/pki/ourca-device.pem");
    b = BIO_new_file(file, "r");
    device = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!device) {
        fuzz_setup_failed(file, "no certificate");
    }
    apr_pool_cleanup_register(fuzz_pool, device, free_x509,
                              apr_pool_cleanup_null);
}

static int memfd_fill(const uint8_t *data, size_t size)
{
    size_t done = 0;
    ssize_t n;

    if (ftruncate(memfd, 0) != 0) {
        return 0;
    }
    while (done < size) {
        n = pwrite(memfd, data + done, size - done, (off_t)done);
        if (n <= 0) {
            return 0;
        }
        done += (size_t)n;
    }
    return 1;
}

static apr_table_t *fields(int hostile, apr_pool_t *p)
{
    apr_table_t *t = apr_table_make(p, 8);

    apr_table_set(t, "UDID", "6A1B2C3D-0000-4000-8000-00000000D0CA");
    apr_table_set(t, "SERIAL", "C39ABCDEFGH");
    apr_table_set(t, "PRODUCT", "iPhone3,1");
    apr_table_set(t, "VERSION", "8A293");
    apr_table_set(t, "DEVICE_NAME", hostile ? "<dict>&amp;%{UDID}%{" : "A's");
    apr_table_set(t, "REMOTE_USER", hostile ? "alice\x01" : "alice");
    if (hostile) {
        apr_table_set(t, "IMEI", "%{IMEI}");
        apr_table_set(t, "MEID", "");
    }
    return t;
}

static void build(const ota_final_profile *fp, int hostile,
                  const EVP_CIPHER *cipher, apr_pool_t *p)
{
    plist_t out = NULL;
    const char *why = NULL, *xml = NULL;
    apr_size_t len = 0;

    if (ota_final_build(&out, fp, &meta, fields(hostile, p), device, cipher,
                        &why, p) == APR_SUCCESS) {
        if (!out || ota_plist_to_xml(&xml, &len, out, p) != APR_SUCCESS
            || !strstr(xml, "EncryptedPayloadContent")) {
            abort();
        }
    }
    else if (!why || hostile == 0) {
        /* a loaded profile builds for a sane device */
        fprintf(stderr, "ota_final_build refused a loaded profile: %s\n",
                why ? why : "(no why)");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    ota_final_profile *fp = NULL;
    const char *why = NULL;
    apr_pool_t *p;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (!memfd_fill(data, size)) {
        fuzz_setup_failed("memfd write", NULL);
    }
    apr_pool_create(&p, fuzz_pool);
    if (ota_final_load(&fp, memfd_path, &why, p) == APR_SUCCESS) {
        if (!fp || fp->count < 1 || !fp->payloads || !fp->top) {
            abort();
        }
        build(fp, 0, NULL, p);
        build(fp, 1, ota_final_cipher("des-ede3-cbc"), p);
    }
    else if (!why) {
        abort();
    }
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
