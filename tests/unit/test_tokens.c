/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_key_init + ids_tag against RFC 4231, ids_token_ok (unsigned, signed,
 * forged, rotated keys), ids_token_mint, ids_store_key and
 * ids_log_id_parse.
 *
 * RFC 4231 gives the full HMAC-SHA256; a tag is its first 16 bytes in
 * base64url.  The expected tags were computed with Python's hmac module
 * and cross-checked with
 *   openssl dgst -sha256 -mac HMAC -macopt hexkey:<key hex> < data
 * The log ids were computed with `printf %s TOKEN | sha256sum | cut -c1-16`.
 */

#include <stdlib.h>
#include <string.h>
#include "apr_lib.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "unit.h"

static void check_tag(const unsigned char *key, size_t keylen,
                      const char *data, size_t datalen, const char *want,
                      const char *what)
{
    ids_key k;
    char *tag = malloc(IDS_TAG_CHARS + 1);

    ids_key_init(&k, key, keylen);
    ids_tag(&k, data, datalen, tag);
    tap_str_is(tag, want, "HMAC-SHA256 tag: %s", what);
    free(tag);
}

void test_tags(apr_pool_t *p)
{
    unsigned char key[131];
    char data[50];
    size_t i;

    (void)p;
    /* RFC 4231 4.2: b0344c61d8db38535ca8afceaf0bf12b... */
    memset(key, 0x0b, 20);
    check_tag(key, 20, "Hi There", 8, "sDRMYdjbOFNcqK_OrwvxKw",
              "RFC 4231 test case 1");
    /* 4.3: 5bdcc146bf60754e6a042426089575c7... */
    check_tag((const unsigned char *)"Jefe", 4,
              "what do ya want for nothing?", 28, "W9zBRr9gdU5qBCQmCJV1xw",
              "RFC 4231 test case 2 (short key)");
    /* 4.4: 773ea91e36800e46854db8ebd09181a7... */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    check_tag(key, 20, data, 50, "dz6pHjaADkaFTbjr0JGBpw",
              "RFC 4231 test case 3 (binary data)");
    /* 4.5: 82558a389a443c0ea4cc819899f2083a... */
    for (i = 0; i < 25; i++) {
        key[i] = (unsigned char)(i + 1);
    }
    memset(data, 0xcd, 50);
    check_tag(key, 25, data, 50, "glWKOJpEPA6kzIGYmfIIOg",
              "RFC 4231 test case 4");
    /* 4.6: a3b6167473100ee06e0c796c2955552b (the RFC's own 128-bit
     * truncation, which is exactly what a tag is) */
    memset(key, 0x0c, 20);
    check_tag(key, 20, "Test With Truncation", 20, "o7YWdHMQDuBuDHlsKVVVKw",
              "RFC 4231 test case 5 (truncated to 128 bits)");
    /* 4.7: 60e431591ee0b67f0d8a26aacbf5b77f... */
    memset(key, 0xaa, 131);
    check_tag(key, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
              54, "YOQxWR7gtn8Niiaqy_W3fw",
              "RFC 4231 test case 6 (131-byte key)");
    /* 4.8: 9b09ffa71b942fcb27635fbcd5b0e944... */
    check_tag(key, 131,
              "This is a test using a larger than block-size key and a larger "
              "than block-size data. The key needs to be hashed before being "
              "used by the HMAC algorithm.", 152, "mwn_pxuUL8snY1-81bDpRA",
              "RFC 4231 test case 7 (131-byte key, long data)");

    /* The block-size boundary: 64 bytes are used as they are, 65 hashed. */
    for (i = 0; i < 65; i++) {
        key[i] = (unsigned char)i;
    }
    check_tag(key, 64, "block-size key", 14, "Ha0jBZjgEaTk6rxsjaj1Xg",
              "64-byte key (block size, not hashed)");
    check_tag(key, 65, "block-size key plus one", 23, "OTa_GPphYXmhwbjkMTeiJA",
              "65-byte key (hashed first)");
    check_tag(key, 0, "empty key", 9, "v25qDzTNn99pxnuMYpachw", "empty key");

    /* The unit-test keys over T1 (see unit.h). */
    {
        char tag[IDS_TAG_CHARS + 1];
        ids_tag(&unit_key[0], T1, 43, tag);
        tap_str_is(tag, T1_TAG1, "tag of T1 under secret 1");
        ids_tag(&unit_key[1], T1, 43, tag);
        tap_str_is(tag, T1_TAG2, "tag of T1 under secret 2");
        /* The precomputed state is copied, not consumed: same again. */
        ids_tag(&unit_key[0], T1, 43, tag);
        tap_str_is(tag, T1_TAG1, "a key gives the same tag twice");
    }
}

