/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * The input is one Cookie header.  It is scanned with ids_cookie_find under
 * several configurations (unsigned 32 and 16 bytes, signed with one and two
 * keys, no validator), and with ids_cookie_find_hint given the answer, a
 * prefix of it, or another valid token as the hint, and each answer is
 * checked
 *  - against an independent reference scanner (same value, length, count);
 *  - for its own invariants: the value lies inside the header, is preceded
 *    by "name =" at the start of a pair, holds no separator, starts and
 *    ends without whitespace, and passes the validator.
 */

#include "fuzz_common.h"

#define IS_OWS(c)  ((c) == ' ' || (c) == '\t')
/* Only ';' separates pairs (RFC 6265 4.2.1); ',' is part of a value. */
#define IS_SEP(c)  ((c) == ';')

typedef struct {
    const char *name;
    apr_size_t nbytes;
    ids_keyring ring;
    int validate;
} scan_config;

static int accept_token(const char *v, apr_size_t len, void *ctx)
{
    const scan_config *c = ctx;
    return ids_token_ok(v, len, c->nbytes, &c->ring);
}

/* RFC 6265 pairs, split on ';' first, then on the first '=',
 * each side trimmed.  A value equal to hint (when not NULL) is taken as
 * the validator would take it. */
static const char *ref_find(const char *hdr, const scan_config *c,
                            const char *hint, size_t hintlen,
                            apr_size_t *vlen, int *seen)
{
    size_t hlen = strlen(hdr), namelen = strlen(c->name), i = 0;

    while (i < hlen) {
        size_t j = i, ns, ne, vs, ve;
        const char *eq;

        while (j < hlen && !IS_SEP(hdr[j])) {
            j++;
        }
        eq = memchr(hdr + i, '=', j - i);
        if (eq != NULL) {
            ns = i;
            ne = (size_t)(eq - hdr);
            vs = ne + 1;
            ve = j;
            while (ns < ne && IS_OWS(hdr[ns])) ns++;
            while (ne > ns && IS_OWS(hdr[ne - 1])) ne--;
            while (vs < ve && IS_OWS(hdr[vs])) vs++;
            while (ve > vs && IS_OWS(hdr[ve - 1])) ve--;
            if (ne - ns == namelen && memcmp(hdr + ns, c->name, namelen) == 0) {
                (*seen)++;
                if (!c->validate
                    || (hint && ve - vs == hintlen
                        && memcmp(hdr + vs, hint, hintlen) == 0)
                    || ids_token_ok(hdr + vs, ve - vs, c->nbytes, &c->ring)) {
                    *vlen = ve - vs;
                    return hdr + vs;
                }
            }
        }
        i = j + 1;
    }
    return NULL;
}

/* A token that c's validator takes: the random part of nbytes zero bytes
 * (all 'A'), signed with the ring's first key.  The dictionary holds the
 * unsigned ones, so headers that carry it come up. */
static char *valid_hint(const scan_config *c)
{
    unsigned char zero[IDS_TOKEN_BYTES_MAX] = { 0 };
    apr_size_t rlen = IDS_B64URL_LEN(c->nbytes);
    char *t = malloc(ids_token_len(c->nbytes, 1) + 1);

    ids_b64url_encode(t, zero, c->nbytes);
    if (c->ring.n > 0) {
        t[rlen] = IDS_SEP;
        ids_tag(&c->ring.keys[0], t, rlen, t + rlen + 1);
    }
    return t;
}

