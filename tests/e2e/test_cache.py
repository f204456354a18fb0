"""Cache safety: a response that carries the session Set-Cookie gets
`Cache-Control: private` merged with whatever the handler set (mod_headers, mod_expires, a
CGI), a hot-path response gets nothing added, the reset response says no-store; and with
mod_cache + mod_cache_disk in front, a Set-Cookie response is never replayed to another
client -- with and without `CacheIgnoreHeaders Set-Cookie`, with the quick handler on and
off.  The last group also pins down mod_cache's quick-handler caveat: a cache hit served by
the quick handler never reaches mod_idsession, so that client gets no cookie at all."""

import os

import pytest

from idshttpd import token, token_re

NAME = "_session"
TOK = token_re(32)

CONF = r"""
<Location /cc>
    IDSession On
</Location>
<Location /cc/hdr>
    Header set Cache-Control "public, max-age=60"
</Location>
<Location /cc/always>
    Header always set Cache-Control "public, max-age=60"
</Location>
<Location /cc/both>
    Header set Cache-Control "public, max-age=60"
    Header always set Cache-Control "s-maxage=10"
</Location>
<Location /cc/exp>
    ExpiresActive On
    ExpiresDefault "access plus 1 minute"
</Location>
<Location /cc/exppub>
    ExpiresActive On
    ExpiresDefault "access plus 1 minute"
    Header append Cache-Control "public"
</Location>
<Location /cc/nostore>
    Header set Cache-Control "no-store"
</Location>
<Location /cc/private>
    Header set Cache-Control "private, max-age=5"
</Location>
<Location /cc/two>
    Header set Cache-Control "public, max-age=60"
    Header add Cache-Control "s-maxage=30"
</Location>
<Location /cc/nocache-field>
    Header set Cache-Control "public, max-age=60, no-cache=\"X-Private-Note\""
</Location>
<Location /cc/reset>
    SetHandler idsession-reset
</Location>
"""

