/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/**
 * @file mod_idsession.h
 * @brief mod_idsession: a random session token on every request.
 *
 * Other modules reach the token through these optional functions:
 *
 *   APR_OPTIONAL_FN_TYPE(idsession_get_token) *get =
 *       APR_RETRIEVE_OPTIONAL_FN(idsession_get_token);
 *   const char *token = get ? get(r) : NULL;
 */

#ifndef MOD_IDSESSION_H
#define MOD_IDSESSION_H

#include "httpd.h"
#include "apr_optional.h"

#define IDSESSION_VERSION "0.3.0"

/**
 * The request's session token: the client's well-formed one, or a new one
 * (with its Set-Cookie) when there is none, also where IDSession is Off.
 * A token minted once the response has begun its body may never reach
 * the client: call it before the response starts.
 * @return the token, or NULL when the random source failed or the
 *         location's rules are stricter than those the request chain's
 *         token was read under.
 */
APR_DECLARE_OPTIONAL_FN(const char *, idsession_get_token, (request_rec *r));

/**
 * Replaces the session token for this response: mints a new one and makes
 * the response carry exactly one Set-Cookie with it, as the reset handler
 * does.  SESSION_TOKEN in r->notes becomes the new token, in the main
 * request too when r is a subrequest, and so does IDSessionHeader.  A
 * request that IDSessionResetFrom refuses (cross-site) is not reset, nor
 * one whose response has begun its body (r->sent_bodyct).
 * @return the new token, or NULL when the request was refused as
 *         cross-site (logged at info; answer 403), the response had begun
 *         its body (logged as IDS00024; nothing was reset or revoked),
 *         or the random source failed (answer 500).
 */
APR_DECLARE_OPTIONAL_FN(const char *, idsession_reset_token, (request_rec *r));

#endif /* MOD_IDSESSION_H */
