/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_stamp_make and ids_stamp_check against a reference built here from
 * OpenSSL's one-shot HMAC() and EVP base64 (no code shared with the core),
 * and ids_parse_utc against fixed answers (computed with
 * `date -u -d 2030-01-01T00:00:00Z +%s`).
 */

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "unit.h"

#define NOW  APR_UINT64_C(1800000000)

/* The reference stamp of token under secret: base64url without padding of
 * created, renewed (big-endian) and HMAC-SHA256(secret, label NUL times
 * token)[:16]. */
static void ref_stamp(const char *secret, const char *token,
                      apr_uint64_t created, apr_uint64_t renewed, char *out)
{
    unsigned char raw[32], msg[512], md[EVP_MAX_MD_SIZE];
    unsigned char b64[64];
    unsigned int mdlen = 0;
    size_t n = sizeof(IDS_STAMP_LABEL), tl = strlen(token);
    int i, len;

    for (i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(created >> (56 - 8 * i));
        raw[8 + i] = (unsigned char)(renewed >> (56 - 8 * i));
    }
    memcpy(msg, IDS_STAMP_LABEL, n);
    memcpy(msg + n, raw, 16);
    memcpy(msg + n + 16, token, tl);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, n + 16 + tl, md,
         &mdlen);
    memcpy(raw + 16, md, 16);
    len = EVP_EncodeBlock(b64, raw, 32);
    while (len > 0 && b64[len - 1] == '=') {
        len--;
    }
    for (i = 0; i < len; i++) {
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    }
    out[len] = '\0';
}

static int check(const char *s, const char *token, const ids_keyring *ring,
                 apr_uint64_t *c, apr_uint64_t *r)
{
    return ids_stamp_check(s, strlen(s), token, strlen(token), ring, NOW,
                           c, r);
}

static void test_stamp_codec(void)
{
    const ids_keyring none = { NULL, 0 };
    const ids_keyring ring1 = { &unit_key[0], 1 };
    const ids_keyring ring2 = { &unit_key[1], 1 };
    const ids_keyring ring12 = { unit_key, 2 };
    const char *tok = T1 "." T1_TAG1;
    char *got = malloc(IDS_STAMP_CHARS + 1), want[64], bad[64];
    apr_uint64_t c = 7, r = 7;
    int i;

    tap_int_is(IDS_STAMP_CHARS, 43, "a stamp is 43 characters");
    ids_stamp_make(&unit_key[0], tok, strlen(tok), NOW - 100, NOW - 10, got);
    ref_stamp(SECRET1, tok, NOW - 100, NOW - 10, want);
    tap_str_is(got, want, "stamp = reference (HMAC() + EVP base64)");
    tap_ok(check(got, tok, &ring1, &c, &r) && c == NOW - 100 && r == NOW - 10,
           "it verifies and gives both times back");
    tap_ok(check(got, tok, &ring12, &c, &r), "any key of the ring verifies");
    c = r = 7;
    tap_ok(!check(got, tok, &ring2, &c, &r) && c == 7 && r == 7,
           "another key does not; the times are left alone");
    tap_ok(!check(got, tok, &none, &c, &r), "an empty ring verifies nothing");
    tap_ok(!check(got, T2 "." T1_TAG1, &ring1, &c, &r),
           "moved to another token: refused");
    tap_ok(!ids_stamp_check(got, IDS_STAMP_CHARS - 1, tok, strlen(tok),
                            &ring1, NOW, &c, &r), "one character short");
    for (i = 0; i < IDS_STAMP_CHARS; i++) {
        strcpy(bad, got);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        if (check(bad, tok, &ring1, &c, &r)) {
            break;
        }
    }
    tap_int_is(i, IDS_STAMP_CHARS, "every changed character is refused");
    strcpy(bad, got);
    bad[IDS_STAMP_CHARS - 1] = (char)(bad[IDS_STAMP_CHARS - 1] + 1);
    tap_ok(!check(bad, tok, &ring1, &c, &r), "padding bits set: refused");

    /* Signed with key 2, checked by the ring: the reference agrees. */
    ids_stamp_make(&unit_key[1], T1, 43, 0, 0, got);
    ref_stamp(SECRET2, T1, 0, 0, want);
    tap_str_is(got, want, "key 2, times 0: stamp = reference");
    tap_ok(check(got, T1, &ring12, &c, &r) && c == 0 && r == 0,
           "verifies under a ring where key 2 is second");

    /* Times. */
    ref_stamp(SECRET1, tok, NOW, NOW - 1, want);
    tap_ok(!check(want, tok, &ring1, &c, &r), "created after renewed: refused");
    ref_stamp(SECRET1, tok, NOW + 60, NOW + 60, want);
    tap_ok(check(want, tok, &ring1, &c, &r), "60 s ahead: accepted");
    ref_stamp(SECRET1, tok, NOW, NOW + 61, want);
    tap_ok(!check(want, tok, &ring1, &c, &r), "renewed 61 s ahead: refused");
    ref_stamp(SECRET1, tok, NOW + 61, NOW + 61, want);
    tap_ok(!check(want, tok, &ring1, &c, &r), "created 61 s ahead: refused");
    ref_stamp(SECRET1, tok, APR_UINT64_C(4294967296) + 5,
              APR_UINT64_C(4294967296) + 6, want);
    tap_ok(ids_stamp_check(want, 43, tok, strlen(tok), &ring1,
                           APR_UINT64_C(4294967296) + 10, &c, &r)
           && c == APR_UINT64_C(4294967301), "times past 2106 (2^32 s)");
    ref_stamp(SECRET1, tok, 0, APR_UINT64_C(0xffffffffffffffff), want);
    tap_ok(!check(want, tok, &ring1, &c, &r), "renewed 2^64-1: refused");
    free(got);
}