CGI_30 = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\nCache-Control: max-age=30\\r\\n\\r\\nx\\n'
"""
CGI_PUBLIC = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\nCache-Control: public, max-age=30\\r\\n\\r\\nx\\n'
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, modules=["expires"], cgi=True, start=False)
    for d in ("", "hdr", "always", "both", "exp", "exppub", "nostore", "private",
              "nocache-field", "two"):
        h.write("cc/%s/p.html" % d if d else "cc/p.html", "page\n")
    h.write_cgi("cc/c30.cgi", CGI_30)
    h.write_cgi("cc/cpub.cgi", CGI_PUBLIC)
    h.write_cgi("cc/hdr/c30.cgi", CGI_30)
    h.write_cgi("cc/exp/c30.cgi", CGI_30)
    return h.start()


def directives(line):
    """Directive names of one Cache-Control line, lower case, in order."""
    return [d.strip().split("=")[0].lower() for d in line.split(",") if d.strip()]


def cc_lines(r):
    return r.headers_named("cache-control")


def all_directives(r):
    return [d for line in cc_lines(r) for d in directives(line)]


def assert_private_merged(r, handler_lines):
    """The handler's directives are all still there, and every Cache-Control line says
    private, once: a cache that reads only one of several lines (or only the first) still
    sees it, and no line says public without private."""
    for line in handler_lines:
        for d in [x.strip() for x in line.split(",")]:
            assert any(d.lower() == x.strip().lower() for l in cc_lines(r)
                       for x in l.split(",")), (d, cc_lines(r))
    assert cc_lines(r), r.headers
    for line in cc_lines(r):
        assert directives(line).count("private") == 1, \
            "a Cache-Control line without private (or with it twice): %r" % cc_lines(r)


def minted(r):
    cs = r.set_cookies(NAME)
    assert len(cs) == 1, r.headers
    assert TOK.match(cs[0].value)
    return cs[0].value


# ---- Cache-Control on minted responses ------------------------------------------------------

MERGE_CASES = [
    # path, what the handler (or mod_headers/mod_expires) sets
    ("/cc/p.html", []),
    ("/cc/hdr/p.html", ["public, max-age=60"]),
    ("/cc/always/p.html", ["public, max-age=60"]),
    ("/cc/exp/p.html", ["max-age=60"]),
    ("/cc/exppub/p.html", ["max-age=60, public"]),
    ("/cc/c30.cgi", ["max-age=30"]),
    ("/cc/cpub.cgi", ["public, max-age=30"]),
    ("/cc/exp/c30.cgi", ["max-age=30", "max-age=60"]),
    # a CGI's headers land in err_headers_out, mod_headers' `set` in headers_out
    ("/cc/hdr/c30.cgi", ["max-age=30", "public, max-age=60"]),
    # `Header set` (headers_out) and `Header always set` (err_headers_out) together
    ("/cc/both/p.html", ["public, max-age=60", "s-maxage=10"]),
    ("/cc/two/p.html", ["public, max-age=60", "s-maxage=30"]),
    # "private" inside a field name is not the private directive
    ("/cc/nocache-field/p.html", ['public, max-age=60, no-cache="X-Private-Note"']),
]


@pytest.mark.parametrize("path,handler_lines", MERGE_CASES, ids=[c[0] for c in MERGE_CASES])
def test_minted_response_is_private(httpd, path, handler_lines):
    r = httpd.curl(path)
    assert r.status == 200
    minted(r)
    assert_private_merged(r, handler_lines)


@pytest.mark.parametrize("path,handler_lines", MERGE_CASES, ids=[c[0] for c in MERGE_CASES])
def test_hot_path_adds_nothing(httpd, path, handler_lines):
    r = httpd.curl(path, cookie_header="%s=%s" % (NAME, token(32)))
    assert r.status == 200
    assert not r.set_cookies(NAME)
    assert "private" not in all_directives(r), cc_lines(r)
    assert sorted(all_directives(r)) == sorted(d for l in handler_lines
                                                for d in directives(l))


def test_minted_plain_page_exactly_private(httpd):
    r = httpd.curl("/cc/p.html")
    minted(r)
    assert cc_lines(r) == ["private"]


def test_handler_no_store_left_alone(httpd):
    r = httpd.curl("/cc/nostore/p.html")
    minted(r)
    assert cc_lines(r) == ["no-store"]


def test_handler_private_not_doubled(httpd):
    r = httpd.curl("/cc/private/p.html")
    minted(r)
    assert cc_lines(r) == ["private, max-age=5"]


def test_minted_404_is_private(httpd):
    r = httpd.curl("/cc/no-such-page")
    assert r.status == 404
    minted(r)
    assert "private" in all_directives(r)


def test_hot_path_404_adds_nothing(httpd):
    r = httpd.curl("/cc/no-such-page", cookie_header="%s=%s" % (NAME, token(32)))
    assert r.status == 404
    assert not r.set_cookies(NAME)
    assert "private" not in all_directives(r)


@pytest.mark.parametrize("method,status", [("GET", 302), ("POST", 303), ("HEAD", 302)])
@pytest.mark.parametrize("cookie", [False, True], ids=["no-cookie", "valid-cookie"])
def test_reset_is_no_store_without_private(httpd, method, status, cookie):
    r = httpd.curl("/cc/reset", method=None if method == "GET" else method,
                   data="" if method == "POST" else None,
                   cookie_header="%s=%s" % (NAME, token(32)) if cookie else None)
    assert r.status == status
    minted(r)
    assert cc_lines(r) == ["no-store"]


# ---- mod_cache + mod_cache_disk in front -----------------------------------------------------

CACHE_CONF = r"""
CacheRoot "@ROOT@/cache"
CacheEnable disk /
CacheDirLevels 1
CacheDirLength 1
CacheHeader On
CacheDetailHeader On
CacheQuickHandler %(quick)s
%(ignore)s
IDSession On
<Location /pub>
    Header set Cache-Control "public, max-age=60"
</Location>
<Location /reset>
    SetHandler idsession-reset
</Location>
<Location /app>
    IDSessionAppReset On
</Location>
# A static page that asks for rotation: the default handler sends the file and the end of
# the response in one brigade, so mod_cache commits the entity before any later filter.
<Location /appstatic>
    IDSessionAppReset On
    Header always set IDSession-Reset 1
    Header set Cache-Control "public, max-age=60"
</Location>
"""

# A login page that rotates the session (IDSession-Reset: 1), shows the new token and
# -- wrongly -- says it may be cached by anyone.
CGI_APP_RESET_PUBLIC = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\nCache-Control: public, max-age=60\\r\\n'
printf 'IDSession-Reset: 1\\r\\n\\r\\n'
printf 'next=%s\\n' "${SESSION_TOKEN_NEXT-<unset>}"
"""

# The same request for rotation where IDSessionAppReset is not On: the module drops the
# header (IDS00004) and rotates nothing.
CGI_NOAPP_RESET_PUBLIC = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\nCache-Control: public, max-age=60\\r\\n'
printf 'IDSession-Reset: 1\\r\\n\\r\\nno rotation here\\n'
"""

# A CGI whose page shows the token and says it may be cached by anyone (an application
# mistake mod_idsession cannot undo for a hot-path response, but must for a minted one).
CGI_TOKEN_PUBLIC = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\nCache-Control: public, max-age=60\\r\\n\\r\\n'
printf 'token=%s\\n' "${SESSION_TOKEN-<unset>}"
"""

