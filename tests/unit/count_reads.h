/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * Force-included (-include) when idsession_core.c is built for the unit
 * tests.  The string functions the cookie scanner calls add the bytes they
 * examine to ids_bytes_read, so a test can show that a scan reads a number
 * of bytes linear in the header's size: a deterministic stand-in for its
 * time, which a test never measures.
 */

#ifndef IDS_COUNT_READS_H
#define IDS_COUNT_READS_H

#include <string.h>

extern unsigned long ids_bytes_read;

static inline size_t ids_counted_strlen(const char *s)
{
    size_t n = (strlen)(s);
    ids_bytes_read += n + 1;
    return n;
}

static inline size_t ids_counted_strnlen(const char *s, size_t max)
{
    size_t n = (strnlen)(s, max);
    ids_bytes_read += n < max ? n + 1 : n;
    return n;
}

static inline size_t ids_counted_strcspn(const char *s, const char *reject)
{
    size_t n = (strcspn)(s, reject);
    ids_bytes_read += n + 1;
    return n;
}

static inline char *ids_counted_strstr(const char *s, const char *needle)
{
    char *p = (strstr)(s, needle);
    ids_bytes_read += p ? (size_t)(p - s) + (strlen)(needle) : (strlen)(s) + 1;
    return p;
}

#define strlen(s)        ids_counted_strlen(s)
#define strnlen(s, m)    ids_counted_strnlen(s, m)
#define strcspn(s, r)    ids_counted_strcspn(s, r)
#define strstr(s, n)     ids_counted_strstr(s, n)

#endif /* IDS_COUNT_READS_H */
