/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A SCEP PKIOperation by GET: the input is the query string (r->args),
 * e.g. "operation=PKIOperation&message=MIIG...%2B...". The argument is
 * found and form-decoded (ota_query_arg), the base64 cleaned and decoded
 * (ota_scep_message_decode, as the glue's pki_message does), and the DER
 * goes through the same pkiMessage path as fuzz_scep_pki. */
#include <string.h>

#include <openssl/err.h>

#include "ota_scepmsg.h"

#define FUZZ_SCEP_NO_ENTRY
#include "fuzz_scep_pki.c"

/* OTAEnrollMaxBodySize's default. */
#define MAX_BODY 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *der = NULL;
    const char *args, *op;
    apr_size_t len = 0;
    apr_status_t rv;
    apr_pool_t *p;

    p = fuzz_input_pool();
    args = fuzz_text(data, size, p);
    op = ota_query_arg(args, "operation", p);
    if (op && strlen(op) > size) {
        abort();                        /* decoding never lengthens */
    }
    rv = ota_scep_message_decode(&der, &len, args, MAX_BODY, p);
    if (rv == APR_SUCCESS) {
        if (!der || len > size || len > MAX_BODY + 3) {
            abort();
        }
        fuzz_scep_request(der, len, p);
    }
    else if (rv != APR_ENOENT && rv != APR_EINVAL) {
        abort();
    }
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
