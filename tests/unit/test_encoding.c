/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_b64url_encode, ids_random_part_ok, ids_token_len and ids_num.
 * The expected encodings were made with Python's
 * base64.urlsafe_b64encode (padding stripped) and cross-checked with
 * coreutils' basenc --base64url.
 */

#include <stdlib.h>
#include <string.h>
#include "apr_strings.h"
#include "unit.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A bit-at-a-time encoder, independent of the module's tables. */
static void ref_encode(char *dst, const unsigned char *src, size_t n)
{
    unsigned acc = 0;
    int bits = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        acc = (acc << 8) | src[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *dst++ = b64url_alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        *dst++ = b64url_alphabet[(acc << (6 - bits)) & 63];
    }
    *dst = '\0';
}

/* Encodes n bytes into an exactly sized heap buffer (so that ASan sees any
 * write past IDS_B64URL_LEN(n) + 1) and compares with want. */
static void check_encode(const unsigned char *src, size_t n, const char *want,
                         const char *what)
{
    char *dst = malloc(IDS_B64URL_LEN(n) + 1);

    ids_b64url_encode(dst, src, n);
    tap_str_is(dst, want, "b64url %s (%zu bytes)", what, n);
    free(dst);
}

static void test_b64url_vectors(void)
{
    static const struct {
        const char *in;
        const char *out;
    } rfc4648[] = {
        /* RFC 4648 section 10, without padding */
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };
    static const struct {
        size_t n;
        const char *out;
    } ranged[] = {
        /* bytes 0, 1, ..., n-1 */
        { 16, "AAECAwQFBgcICQoLDA0ODw" },
        { 17, "AAECAwQFBgcICQoLDA0ODxA" },
        { 18, "AAECAwQFBgcICQoLDA0ODxAR" },
        { 32, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" },
        { 33, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g" },
        { 192, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
               "LS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZ"
               "WltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn-AgYKDhIWG"
               "h4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq-wsbKz"
               "tLW2t7i5uru8vb6_" },
    };
    static const struct {
        size_t n;
        const char *out;
    } ones[] = {
        /* n bytes of 0xff: the '_' character and the padding bits */
        { 16, "_____________________w" },
        { 17, "______________________8" },
        { 18, "________________________" },
    };
    static const char pat192[] =
        /* byte i = (i * 167 + 13) % 256 */
        "DbRbAqlQ955F7JM64Ygv1n0ky3IZwGcOtVwDqlH4n0btlDviiTDXfiXMcxrBaA-2"
        "XQSrUvmgR-6VPOOKMdh_Js10G8JpELdeBaxT-qFI75Y95Isy2YAnznUcw2oRuF8G"
        "rVT7oknwlz7ljDPagSjPdh3EaxK5YAeuVfyjSvGYP-aNNNuCKdB3HsVsE7phCK9W"
        "_aRL8plA54413IMq0Xgfxm0Uu2IJsFf-pUzzmkHojzbdhCvSeSDHbhW8YwqxWP-m";
    unsigned char buf[IDS_TOKEN_BYTES_MAX];
    size_t i, j;

    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        check_encode((const unsigned char *)rfc4648[i].in,
                     strlen(rfc4648[i].in), rfc4648[i].out, "RFC 4648");
    }
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)i;
    }
    for (i = 0; i < sizeof(ranged) / sizeof(ranged[0]); i++) {
        check_encode(buf, ranged[i].n, ranged[i].out, "0..n-1");
    }
    memset(buf, 0xff, sizeof(buf));
    for (i = 0; i < sizeof(ones) / sizeof(ones[0]); i++) {
        check_encode(buf, ones[i].n, ones[i].out, "all 0xff");
    }
    for (i = 0; i < 192; i++) {
        buf[i] = (unsigned char)((i * 167 + 13) % 256);
    }
    check_encode(buf, 192, pat192, "pattern");
    {
        static const unsigned char url_chars[] = { 0xfb, 0xff };
        check_encode(url_chars, 2, "-_8", "'-' and '_'");
    }

    /* Every length from 0 to 192 (each way the encoder splits its input
     * in turns of six and three bytes and a tail) as the reference
     * encodes it, in an exactly sized buffer. */
    {
        int bad = 0;
        for (i = 0; i <= IDS_TOKEN_BYTES_MAX && !bad; i++) {
            char want[IDS_B64URL_LEN(IDS_TOKEN_BYTES_MAX) + 1];
            char *got = malloc(IDS_B64URL_LEN(i) + 1);

            for (j = 0; j < i; j++) {
                buf[j] = (unsigned char)(j * 97 + i * 13 + 5);
            }
            ids_b64url_encode(got, buf, i);
            ref_encode(want, buf, i);
            if (strcmp(got, want) != 0) {
                tap_diag("length %zu: got \"%s\", want \"%s\"", i, got, want);
                bad++;
            }
            free(got);
        }
        tap_ok(bad == 0, "b64url: lengths 0..192 as a bit-by-bit encoder");
    }
    /* Every pair of characters (12 bits) in every position of the six-
     * and three-byte turns: 12 bytes whose every 12 bits are p. */
    {
        int bad = 0;
        unsigned p;
        for (p = 0; p < 4096 && !bad; p++) {
            char got[IDS_B64URL_LEN(12) + 1], want[IDS_B64URL_LEN(12) + 1];

            for (j = 0; j < 12; j += 3) {
                buf[j] = (unsigned char)(p >> 4);
                buf[j + 1] = (unsigned char)(((p & 15) << 4) | (p >> 8));
                buf[j + 2] = (unsigned char)p;
            }
            ids_b64url_encode(got, buf, 12);
            ref_encode(want, buf, 12);
            bad = strcmp(got, want) != 0;
            if (bad) {
                tap_diag("12 bits %u: got \"%s\", want \"%s\"", p, got, want);
            }
        }
        tap_ok(!bad, "b64url: every 12-bit pair as a bit-by-bit encoder");
    }

    /* Every encoding of every length from 16 to 192 must pass the
     * validator for that length and fail it for the neighbours whose
     * length differs. */
    {
        int bad = 0;
        for (i = IDS_TOKEN_BYTES_MIN; i <= IDS_TOKEN_BYTES_MAX; i++) {
            char enc[IDS_B64URL_LEN(IDS_TOKEN_BYTES_MAX) + 1];
            for (j = 0; j < i; j++) {
                buf[j] = (unsigned char)(j * 31 + i);
            }
            ids_b64url_encode(enc, buf, i);
            if (strlen(enc) != IDS_B64URL_LEN(i)
                || !ids_random_part_ok(enc, strlen(enc), i)
                || (IDS_B64URL_LEN(i + 1) != IDS_B64URL_LEN(i)
                    && ids_random_part_ok(enc, strlen(enc), i + 1))) {
                tap_diag("length %zu: \"%s\"", i, enc);
                bad++;
            }
        }
        tap_ok(bad == 0, "encodings of 16..192 bytes pass ids_random_part_ok");
    }
}

