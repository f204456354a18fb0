/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * idsession_core: tokens, cookies, redirect targets and the Redis protocol,
 * over APR and libcrypto.  See idsession_core.h.
 */

/* The SHA256_* block functions are deprecated in OpenSSL 3 but are the only
 * libcrypto interface that lets a precomputed HMAC state be copied by value:
 * no provider fetch, no heap allocation and no lock per request. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "idsession_core.h"

#include <string.h>
#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_general.h"
#include "apr_date.h"
#include "apr_uri.h"
#include <openssl/crypto.h>

/* ---- encoding ---------------------------------------------------------- */

static const char ids_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The base64url characters of every pair of sextets (12 bits), built by
 * the preprocessor from the alphabet's ranges. */
#define IDS_B64C(x) ((char)((x) < 26 ? 'A' + (x) : (x) < 52 ? 'a' + (x) - 26 \
                            : (x) < 62 ? '0' + (x) - 52 : (x) == 62 ? '-' : '_'))
#define IDS_B64P1(x)   { IDS_B64C((x) >> 6), IDS_B64C((x) & 63) }
#define IDS_B64P4(x)   IDS_B64P1(x), IDS_B64P1((x) + 1), IDS_B64P1((x) + 2), \
                       IDS_B64P1((x) + 3)
#define IDS_B64P16(x)  IDS_B64P4(x), IDS_B64P4((x) + 4), IDS_B64P4((x) + 8), \
                       IDS_B64P4((x) + 12)
#define IDS_B64P64(x)  IDS_B64P16(x), IDS_B64P16((x) + 16), \
                       IDS_B64P16((x) + 32), IDS_B64P16((x) + 48)
#define IDS_B64P256(x) IDS_B64P64(x), IDS_B64P64((x) + 64), \
                       IDS_B64P64((x) + 128), IDS_B64P64((x) + 192)
static const char ids_b64url_pairs[4096][2] = {
    IDS_B64P256(0), IDS_B64P256(256), IDS_B64P256(512), IDS_B64P256(768),
    IDS_B64P256(1024), IDS_B64P256(1280), IDS_B64P256(1536),
    IDS_B64P256(1792), IDS_B64P256(2048), IDS_B64P256(2304),
    IDS_B64P256(2560), IDS_B64P256(2816), IDS_B64P256(3072),
    IDS_B64P256(3328), IDS_B64P256(3584), IDS_B64P256(3840)
};
#undef IDS_B64P256
#undef IDS_B64P64
#undef IDS_B64P16
#undef IDS_B64P4
#undef IDS_B64P1
#undef IDS_B64C

/* Sextet value of c in base64url, or 64 for anything else. */
static const unsigned char ids_b64url_value[256] = {
#define X64 64,64,64,64,64,64,64,64,64,64,64,64,64,64,64,64
    X64, X64,
    /* 0x20 */ 64,64,64,64,64,64,64,64,64,64,64,64,64,62,64,64,
    /* 0x30 */ 52,53,54,55,56,57,58,59,60,61,64,64,64,64,64,64,
    /* 0x40 */ 64, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,10,11,12,13,14,
    /* 0x50 */ 15,16,17,18,19,20,21,22,23,24,25,64,64,64,64,63,
    /* 0x60 */ 64,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,
    /* 0x70 */ 41,42,43,44,45,46,47,48,49,50,51,64,64,64,64,64,
    X64, X64, X64, X64, X64, X64, X64, X64
#undef X64
};

/* The 8 bytes at s as a big-endian number: one load and a byte swap. */
static APR_INLINE apr_uint64_t ids_get_be64(const unsigned char *s)
{
    return ((apr_uint64_t)s[0] << 56) | ((apr_uint64_t)s[1] << 48)
           | ((apr_uint64_t)s[2] << 40) | ((apr_uint64_t)s[3] << 32)
           | ((apr_uint64_t)s[4] << 24) | ((apr_uint64_t)s[5] << 16)
           | ((apr_uint64_t)s[6] << 8) | (apr_uint64_t)s[7];
}

void ids_b64url_encode(char *dst, const unsigned char *src, apr_size_t n)
{
    apr_size_t i;

    /* Six bytes a turn, from one load of eight (the last two are read
     * again by the next turn), four pairs of characters looked up: a
     * third of the steps of a character at a time. */
    for (i = 0; i + 8 <= n; i += 6, dst += 8) {
        apr_uint64_t v = ids_get_be64(src + i);

        memcpy(dst, ids_b64url_pairs[v >> 52], 2);
        memcpy(dst + 2, ids_b64url_pairs[(v >> 40) & 0xfff], 2);
        memcpy(dst + 4, ids_b64url_pairs[(v >> 28) & 0xfff], 2);
        memcpy(dst + 6, ids_b64url_pairs[(v >> 16) & 0xfff], 2);
    }
    for (; i + 2 < n; i += 3, dst += 4) {
        apr_uint32_t v = ((apr_uint32_t)src[i] << 16)
                       | ((apr_uint32_t)src[i + 1] << 8) | src[i + 2];
        memcpy(dst, ids_b64url_pairs[v >> 12], 2);
        memcpy(dst + 2, ids_b64url_pairs[v & 0xfff], 2);
    }
    if (n - i == 1) {
        *dst++ = ids_b64url_alphabet[src[i] >> 2];
        *dst++ = ids_b64url_alphabet[(src[i] & 3) << 4];
    }
    else if (n - i == 2) {
        apr_uint32_t v = ((apr_uint32_t)src[i] << 8) | src[i + 1];
        *dst++ = ids_b64url_alphabet[(v >> 10) & 63];
        *dst++ = ids_b64url_alphabet[(v >> 4) & 63];
        *dst++ = ids_b64url_alphabet[(v << 2) & 63];
    }
    *dst = '\0';
}