VARIANTS = [
    {"quick": "On", "ignore": "CacheIgnoreHeaders Set-Cookie"},
    {"quick": "On", "ignore": ""},
    {"quick": "Off", "ignore": "CacheIgnoreHeaders Set-Cookie"},
    {"quick": "Off", "ignore": ""},
]

PAGES = 12      # pages per kind, so that every test has URLs no other test touched


@pytest.fixture(scope="module", params=VARIANTS,
                ids=["quick-ignore", "quick-store", "noquick-ignore", "noquick-store"])
def cached(request, httpd_module_factory):
    v = request.param
    h = httpd_module_factory(conf=CACHE_CONF % v, modules=["cache", "cache_disk"], cgi=True,
                             start=False, name="cache")
    os.makedirs(h.root / "cache")
    os.chmod(h.root / "cache", 0o777)
    for i in range(PAGES):
        # An old Last-Modified makes a plain file heuristically fresh for mod_cache.
        p = h.write("old/%d.html" % i, "old page %d\n" % i)
        os.utime(p, (1.5e9, 1.5e9))
        h.write("pub/%d.html" % i, "public page %d\n" % i)
        h.write_cgi("pub/%d.cgi" % i, CGI_TOKEN_PUBLIC)
        h.write_cgi("app/%d.cgi" % i, CGI_APP_RESET_PUBLIC)
        h.write("appstatic/%d.html" % i, "rotating page %d\n" % i)
        p = h.write("dir/%d/index.html" % i, "directory page %d\n" % i)
        os.utime(p, (1.5e9, 1.5e9))
        h.write_cgi("noapp/%d.cgi" % i, CGI_NOAPP_RESET_PUBLIC)
    h.quick = v["quick"] == "On"
    h.ignore = bool(v["ignore"])
    h.next_page = {}
    return h.start()


def page(h, kind):
    """A URL of this kind that no earlier test requested."""
    i = h.next_page.get(kind, 0)
    assert i < PAGES
    h.next_page[kind] = i + 1
    return {"old": "/old/%d.html", "pub": "/pub/%d.html", "cgi": "/pub/%d.cgi",
            "app": "/app/%d.cgi", "appstatic": "/appstatic/%d.html", "dir": "/dir/%d/",
            "noapp": "/noapp/%d.cgi"}[kind] % i


def x_cache(r):
    return r.header("X-Cache") or ""


def leaked(r, tok):
    """Where tok shows in r (headers or body), for the failure message."""
    where = [k for k, v in r.headers if tok in v]
    if tok in r.body:
        where.append("body")
    return where


@pytest.mark.parametrize("kind", ["old", "pub", "cgi"])
def test_minted_response_never_replayed(cached, kind):
    """Client 1 gets a fresh token; clients 2 and 3 (no cookie) must each get their own,
    and client 1's token must appear nowhere in their responses."""
    url = page(cached, kind)
    r1 = cached.curl(url)
    assert r1.status == 200
    t1 = minted(r1)
    seen = {t1}
    for _ in range(2):
        r = cached.curl(url)
        assert r.status == 200
        assert not leaked(r, t1), "client 1's token replayed to another client in %s: %r" % (
            leaked(r, t1), r)
        assert len(r.set_cookies(NAME)) == 1, \
            "a client without a cookie got no token of its own: %r" % r
        t = minted(r)
        assert t not in seen
        seen.add(t)


def test_minted_directory_index_never_replayed(cached):
    """The same for a directory: mod_dir's fast redirect to index.html gives the response
    the no_cache of its subrequest, which never minted; the module marks it again."""
    url = page(cached, "dir")
    r1 = cached.curl(url)
    assert r1.status == 200 and r1.body.startswith("directory page")
    t1 = minted(r1)
    for _ in range(2):
        r = cached.curl(url)
        assert r.status == 200
        assert not leaked(r, t1), "client 1's token replayed in %s: %r" % (leaked(r, t1), r)
        assert len(r.set_cookies(NAME)) == 1, r


def test_app_header_never_replayed_where_app_reset_is_off(cached):
    """IDSession-Reset where IDSessionAppReset is not On, on a response the application
    calls public: the module drops the header after mod_cache's save filter saw it, and
    marks the response so that the cache does not keep it (and serve the header later)."""
    cached.expect_log(r"IDS00004")
    url = page(cached, "noapp")
    for _ in range(3):
        r = cached.curl(url, cookie_header="%s=%s" % (NAME, token(32)))
        assert r.status == 200 and r.body == "no rotation here\n", r
        assert r.header("IDSession-Reset") is None, r
        assert "HIT" not in x_cache(r), r


