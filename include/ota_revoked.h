/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* One revoked certificate, as the registry keeps it and the CRL lists
 * it: shared by ota_store (pure APR) and ota_crl (OpenSSL). */
#ifndef OTA_REVOKED_H
#define OTA_REVOKED_H

#include <apr_time.h>

typedef struct ota_revoked {
    const char *serial;        /* upper-case hex, as ota_ca_serial_hex */
    apr_time_t when;
    int reason;                /* RFC 5280 CRLReason; 0: unspecified */
} ota_revoked;

#endif