int ids_random_part_ok(const char *v, apr_size_t len, apr_size_t nbytes)
{
    apr_size_t i;
    unsigned char acc = 0;

    if (len != IDS_B64URL_LEN(nbytes) || len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        acc |= ids_b64url_value[(unsigned char)v[i]];
    }
    if (acc & 64) {
        return 0;
    }
    /* The last character carries 2 or 4 unused bits; the encoder leaves
     * them zero, so anything else was not minted here. */
    switch (nbytes % 3) {
    case 1: return (ids_b64url_value[(unsigned char)v[len - 1]] & 15) == 0;
    case 2: return (ids_b64url_value[(unsigned char)v[len - 1]] & 3) == 0;
    default: return 1;
    }
}

/* ---- keys and tags ----------------------------------------------------- */

void ids_key_init(ids_key *key, const unsigned char *secret, apr_size_t len)
{
    unsigned char block[SHA256_CBLOCK];
    unsigned char pad[SHA256_CBLOCK];
    apr_size_t i;

    memset(block, 0, sizeof(block));
    if (len > sizeof(block)) {
        SHA256(secret, len, block);
    }
    else {
        memcpy(block, secret, len);
    }
    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = block[i] ^ 0x36;
    }
    SHA256_Init(&key->inner);
    SHA256_Update(&key->inner, pad, sizeof(pad));
    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = block[i] ^ 0x5c;
    }
    SHA256_Init(&key->outer);
    SHA256_Update(&key->outer, pad, sizeof(pad));
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
}

/* Big-endian stores of a value held in a local, which compilers turn into
 * one byte swap and one store. */
static APR_INLINE void ids_put_be32(unsigned char *p, apr_uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static APR_INLINE void ids_put_be64(unsigned char *p, apr_uint64_t v)
{
    ids_put_be32(p, (apr_uint32_t)(v >> 32));
    ids_put_be32(p + 4, (apr_uint32_t)v);
}

/* The digest of a finished state c. */
static void ids_sha256_digest(const SHA256_CTX *c, unsigned char *md)
{
    ids_put_be32(md, c->h[0]);
    ids_put_be32(md + 4, c->h[1]);
    ids_put_be32(md + 8, c->h[2]);
    ids_put_be32(md + 12, c->h[3]);
    ids_put_be32(md + 16, c->h[4]);
    ids_put_be32(md + 20, c->h[5]);
    ids_put_be32(md + 24, c->h[6]);
    ids_put_be32(md + 28, c->h[7]);
}

/* Finishes SHA-256 over m[0..len) on top of state c, which has absorbed
 * pre bytes (a whole number of blocks); c->h is then the digest.  The
 * padding is done here, block by block, because SHA256_Update and
 * SHA256_Final cost a few hundred instructions of bookkeeping per call,
 * more than half of a block's own cost in the one-block case that every
 * request meets. */
static void ids_sha256_finish(SHA256_CTX *c, apr_uint64_t pre,
                              const unsigned char *m, apr_size_t len)
{
    unsigned char block[SHA256_CBLOCK];
    apr_uint64_t bits = (pre + len) * 8;

    for (; len >= SHA256_CBLOCK; m += SHA256_CBLOCK, len -= SHA256_CBLOCK) {
        SHA256_Transform(c, m);
    }
    /* Zeroed whole: a fixed size compiles to a few stores. */
    memset(block, 0, sizeof(block));
    memcpy(block, m, len);
    block[len] = 0x80;
    if (len >= SHA256_CBLOCK - 8) {
        SHA256_Transform(c, block);
        memset(block, 0, SHA256_CBLOCK - 8);
    }
    ids_put_be64(block + SHA256_CBLOCK - 8, bits);
    SHA256_Transform(c, block);
}

/* SHA-256's initial chaining words (FIPS 180-4 5.3.3), which is all of
 * SHA256_Init that ids_sha256_finish needs. */
static const SHA_LONG ids_sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
};

/* The outer block of HMAC-SHA256 after the key's: the inner digest, then
 * padding for 96 bytes in all (768 bits, 0x0300), the same every time. */
static const unsigned char ids_hmac_outer_pad[SHA256_CBLOCK
                                              - SHA256_DIGEST_LENGTH] = {
    0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x00
};

/* HMAC-SHA256 of m[0..n) from the key's precomputed states: the inner
 * digest goes straight into the outer block, which needs no padding
 * work. */