def test_set_cookie_response_not_stored(cached):
    """The cache says why it did not store a minted response (CacheDetailHeader)."""
    url = page(cached, "old")
    r1 = cached.curl(url)
    minted(r1)
    detail = r1.header("X-Cache-Detail") or ""
    assert "attempting entity save" not in detail, detail
    r2 = cached.curl(url)
    assert "HIT" not in x_cache(r2), (r1, r2)


def test_hot_path_response_is_cached(cached):
    """A response without a Set-Cookie (valid cookie sent) may be stored: it is not the
    module's to forbid.  A second client with its own cookie is served from the cache."""
    url = page(cached, "old")
    r1 = cached.curl(url, cookie_header="%s=%s" % (NAME, token(32)))
    assert r1.status == 200 and not r1.set_cookies(NAME)
    r2 = cached.curl(url, cookie_header="%s=%s" % (NAME, token(32)))
    assert r2.status == 200 and not r2.set_cookies(NAME)
    assert "HIT" in x_cache(r2), r2


def test_quick_handler_caveat(cached):
    """After a hot-path response was cached, a client WITHOUT a cookie:
    - CacheQuickHandler On: served by the quick handler before any fixups, so
      mod_idsession never runs -- no Set-Cookie, no token (documented caveat);
    - CacheQuickHandler Off: the cache serves the body from its handler, after our fixups,
      so the client gets its own fresh token with Cache-Control: private.
    Either way the first client's token never shows."""
    url = page(cached, "old")
    t0 = token(32)
    r1 = cached.curl(url, cookie_header="%s=%s" % (NAME, t0))
    assert not r1.set_cookies(NAME)
    r2 = cached.curl(url)
    assert r2.status == 200
    assert "HIT" in x_cache(r2), r2
    assert not leaked(r2, t0)
    if cached.quick:
        assert r2.set_cookies(NAME) == [], r2
        assert "private" not in all_directives(r2)
    else:
        minted(r2)
        assert "private" in all_directives(r2)


def test_quick_handler_caveat_cgi_body(cached):
    """The same for a CGI page that prints the token and calls itself public: with the
    quick handler, the cached hot-path page (and the first client's token in it) goes to
    the next client -- an application mistake the module cannot see.  Documented so that
    pages showing the token are never marked public."""
    url = page(cached, "cgi")
    t0 = token(32)
    r1 = cached.curl(url, cookie_header="%s=%s" % (NAME, t0))
    assert r1.body == "token=%s\n" % t0
    r2 = cached.curl(url)
    assert "HIT" in x_cache(r2), r2
    assert r2.body == r1.body          # the cache replays the body, token and all
    if cached.quick:
        assert r2.set_cookies(NAME) == []
    else:
        assert minted(r2) != t0


def test_reset_never_cached(cached):
    toks = set()
    for _ in range(3):
        r = cached.curl("/reset")
        assert r.status == 302
        toks.add(minted(r))
        assert "HIT" not in x_cache(r)
    assert len(toks) == 3


def test_app_rotation_response_never_replayed(cached):
    """A rotation the application asks for happens in the module's output filter, after
    mod_cache's save filter has seen the headers.  The rotated response must still not be
    replayed: the next client (with a cookie of its own) must see neither the first
    client's new token nor the internal IDSession-Reset header."""
    url = page(cached, "app")
    r1 = cached.curl(url, cookie_header="%s=%s" % (NAME, token(32)))
    assert r1.status == 200
    new = minted(r1)
    assert r1.body == "next=%s\n" % new
    assert r1.header("IDSession-Reset") is None
    for _ in range(2):
        r = cached.curl(url, cookie_header="%s=%s" % (NAME, token(32)))
        assert r.status == 200
        assert not leaked(r, new), "rotated token replayed in %s: %r" % (leaked(r, new), r)
        assert r.header("IDSession-Reset") is None, r


def test_app_rotation_of_a_static_page_never_stored(cached):
    """The same for a static page, whose file and end reach mod_cache in one brigade: the
    module marks the rotated response r->no_cache after mod_cache's save filter has seen
    its headers, and mod_cache_disk checks that mark again before it commits the body, so
    nothing is stored and every client gets its own rotation."""
    url = page(cached, "appstatic")
    seen = set()
    for _ in range(3):
        r = cached.curl(url, cookie_header="%s=%s" % (NAME, token(32)))
        assert r.status == 200 and r.body.startswith("rotating page")
        assert "HIT" not in x_cache(r), r
        assert r.header("IDSession-Reset") is None, r
        t = minted(r)
        assert t not in seen
        seen.add(t)
