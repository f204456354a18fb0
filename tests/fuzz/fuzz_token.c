/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * The first input byte picks the token size ('0'..'9' pick sizes[0..9], any
 * other byte sizes[byte % 13]); the rest is a candidate token.  It is
 * checked with ids_token_ok unsigned and under keyrings of one and two keys,
 * and the answers must agree with each other and with an independent
 * decoder:
 *  - unsigned: accepted iff it is the canonical unpadded base64url of
 *    nbytes bytes (decode, re-encode, compare);
 *  - signed: accepted iff "R.T" with R canonical and T the tag of R under a
 *    key of the ring; ring order never matters; no key accepts what another
 *    accepts.
 * The remaining bytes are then used as random bytes: encoded and tagged,
 * they must verify, and with one tag character changed they must not.
 */

#include "fuzz_common.h"

static const apr_size_t sizes[] = {
    16, 17, 18, 32, 33, 48, 64, 100, 191, 192, 1, 2, 3
};

static int ref_unsigned_ok(const char *v, size_t len, apr_size_t nbytes)
{
    unsigned char *buf = malloc(len + 1);
    long n = ref_decode(v, len, buf);

    free(buf);
    return len > 0 && n >= 0 && (apr_size_t)n == nbytes;
}

static int ref_signed_ok(const char *v, size_t len, apr_size_t nbytes,
                         const ids_key *key)
{
    apr_size_t rlen = IDS_B64URL_LEN(nbytes);
    char tag[IDS_TAG_CHARS + 1];

    if (len != rlen + 1 + IDS_TAG_CHARS || v[rlen] != '.'
        || !ref_unsigned_ok(v, rlen, nbytes)) {
        return 0;
    }
    ids_tag(key, v, rlen, tag);
    return memcmp(tag, v + rlen + 1, IDS_TAG_CHARS) == 0;
}

/* Encodes the bytes, signs with key 2, and checks that the result verifies
 * exactly where it should. */
static void check_roundtrip(const uint8_t *bytes, apr_size_t n)
{
    const ids_keyring r1 = { &fuzz_keys[0], 1 };
    const ids_keyring r12 = { fuzz_keys, 2 };
    apr_size_t rlen = IDS_B64URL_LEN(n), tlen = ids_token_len(n, 1);
    char *tok = malloc(tlen + 1);
    unsigned char *back = malloc(n + 1);

    ids_b64url_encode(tok, bytes, n);
    FUZZ_ASSERT(strlen(tok) == rlen);
    FUZZ_ASSERT(ids_random_part_ok(tok, rlen, n));
    FUZZ_ASSERT(ids_token_ok(tok, rlen, n, NULL));
    FUZZ_ASSERT(ref_decode(tok, rlen, back) == (long)n);
    FUZZ_ASSERT(memcmp(back, bytes, n) == 0);
    tok[rlen] = IDS_SEP;
    ids_tag(&fuzz_keys[1], tok, rlen, tok + rlen + 1);
    FUZZ_ASSERT(strlen(tok) == tlen);
    FUZZ_ASSERT(ids_token_ok(tok, tlen, n, &r12));
    FUZZ_ASSERT(!ids_token_ok(tok, tlen, n, &r1));
    FUZZ_ASSERT(!ids_token_ok(tok, tlen, n, NULL));
    /* One changed tag character, chosen by the data. */
    {
        size_t at = rlen + 1 + bytes[0] % IDS_TAG_CHARS;
        const char *c = strchr(alphabet, tok[at]);
        tok[at] = alphabet[(c - alphabet + 1 + bytes[n - 1] % 63) % 64];
        FUZZ_ASSERT(!ids_token_ok(tok, tlen, n, &r12));
    }
    free(back);
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ids_keyring none = { NULL, 0 };
    const ids_keyring r1 = { &fuzz_keys[0], 1 };
    const ids_keyring r2 = { &fuzz_keys[1], 1 };
    const ids_keyring r3 = { &fuzz_keys[2], 1 };
    const ids_keyring r12 = { fuzz_keys, 2 };
    const ids_keyring r21 = { fuzz_keys_rev, 2 };
    apr_size_t nbytes, len;
    const char *v;
    int u, s1, s2, s3, s12, s21;

    fuzz_init();
    if (size == 0) {
        return 0;
    }
    nbytes = (data[0] >= '0' && data[0] <= '9') ? sizes[data[0] - '0']
                                                : sizes[data[0] % 13];
    v = (const char *)data + 1;
    len = size - 1;

    u = ids_token_ok(v, len, nbytes, NULL);
    FUZZ_ASSERT(u == ids_token_ok(v, len, nbytes, &none));
    FUZZ_ASSERT(u == ref_unsigned_ok(v, len, nbytes));
    if (u) {
        FUZZ_ASSERT(len == ids_token_len(nbytes, 0));
        FUZZ_ASSERT(ids_random_part_ok(v, len, nbytes));
    }

    s1 = ids_token_ok(v, len, nbytes, &r1);
    s2 = ids_token_ok(v, len, nbytes, &r2);
    s3 = ids_token_ok(v, len, nbytes, &r3);
    s12 = ids_token_ok(v, len, nbytes, &r12);
    s21 = ids_token_ok(v, len, nbytes, &r21);
    FUZZ_ASSERT(s1 == ref_signed_ok(v, len, nbytes, &fuzz_keys[0]));
    FUZZ_ASSERT(s2 == ref_signed_ok(v, len, nbytes, &fuzz_keys[1]));
    FUZZ_ASSERT(s3 == ref_signed_ok(v, len, nbytes, &fuzz_keys[2]));
    FUZZ_ASSERT(s12 == (s1 || s2));
    FUZZ_ASSERT(s12 == s21);
    FUZZ_ASSERT(s1 + s2 + s3 <= 1);
    FUZZ_ASSERT(!(u && (s1 || s2 || s3)));
    if (s12) {
        apr_size_t rlen = IDS_B64URL_LEN(nbytes);
        FUZZ_ASSERT(len == ids_token_len(nbytes, 1) && v[rlen] == IDS_SEP);
        FUZZ_ASSERT(ids_token_ok(v, rlen, nbytes, NULL));
    }

    if (len >= IDS_TOKEN_BYTES_MIN) {
        check_roundtrip(data + 1,
                        len > IDS_TOKEN_BYTES_MAX ? IDS_TOKEN_BYTES_MAX : len);
    }
    return 0;
}
