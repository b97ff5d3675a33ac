/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Known answers for ota_scepmsg.c, the GET message= decoding the fuzz
 * target fuzz_scep_get drives: what the glue's query_arg, base64_clean
 * and apr_base64_decode did. TAP output; t/95-fuzz-corpus.t runs it. */
#include <string.h>

#include <apr_general.h>

#include "ota_scepmsg.h"
#include "../t/unit/tap.h"

static apr_pool_t *pool;

/* decodes args; returns the status, *text the decoded bytes */
static apr_status_t decode(const char *args, apr_size_t max,
                           const char **text, apr_size_t *len)
{
    const unsigned char *der = NULL;
    apr_status_t rv = ota_scep_message_decode(&der, len, args, max, pool);

    *text = (const char *)der;
    return rv;
}

/* What decoding answers, whatever the bytes. */
static const struct {
    const char *args;
    apr_size_t max;
    apr_status_t want;
    const char *name;
} statuses[] = {
    { "operation=PKIOperation", 100, APR_ENOENT, "no message: APR_ENOENT" },
    { "message=aGV%zz", 100, APR_ENOENT, "malformed escape: APR_ENOENT" },
    { "message=aGVs*G8/", 100, APR_EINVAL, "not base64: APR_EINVAL" },
    { "message=aGVs%09bG8/", 100, APR_EINVAL,
      "a tab is not base64: APR_EINVAL" },
    /* max 3 bytes: 4 * 3 / 3 + 4 = 8 base64 characters at most */
    { "message=aGVsbG8/", 3, APR_SUCCESS,
      "8 characters for 3 bytes: accepted (the glue's bound)" },
    { "message=aGVsbG8/a", 3, APR_EINVAL,
      "9 characters for 3 bytes: too long" },
};

int main(void)
{
    const char *text = NULL, *v;
    apr_size_t len = 0;

    apr_initialize();
    apr_pool_create(&pool, NULL);

    is_str(ota_query_arg("operation=GetCACaps&message=x", "operation",
                         pool), "GetCACaps", "first argument");
    is_str(ota_query_arg("a=1&message=b%2Fc+d", "message", pool), "b/c d",
           "form decoding: %2F and '+'");
    is_str(ota_query_arg("xmessage=1&message=2", "message", pool), "2",
           "names match whole");
    is_str(ota_query_arg("message=1&message=2", "message", pool), "1",
           "the first of two");
    ok(ota_query_arg("message", "message", pool) == NULL,
       "a name without '=' is absent");
    ok(ota_query_arg(NULL, "message", pool) == NULL, "no query string");
    is_str(ota_query_arg("message=", "message", pool), "", "empty value");
    ok(ota_query_arg("message=a%zz", "message", pool) == NULL,
       "malformed escape: unreadable");
    ok(ota_query_arg("message=a%2", "message", pool) == NULL,
       "truncated escape: unreadable");
    ok(ota_query_arg("message=a%00b", "message", pool) == NULL,
       "%00: unreadable");
    v = ota_query_arg("message=%e2%82%ac", "message", pool);
    ok(v && strcmp(v, "\xe2\x82\xac") == 0, "lower-case hex");

    /* "hello?" is aGVsbG8/ ; "\xfb\xef" is ++8= */
    ok(decode("message=aGVsbG8/", 100, &text, &len) == APR_SUCCESS
       && len == 6 && !memcmp(text, "hello?", 6), "raw base64");
    ok(decode("message=aGVsbG8%2F", 100, &text, &len) == APR_SUCCESS
       && len == 6 && !memcmp(text, "hello?", 6), "percent-encoded '/'");
    ok(decode("message=++8=", 100, &text, &len) == APR_SUCCESS && len == 2
       && !memcmp(text, "\xfb\xef", 2), "raw '+' (read as a space) is '+'");
    ok(decode("message=%2B%2B8%3D", 100, &text, &len) == APR_SUCCESS
       && len == 2 && !memcmp(text, "\xfb\xef", 2), "%2B and %3D");
    ok(decode("operation=PKIOperation&message=aGVs%0D%0AbG8/", 100, &text,
              &len) == APR_SUCCESS && len == 6
       && !memcmp(text, "hello?", 6), "line breaks dropped");
    ok(decode("message=", 100, &text, &len) == APR_SUCCESS && len == 0,
       "empty message: zero bytes");
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        is_int(decode(statuses[i].args, statuses[i].max, &text, &len),
               statuses[i].want, statuses[i].name);
    }

    apr_pool_destroy(pool);
    apr_terminate();
    return tap_done();
}