static void check_found(const char *hdr, size_t hlen, const scan_config *c,
                        const char *v, apr_size_t vlen, int seen)
{
    size_t namelen = strlen(c->name), k;
    const char *e;

    FUZZ_ASSERT(seen >= 1);
    FUZZ_ASSERT(v >= hdr && v <= hdr + hlen && vlen <= (size_t)(hdr + hlen - v));
    for (k = 0; k < vlen; k++) {
        FUZZ_ASSERT(!IS_SEP(v[k]) && v[k] != '\0');
    }
    if (vlen > 0) {
        FUZZ_ASSERT(!IS_OWS(v[0]) && !IS_OWS(v[vlen - 1]));
    }
    /* Walk back over "name =" to the start of the pair. */
    e = v;
    while (e > hdr && IS_OWS(e[-1])) e--;
    FUZZ_ASSERT(e > hdr && e[-1] == '=');
    e--;
    while (e > hdr && IS_OWS(e[-1])) e--;
    FUZZ_ASSERT((size_t)(e - hdr) >= namelen);
    e -= namelen;
    FUZZ_ASSERT(memcmp(e, c->name, namelen) == 0);
    while (e > hdr && IS_OWS(e[-1])) e--;
    FUZZ_ASSERT(e == hdr || IS_SEP(e[-1]));

    if (c->validate) {
        apr_size_t rlen = IDS_B64URL_LEN(c->nbytes);
        FUZZ_ASSERT(vlen == ids_token_len(c->nbytes, c->ring.n > 0));
        FUZZ_ASSERT(ids_random_part_ok(v, rlen, c->nbytes));
        if (c->ring.n > 0) {
            FUZZ_ASSERT(v[rlen] == IDS_SEP);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scan_config configs[] = {
        { "_session", 32, { NULL, 0 }, 1 },
        { "_session", 32, { fuzz_keys, 2 }, 1 },
        { "_session", 32, { fuzz_keys_rev, 2 }, 1 },
        { "_session", 32, { &fuzz_keys[1], 1 }, 1 },
        { "__Host-id", 16, { NULL, 0 }, 1 },
        { "__Host-id", 16, { fuzz_keys, 1 }, 1 },
        { "a", 18, { NULL, 0 }, 1 },
        { "_session", 0, { NULL, 0 }, 0 },
    };
    char *hdr;
    size_t hlen, i;
    const char *found[8];

    fuzz_init();
    hdr = fuzz_cstr(data, size);
    hlen = strlen(hdr);
    for (i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        const scan_config *c = &configs[i];
        apr_size_t vlen = 0, rlen = 0;
        int seen = 0, rseen = 0;
        const char *v, *r;

        v = ids_cookie_find(hdr, c->name, strlen(c->name),
                            c->validate ? accept_token : NULL, (void *)c,
                            &vlen, &seen);
        r = ref_find(hdr, c, NULL, 0, &rlen, &rseen);
        FUZZ_ASSERT(v == r);
        FUZZ_ASSERT(seen == rseen);
        if (v != NULL) {
            FUZZ_ASSERT(vlen == rlen);
            check_found(hdr, hlen, c, v, vlen, seen);
        }
        /* With the answer as the hint, the same answer; with a prefix of
         * it, what the reference gives when it takes that prefix too. */
        if (c->validate && r != NULL) {
            apr_size_t k;

            for (k = 0; k < 2 && k < rlen; k++) {
                apr_size_t hlen2 = 0, rlen2 = 0;
                int seen2 = 0, rseen2 = 0;
                char *hint = fuzz_cstr((const uint8_t *)r, rlen - k);
                const char *r2 = ref_find(hdr, c, hint, rlen - k, &rlen2,
                                          &rseen2);

                FUZZ_ASSERT(ids_cookie_find_hint(hdr, c->name, strlen(c->name),
                                                 hint, rlen - k, accept_token,
                                                 (void *)c, &hlen2, &seen2)
                            == r2);
                FUZZ_ASSERT(seen2 == rseen2);
                FUZZ_ASSERT(r2 == NULL || hlen2 == rlen2);
                FUZZ_ASSERT(k > 0 || (r2 == v && hlen2 == vlen));
                free(hint);
            }
        }
        /* With a valid token as the hint, wherever it stands (before the
         * answer, after it, nowhere), the answer without one. */
        if (c->validate) {
            char *hint = valid_hint(c);
            apr_size_t hlen2 = 0;
            int seen2 = 0;

            FUZZ_ASSERT(ids_token_ok(hint, strlen(hint), c->nbytes, &c->ring));
            FUZZ_ASSERT(ids_cookie_find_hint(hdr, c->name, strlen(c->name), hint,
                                             strlen(hint), accept_token, (void *)c,
                                             &hlen2, &seen2) == v);
            FUZZ_ASSERT(v == NULL || hlen2 == vlen);
            FUZZ_ASSERT(seen2 == seen);
            free(hint);
        }
        /* seen == NULL must give the same answer. */
        FUZZ_ASSERT(ids_cookie_find(hdr, c->name, strlen(c->name),
                                    c->validate ? accept_token : NULL,
                                    (void *)c, &vlen, NULL) == v);
        found[i] = v;
    }
    /* Key order in the ring does not matter. */
    FUZZ_ASSERT(found[1] == found[2]);
    /* Whatever key 2 alone accepts, keys 1 and 2 accept no later. */
    if (found[3] != NULL) {
        FUZZ_ASSERT(found[1] != NULL && found[1] <= found[3]);
    }
    /* With no validator the first cookie of the name is returned, and a
     * valid one can be no earlier. */
    if (found[0] != NULL) {
        FUZZ_ASSERT(found[7] != NULL && found[7] <= found[0]);
    }
    free(hdr);
    return 0;
}
