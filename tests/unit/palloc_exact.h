/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * Force-included (-include) when idsession_core.c is built for the unit
 * tests and the fuzzers.  APR pools carve allocations out of 8 KiB blocks,
 * so AddressSanitizer cannot see a write past the end of an apr_palloc()
 * buffer.  Here every apr_palloc() in the core becomes its own malloc() of
 * exactly the requested size, freed by a pool cleanup, so such an overrun
 * is reported at once.  Allocations made inside APR itself (apr_pstrcat,
 * apr_uri_parse, ...) are unchanged.
 */

#ifndef IDS_PALLOC_EXACT_H
#define IDS_PALLOC_EXACT_H

#include <stdlib.h>
#include "apr_pools.h"

static apr_status_t ids_exact_free(void *mem)
{
    free(mem);
    return APR_SUCCESS;
}

/* gcc takes the const void * of apr_pool_cleanup_register() for a read of
 * the fresh (uninitialised) block; it is only stored. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
static __attribute__((noinline, unused))
void *ids_exact_palloc(apr_pool_t *p, apr_size_t size)
{
    void *mem = malloc(size ? size : 1);

    if (mem == NULL) {
        abort();
    }
    apr_pool_cleanup_register(p, mem, ids_exact_free, apr_pool_cleanup_null);
    return mem;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define apr_palloc(p, size) ids_exact_palloc((p), (size))

#endif /* IDS_PALLOC_EXACT_H */
