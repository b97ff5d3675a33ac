/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* SCEP query strings: arguments, and the base64 pkiMessage of a
 * PKIOperation by GET. What the glue did with ap_unescape_urlencoded and
 * apr_base64_decode, without httpd, so that it can be fuzzed. */
#include <string.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "ota_scepmsg.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return c - 'A' + 10;                 /* the caller checked isxdigit */
}

/* In place, as httpd's ap_unescape_urlencoded: '+' is a space, %XX a
 * byte; a malformed escape or %00 makes the whole value unreadable. */
static int form_decode(char *s)
{
    char *out = s;
    int good = 1;

    for (; *s; s++) {
        if (*s == '+') {
            *out++ = ' ';
        }
        else if (*s != '%') {
            *out++ = *s;
        }
        else if (!apr_isxdigit(s[1]) || !apr_isxdigit(s[2])) {
            good = 0;
            *out++ = '%';
        }
        else {
            *out = (char)(hex_value(s[1]) * 16 + hex_value(s[2]));
            if (*out == '\0') {
                good = 0;
            }
            out++;
            s += 2;
        }
    }
    *out = '\0';
    return good;
}

const char *ota_query_arg(const char *args, const char *name,
                          apr_pool_t *p)
{
    apr_size_t n = strlen(name);
    const char *at = args;
    char *value;

    while (at && *at) {
        if (!strncmp(at, name, n) && at[n] == '=') {
            value = apr_pstrndup(p, at + n + 1, strcspn(at + n + 1, "&"));
            return form_decode(value) ? value : NULL;
        }
        at = strchr(at, '&');
        at = at ? at + 1 : NULL;
    }
    return NULL;
}

/* Line breaks out; a space is a '+' that was form-decoded on the way. */
static char *base64_clean(const char *in, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(in) + 1), *o = out;

    for (; *in; in++) {
        if (*in != '\r' && *in != '\n') {
            *o++ = *in == ' ' ? '+' : *in;
        }
    }
    *o = '\0';
    return out;
}

apr_status_t ota_scep_message_decode(const unsigned char **der,
                                     apr_size_t *len, const char *args,
                                     apr_size_t max_len, apr_pool_t *p)
{
    const char *value = ota_query_arg(args, "message", p);
    char *b64, *buf;
    apr_size_t n;
    int decoded;

    *der = NULL;
    *len = 0;
    if (!value) {
        return APR_ENOENT;
    }
    b64 = base64_clean(value, p);
    n = strlen(b64);
    if (n > max_len * 4 / 3 + 4 || strspn(b64, base64_alphabet) != n) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, apr_base64_decode_len(b64));
    decoded = apr_base64_decode(buf, b64);
    *der = (const unsigned char *)buf;
    *len = decoded > 0 ? (apr_size_t)decoded : 0;
    return APR_SUCCESS;
}
