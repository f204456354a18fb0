/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * idsession_core: the pure logic of mod_idsession.
 *
 * Minting, encoding and checking tokens, scanning a Cookie header, building
 * the Set-Cookie value, signing, checking a redirect target, and the Redis
 * commands and replies of the revocation store.  It needs APR and
 * libcrypto only (no httpd headers), so the unit tests and fuzzers link it
 * on its own.  Every function is reentrant; keys are read-only once
 * built.
 */

#ifndef IDSESSION_CORE_H
#define IDSESSION_CORE_H

#include <stddef.h>
#include "apr.h"
#include "apr_pools.h"
#include "apr_time.h"
#include <openssl/sha.h>

#define IDS_TOKEN_BYTES_MIN      16
#define IDS_TOKEN_BYTES_MAX      192
#define IDS_TOKEN_BYTES_DEFAULT  32
#define IDS_TAG_BYTES            16     /* HMAC-SHA256 truncated to 128 bits */
#define IDS_TAG_CHARS            22     /* base64url of IDS_TAG_BYTES */
#define IDS_SEP                  '.'    /* between R and T in a signed token */
#define IDS_SECRET_MIN           32
#define IDS_STORE_KEY_CHARS      64     /* hex digits of SESSION_STORE_KEY */
#define IDS_LOG_ID_CHARS         16     /* SESSION_LOG_ID: its first digits */

/* Characters in the unpadded base64url encoding of n bytes. */
#define IDS_B64URL_LEN(n)        (((n) * 4 + 2) / 3)

/* Longest token: random part, separator, tag. */
#define IDS_TOKEN_MAX_CHARS \
    (IDS_B64URL_LEN(IDS_TOKEN_BYTES_MAX) + 1 + IDS_TAG_CHARS)

/* A signing key: the HMAC-SHA256 inner and outer states, precomputed once
 * at startup so that a request only copies them.  The secret itself is not
 * kept. */
typedef struct {
    SHA256_CTX inner;
    SHA256_CTX outer;
} ids_key;

/* The keys a location verifies with; keys[0] signs.  n == 0: unsigned. */
typedef struct {
    const ids_key *keys;
    int n;
} ids_keyring;

/* ---- encoding ---------------------------------------------------------- */

/* Writes the unpadded base64url encoding of src[0..n) and a NUL to dst,
 * which holds IDS_B64URL_LEN(n) + 1 bytes. */
void ids_b64url_encode(char *dst, const unsigned char *src, apr_size_t n);

/* 1 if v[0..len) is exactly what ids_b64url_encode gives for nbytes bytes:
 * the right length, the base64url alphabet, and zero padding bits. */
int ids_random_part_ok(const char *v, apr_size_t len, apr_size_t nbytes);

/* Length of a whole token for nbytes random bytes, signed or not. */
static APR_INLINE apr_size_t ids_token_len(apr_size_t nbytes, int is_signed)
{
    return IDS_B64URL_LEN(nbytes) + (is_signed ? 1 + IDS_TAG_CHARS : 0);
}

/* ---- keys and tags ----------------------------------------------------- */

/* Builds a key from a secret of any length (RFC 2104). */
void ids_key_init(ids_key *key, const unsigned char *secret, apr_size_t len);

/* Writes the IDS_TAG_CHARS-character tag of r[0..len) and a NUL to out. */
void ids_tag(const ids_key *key, const char *r, apr_size_t len, char *out);

/* 1 if v[0..len) is a well-formed token for nbytes random bytes: with an
 * empty keyring an unsigned token, else "R.T" whose tag verifies under one
 * of the keys, compared in constant time. */
int ids_token_ok(const char *v, apr_size_t len, apr_size_t nbytes,
                 const ids_keyring *ring);

/* The same check; the index in ring of the first key that verifies the
 * tag (0 for an unsigned token under an empty ring), or -1.  Every key is
 * tried whatever the answer. */
int ids_token_verify(const char *v, apr_size_t len, apr_size_t nbytes,
                     const ids_keyring *ring);

/* ---- minting ----------------------------------------------------------- */

/* Fills out (ids_token_len(nbytes, ring->n > 0) + 1 bytes) with a new
 * token from the system CSPRNG, signed by ring->keys[0] when there is one.
 * On failure returns the error and leaves no token in out. */
apr_status_t ids_token_mint(char *out, apr_size_t nbytes,
                            const ids_keyring *ring);

/* Writes the IDS_STORE_KEY_CHARS lowercase hex digits of SHA-256 over
 * token[0..len) and a NUL to out.  Its first IDS_LOG_ID_CHARS digits are
 * the log id, which is short enough to collide on purpose: only the whole
 * digest may key anything that grants access. */
void ids_store_key(const char *token, apr_size_t len, char *out);

/* 1 if v[0..len) is a log id, IDS_LOG_ID_CHARS hex digits in any case;
 * then writes it in lowercase, as SESSION_LOG_ID, and a NUL to out. */
