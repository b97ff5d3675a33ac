/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The media types the module answers and the emulator sends, in one place
 * so the server and its test client cannot drift apart. */
#ifndef OTA_MEDIA_H
#define OTA_MEDIA_H

#define OTA_MEDIA_ASPEN_CONFIG  "application/x-apple-aspen-config"
#define OTA_MEDIA_PKCS7_SIG     "application/pkcs7-signature"
#define OTA_MEDIA_PKI_MESSAGE   "application/x-pki-message"
#define OTA_MEDIA_CA_CERT       "application/x-x509-ca-cert"
#define OTA_MEDIA_CA_RA_CERT    "application/x-x509-ca-ra-cert"
#define OTA_MEDIA_TEXT          "text/plain"
#define OTA_MEDIA_JSON          "application/json"
#define OTA_MEDIA_HTML          "text/html; charset=utf-8"
#define OTA_MEDIA_PKIX_CRL      "application/pkix-crl"
#define OTA_MEDIA_OCSP_REQUEST  "application/ocsp-request"
#define OTA_MEDIA_OCSP_RESPONSE "application/ocsp-response"

#endif
