/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * Shared by the fuzz targets: APR and the signing keys, set up once; an
 * assertion that survives NDEBUG; independent base64url and percent
 * decoders.
 */

#ifndef IDS_FUZZ_COMMON_H
#define IDS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apr_general.h"
#include "apr_pools.h"
#include "idsession_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                 \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,    \
                    __LINE__, #cond);                                     \
            abort();                                                      \
        }                                                                 \
    } while (0)

/* Secrets of the fuzz keys; the signed seeds in corpus/ carry tags made
 * with them:  base64url(HMAC-SHA256(secret, R)[:16]).  Key 3 is never in
 * a keyring the targets accept with. */
#define FUZZ_SECRET1 "fuzz-secret-number-one-0123456789abcdef"
#define FUZZ_SECRET2 "fuzz-secret-number-two-0123456789abcdef"
#define FUZZ_SECRET3 "fuzz-secret-unknown-0123456789abcdefgh"

static ids_key fuzz_keys[3];
static ids_key fuzz_keys_rev[2];            /* key 2, key 1 */
static apr_pool_t *fuzz_pool;

static __attribute__((unused)) void fuzz_init(void)
{
    static int done;
    static const char *secrets[3] = { FUZZ_SECRET1, FUZZ_SECRET2, FUZZ_SECRET3 };
    int i;

    if (done) {
        return;
    }
    done = 1;
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&fuzz_pool, NULL) != APR_SUCCESS) {
        abort();
    }
    for (i = 0; i < 3; i++) {
        ids_key_init(&fuzz_keys[i], (const unsigned char *)secrets[i],
                     strlen(secrets[i]));
    }
    fuzz_keys_rev[0] = fuzz_keys[1];
    fuzz_keys_rev[1] = fuzz_keys[0];
}

/* The input as a NUL-terminated string in an exactly sized heap block; an
 * embedded NUL ends it early, as it would in a header or query string. */
static __attribute__((unused)) char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static __attribute__((unused)) int fuzz_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* One round of percent-decoding of s[0..len) into a malloc()ed string, or
 * NULL when a '%' lacks two hex digits or decodes to NUL. */
static __attribute__((unused)) char *fuzz_pct_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t i, o = 0;

    if (out == NULL) {
        abort();
    }
    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (len - i < 3 || fuzz_hex((unsigned char)s[i + 1]) < 0
            || fuzz_hex((unsigned char)s[i + 2]) < 0) {
            free(out);
            return NULL;
        }
        out[o] = (char)(fuzz_hex((unsigned char)s[i + 1]) * 16
                        + fuzz_hex((unsigned char)s[i + 2]));
        if (out[o] == '\0') {
            free(out);
            return NULL;
        }
        o++;
        i += 2;
    }
    out[o] = '\0';
    return out;
}

static __attribute__((unused)) const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Independent decoder: the byte count, or -1 when a character is outside
 * the alphabet, the length is impossible, or padding bits are set. */
static __attribute__((unused)) long ref_decode(const char *s, size_t len,
                                               unsigned char *out)
{
    apr_uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    size_t i;

    if (len % 4 == 1) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        const char *pos = s[i] ? memchr(alphabet, s[i], 64) : NULL;
        if (pos == NULL) {
            return -1;
        }
        acc = (acc << 6) | (apr_uint32_t)(pos - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc == 0 ? n : -1;
}

#endif /* IDS_FUZZ_COMMON_H */