static void ids_hmac(const ids_key *key, const unsigned char *m, apr_size_t n,
                     unsigned char md[SHA256_DIGEST_LENGTH])
{
    SHA256_CTX ctx;
    unsigned char block[SHA256_CBLOCK];

    /* SHA256_Transform reads and writes the chaining words h only: the
     * rest of the states is not copied. */
    memcpy(ctx.h, key->inner.h, sizeof(ctx.h));
    ids_sha256_finish(&ctx, SHA256_CBLOCK, m, n);
    ids_sha256_digest(&ctx, block);
    memcpy(block + SHA256_DIGEST_LENGTH, ids_hmac_outer_pad,
           sizeof(ids_hmac_outer_pad));
    memcpy(ctx.h, key->outer.h, sizeof(ctx.h));
    SHA256_Transform(&ctx, block);
    ids_sha256_digest(&ctx, md);
}

void ids_tag(const ids_key *key, const char *r, apr_size_t len, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    ids_hmac(key, (const unsigned char *)r, len, md);
    ids_b64url_encode(out, md, IDS_TAG_BYTES);
}

/* i when hit, else was: no branch on hit, so the time taken does not tell
 * which key matched. */
static APR_INLINE int ids_pick(int hit, int i, int was)
{
    int mask = -hit;

    return (i & mask) | (was & ~mask);
}

int ids_token_verify(const char *v, apr_size_t len, apr_size_t nbytes,
                     const ids_keyring *ring)
{
    apr_size_t rlen = IDS_B64URL_LEN(nbytes);
    char tag[IDS_TAG_CHARS + 1];
    int i, key = -1;

    if (ring == NULL || ring->n == 0) {
        return ids_random_part_ok(v, len, nbytes) ? 0 : -1;
    }
    if (len != rlen + 1 + IDS_TAG_CHARS || v[rlen] != IDS_SEP
        || !ids_random_part_ok(v, rlen, nbytes)) {
        return -1;
    }
    /* Every key is tried, the last first, so that the first that verifies
     * is picked. */
    for (i = ring->n - 1; i >= 0; i--) {
        ids_tag(&ring->keys[i], v, rlen, tag);
        key = ids_pick(CRYPTO_memcmp(tag, v + rlen + 1, IDS_TAG_CHARS) == 0,
                       i, key);
    }
    return key;
}

int ids_token_ok(const char *v, apr_size_t len, apr_size_t nbytes,
                 const ids_keyring *ring)
{
    return ids_token_verify(v, len, nbytes, ring) >= 0;
}

/* ---- numbers ----------------------------------------------------------- */

/* The two decimal digits of 0..99: one copy per pair. */
static const char ids_dec_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Two decimal digits of v (0..99) at d. */
static APR_INLINE void ids_put_2digits(char *d, unsigned v)
{
    memcpy(d, ids_dec_pairs + 2 * (apr_size_t)v, 2);
}

char *ids_num(char *buf, apr_int64_t v)
{
    char *p = buf + IDS_NUM_CHARS - 1;
    apr_uint64_t u = v < 0 ? 0 - (apr_uint64_t)v : (apr_uint64_t)v;
    apr_uint32_t w;

    *p = '\0';
    /* Two digits a division, half as many as apr_ltoa's loop, and in 32
     * bits, which take fewer steps, once the rest fits: Unix times do. */
    while (u > 0xFFFFFFFFu) {
        p -= 2;
        ids_put_2digits(p, (unsigned)(u % 100));
        u /= 100;
    }
    for (w = (apr_uint32_t)u; w >= 100; w /= 100) {
        p -= 2;
        ids_put_2digits(p, w % 100);
    }
    if (w >= 10) {
        p -= 2;
        ids_put_2digits(p, w);
    }
    else {
        *--p = (char)('0' + w);
    }
    if (v < 0) {
        *--p = '-';
    }
    return p;
}

/* ---- stamps ------------------------------------------------------------ */

/* Decodes s[0..len), which ids_random_part_ok has accepted, into out. */
static void ids_b64url_decode(const char *s, apr_size_t len,
                              unsigned char *out)
{
    apr_uint32_t acc = 0;
    int bits = 0;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        acc = (acc << 6) | ids_b64url_value[(unsigned char)s[i]];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *out++ = (unsigned char)(acc >> bits);
        }
    }
}

/* The stamp's MAC over its times (16 bytes) and token[0..len).  The label
 * and its NUL keep it apart from a token's tag, whose input is base64url
 * only. */
static void ids_stamp_mac(const ids_key *key, const unsigned char *times,
                          const char *token, apr_size_t len,
                          unsigned char *mac)
{
    unsigned char msg[sizeof(IDS_STAMP_LABEL) + 16 + IDS_TOKEN_MAX_CHARS];
    unsigned char md[SHA256_DIGEST_LENGTH];
    apr_size_t n = sizeof(IDS_STAMP_LABEL);

    if (len > IDS_TOKEN_MAX_CHARS) {
        len = IDS_TOKEN_MAX_CHARS;      /* never a token: cannot verify */
    }
    memcpy(msg, IDS_STAMP_LABEL, n);    /* with its NUL */
    memcpy(msg + n, times, 16);
    memcpy(msg + n + 16, token, len);
    ids_hmac(key, msg, n + 16 + len, md);
    memcpy(mac, md, IDS_STAMP_MAC_BYTES);
}

