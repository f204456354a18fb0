/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * The stamp codec.  The input is "token SP stamp" (no SP: all of it is the
 * stamp of a fixed token).  ids_stamp_check under rings of one and two keys
 * must agree with a reference written here (OpenSSL's HMAC(), an
 * independent base64url decoder, the time rules of docs/mod_idsession.md), and no
 * stamp verifies under two different keys.  The first 16 input bytes (padded with
 * zeros) are then used as created/renewed times: a stamp made with them
 * must verify exactly when the time rules allow, and with one character
 * changed never.
 */

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "fuzz_common.h"

#define NOW APR_UINT64_C(1800000000)
#define FIXED_TOKEN "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

static apr_uint64_t be64(const unsigned char *p)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static int ref_mac_ok(const char *secret, const unsigned char *raw,
                      const char *tok, size_t tl)
{
    size_t n = sizeof(IDS_STAMP_LABEL);
    unsigned char *msg = malloc(n + 16 + tl + 1), md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok;

    memcpy(msg, IDS_STAMP_LABEL, n);
    memcpy(msg + n, raw, 16);
    memcpy(msg + n + 16, tok, tl);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, n + 16 + tl, md,
         &mdlen);
    ok = memcmp(md, raw + 16, 16) == 0;
    free(msg);
    return ok;
}

static int ref_times_ok(apr_uint64_t c, apr_uint64_t r)
{
    return c <= r && r <= NOW + IDS_STAMP_SKEW;
}

static int ref_ok(const char *secret, const char *s, size_t sl,
                  const char *tok, size_t tl)
{
    unsigned char raw[32];

    return tl <= IDS_TOKEN_MAX_CHARS && sl == 43 && ref_decode(s, sl, raw) == 32
           && ref_mac_ok(secret, raw, tok, tl)
           && ref_times_ok(be64(raw), be64(raw + 8));
}

static void check_roundtrip(const uint8_t *data, size_t size)
{
    const ids_keyring r12 = { fuzz_keys, 2 };
    const ids_keyring r3 = { &fuzz_keys[2], 1 };
    unsigned char t[16] = { 0 };
    char *s = malloc(IDS_STAMP_CHARS + 1);
    apr_uint64_t c, r, gc = 0, gr = 0;
    int ok;

    memcpy(t, data, size < 16 ? size : 16);
    c = be64(t);
    r = be64(t + 8);
    if (data[0] & 1) {              /* half of the runs: plausible times */
        c = NOW - (c % 100000);
        r = c + (r % 100100);
    }
    ids_stamp_make(&fuzz_keys[1], FIXED_TOKEN, 43, c, r, s);
    FUZZ_ASSERT(strlen(s) == IDS_STAMP_CHARS);
    ok = ids_stamp_check(s, IDS_STAMP_CHARS, FIXED_TOKEN, 43, &r12, NOW,
                         &gc, &gr);
    FUZZ_ASSERT(ok == ref_times_ok(c, r));
    FUZZ_ASSERT(!ok || (gc == c && gr == r));
    FUZZ_ASSERT(!ids_stamp_check(s, IDS_STAMP_CHARS, FIXED_TOKEN, 43, &r3,
                                 NOW, &gc, &gr));
    {
        size_t at = data[size - 1] % IDS_STAMP_CHARS;
        const char *p = strchr(alphabet, s[at]);
        s[at] = alphabet[(p - alphabet + 1 + data[0] % 63) % 64];
        FUZZ_ASSERT(!ids_stamp_check(s, IDS_STAMP_CHARS, FIXED_TOKEN, 43,
                                     &r12, NOW, &gc, &gr));
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ids_keyring none = { NULL, 0 };
    const ids_keyring r1 = { &fuzz_keys[0], 1 };
    const ids_keyring r2 = { &fuzz_keys[1], 1 };
    const ids_keyring r12 = { fuzz_keys, 2 };
    const ids_keyring r21 = { fuzz_keys_rev, 2 };
    const ids_keyring r3 = { &fuzz_keys[2], 1 };
    const char *in = (const char *)data, *sp, *tok, *s;
    size_t tl, sl;
    apr_uint64_t c = 1, r = 1;
    int a1, a2, a3, a12, a21;

    fuzz_init();
    if (size == 0) {
        return 0;
    }
    sp = memchr(in, ' ', size);
    if (sp) {
        tok = in;
        tl = (size_t)(sp - in);
        s = sp + 1;
        sl = size - tl - 1;
    }
    else {
        tok = FIXED_TOKEN;
        tl = 43;
        s = in;
        sl = size;
    }
    FUZZ_ASSERT(!ids_stamp_check(s, sl, tok, tl, &none, NOW, &c, &r));
    a1 = ids_stamp_check(s, sl, tok, tl, &r1, NOW, &c, &r);
    a2 = ids_stamp_check(s, sl, tok, tl, &r2, NOW, &c, &r);
    a12 = ids_stamp_check(s, sl, tok, tl, &r12, NOW, &c, &r);
    a21 = ids_stamp_check(s, sl, tok, tl, &r21, NOW, &c, &r);
    FUZZ_ASSERT(a1 == ref_ok(FUZZ_SECRET1, s, sl, tok, tl));
    FUZZ_ASSERT(a2 == ref_ok(FUZZ_SECRET2, s, sl, tok, tl));
    FUZZ_ASSERT(a12 == (a1 || a2) && a12 == a21);
    a3 = ids_stamp_check(s, sl, tok, tl, &r3, NOW, &c, &r);
    FUZZ_ASSERT(a3 == ref_ok(FUZZ_SECRET3, s, sl, tok, tl));
    FUZZ_ASSERT(a1 + a2 + a3 <= 1);
    if (a12) {
        FUZZ_ASSERT(c <= r && r <= NOW + IDS_STAMP_SKEW);
    }
    check_roundtrip(data, size);
    return 0;
}
