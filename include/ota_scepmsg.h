/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The query string of a SCEP request (RFC 8894 4.1): its arguments, and
 * the pkiMessage of a PKIOperation sent by GET as base64 in message=.
 * Pure APR: the glue passes r->args, so the decoding can be unit-tested
 * and fuzzed without a server. */
#ifndef OTA_SCEPMSG_H
#define OTA_SCEPMSG_H

#include <apr_pools.h>

/* The value of the first argument called name in a query string (args
 * may be NULL), form-decoded as ap_unescape_urlencoded does: '+' is a
 * space, %XX a byte. NULL when the argument is absent, or when its value
 * holds a malformed escape or %00. Names are compared as sent (not
 * decoded). */
const char *ota_query_arg(const char *args, const char *name,
                          apr_pool_t *p);

/* The DER of the pkiMessage in the message= argument of args. Clients
 * differ in how they send base64 there: raw ('+' then reads as a space,
 * which is turned back), percent-encoded, with line breaks (dropped).
 * APR_SUCCESS with *der and *len (*der is NUL-terminated, *len may be 0);
 * APR_ENOENT when there is no readable message= argument; APR_EINVAL
 * when it is not base64, or longer than max_len bytes would take. */
apr_status_t ota_scep_message_decode(const unsigned char **der,
                                     apr_size_t *len, const char *args,
                                     apr_size_t max_len, apr_pool_t *p);

#endif