static void test_random_part_ok(void)
{
    static const struct {
        const char *v;
        size_t nbytes;
        int ok;
        const char *what;
    } cases[] = {
        { T1, 32, 1, "a minted-shaped 32-byte part" },
        { T2, 32, 1, "another 32-byte part" },
        { "AAECAwQFBgcICQoLDA0ODw", 16, 1, "16 bytes" },
        { "AAECAwQFBgcICQoLDA0ODxA", 17, 1, "17 bytes" },
        { "AAECAwQFBgcICQoLDA0ODxAR", 18, 1, "18 bytes" },
        { "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 33, 1, "33 bytes" },
        { "________________________", 18, 1, "18 bytes, all '_' (no padding bits)" },
        { "_____________________w", 16, 1, "16 bytes of 0xff" },
        { "______________________8", 17, 1, "17 bytes of 0xff" },
        /* wrong length */
        { "", 32, 0, "empty" },
        { "", 0, 0, "empty for 0 bytes" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP", 32, 0, "42 characters" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQA", 32, 0, "44 characters" },
        { T1, 33, 0, "43 characters for 33 bytes" },
        { T1, 31, 0, "43 characters for 31 bytes" },
        { "AAECAwQFBgcICQoLDA0ODw", 17, 0, "22 characters for 17 bytes" },
        /* the standard alphabet and padding */
        { "abcdefghijklmnopqrstuvwxyz+BCDEFGHIJKLMNOPQ", 32, 0, "'+' (standard base64)" },
        { "abcdefghijklmnopqrstuvwxyz/BCDEFGHIJKLMNOPQ", 32, 0, "'/' (standard base64)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ=", 32, 0, "'=' padding appended" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP=", 32, 0, "'=' as the last character" },
        { "AAECAwQFBgcICQoLDA0ODw==", 16, 0, "16 bytes with '==' padding" },
        { "AAECAwQFBgcICQoLDA0ODxA=", 17, 0, "17 bytes with '=' padding" },
        { "abcdefghijklmnopqrstuvwxyz.BCDEFGHIJKLMNOPQ", 32, 0, "'.'" },
        { "abcdefghijklmnopqrstuvwxyz BCDEFGHIJKLMNOPQ", 32, 0, "a space" },
        { "\"bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP\"", 32, 0, "quotes" },
        { "abcdefghijklmnopqrstuvwxyz\xc3\xa9""CDEFGHIJKLMNOPQ", 32, 0, "UTF-8 bytes" },
        { "abcdefghijklmnopqrstuvwxyz%41BCDEFGHIJKLMNO", 32, 0, "percent-encoding" },
        /* padding bits: 32 bytes leave 2 bits in the last character,
         * 16 bytes leave 4, 18 bytes none */
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPA", 32, 1, "32: last 'A' (0)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPE", 32, 1, "32: last 'E' (4)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP8", 32, 1, "32: last '8' (60)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPB", 32, 0, "32: last 'B' (1)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPC", 32, 0, "32: last 'C' (2)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPD", 32, 0, "32: last 'D' (3)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPR", 32, 0, "32: last 'R' (17)" },
        { "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP_", 32, 0, "32: last '_' (63)" },
        { "AAECAwQFBgcICQoLDA0ODA", 16, 1, "16: last 'A' (0)" },
        { "AAECAwQFBgcICQoLDA0ODQ", 16, 1, "16: last 'Q' (16)" },
        { "AAECAwQFBgcICQoLDA0ODg", 16, 1, "16: last 'g' (32)" },
        { "AAECAwQFBgcICQoLDA0ODB", 16, 0, "16: last 'B' (1)" },
        { "AAECAwQFBgcICQoLDA0ODE", 16, 0, "16: last 'E' (4)" },
        { "AAECAwQFBgcICQoLDA0ODI", 16, 0, "16: last 'I' (8)" },
        { "AAECAwQFBgcICQoLDA0OD_", 16, 0, "16: last '_' (63)" },
        { "AAECAwQFBgcICQoLDA0ODxAB", 18, 1, "18: last 'B' (1)" },
        { "AAECAwQFBgcICQoLDA0ODxA_", 18, 1, "18: last '_' (63)" },
        { "AAECAwQFBgcICQoLDA0ODxB", 17, 0, "17: last 'B' (1)" },
        { "AAECAwQFBgcICQoLDA0ODxE", 17, 1, "17: last 'E' (4)" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tap_int_is(ids_random_part_ok(cases[i].v, strlen(cases[i].v),
                                      cases[i].nbytes),
                   cases[i].ok, "random part ok=%d: %s", cases[i].ok,
                   cases[i].what);
    }

    /* Every alphabet character is accepted at every inner position, and
     * every other byte is refused there. */
    {
        char v[] = T1;
        int c, pos, bad = 0;

        for (pos = 0; pos < 42; pos += 7) {
            for (c = 0; c < 256; c++) {
                int want = c != 0 && strchr(b64url_alphabet, c) != NULL;
                v[pos] = (char)c;
                if (ids_random_part_ok(v, 43, 32) != want) {
                    tap_diag("byte 0x%02x at %d", c, pos);
                    bad++;
                }
            }
            v[pos] = T1[pos];
        }
        tap_ok(bad == 0, "exactly the 64 base64url characters are accepted");
    }

    /* A NUL inside the given length is refused (length-based API). */
    tap_int_is(ids_random_part_ok("abcdefghijklmnopqrstu\0wxyzABCDEFGHIJKLMNOPQ",
                                  43, 32), 0, "random part with a NUL byte");
}

static void test_token_len(void)
{
    static const struct {
        size_t nbytes;
        int is_signed;
        size_t len;
    } cases[] = {
        { 16, 0, 22 }, { 16, 1, 45 }, { 17, 0, 23 }, { 17, 1, 46 },
        { 18, 0, 24 }, { 18, 1, 47 }, { 32, 0, 43 }, { 32, 1, 66 },
        { 33, 0, 44 }, { 33, 1, 67 }, { 192, 0, 256 }, { 192, 1, 279 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tap_int_is((long long)ids_token_len(cases[i].nbytes, cases[i].is_signed),
                   (long long)cases[i].len, "ids_token_len(%zu, %d)",
                   cases[i].nbytes, cases[i].is_signed);
    }
    tap_int_is(IDS_TOKEN_MAX_CHARS, 279, "IDS_TOKEN_MAX_CHARS");
    tap_int_is(IDS_B64URL_LEN(IDS_TAG_BYTES), IDS_TAG_CHARS,
               "IDS_TAG_CHARS is the encoded tag length");
}

/* ids_num writes what apr_psprintf's %" APR_INT64_T_FMT " does, ending
 * at the end of its buffer. */
static void test_num(apr_pool_t *p)
{
    static const apr_int64_t cases[] = {
        0, 1, 9, 10, 99, 100, 1700000000, 2147483647, -1, -10,
        APR_INT64_MAX, APR_INT64_MIN,
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[IDS_NUM_CHARS];
        const char *want = apr_psprintf(p, "%" APR_INT64_T_FMT, cases[i]);
        const char *got = ids_num(buf, cases[i]);

        tap_str_is(got, want, "ids_num(%s)", want);
        tap_ok(got + strlen(want) == buf + IDS_NUM_CHARS - 1,
               "ids_num(%s) ends at the end of its buffer", want);
    }
}

void test_encoding(apr_pool_t *p)
{
    test_b64url_vectors();
    test_random_part_ok();
    test_token_len();
    test_num(p);
}
