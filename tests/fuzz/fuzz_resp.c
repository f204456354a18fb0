/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * The Redis protocol of the revocation store, which reads what a server
 * (or whoever answers on its port) sends.
 *
 * The input is a reply, parsed by ids_resp_parse from a copy of exactly
 * its size, so ASan sees any read or write past it.  The result must be
 * the one of a reference parser written here from the RESP description,
 * with the text NUL-terminated inside the bytes taken and no other byte
 * changed; each prefix of a reply it takes must be incomplete; more bytes
 * after the input change nothing once an answer is given.
 *
 * The input split at its NUL bytes is also a command: whatever
 * ids_resp_format writes must be the RESP array of exactly those words
 * (read back by a reference reader and by ids_resp_parse, word by word),
 * and it may refuse only a command too long for IDS_RESP_CMD_MAX.
 */

#include "fuzz_common.h"

#define MAX_WORDS 12

/* ---- the reference reply parser ----------------------------------------- */

typedef struct {
    apr_ssize_t took;           /* as ids_resp_parse returns */
    char type;
    apr_ssize_t at;             /* where the text starts; -1: nil */
    size_t len;                 /* the text's length */
} ref_reply;

/* RESP: a type byte, a line ended by CRLF; for '$' the line is a length
 * and that many bytes and a CRLF follow, or it is -1 (nil).  Lengths are
 * decimal digits only.  A bulk reply longer than the store's buffer
 * (IDS_RESP_REPLY_MAX - 1 bytes in all) is refused as soon as its length
 * line is complete. */
static void ref_parse(const unsigned char *in, size_t len, ref_reply *r)
{
    const unsigned char *lf = memchr(in, '\n', len);
    size_t e, i, v = 0, need;

    memset(r, 0, sizeof(*r));
    r->took = -1;
    if (lf == NULL) {
        r->took = 0;
        return;
    }
    e = (size_t)(lf - in);
    if (e == 0 || in[e - 1] != '\r') {
        return;
    }
    r->type = (char)in[0];
    if (in[0] == '+' || in[0] == '-' || in[0] == ':') {
        r->took = (apr_ssize_t)(e + 1);
        r->at = 1;
        r->len = e - 2;
        return;
    }
    if (in[0] != '$') {
        return;
    }
    if (e == 4 && in[1] == '-' && in[2] == '1') {
        r->took = (apr_ssize_t)(e + 1);
        r->at = -1;
        return;
    }
    if (e < 3) {
        return;                 /* no digit */
    }
    for (i = 1; i < e - 1; i++) {
        if (in[i] < '0' || in[i] > '9') {
            return;
        }
        v = v > 100000 ? v : v * 10 + (in[i] - '0');    /* saturates */
    }
    need = e + 1 + v + 2;
    if (need > IDS_RESP_REPLY_MAX - 1) {
        return;
    }
    if (len < need) {
        r->took = 0;
        return;
    }
    if (in[need - 2] != '\r' || in[need - 1] != '\n') {
        return;
    }
    r->took = (apr_ssize_t)need;
    r->at = (apr_ssize_t)(e + 1);
    r->len = v;
}

/* ---- the reply ---------------------------------------------------------- */

/* Parses in[0..len) from a fresh block of exactly len bytes (its copy in
 * *out, to free) and checks it against the reference; returns the result. */
static apr_ssize_t parse_checked(const unsigned char *in, size_t len,
                                 char **out, ids_resp_reply *reply)
{
    char *buf = malloc(len ? len : 1);
    ref_reply ref;
    apr_ssize_t k;
    size_t i;

    if (buf == NULL) {
        abort();
    }
    memcpy(buf, in, len);
    *out = buf;
    reply->type = 0;
    reply->str = NULL;
    k = ids_resp_parse(buf, len, reply);
    ref_parse(in, len, &ref);
    FUZZ_ASSERT(k >= -1 && k <= (apr_ssize_t)len);
    FUZZ_ASSERT(k == ref.took);
    if (k <= 0) {
        FUZZ_ASSERT(memcmp(buf, in, len) == 0);
        return k;
    }
    FUZZ_ASSERT(reply->type == ref.type);
    if (ref.at < 0) {
        FUZZ_ASSERT(reply->str == NULL);
        FUZZ_ASSERT(memcmp(buf, in, len) == 0);
        return k;
    }
    /* The text lies inside the bytes taken, NUL-terminated over its CR,
     * and nothing else was written. */
    FUZZ_ASSERT(reply->str == buf + ref.at);
    FUZZ_ASSERT((apr_ssize_t)(ref.at + ref.len) < k);
    FUZZ_ASSERT(reply->str[ref.len] == '\0');
    FUZZ_ASSERT(in[ref.at + ref.len] == '\r');
    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(buf[i] == (char)in[i] || i == (size_t)ref.at + ref.len);
    }
    return k;
}

