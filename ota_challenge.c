/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ota_challenge.h"

/* base64url without padding (APR's base64, two letters swapped): safe in
 * XML, URLs and SQL parameters. */
apr_status_t ota_challenge_new(const char **challenge, apr_pool_t *p)
{
    unsigned char raw[OTA_CHALLENGE_BYTES];
    char *out = apr_palloc(p, apr_base64_encode_len(sizeof(raw)));
    char *c;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return APR_EGENERAL;
    }
    apr_base64_encode_binary(out, raw, sizeof(raw));
    for (c = out; *c; c++) {
        if (*c == '+') {
            *c = '-';
        }
        else if (*c == '/') {
            *c = '_';
        }
        else if (*c == '=') {
            *c = '\0';
            break;
        }
    }
    *challenge = out;
    return APR_SUCCESS;
}

const char *ota_challenge_digest(const char *challenge, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *hex;

    if (!EVP_Digest(challenge, strlen(challenge), md, &n, EVP_sha256(),
                    NULL)) {
        return NULL;
    }
    hex = apr_palloc(p, n * 2 + 1);
    for (unsigned int i = 0; i < n; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    return hex;
}

int ota_challenge_equal(const char *a, const char *b)
{
    apr_size_t n = strlen(a);

    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