int ids_log_id_parse(const char *v, apr_size_t len, char *out);

/* ---- numbers ----------------------------------------------------------- */

/* Room for an apr_int64_t in decimal: 19 digits, a sign and a NUL. */
#define IDS_NUM_CHARS            21

/* Writes v in decimal, as apr_ltoa does, with a NUL at the end of buf
 * (IDS_NUM_CHARS bytes), where a pool string would not do; returns where
 * the digits start. */
char *ids_num(char *buf, apr_int64_t v);

/* ---- stamps ------------------------------------------------------------ */

/* A stamp says when a session was created and last renewed, signed with
 * the token it belongs to, so that timeouts need no store.  Its 32 bytes:
 * created (8, big-endian Unix seconds), renewed (8, the same), then the
 * first 16 bytes of HMAC-SHA256(key, IDS_STAMP_LABEL, a NUL byte, those
 * 16 bytes of times, the token).  On the wire: unpadded base64url. */
#define IDS_STAMP_LABEL          "mod_idsession stamp v1"
#define IDS_STAMP_MAC_BYTES      16
#define IDS_STAMP_BYTES          (16 + IDS_STAMP_MAC_BYTES)
#define IDS_STAMP_CHARS          IDS_B64URL_LEN(IDS_STAMP_BYTES)
#define IDS_STAMP_SKEW           60     /* seconds a time may be ahead */

/* Writes the IDS_STAMP_CHARS-character stamp of token[0..len) and a NUL
 * to out. */
void ids_stamp_make(const ids_key *key, const char *token, apr_size_t len,
                    apr_uint64_t created, apr_uint64_t renewed, char *out);

/* 1 if s[0..slen) is a stamp of token[0..len) that a key of ring verifies
 * (every key tried, compared in constant time), with created <= renewed
 * and neither more than IDS_STAMP_SKEW seconds after now; then sets
 * *created and *renewed.  0 otherwise, with both left alone. */
int ids_stamp_check(const char *s, apr_size_t slen, const char *token,
                    apr_size_t len, const ids_keyring *ring,
                    apr_uint64_t now, apr_uint64_t *created,
                    apr_uint64_t *renewed);

/* The same check; the index in ring of the first key that verifies the
 * stamp, or -1. */
int ids_stamp_verify(const char *s, apr_size_t slen, const char *token,
                     apr_size_t len, const ids_keyring *ring,
                     apr_uint64_t now, apr_uint64_t *created,
                     apr_uint64_t *renewed);

/* 1 if v[0..len), which a location refused, has the form of a signed token
 * for nbytes random bytes (with a stamp when timed, or without): then only
 * a secret can have refused it, by its tag, its stamp or the stamp's
 * times.  0 for a value refused for its form (length, alphabet, padding
 * bits, separators), and for any refused value when is_signed is 0. */
int ids_value_form_ok(const char *v, apr_size_t len, apr_size_t nbytes,
                      int is_signed, int timed);

/* Parses an RFC 3339 UTC time, "YYYY-MM-DDTHH:MM:SSZ" (or "+00:00" for
 * "Z", 't'/'z' or a space allowed as in the RFC), into Unix seconds.
 * APR_EINVAL for anything else, leap seconds and other offsets included. */
apr_status_t ids_parse_utc(const char *s, apr_int64_t *out);

/* ---- cookies ----------------------------------------------------------- */

/* 1 if name is a non-empty RFC 6265 cookie-name (an RFC 7230 token). */
int ids_cookie_name_ok(const char *name);

typedef int (*ids_accept_fn)(const char *v, apr_size_t len, void *ctx);

/* Scans one Cookie header for cookies named name (exact, case-sensitive).
 * Pairs are separated by ';' with optional whitespace; a ',' belongs to
 * the value.  Returns the
 * first value for which accept() is true and sets *vlen, or NULL.  *seen,
 * when not NULL, counts the cookies with that name. */
const char *ids_cookie_find(const char *hdr, const char *name,
                            apr_size_t namelen, ids_accept_fn accept,
                            void *ctx, apr_size_t *vlen, int *seen);

/* The same, where hint (hintlen > 0 bytes of cookie-octets, no whitespace
 * or ';') is a value the caller already knows accept() takes: a pair
 * whose value is exactly hint is returned without calling accept(); the
 * compare takes a time that depends on hintlen only.  The answer is the one
 * ids_cookie_find gives.  hint NULL or hintlen 0: no hint. */
const char *ids_cookie_find_hint(const char *hdr, const char *name,
                                 apr_size_t namelen, const char *hint,
                                 apr_size_t hintlen, ids_accept_fn accept,
                                 void *ctx, apr_size_t *vlen, int *seen);

typedef enum {
    IDS_SAMESITE_OFF = 0,
    IDS_SAMESITE_STRICT,
    IDS_SAMESITE_LAX,
    IDS_SAMESITE_NONE
} ids_samesite;