static void check_reply(const uint8_t *data, size_t size)
{
    ids_resp_reply reply, again;
    char *buf, *buf2;
    unsigned char *more;
    apr_ssize_t k, k2;
    size_t cut, extra = 1 + (size ? data[0] % 16 : 0);

    k = parse_checked(data, size, &buf, &reply);

    /* The store parses all it has after each recv: every prefix of a
     * reply must be incomplete, whatever the split. */
    if (k > 0) {
        memcpy(buf, data, size);                /* undo the NUL */
        for (cut = 0; cut < (size_t)k; cut++) {
            ids_resp_reply part;
            char *pbuf;

            FUZZ_ASSERT(ids_resp_parse(buf, cut, &part) == 0);
            if (cut == (size_t)k - 1 || cut == (size_t)k / 2) {
                FUZZ_ASSERT(parse_checked(data, cut, &pbuf, &part) == 0);
                free(pbuf);
            }
        }
    }

    /* More bytes after the input: an answer given stands. */
    more = malloc(size + extra);
    if (more == NULL) {
        abort();
    }
    memcpy(more, data, size);
    for (cut = 0; cut < extra; cut++) {
        more[size + cut] = cut == 0 || size == 0
                           ? '\n' : data[(cut * 7) % size];
    }
    k2 = parse_checked(more, size + extra, &buf2, &again);
    if (k != 0) {
        FUZZ_ASSERT(k2 == k);
        if (k > 0) {
            FUZZ_ASSERT(again.type == reply.type);
            FUZZ_ASSERT((again.str == NULL) == (reply.str == NULL));
            FUZZ_ASSERT(again.str == NULL || again.str - buf2 == reply.str - buf);
        }
    }
    free(buf2);
    free(more);
    free(buf);
}

/* ---- the command -------------------------------------------------------- */

/* Reads a decimal number without leading zeros (0 alone) ended by CRLF
 * at s[*at..n); -1 when there is none. */
static long ref_number(const char *s, size_t n, size_t *at)
{
    size_t i = *at;
    long v = 0;

    if (i >= n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && i + 1 < n
                                                && s[i + 1] != '\r')) {
        return -1;
    }
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (s[i] - '0');
    }
    if (n - i < 2 || s[i] != '\r' || s[i + 1] != '\n') {
        return -1;
    }
    *at = i + 2;
    return v;
}

/* 1 if cmd[0..n) is exactly the RESP array of the argc words. */
static int ref_array_is(const char *cmd, size_t n, int argc,
                        const char *const *argv)
{
    size_t at = 1;
    int i;

    if (n < 1 || cmd[0] != '*' || ref_number(cmd, n, &at) != argc) {
        return 0;
    }
    for (i = 0; i < argc; i++) {
        size_t wl = strlen(argv[i]);

        if (at >= n || cmd[at++] != '$'
            || ref_number(cmd, n, &at) != (long)wl || n - at < wl + 2
            || memcmp(cmd + at, argv[i], wl) != 0
            || cmd[at + wl] != '\r' || cmd[at + wl + 1] != '\n') {
            return 0;
        }
        at += wl + 2;
    }
    return at == n;
}

static size_t digits(size_t v)
{
    size_t d = 1;

    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static void check_command(const uint8_t *data, size_t size)
{
    char *words = malloc(size + 1), *out = malloc(IDS_RESP_CMD_MAX);
    const char *argv[MAX_WORDS];
    int argc = 0, i;
    size_t n, want, at, start = 0;

    if (words == NULL || out == NULL) {
        abort();
    }
    memcpy(words, data, size);
    words[size] = '\0';
    /* The words are the input's NUL-separated pieces; the first byte, when
     * there is one, picks how many of them (0 to MAX_WORDS - 1). */
    if (size > 0) {
        int most = data[0] % MAX_WORDS;

        start = 1;
        for (at = 1; argc < most; at++) {
            if (at > size || words[at] == '\0') {
                argv[argc++] = words + start;
                if (at >= size) {
                    break;
                }
                start = at + 1;
            }
        }
    }
    want = 1 + digits((size_t)argc) + 2;
    for (i = 0; i < argc; i++) {
        size_t wl = strlen(argv[i]);

        want += 1 + digits(wl) + 2 + wl + 2;
    }
    n = ids_resp_format(out, argc, argv);
    if (n == 0) {
        /* Refused only near the end: the formatter wants room for a
         * word, its CRLFs and IDS_NUM_CHARS digits, where its length
         * takes one or more of them. */
        FUZZ_ASSERT(want + IDS_NUM_CHARS - 2 > IDS_RESP_CMD_MAX);
    }
    else {
        FUZZ_ASSERT(n == want && n <= IDS_RESP_CMD_MAX);
        FUZZ_ASSERT(ref_array_is(out, n, argc, argv));
        /* Each element is a bulk string reply to ids_resp_parse. */
        at = 1 + digits((size_t)argc) + 2;
        for (i = 0; i < argc; i++) {
            ids_resp_reply r;
            size_t wl = strlen(argv[i]);
            apr_ssize_t k = ids_resp_parse(out + at, n - at, &r);

            FUZZ_ASSERT(k == (apr_ssize_t)(1 + digits(wl) + 2 + wl + 2));
            FUZZ_ASSERT(r.type == '$' && r.str != NULL
                        && memcmp(r.str, argv[i], wl) == 0
                        && r.str[wl] == '\0');
            at += (size_t)k;
        }
        FUZZ_ASSERT(at == n);
    }
    free(out);
    free(words);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_reply(data, size);
    check_command(data, size);
    return 0;
}
