/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <string.h>
#include <apr_strings.h>
#include <apr_uuid.h>
#include <apr_lib.h>

#include "ota_profile.h"
#include "ota_plist.h"

/* Apple's "Over-the-Air Profile Delivery and Configuration", phase 1. */
static const char *const known_attributes[] = {
    "UDID", "VERSION", "PRODUCT", "SERIAL", "MEID", "IMEI", "ICCID",
    "MAC_ADDRESS_EN0", "DEVICE_NAME", NULL
};

int ota_profile_attribute_known(const char *name)
{
    for (const char *const *a = known_attributes; *a; a++) {
        if (strcmp(*a, name) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *ota_uuid_new(apr_pool_t *p)
{
    apr_uuid_t uuid;
    char *text = apr_palloc(p, APR_UUID_FORMATTED_LENGTH + 1);

    apr_uuid_get(&uuid);
    apr_uuid_format(text, &uuid);
    for (char *c = text; *c; c++) {
        *c = apr_toupper(*c);
    }
    return text;
}

static void meta_fill(plist_t dict, const ota_profile_meta *meta,
                      const char *type, const char *identifier,
                      apr_pool_t *p)
{
    ota_plist_dict_set_string(dict, "PayloadType", type);
    ota_plist_dict_set_string(dict, "PayloadIdentifier", identifier);
    ota_plist_dict_set_string(dict, "PayloadUUID", ota_uuid_new(p));
    ota_plist_dict_set_uint(dict, "PayloadVersion", 1);
    ota_plist_dict_set_string(dict, "PayloadDisplayName", meta->display_name);
    ota_plist_dict_set_string(dict, "PayloadOrganization",
                              meta->organization);
    if (meta->description) {
        ota_plist_dict_set_string(dict, "PayloadDescription",
                                  meta->description);
    }
}

apr_status_t ota_profile_service_build(plist_t *out,
                                       const ota_profile_meta *meta,
                                       const char *url,
                                       const apr_array_header_t *attributes,
                                       const char *challenge,
                                       apr_pool_t *p)
{
    plist_t root = plist_new_dict();
    plist_t content = plist_new_dict();
    plist_t attrs = plist_new_array();

    ota_plist_free_with_pool(root, p);
    meta_fill(root, meta, "Profile Service",
              apr_pstrcat(p, meta->identifier, ".profile-service", NULL), p);
    for (int i = 0; i < attributes->nelts; i++) {
        plist_array_append_item(attrs, plist_new_string(
            APR_ARRAY_IDX(attributes, i, const char *)));
    }
    ota_plist_dict_set_string(content, "URL", url);
    plist_dict_set_item(content, "DeviceAttributes", attrs);
    ota_plist_dict_set_string(content, "Challenge", challenge);
    plist_dict_set_item(root, "PayloadContent", content);
    *out = root;
    return APR_SUCCESS;
}

apr_status_t ota_profile_configuration_build(plist_t *out,
                                             const ota_profile_meta *meta,
                                             const char *identifier_suffix,
                                             plist_t payloads,
                                             apr_pool_t *p)
{
    plist_t root = plist_new_dict();

    ota_plist_free_with_pool(root, p);
    meta_fill(root, meta, "Configuration",
              apr_pstrcat(p, meta->identifier, ".", identifier_suffix, NULL),
              p);
    plist_dict_set_item(root, "PayloadContent", payloads);
    *out = root;
    return APR_SUCCESS;
}