/* What goes into a Set-Cookie besides the name and value. */
typedef struct {
    const char *path;           /* NULL: no Path attribute */
    const char *domain;         /* NULL: host-only */
    apr_int64_t max_age;        /* 0: a browser-session cookie */
    apr_time_t now;             /* for Expires, when max_age > 0 */
    int secure;
    int httponly;
    ids_samesite samesite;      /* NONE always adds Secure */
    int partitioned;            /* CHIPS; only sent with Secure */
} ids_cookie_attrs;

/* The Set-Cookie header value for name=value with attrs, from pool p.
 * Expires is the IMF-fixdate that apr_rfc822_date gives. */
char *ids_set_cookie(apr_pool_t *p, const char *name, const char *value,
                     const ids_cookie_attrs *attrs);

/* The attributes that ids_set_cookie writes after the value, from pool p
 * ("; Path=/; HttpOnly; SameSite=Lax"), for attrs that send no Max-Age
 * (max_age <= 0), whose Expires would change with time.  Worked out once
 * where the configuration is read, for ids_cookie_join. */
const char *ids_cookie_tail(apr_pool_t *p, const ids_cookie_attrs *attrs);

/* Where Max-Age goes in a tail of attrs: after Path and Domain. */
apr_size_t ids_cookie_tail_split(const ids_cookie_attrs *attrs);

/* name=value followed by tail (from ids_cookie_tail), from pool p, with
 * "; Max-Age=<max_age>; Expires=<now + max_age>" put in at split when
 * max_age > 0: what ids_set_cookie gives for the tail's attributes with
 * that max_age. */
char *ids_cookie_join(apr_pool_t *p, const char *name, apr_size_t nlen,
                      const char *value, apr_size_t vlen,
                      const char *tail, apr_size_t tlen, apr_size_t split,
                      apr_int64_t max_age, apr_time_t now);

/* 1 if the Set-Cookie value hdr sets the cookie called name. */
int ids_set_cookie_is_for(const char *hdr, const char *name,
                          apr_size_t namelen);

/* 1 if the Cache-Control list v holds an unqualified "private" or a
 * "no-store" directive, so no shared cache stores the response.  A
 * qualified private="field" does not count: it lets a cache store the
 * rest. */
int ids_cache_control_private(const char *v);

/* ---- redirect targets -------------------------------------------------- */

/* 1 if target (already taken out of the query string) is a safe local
 * path: one leading '/', no "//" or "/\" at the start raw or after one or
 * two rounds of percent-decoding, no control characters, backslashes,
 * spaces, non-ASCII bytes, invalid UTF-8, "." or ".." segments or scheme
 * at any of those stages.  Uses p for scratch. */
int ids_local_path_ok(apr_pool_t *p, const char *target);

/* Finds the query argument key in args ("a=1&b=2"), percent-decodes it
 * once into pool p and returns it, or NULL when absent or undecodable. */
char *ids_query_arg(apr_pool_t *p, const char *args, const char *key);

/* 1 if target is fit for IDSessionResetRedirect: a safe local path or an
 * absolute http(s) URL with a host and no whitespace or control chars. */
int ids_redirect_config_ok(apr_pool_t *p, const char *target);

/* ---- Redis protocol (RESP) --------------------------------------------- */

/* What the revocation store says to Redis and reads back, without hiredis
 * and without allocating: one command formatted into a fixed buffer, one
 * reply parsed in place from the bytes received so far. */

/* A command is formatted by ids_resp_format into this many bytes at most:
 * a GET of a key, or a SET of a key to a Unix second with an EX. */
#define IDS_RESP_CMD_MAX         160
/* A reply is read into this many bytes: a nil, a Unix second, +OK or an
 * error line; anything longer is taken for a protocol error. */
#define IDS_RESP_REPLY_MAX       256

/* One reply of the kinds the commands here get: a simple string '+', an
 * error '-', an integer ':' or a bulk string '$', whose str is NULL for a
 * nil.  str is NUL-terminated in the buffer it was parsed from. */
typedef struct {
    char type;
    const char *str;
} ids_resp_reply;

/* The command of argc words (NUL-terminated, argc >= 0) in RESP, an array
 * of bulk strings, written to out (IDS_RESP_CMD_MAX bytes) as hiredis's
 * redisFormatCommandArgv would; its length, or 0 if it does not fit. */
apr_size_t ids_resp_format(char *out, int argc, const char *const *argv);

/* Parses one reply from buf[0..len): the bytes it takes, with *reply set
 * and its text NUL-terminated in buf (over the CR that ends it); 0 while
 * it is incomplete; -1 when it is not a reply of the kinds above. */
apr_ssize_t ids_resp_parse(char *buf, apr_size_t len, ids_resp_reply *reply);

#endif /* IDSESSION_CORE_H */
