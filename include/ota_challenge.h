/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Enrollment challenges: unguessable one-time strings handed out in
 * phase 1 and redeemed in phase 2. Only their SHA-256 is stored, so a copy
 * of the database does not hand out usable challenges. */
#ifndef OTA_CHALLENGE_H
#define OTA_CHALLENGE_H

#include <apr_pools.h>

#define OTA_CHALLENGE_BYTES 32          /* 256 bits of randomness */
#define OTA_CHALLENGE_MAX_LEN 128       /* longest challenge we accept */

apr_status_t ota_challenge_new(const char **challenge, apr_pool_t *p);

/* Hex SHA-256 of the challenge: the database key. */
const char *ota_challenge_digest(const char *challenge, apr_pool_t *p);

/* Compares two secrets in time independent of where they differ. */
int ota_challenge_equal(const char *a, const char *b);

#endif