void ids_stamp_make(const ids_key *key, const char *token, apr_size_t len,
                    apr_uint64_t created, apr_uint64_t renewed, char *out)
{
    unsigned char raw[IDS_STAMP_BYTES];

    ids_put_be64(raw, created);
    ids_put_be64(raw + 8, renewed);
    ids_stamp_mac(key, raw, token, len, raw + 16);
    ids_b64url_encode(out, raw, sizeof(raw));
}

int ids_stamp_verify(const char *s, apr_size_t slen, const char *token,
                     apr_size_t len, const ids_keyring *ring,
                     apr_uint64_t now, apr_uint64_t *created,
                     apr_uint64_t *renewed)
{
    unsigned char raw[IDS_STAMP_BYTES], mac[IDS_STAMP_MAC_BYTES];
    apr_uint64_t c, r;
    int i, key = -1;

    if (ring == NULL || ring->n == 0
        || !ids_random_part_ok(s, slen, IDS_STAMP_BYTES)
        || len > IDS_TOKEN_MAX_CHARS) {
        return -1;
    }
    ids_b64url_decode(s, slen, raw);
    /* Every key is tried, as in ids_token_verify. */
    for (i = ring->n - 1; i >= 0; i--) {
        ids_stamp_mac(&ring->keys[i], raw, token, len, mac);
        key = ids_pick(CRYPTO_memcmp(mac, raw + 16, IDS_STAMP_MAC_BYTES) == 0,
                       i, key);
    }
    c = ids_get_be64(raw);
    r = ids_get_be64(raw + 8);
    /* A time ahead of ours by more than clock skew was not stamped by a
     * server of this site; now + skew cannot wrap for any real clock. */
    if (key < 0 || c > r || r > now + IDS_STAMP_SKEW) {
        return -1;
    }
    *created = c;
    *renewed = r;
    return key;
}

int ids_stamp_check(const char *s, apr_size_t slen, const char *token,
                    apr_size_t len, const ids_keyring *ring,
                    apr_uint64_t now, apr_uint64_t *created,
                    apr_uint64_t *renewed)
{
    return ids_stamp_verify(s, slen, token, len, ring, now, created,
                            renewed) >= 0;
}

int ids_value_form_ok(const char *v, apr_size_t len, apr_size_t nbytes,
                      int is_signed, int timed)
{
    apr_size_t rlen = IDS_B64URL_LEN(nbytes);
    apr_size_t tlen = ids_token_len(nbytes, 1);

    if (!is_signed) {
        return 0;
    }
    if (timed && len == tlen + 1 + IDS_STAMP_CHARS) {
        if (v[tlen] != IDS_SEP
            || !ids_random_part_ok(v + tlen + 1, IDS_STAMP_CHARS,
                                   IDS_STAMP_BYTES)) {
            return 0;
        }
        len = tlen;
    }
    return len == tlen && v[rlen] == IDS_SEP
           && ids_random_part_ok(v, rlen, nbytes)
           && ids_random_part_ok(v + rlen + 1, IDS_TAG_CHARS, IDS_TAG_BYTES);
}

/* The value of n digits at s, or -1 when one is not a digit. */
static int ids_digits(const char *s, int n)
{
    int v = 0;

    for (; n > 0; n--, s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    return v;
}

apr_status_t ids_parse_utc(const char *s, apr_int64_t *out)
{
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                   30, 31 };
    apr_time_exp_t t;
    apr_time_t at;
    int y, mo, d, h, mi, sec, leap;

    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-'
        || !(s[10] == 'T' || s[10] == 't' || s[10] == ' ')
        || s[13] != ':' || s[16] != ':'
        || !(strcmp(s + 19, "Z") == 0 || strcmp(s + 19, "z") == 0
             || strcmp(s + 19, "+00:00") == 0)) {
        return APR_EINVAL;
    }
    y = ids_digits(s, 4);
    mo = ids_digits(s + 5, 2);
    d = ids_digits(s + 8, 2);
    h = ids_digits(s + 11, 2);
    mi = ids_digits(s + 14, 2);
    sec = ids_digits(s + 17, 2);
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || (mo == 2 && d == 29 && !leap) || h < 0 || h > 23 || mi < 0
        || mi > 59 || sec < 0 || sec > 59) {
        return APR_EINVAL;
    }
    memset(&t, 0, sizeof(t));
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    t.tm_sec = sec;
    if (apr_time_exp_gmt_get(&at, &t) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *out = apr_time_sec(at);
    return APR_SUCCESS;
}

/* ---- minting ----------------------------------------------------------- */

apr_status_t ids_token_mint(char *out, apr_size_t nbytes,
                            const ids_keyring *ring)
{
    unsigned char buf[IDS_TOKEN_BYTES_MAX];
    apr_size_t rlen = IDS_B64URL_LEN(nbytes);
    apr_status_t rv;

    if (nbytes < IDS_TOKEN_BYTES_MIN || nbytes > IDS_TOKEN_BYTES_MAX) {
        out[0] = '\0';
        return APR_EINVAL;
    }
    rv = apr_generate_random_bytes(buf, nbytes);
    if (rv != APR_SUCCESS) {
        out[0] = '\0';
        return rv;
    }
    /* buf is not wiped: the token it encodes lives on in the pool and in
     * the cookie, so a wipe here would protect nothing. */
    ids_b64url_encode(out, buf, nbytes);
    if (ring != NULL && ring->n > 0) {
        out[rlen] = IDS_SEP;
        ids_tag(&ring->keys[0], out, rlen, out + rlen + 1);
    }
    return APR_SUCCESS;
}