/* ---- ids_token_ok ------------------------------------------------------ */

static void test_token_ok(void)
{
    const ids_keyring none = { NULL, 0 };
    const ids_keyring ring1 = { &unit_key[0], 1 };
    const ids_keyring ring2 = { &unit_key[1], 1 };
    const ids_keyring ring3 = { &unit_key[2], 1 };
    const ids_keyring ring12 = { unit_key, 2 };
    ids_key k21[2];
    ids_keyring ring21;
    static const struct {
        const char *v;
        int unsigned_ok, r1, r2, r3, r12;
        const char *what;
    } cases[] = {
        { T1, 1, 0, 0, 0, 0, "an unsigned token" },
        { T1 "." T1_TAG1, 0, 1, 0, 0, 1, "signed with key 1" },
        { T1 "." T1_TAG2, 0, 0, 1, 0, 1, "signed with key 2 (rotated out of first place)" },
        { T1 "." T1_TAG3, 0, 0, 0, 1, 0, "signed with an unknown key" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzUQ", 0, 0, 0, 0, 0, "forged: last tag character changed" },
        { T1 "." "scVI8LhpGgvPnCyKMbLzUA", 0, 0, 0, 0, 0, "forged: first tag character changed" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzUE", 0, 0, 0, 0, 0, "forged: tag padding bits changed" },
        { T1 "." "AAAAAAAAAAAAAAAAAAAAAA", 0, 0, 0, 0, 0, "forged: zero tag" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzU", 0, 0, 0, 0, 0, "tag one character short" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzUAA", 0, 0, 0, 0, 0, "tag one character long" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzUA=", 0, 0, 0, 0, 0, "tag with '=' padding" },
        { T1 "-" T1_TAG1, 0, 0, 0, 0, 0, "'-' as the separator" },
        { T1 "_" T1_TAG1, 0, 0, 0, 0, 0, "'_' as the separator" },
        { T1 ":" T1_TAG1, 0, 0, 0, 0, 0, "':' as the separator" },
        { T1 "..rcVI8LhpGgvPnCyKMbLz", 0, 0, 0, 0, 0, "two separators" },
        { T1 ".", 0, 0, 0, 0, 0, "separator without tag" },
        { "." T1_TAG1, 0, 0, 0, 0, 0, "tag without random part" },
        { T1_TAG1 "." T1, 0, 0, 0, 0, 0, "parts swapped" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR" "." T1_TAG1, 0, 0, 0, 0, 0,
          "random part one character long" },
        { "", 0, 0, 0, 0, 0, "empty" },
        { " " T1, 0, 0, 0, 0, 0, "leading space" },
        { T1 " ", 0, 0, 0, 0, 0, "trailing space" },
        { "\"" T1 "\"", 0, 0, 0, 0, 0, "quoted" },
    };
    size_t i;

    k21[0] = unit_key[1];
    k21[1] = unit_key[0];
    ring21.keys = k21;
    ring21.n = 2;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *v = cases[i].v;
        size_t len = strlen(v);
        int got[6], want[6];

        got[0] = ids_token_ok(v, len, 32, NULL);
        got[1] = ids_token_ok(v, len, 32, &none);
        got[2] = ids_token_ok(v, len, 32, &ring1);
        got[3] = ids_token_ok(v, len, 32, &ring2);
        got[4] = ids_token_ok(v, len, 32, &ring3);
        got[5] = ids_token_ok(v, len, 32, &ring12)
                 | (ids_token_ok(v, len, 32, &ring21) << 1);
        want[0] = want[1] = cases[i].unsigned_ok;
        want[2] = cases[i].r1;
        want[3] = cases[i].r2;
        want[4] = cases[i].r3;
        want[5] = cases[i].r12 ? 3 : 0;
        tap_ok(memcmp(got, want, sizeof(got)) == 0,
               "token_ok %s: unsigned=%d ring{1}=%d ring{2}=%d ring{3}=%d "
               "ring{1,2}=ring{2,1}=%d", cases[i].what, cases[i].unsigned_ok,
               cases[i].r1, cases[i].r2, cases[i].r3, cases[i].r12);
        if (memcmp(got, want, sizeof(got)) != 0) {
            tap_diag("got %d %d %d %d %d %d", got[0], got[1], got[2], got[3],
                     got[4], got[5]);
        }
    }

    /* A random part with non-zero padding bits is refused even when its
     * tag is right: the tag must not launder a non-canonical part. */
    {
        char r[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPR";
        char tok[43 + 1 + IDS_TAG_CHARS + 1];

        memcpy(tok, r, 43);
        tok[43] = '.';
        ids_tag(&unit_key[0], r, 43, tok + 44);
        tap_int_is(ids_token_ok(tok, strlen(tok), 32, &ring1), 0,
                   "correctly tagged random part with padding bits set");
        memcpy(tok, T1, 43);
        ids_tag(&unit_key[0], T1, 43, tok + 44);
        tok[10] = '+';
        tap_int_is(ids_token_ok(tok, strlen(tok), 32, &ring1), 0,
                   "'+' in the random part of a signed token");
    }

    /* The length given is what counts, not a NUL: a valid signed token
     * followed by garbage, checked with its exact length, is accepted;
     * with one byte more it is not. */
    {
        const char *v = T1 "." T1_TAG1 "xyz";
        tap_int_is(ids_token_ok(v, 66, 32, &ring1), 1,
                   "signed token checked by length inside a longer buffer");
        tap_int_is(ids_token_ok(v, 67, 32, &ring1), 0,
                   "signed token with one byte too many");
        tap_int_is(ids_token_ok(v, 65, 32, &ring1), 0,
                   "signed token one byte short");
    }

    /* Signed tokens at other sizes, tagged here, verify only at their
     * own size. */
    {
        static const size_t sizes[] = { 16, 17, 18, 33, 192 };
        unsigned char bytes[IDS_TOKEN_BYTES_MAX];
        size_t s, j;

        for (j = 0; j < sizeof(bytes); j++) {
            bytes[j] = (unsigned char)(j * 7 + 1);
        }
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            size_t n = sizes[s], rlen = IDS_B64URL_LEN(n);
            char *tok = malloc(ids_token_len(n, 1) + 1);

            ids_b64url_encode(tok, bytes, n);
            tok[rlen] = '.';
            ids_tag(&unit_key[1], tok, rlen, tok + rlen + 1);
            tap_ok(ids_token_ok(tok, strlen(tok), n, &ring12)
                   && !ids_token_ok(tok, strlen(tok), n, &ring1)
                   && !ids_token_ok(tok, rlen, n, &ring12)
                   && ids_token_ok(tok, rlen, n, NULL)
                   && !ids_token_ok(tok, strlen(tok), n + 3, &ring12),
                   "signed %zu-byte token: accepted by key 2 of 2 only at "
                   "its size, its random part alone is an unsigned token", n);
            free(tok);
        }
    }
}

/* ---- ids_token_verify and ids_value_form_ok ---------------------------- */

/* The index of the key that verified, for SESSION_KEY_INDEX and the
 * IDSessionVerifiedKeyN counters; and the malformed/signature split of
 * IDSessionRefusedMalformed and IDSessionRefusedSignature. */
static void test_token_verify(void)
{
    const ids_keyring none = { NULL, 0 };
    const ids_keyring ring1 = { &unit_key[0], 1 };
    const ids_keyring ring12 = { unit_key, 2 };
    const ids_keyring ring123 = { unit_key, 3 };
    ids_key k31[2];
    ids_keyring ring31;
    static const struct {
        const char *v;
        int form_ok;            /* signed form, 32 bytes, no stamp */
        const char *what;
    } forms[] = {
        { T1 "." T1_TAG1, 1, "signed with a known key" },
        { T1 "." T1_TAG3, 1, "signed with an unknown key" },
        { T1 "." "AAAAAAAAAAAAAAAAAAAAAA", 1, "zero tag" },
        { T1, 0, "unsigned token" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzUE", 0, "tag padding bits set" },
        { T1 "." "rcVI8LhpGgvPnCyKMbLzU", 0, "tag one character short" },
        { T1 "-" T1_TAG1, 0, "'-' as the separator" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPR." T1_TAG1, 0,
          "random part padding bits set" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO+Q." T1_TAG1, 0,
          "'+' in the random part" },
        { "", 0, "empty" },
    };
    size_t i;

    k31[0] = unit_key[2];
    k31[1] = unit_key[0];
    ring31.keys = k31;
    ring31.n = 2;
    tap_int_is(ids_token_verify(T1, 43, 32, NULL), 0,
               "verify: unsigned token, no ring: 0");
    tap_int_is(ids_token_verify(T1, 43, 32, &none), 0,
               "verify: unsigned token, empty ring: 0");
    tap_int_is(ids_token_verify(T1 "x", 44, 32, &none), -1,
               "verify: malformed unsigned token: -1");
    tap_int_is(ids_token_verify(T1 "." T1_TAG1, 66, 32, &ring1), 0,
               "verify: key 1 of ring {1}: 0");
    tap_int_is(ids_token_verify(T1 "." T1_TAG1, 66, 32, &ring12), 0,
               "verify: key 1 of ring {1,2}: 0");
    tap_int_is(ids_token_verify(T1 "." T1_TAG2, 66, 32, &ring12), 1,
               "verify: key 2 of ring {1,2}: 1");
    tap_int_is(ids_token_verify(T1 "." T1_TAG3, 66, 32, &ring123), 2,
               "verify: key 3 of ring {1,2,3}: 2");
    tap_int_is(ids_token_verify(T1 "." T1_TAG1, 66, 32, &ring31), 1,
               "verify: key 1 as the second of ring {3,1}: 1");
    tap_int_is(ids_token_verify(T1 "." T1_TAG2, 66, 32, &ring31), -1,
               "verify: key 2 not in ring {3,1}: -1");
    tap_int_is(ids_token_verify(T1 "." T1_TAG1, 66, 32, &none), -1,
               "verify: signed token, empty ring: -1");
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        const char *v = forms[i].v;

        tap_int_is(ids_value_form_ok(v, strlen(v), 32, 1, 0), forms[i].form_ok,
                   "form_ok, signed: %s", forms[i].what);
        tap_int_is(ids_value_form_ok(v, strlen(v), 32, 0, 0), 0,
                   "form_ok, unsigned location: %s refused for its form",
                   forms[i].what);
    }
    tap_int_is(ids_value_form_ok(T1 "." T1_TAG1, 66, 16, 1, 0), 0,
               "form_ok: a 32-byte token where 16 bytes are the rule");
}

/* ---- ids_token_mint ---------------------------------------------------- */

static int all_b64url(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(apr_isalnum(c) || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

static void test_token_mint(void)
{
    static const size_t sizes[] = { 16, 17, 18, 32, 33, 64, 100, 191, 192 };
    const ids_keyring ring1 = { &unit_key[0], 1 };
    const ids_keyring ring2 = { &unit_key[1], 1 };
    const ids_keyring ring12 = { unit_key, 2 };
    size_t s;

    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s], len = ids_token_len(n, 0);
        char *a = malloc(len + 1), *b = malloc(len + 1);
        apr_status_t rv1 = ids_token_mint(a, n, NULL);
        apr_status_t rv2 = ids_token_mint(b, n, NULL);

        tap_ok(rv1 == APR_SUCCESS && rv2 == APR_SUCCESS
               && strlen(a) == len && all_b64url(a, len)
               && ids_token_ok(a, len, n, NULL)
               && ids_token_ok(b, len, n, NULL) && strcmp(a, b) != 0,
               "mint unsigned %zu bytes: %zu base64url characters, "
               "well-formed, two mints differ", n, len);
        free(a);
        free(b);

        len = ids_token_len(n, 1);
        a = malloc(len + 1);
        rv1 = ids_token_mint(a, n, &ring12);
        tap_ok(rv1 == APR_SUCCESS && strlen(a) == len
               && a[IDS_B64URL_LEN(n)] == '.'
               && all_b64url(a, IDS_B64URL_LEN(n))
               && all_b64url(a + IDS_B64URL_LEN(n) + 1, IDS_TAG_CHARS)
               && ids_token_ok(a, len, n, &ring12)
               && ids_token_ok(a, len, n, &ring1)
               && !ids_token_ok(a, len, n, &ring2)
               && !ids_token_ok(a, len, n, NULL),
               "mint signed %zu bytes: R.T of %zu characters, signed by "
               "keys[0] only", n, len);
        free(a);
    }

    /* Out-of-range sizes fail and leave no token behind. */
    {
        static const size_t bad[] = { 0, 1, 15, 193, 1000 };
        char out[IDS_TOKEN_MAX_CHARS + 1];

        for (s = 0; s < sizeof(bad) / sizeof(bad[0]); s++) {
            apr_status_t rv;

            memcpy(out, T1, sizeof(T1));
            rv = ids_token_mint(out, bad[s], NULL);
            tap_ok(rv == APR_EINVAL && out[0] == '\0',
                   "mint %zu bytes: APR_EINVAL and no token in out", bad[s]);
        }
    }
}

/* ---- ids_store_key ----------------------------------------------------- */

static void test_store_key(void)
{
    static const struct {
        const char *token;
        const char *want;
    } cases[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { T1, "46a2199782c8827f0ac56f503be9d39efee97f40a736b92cc7d7c5f825cfd851" },
        { T1 "." T1_TAG1, "79b7d72d1415491988938c17e25f465e82c855ddb53e5a03043bbfe0a4bd7a0a" },
        { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
          "LS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZ"
          "WltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn-AgYKDhIWG"
          "h4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq-wsbKz"
          "tLW2t7i5uru8vb6_", "95d58b74299260b9bd5d0308739bf1c590035411856f29de5e9fb148d938e28c" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = malloc(IDS_STORE_KEY_CHARS + 1);
        ids_store_key(cases[i].token, strlen(cases[i].token), out);
        tap_str_is(out, cases[i].want, "store key of a %zu-character token",
                   strlen(cases[i].token));
        free(out);
    }
    /* Only the given length is hashed. */
    {
        char out[IDS_STORE_KEY_CHARS + 1];
        ids_store_key(T1 "." T1_TAG1, 43, out);
        tap_str_is(out, "46a2199782c8827f0ac56f503be9d39efee97f40a736b92cc7d7c5f825cfd851", "store key covers only len bytes");
    }
}

/* ---- ids_log_id_parse -------------------------------------------------- */

static void test_log_id_parse(void)
{
    static const struct {
        const char *in;
        const char *want;           /* NULL: refused */
    } cases[] = {
        { "46a2199782c8827f", "46a2199782c8827f" },
        { "46A2199782C8827F", "46a2199782c8827f" },
        { "0123456789abcdef", "0123456789abcdef" },
        { "46a2199782c8827", NULL },            /* 15 digits */
        { "46a2199782c8827f0", NULL },          /* 17 */
        { "46a2199782c8827g", NULL },
        { "46a2199782c8827 ", NULL },
        { "", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = malloc(IDS_LOG_ID_CHARS + 1);
        int ok = ids_log_id_parse(cases[i].in, strlen(cases[i].in), out);

        tap_int_is(ok, cases[i].want != NULL, "log id '%s' %s", cases[i].in,
                   cases[i].want ? "taken" : "refused");
        if (ok && cases[i].want) {
            tap_str_is(out, cases[i].want, "log id '%s' in lowercase",
                       cases[i].in);
        }
        free(out);
    }
    /* Only len bytes are read: a NUL inside is a character like any. */
    {
        char out[IDS_LOG_ID_CHARS + 1];
        tap_int_is(ids_log_id_parse("46a2199782c8827f\0", 17, out), 0,
                   "a NUL after 16 digits is a 17th character");
    }
}

/* The hand-finished SHA-256 against libcrypto's own, at every length
 * around the padding edges (55, 56, 63, 64 and their multiples). */
static void test_sha256_padding(void)
{
    unsigned char msg[300], md[SHA256_DIGEST_LENGTH];
    unsigned char keys[2][100];
    size_t len, keylen[2] = { 37, 100 };
    int k, bad_log = -1, bad_tag = -1;

    for (len = 0; len < sizeof(msg); len++) {
        msg[len] = (unsigned char)('A' + (len * 7) % 26);
    }
    memset(keys[0], 0x42, sizeof(keys[0]));
    for (len = 0; len < sizeof(keys[1]); len++) {
        keys[1][len] = (unsigned char)(len * 13 + 1);
    }
    for (len = 0; len <= sizeof(msg); len++) {
        static const char hex[] = "0123456789abcdef";
        char got[IDS_STORE_KEY_CHARS + 1], want[IDS_STORE_KEY_CHARS + 1];
        int i;

        ids_store_key((const char *)msg, len, got);
        SHA256(msg, len, md);
        for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
            want[2 * i] = hex[md[i] >> 4];
            want[2 * i + 1] = hex[md[i] & 15];
        }
        want[IDS_STORE_KEY_CHARS] = '\0';
        if (bad_log < 0 && strcmp(got, want) != 0) {
            bad_log = (int)len;
        }
        for (k = 0; k < 2; k++) {
            ids_key key;
            char tag[IDS_TAG_CHARS + 1], ref[IDS_TAG_CHARS + 1];
            unsigned int mdlen = 0;

            ids_key_init(&key, keys[k], keylen[k]);
            ids_tag(&key, (const char *)msg, len, tag);
            HMAC(EVP_sha256(), keys[k], (int)keylen[k], msg, len, md, &mdlen);
            ids_b64url_encode(ref, md, IDS_TAG_BYTES);
            if (bad_tag < 0 && (mdlen != 32 || strcmp(tag, ref) != 0)) {
                bad_tag = (int)len;
            }
        }
    }
    tap_ok(bad_log < 0, "store key = SHA-256 for every length 0..300 (first "
           "mismatch: %d)", bad_log);
    tap_ok(bad_tag < 0, "tag = HMAC-SHA256 for every length 0..300, short "
           "and hashed key (first mismatch: %d)", bad_tag);
}

void test_tokens(apr_pool_t *p)
{
    (void)p;
    test_token_ok();
    test_token_verify();
    test_token_mint();
    test_store_key();
    test_log_id_parse();
    test_sha256_padding();
}