/* The key index of a stamp, and the form of a stamped value that a
 * location refused. */
static void test_stamp_verify(void)
{
    const ids_keyring ring12 = { unit_key, 2 };
    const ids_keyring ring3 = { &unit_key[2], 1 };
    const char *tok = T1 "." T1_TAG1;
    char s1[IDS_STAMP_CHARS + 1], s2[IDS_STAMP_CHARS + 1];
    char v[66 + 1 + IDS_STAMP_CHARS + 1];
    apr_uint64_t c = 0, r = 0;

    ids_stamp_make(&unit_key[0], tok, 66, NOW - 5, NOW - 1, s1);
    ids_stamp_make(&unit_key[1], tok, 66, NOW - 5, NOW - 1, s2);
    tap_int_is(ids_stamp_verify(s1, 43, tok, 66, &ring12, NOW, &c, &r), 0,
               "stamp_verify: key 1 of ring {1,2}: 0");
    tap_int_is(ids_stamp_verify(s2, 43, tok, 66, &ring12, NOW, &c, &r), 1,
               "stamp_verify: key 2 of ring {1,2}: 1");
    tap_int_is(ids_stamp_verify(s2, 43, tok, 66, &ring3, NOW, &c, &r), -1,
               "stamp_verify: unknown key: -1");
    tap_int_is(ids_stamp_verify(s1, 43, tok, 66, &ring12, NOW - 100, &c, &r),
               -1, "stamp_verify: times ahead of now: -1");

    memcpy(v, tok, 66);
    v[66] = '.';
    memcpy(v + 67, s1, IDS_STAMP_CHARS + 1);
    tap_int_is(ids_value_form_ok(v, strlen(v), 32, 1, 1), 1,
               "form_ok, timed: token.stamp");
    tap_int_is(ids_value_form_ok(tok, 66, 32, 1, 1), 1,
               "form_ok, timed: a signed token without a stamp");
    tap_int_is(ids_value_form_ok(v, strlen(v), 32, 1, 0), 0,
               "form_ok, untimed: token.stamp is too long");
    v[66] = '-';
    tap_int_is(ids_value_form_ok(v, strlen(v), 32, 1, 1), 0,
               "form_ok, timed: '-' before the stamp");
    v[66] = '.';
    v[66 + IDS_STAMP_CHARS] = (char)(v[66 + IDS_STAMP_CHARS] + 1);
    tap_int_is(ids_value_form_ok(v, strlen(v), 32, 1, 1), 0,
               "form_ok, timed: stamp padding bits set");
    tap_int_is(ids_value_form_ok(v, strlen(v) - 1, 32, 1, 1), 0,
               "form_ok, timed: stamp one character short");
}

static void test_parse_utc(void)
{
    static const struct {
        const char *s;
        long long want;         /* -1: refused */
    } cases[] = {
        { "2030-01-01T00:00:00Z", 1893456000 },
        { "2030-01-01t00:00:00z", 1893456000 },
        { "2030-01-01 00:00:00Z", 1893456000 },
        { "2030-01-01T00:00:00+00:00", 1893456000 },
        { "1970-01-01T00:00:00Z", 0 },
        { "2024-02-29T12:34:56Z", 1709210096 },
        { "2106-02-07T06:28:16Z", 4294967296LL },
        { "2023-02-29T00:00:00Z", -1 },
        { "2030-01-01T00:00:00", -1 },
        { "2030-01-01T00:00:00+01:00", -1 },
        { "2030-01-01T00:00:60Z", -1 },
        { "2030-01-01T24:00:00Z", -1 },
        { "2030-13-01T00:00:00Z", -1 },
        { "2030-1-01T00:00:00Z", -1 },
        { "2030-01-01T00:00:00.5Z", -1 },
        { "1969-12-31T23:59:59Z", -1 },
        { "2030-01-01", -1 },
        { "", -1 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apr_int64_t v = -1;
        apr_status_t rv = ids_parse_utc(cases[i].s, &v);

        if (cases[i].want < 0) {
            tap_ok(rv != APR_SUCCESS, "RFC 3339 '%s' refused", cases[i].s);
        }
        else {
            tap_ok(rv == APR_SUCCESS && v == cases[i].want,
                   "RFC 3339 '%s' = %lld", cases[i].s, cases[i].want);
        }
    }
}

void test_stamp(apr_pool_t *p)
{
    (void)p;
    test_stamp_codec();
    test_stamp_verify();
    test_parse_utc();
}