/* The two lowercase hex digits of each byte value: one copy per byte. */
static const char ids_hex_pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static APR_INLINE void ids_hex_byte(char *out, unsigned char b)
{
    memcpy(out, ids_hex_pairs + 2 * (apr_size_t)b, 2);
}

void ids_store_key(const char *token, apr_size_t len, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    int i;

    memcpy(ctx.h, ids_sha256_iv, sizeof(ctx.h));
    ids_sha256_finish(&ctx, 0, (const unsigned char *)token, len);
    ids_sha256_digest(&ctx, md);
    /* Four bytes a turn: the loop's own steps cost as much as a copy. */
    for (i = 0; i < SHA256_DIGEST_LENGTH; i += 4) {
        ids_hex_byte(out + 2 * i, md[i]);
        ids_hex_byte(out + 2 * i + 2, md[i + 1]);
        ids_hex_byte(out + 2 * i + 4, md[i + 2]);
        ids_hex_byte(out + 2 * i + 6, md[i + 3]);
    }
    out[IDS_STORE_KEY_CHARS] = '\0';
}

/* ---- cookies ----------------------------------------------------------- */

/* RFC 7230 tchar, which is what RFC 6265 allows in a cookie-name. */
static int ids_is_tchar(unsigned char c)
{
    return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int ids_cookie_name_ok(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;

    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!ids_is_tchar(*s)) {
            return 0;
        }
    }
    return 1;
}

#define IDS_IS_OWS(c)  ((c) == ' ' || (c) == '\t')
/* Only ';' separates pairs (RFC 6265 4.2.1, 5.4): browsers accept ',' in a
 * value, so treating it as a separator lets any cookie of the site plant a
 * token (pref=x,_session=T). */
#define IDS_IS_PSEP(c) ((c) == ';')

/* 1 if a[0..n) equals b[0..n), in a time that depends on n only: the hint
 * is a token, and a front proxy's pooled connection carries other
 * clients' cookies to be compared with it.  Word by word, as CRYPTO_memcmp
 * goes byte by byte at several times the cost on every request. */
