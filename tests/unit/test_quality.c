/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * Token quality: 100,000 tokens of 32 bytes minted through ids_token_mint
 * are all distinct, decode back to 32 bytes, and each of the 256 bit
 * positions is 1 in about half of them: |ones - n/2| <= 5 sigma, where
 * sigma = sqrt(n)/2 (a true random source fails one of the 256 positions
 * with probability about 256 * 5.7e-7 = 1.5e-4).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#define QUALITY_TOKENS  100000
#define QUALITY_BYTES   32
#define QUALITY_CHARS   IDS_B64URL_LEN(QUALITY_BYTES)   /* 43 */

/* Decodes unpadded base64url, independently of the code under test.
 * Returns the number of bytes, or -1 on a character outside the alphabet. */
static int b64url_decode(const char *s, size_t len, unsigned char *out)
{
    apr_uint32_t acc = 0;
    int bits = 0, n = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *pos = s[i] ? strchr(a, s[i]) : NULL;
        if (pos == NULL) {
            return -1;
        }
        acc = (acc << 6) | (apr_uint32_t)(pos - a);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc == 0 ? n : -1;       /* leftover bits must be zero */
}

static int cmp_token(const void *a, const void *b)
{
    return memcmp(a, b, QUALITY_CHARS);
}

void test_token_quality(apr_pool_t *p)
{
    const size_t stride = QUALITY_CHARS + 1;
    char *tokens = malloc((size_t)QUALITY_TOKENS * stride);
    long ones[QUALITY_BYTES * 8];
    double sigma = sqrt((double)QUALITY_TOKENS) / 2.0, worst = 0;
    int i, j, minted = 1, decoded = 1, dups = 0, out_of_bounds = 0;
    unsigned char bytes[QUALITY_BYTES + 3];

    (void)p;
    memset(ones, 0, sizeof(ones));
    for (i = 0; i < QUALITY_TOKENS; i++) {
        char *t = tokens + (size_t)i * stride;

        if (ids_token_mint(t, QUALITY_BYTES, NULL) != APR_SUCCESS
            || strlen(t) != QUALITY_CHARS) {
            minted = 0;
            break;
        }
        if (b64url_decode(t, QUALITY_CHARS, bytes) != QUALITY_BYTES) {
            decoded = 0;
            tap_diag("undecodable token %s", t);
            break;
        }
        for (j = 0; j < QUALITY_BYTES * 8; j++) {
            ones[j] += (bytes[j / 8] >> (7 - j % 8)) & 1;
        }
    }
    tap_ok(minted, "quality: %d tokens of %d bytes minted", QUALITY_TOKENS,
           QUALITY_BYTES);
    tap_ok(decoded, "quality: every token decodes to %d bytes", QUALITY_BYTES);
    if (!minted || !decoded) {
        free(tokens);
        return;
    }

    qsort(tokens, QUALITY_TOKENS, stride, cmp_token);
    for (i = 1; i < QUALITY_TOKENS; i++) {
        if (memcmp(tokens + (size_t)(i - 1) * stride,
                   tokens + (size_t)i * stride, QUALITY_CHARS) == 0) {
            dups++;
        }
    }
    tap_int_is(dups, 0, "quality: all %d tokens distinct", QUALITY_TOKENS);

    for (j = 0; j < QUALITY_BYTES * 8; j++) {
        double dev = fabs((double)ones[j] - QUALITY_TOKENS / 2.0) / sigma;
        if (dev > worst) {
            worst = dev;
        }
        if (dev > 5.0) {
            tap_diag("bit %d: %ld ones of %d (%.2f sigma)", j, ones[j],
                     QUALITY_TOKENS, dev);
            out_of_bounds++;
        }
    }
    tap_ok(out_of_bounds == 0,
           "quality: each of the %d bit positions within 5 sigma "
           "(worst %.2f sigma)", QUALITY_BYTES * 8, worst);

    /* The decoder above agrees with the encoder under test. */
    {
        char re[QUALITY_CHARS + 1];
        b64url_decode(tokens, QUALITY_CHARS, bytes);
        ids_b64url_encode(re, bytes, QUALITY_BYTES);
        tap_ok(memcmp(re, tokens, QUALITY_CHARS) == 0,
               "quality: decode and re-encode give the token back");
    }
    free(tokens);
}
