/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/* Shared fixtures of the unit tests of idsession_core. */

#ifndef IDS_UNIT_H
#define IDS_UNIT_H

#include "apr_pools.h"
#include "idsession_core.h"
#include "tap.h"

/* A well-formed 32-byte random part (43 characters, last one 'Q' = 16,
 * whose two padding bits are zero) and a second one. */
#define T1 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
#define T2 "ByRBXnuYtdLvDClGY4Cdutf0ES5LaIWiv9z5FjNQbYo"

/* The unit-test secrets (37 bytes each) and T1 signed with each of them,
 * computed independently with Python's hmac module:
 *   base64url(HMAC-SHA256(secret, T1)[:16]) */
#define SECRET1 "unit-test-secret-one-0123456789abcdef"
#define SECRET2 "unit-test-secret-two-0123456789abcdef"
#define SECRET3 "unit-test-secret-unknown-0123456789ab"
#define T1_TAG1 "rcVI8LhpGgvPnCyKMbLzUA"
#define T1_TAG2 "djf8zKEDzXf2u-1cguB04g"
#define T1_TAG3 "fCr-m3I1jyKn3ujE2xExLQ"

/* Key 1, 2 and an unknown key 3, built once by unit_keys_init(). */
extern ids_key unit_key[3];

void unit_keys_init(void);

void test_encoding(apr_pool_t *p);
void test_tags(apr_pool_t *p);
void test_tokens(apr_pool_t *p);
void test_cookie_name(apr_pool_t *p);
void test_cookie_find(apr_pool_t *p);
void test_set_cookie(apr_pool_t *p);
void test_cache_control(apr_pool_t *p);
void test_redirect(apr_pool_t *p);
void test_token_quality(apr_pool_t *p);
void test_stamp(apr_pool_t *p);
void test_resp(apr_pool_t *p);

#endif /* IDS_UNIT_H */