static int ids_equal_ct(const char *a, const char *b, apr_size_t n)
{
    apr_uint64_t x, y, d = 0;
    apr_size_t i;

    if (n < 8) {
        for (i = 0; i < n; i++) {
            d |= (unsigned char)(a[i] ^ b[i]);
        }
        return d == 0;
    }
    for (i = 0; i + 8 < n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    /* The last 8 bytes, overlapping the words before: no byte loop. */
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return (d | (x ^ y)) == 0;
}

/* Runs on every request: the name is found with strstr (vectorised in
 * libc), then checked to stand at the start of a pair.  That gives what a
 * pair-by-pair parse gives, since values end at the separators. */
const char *ids_cookie_find_hint(const char *hdr, const char *name,
                                 apr_size_t namelen, const char *hint,
                                 apr_size_t hintlen, ids_accept_fn accept,
                                 void *ctx, apr_size_t *vlen, int *seen)
{
    /* A site's own cookie often comes first (set on the first response);
     * a compare costs less than strstr's setup and finds the same.  Its
     * first byte tells most other headers at once. */
    const char *p = hdr[0] == name[0] && strncmp(hdr, name, namelen) == 0
                    ? hdr : strstr(hdr, name);

    for (; p != NULL; p = strstr(p, name)) {
        const char *q = p, *v, *ve;

        while (q > hdr && IDS_IS_OWS(q[-1])) {
            q--;
        }
        v = p + namelen;
        while (IDS_IS_OWS(*v)) {
            v++;
        }
        if ((q != hdr && !IDS_IS_PSEP(q[-1])) || *v != '=') {
            p++;                    /* inside a name or a value */
            continue;
        }
        v++;
        while (IDS_IS_OWS(*v)) {
            v++;
        }
        if (seen) {
            (*seen)++;
        }
        /* The value the caller expects: compared in place, without
         * finding the end of the value first; strnlen keeps the compare
         * inside the header and the scan linear in its size. */
        if (hint && hintlen > 0 && strnlen(v, hintlen) == hintlen
            && ids_equal_ct(v, hint, hintlen)) {
            ve = v + hintlen;
            while (IDS_IS_OWS(*ve)) {
                ve++;
            }
            if (*ve == '\0' || IDS_IS_PSEP(*ve)) {
                *vlen = hintlen;
                return v;
            }
        }
        ve = v + strcspn(v, ";");
        p = ve;
        while (ve > v && IDS_IS_OWS(ve[-1])) {
            ve--;
        }
        if (accept == NULL || accept(v, (apr_size_t)(ve - v), ctx)) {
            *vlen = (apr_size_t)(ve - v);
            return v;
        }
    }
    return NULL;
}

const char *ids_cookie_find(const char *hdr, const char *name,
                            apr_size_t namelen, ids_accept_fn accept,
                            void *ctx, apr_size_t *vlen, int *seen)
{
    return ids_cookie_find_hint(hdr, name, namelen, NULL, 0, accept, ctx,
                                vlen, seen);
}

/* Writes the IMF-fixdate of Unix time sec (>= 0, before year 10000),
 * "Sun, 06 Nov 1994 08:49:37 GMT" as apr_rfc822_date does, without a NUL.
 * The civil date comes from the day count in a few divisions by
 * constants (Hinnant's days-to-civil), where apr_rfc822_date goes through
 * the C library's time conversion. */
static void ids_http_date(char *d, apr_uint64_t sec)
{
    static const char days[] = "ThuFriSatSunMonTueWed";
    static const char months[] = "MarAprMayJunJulAugSepOctNovDecJanFeb";
    apr_uint64_t day = sec / 86400, rem = sec % 86400;
    /* Days since 0000-03-01, in 400-year eras; the year starts in March,
     * so that the leap day comes last. */
    apr_uint64_t z = day + 719468, era = z / 146097, doe = z - era * 146097;
    apr_uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    apr_uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    apr_uint64_t mp = (5 * doy + 2) / 153;
    unsigned mday = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned year = (unsigned)(yoe + era * 400 + (mp >= 10));

    memcpy(d, days + 3 * (day % 7), 3);
    memcpy(d + 3, ", ", 2);
    ids_put_2digits(d + 5, mday);
    d[7] = ' ';
    memcpy(d + 8, months + 3 * mp, 3);
    d[11] = ' ';
    ids_put_2digits(d + 12, year / 100);
    ids_put_2digits(d + 14, year % 100);
    d[16] = ' ';
    ids_put_2digits(d + 17, (unsigned)(rem / 3600));
    d[19] = ':';
    ids_put_2digits(d + 20, (unsigned)(rem / 60 % 60));
    d[22] = ':';
    ids_put_2digits(d + 23, (unsigned)(rem % 60));
    memcpy(d + 25, " GMT", 4);
}

/* Appends s[0..n) at d and moves d past it; a literal's copy has a fixed
 * size, which compiles to a few stores. */
#define IDS_PUT(d, s, n)   (memcpy((d), (s), (n)), (d) += (n))
#define IDS_PUT_LIT(d, s)  IDS_PUT(d, s, sizeof(s) - 1)

/* The longest run of the attributes without a value. */
#define IDS_FLAGS_MAX \
    (sizeof("; Secure; HttpOnly; Partitioned; SameSite=Strict") - 1)

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define IDS_HTTP_DATE_CHARS  29

char *ids_set_cookie(apr_pool_t *p, const char *name, const char *value,
                     const ids_cookie_attrs *a)
{
    apr_size_t nlen = strlen(name), vlen = strlen(value);
    apr_size_t plen = a->path ? strlen(a->path) : 0;
    apr_size_t dlen = a->domain ? strlen(a->domain) : 0;
    apr_size_t alen = 0;
    int secure = a->secure || a->samesite == IDS_SAMESITE_NONE;
    char age[IDS_NUM_CHARS];
    const char *digits = NULL;
    char *out, *d;

    if (a->max_age > 0) {
        digits = ids_num(age, a->max_age);
        alen = (apr_size_t)(age + IDS_NUM_CHARS - 1 - digits);
    }
    /* One allocation, with room for every flag, and one pass: this runs
     * on every minted response. */
    out = d = apr_palloc(p, nlen + 1 + vlen
                            + sizeof("; Path=") - 1 + plen
                            + sizeof("; Domain=") - 1 + dlen
                            + sizeof("; Max-Age=; Expires=") - 1 + alen
                            + IDS_HTTP_DATE_CHARS + IDS_FLAGS_MAX + 1);
    IDS_PUT(d, name, nlen);
    *d++ = '=';
    IDS_PUT(d, value, vlen);
    if (a->path) {
        IDS_PUT_LIT(d, "; Path=");
        IDS_PUT(d, a->path, plen);
    }
    if (a->domain) {
        IDS_PUT_LIT(d, "; Domain=");
        IDS_PUT(d, a->domain, dlen);
    }
    if (a->max_age > 0) {
        IDS_PUT_LIT(d, "; Max-Age=");
        IDS_PUT(d, digits, alen);
        IDS_PUT_LIT(d, "; Expires=");
        ids_http_date(d, (apr_uint64_t)apr_time_sec(a->now) + a->max_age);
        d += IDS_HTTP_DATE_CHARS;
    }
    if (secure) {
        IDS_PUT_LIT(d, "; Secure");
    }
    if (a->httponly) {
        IDS_PUT_LIT(d, "; HttpOnly");
    }
    if (a->partitioned && secure) {
        IDS_PUT_LIT(d, "; Partitioned");
    }
    switch (a->samesite) {
    case IDS_SAMESITE_STRICT: IDS_PUT_LIT(d, "; SameSite=Strict"); break;
    case IDS_SAMESITE_LAX:    IDS_PUT_LIT(d, "; SameSite=Lax"); break;
    case IDS_SAMESITE_NONE:   IDS_PUT_LIT(d, "; SameSite=None"); break;
    default: break;
    }
    *d = '\0';
    return out;
}

const char *ids_cookie_tail(apr_pool_t *p, const ids_cookie_attrs *a)
{
    /* "=" and what follows: the attributes, written by the one writer. */
    return ids_set_cookie(p, "", "", a) + 1;
}

apr_size_t ids_cookie_tail_split(const ids_cookie_attrs *a)
{
    return (a->path ? sizeof("; Path=") - 1 + strlen(a->path) : 0)
           + (a->domain ? sizeof("; Domain=") - 1 + strlen(a->domain) : 0);
}

char *ids_cookie_join(apr_pool_t *p, const char *name, apr_size_t nlen,
                      const char *value, apr_size_t vlen,
                      const char *tail, apr_size_t tlen, apr_size_t split,
                      apr_int64_t max_age, apr_time_t now)
{
    char age[IDS_NUM_CHARS];
    const char *digits = NULL;
    apr_size_t alen = 0;
    char *out, *d;

    if (max_age > 0) {
        digits = ids_num(age, max_age);
        alen = (apr_size_t)(age + IDS_NUM_CHARS - 1 - digits);
    }
    out = d = apr_palloc(p, nlen + 1 + vlen + tlen
                            + sizeof("; Max-Age=; Expires=") - 1 + alen
                            + IDS_HTTP_DATE_CHARS + 1);
    IDS_PUT(d, name, nlen);
    *d++ = '=';
    IDS_PUT(d, value, vlen);
    if (max_age > 0) {
        IDS_PUT(d, tail, split);
        IDS_PUT_LIT(d, "; Max-Age=");
        IDS_PUT(d, digits, alen);
        IDS_PUT_LIT(d, "; Expires=");
        ids_http_date(d, (apr_uint64_t)apr_time_sec(now) + max_age);
        d += IDS_HTTP_DATE_CHARS;
        tail += split;
        tlen -= split;
    }
    memcpy(d, tail, tlen + 1);
    return out;
}

int ids_set_cookie_is_for(const char *hdr, const char *name,
                          apr_size_t namelen)
{
    while (IDS_IS_OWS(*hdr)) {
        hdr++;
    }
    if (strncmp(hdr, name, namelen) != 0) {
        return 0;
    }
    hdr += namelen;
    while (IDS_IS_OWS(*hdr)) {
        hdr++;
    }
    return *hdr == '=';
}

int ids_cache_control_private(const char *v)
{
    while (*v) {
        const char *name, *end;
        apr_size_t len;

        while (*v == ',' || IDS_IS_OWS(*v)) {
            v++;
        }
        name = v;
        while (*v && *v != ',' && *v != '=' && !IDS_IS_OWS(*v)) {
            v++;
        }
        len = (apr_size_t)(v - name);
        end = v;
        while (IDS_IS_OWS(*end)) {
            end++;
        }
        if ((len == 7 && strncasecmp(name, "private", 7) == 0 && *end != '=')
            || (len == 8 && strncasecmp(name, "no-store", 8) == 0)) {
            return 1;
        }
        /* Skip the rest of this directive, quoted commas included. */
        while (*v && *v != ',') {
            if (*v == '"') {
                for (v++; *v && *v != '"'; v++) {
                    if (*v == '\\' && v[1]) {
                        v++;
                    }
                }
                if (*v) {
                    v++;
                }
            }
            else {
                v++;
            }
        }
    }
    return 0;
}

/* ---- redirect targets -------------------------------------------------- */

static int ids_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ids_log_id_parse(const char *v, apr_size_t len, char *out)
{
    apr_size_t i;

    if (len != IDS_LOG_ID_CHARS) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        int d = ids_hexval((unsigned char)v[i]);

        if (d < 0) {
            return 0;
        }
        out[i] = "0123456789abcdef"[d];
    }
    out[len] = '\0';
    return 1;
}

/* One round of percent-decoding into pool p; NULL when a '%' is not
 * followed by two hex digits or the result would hold a NUL. */
static char *ids_pct_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *d = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                return NULL;
            }
            hi = ids_hexval((unsigned char)s[i + 1]);
            lo = ids_hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *d++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *d++ = s[i];
        }
    }
    *d = '\0';
    return out;
}

/* 1 if s[0..len) is valid UTF-8 without overlong forms or surrogates. */
static int ids_utf8_ok(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        apr_size_t n, k;
        apr_uint32_t cp;

        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (i + n >= len) {
            return 0;
        }
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
            || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

/* 1 if s[0..len) has a "." or ".." segment.  Browsers remove them (RFC
 * 3986 5.2.4), so "/.//evil.example" would become the path
 * "//evil.example"; a local target never needs them. */
static int ids_has_dot_segment(const char *s, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len) {
        apr_size_t start = ++i;         /* just after a '/' */

        while (i < len && s[i] != '/') {
            i++;
        }
        if ((i - start == 1 && s[start] == '.')
            || (i - start == 2 && s[start] == '.' && s[start + 1] == '.')) {
            return 1;
        }
    }
    return 0;
}

/* The checks of one stage: raw target, or after one or two decodings. */
static int ids_stage_ok(const char *s, int raw)
{
    const unsigned char *c;
    const char *colon, *slashes;
    apr_size_t plen;

    if (s[0] != '/' || s[1] == '/' || s[1] == '\\') {
        return 0;
    }
    for (c = (const unsigned char *)s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '\\' || *c == ' ') {
            return 0;
        }
        if (raw && *c >= 0x80) {
            return 0;           /* a Location header is ASCII */
        }
    }
    if (!ids_utf8_ok((const unsigned char *)s, strlen(s))) {
        return 0;
    }
    plen = strcspn(s, "?#");
    if (ids_has_dot_segment(s, plen)) {
        return 0;
    }
    /* No scheme: no "x:" together with "//" in the path proper. */
    colon = memchr(s, ':', plen);
    slashes = strstr(s, "//");
    return !(colon && slashes && slashes < s + plen);
}

int ids_local_path_ok(apr_pool_t *p, const char *target)
{
    const char *stage = target;
    int round;

    if (target == NULL) {
        return 0;
    }
    for (round = 0; round < 3; round++) {
        if (!ids_stage_ok(stage, round == 0)) {
            return 0;
        }
        if (round < 2) {
            stage = ids_pct_decode(p, stage, strlen(stage));
            if (stage == NULL) {
                return 0;
            }
        }
    }
    return 1;
}

char *ids_query_arg(apr_pool_t *p, const char *args, const char *key)
{
    apr_size_t klen = strlen(key);
    const char *s = args;

    while (s && *s) {
        const char *end = strchr(s, '&');
        apr_size_t len = end ? (apr_size_t)(end - s) : strlen(s);

        if (len > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            return ids_pct_decode(p, s + klen + 1, len - klen - 1);
        }
        s = end ? end + 1 : NULL;
    }
    return NULL;
}

int ids_redirect_config_ok(apr_pool_t *p, const char *target)
{
    apr_uri_t uri;
    const char *c;

    if (target[0] == '/') {
        return ids_local_path_ok(p, target);
    }
    for (c = target; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\'
            || (unsigned char)*c >= 0x80) {
            return 0;
        }
    }
    if (apr_uri_parse(p, target, &uri) != APR_SUCCESS
        || uri.scheme == NULL || uri.hostname == NULL || !*uri.hostname
        || uri.user != NULL) {
        return 0;
    }
    return strcasecmp(uri.scheme, "http") == 0
        || strcasecmp(uri.scheme, "https") == 0;
}

/* ---- Redis protocol (RESP) --------------------------------------------- */

/* Writes n in decimal to out; returns the end. */
static char *ids_resp_put_num(char *out, apr_size_t n)
{
    char buf[IDS_NUM_CHARS];
    const char *d = ids_num(buf, (apr_int64_t)n);
    apr_size_t len = (apr_size_t)(buf + IDS_NUM_CHARS - 1 - d);

    memcpy(out, d, len);
    return out + len;
}

/* The array's header ('*', at most 11 characters of argc, CRLF) always
 * fits; each word is checked with room for the longest number. */
apr_size_t ids_resp_format(char *out, int argc, const char *const *argv)
{
    char *o = out, *end = out + IDS_RESP_CMD_MAX;
    int i;

    *o++ = '*';
    o = ids_resp_put_num(o, (apr_size_t)argc);
    *o++ = '\r';
    *o++ = '\n';
    for (i = 0; i < argc; i++) {
        apr_size_t len = strlen(argv[i]);

        /* '$', the length, CRLF, the word, CRLF */
        if ((apr_size_t)(end - o) < len + IDS_NUM_CHARS + 4) {
            return 0;
        }
        *o++ = '$';
        o = ids_resp_put_num(o, len);
        *o++ = '\r';
        *o++ = '\n';
        memcpy(o, argv[i], len);
        o += len;
        *o++ = '\r';
        *o++ = '\n';
    }
    return (apr_size_t)(o - out);
}

/* Only the first line is searched for its LF: a bulk string's bytes are
 * counted, never scanned, so they may hold CR, LF or NUL. */
apr_ssize_t ids_resp_parse(char *buf, apr_size_t len, ids_resp_reply *reply)
{
    char *eol = memchr(buf, '\n', len), *p;
    apr_size_t head, n = 0, need;

    if (eol == NULL) {
        return 0;
    }
    if (eol == buf || eol[-1] != '\r') {
        return -1;
    }
    head = (apr_size_t)(eol + 1 - buf);
    reply->type = buf[0];
    switch (buf[0]) {
    case '+':
    case '-':
    case ':':
        eol[-1] = '\0';
        reply->str = buf + 1;
        return (apr_ssize_t)head;
    case '$':
        if (head == 5 && memcmp(buf, "$-1", 3) == 0) {
            reply->str = NULL;
            return (apr_ssize_t)head;
        }
        for (p = buf + 1; p < eol - 1; p++) {
            if (*p < '0' || *p > '9' || n > IDS_RESP_REPLY_MAX) {
                return -1;
            }
            n = n * 10 + (apr_size_t)(*p - '0');
        }
        need = head + n + 2;
        /* A reply the reader's buffer cannot hold is refused at once, not
         * waited for until the store's timeout. */
        if (p == buf + 1 || need > IDS_RESP_REPLY_MAX - 1) {
            return -1;
        }
        if (len < need) {
            return 0;
        }
        if (buf[need - 2] != '\r' || buf[need - 1] != '\n') {
            return -1;
        }
        buf[need - 2] = '\0';
        reply->str = buf + head;
        return (apr_ssize_t)need;
    default:
        return -1;
    }
}
