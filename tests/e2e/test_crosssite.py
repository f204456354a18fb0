"""Cross-site requests, with curl (test_browser.py does the same with Chromium):

0. A cookie the browser withheld is never overwritten: a request without a valid session
   cookie whose Fetch Metadata (`Sec-Fetch-Site: cross-site`, and for SameSite Lax --
   also the default and `Off` -- anything but a top-level GET/HEAD navigation) says the
   browser may hold one gets a token (SESSION_TOKEN_NEW=1, SESSION_COOKIE_WITHHELD=1) but
   no Set-Cookie, and so no Cache-Control: private; the application's rotation
   (IDSession-Reset: 1) still sends its cookie.
1. `IDSessionResetFrom same-origin|same-site|any` for the reset handler and the C API's
   idsession_reset_token(): Sec-Fetch-Site, else Origin against the request's own origin;
   a refused reset is a 403 (no-store) without any Set-Cookie, the session unchanged.
2. Cookie attributes: `IDSessionCookiePartitioned`, the `__Http-` and `__Host-Http-`
   name prefixes, and `Header always edit Set-Cookie` reaching the module's cookie on
   every path (mint, reset handler, application rotation, error responses).

Servers: `httpd` (plain http; only directives the module had before the cross-site rules, so that the
behaviour tests also run against an older build) and `newconf` (http + TLS, the new
directives)."""

import hashlib
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from ecosystem import TESTMOD, TESTMOD_LOAD, need
from idshttpd import (CURL, REQ_TIMEOUT, UNSET, Response, cache_control, parse_head, token,
                      token_re)

TOK = token_re(32)
NAME = "_session"

# What the module exported, and what the request looked like (KEY=VALUE lines).
XS_VARS = ["SESSION_TOKEN", "SESSION_TOKEN_NEW", "SESSION_COOKIE_WITHHELD",
           "SESSION_STORE_KEY", "SESSION_LOG_ID", "SESSION_TOKEN_NEXT",
           "REDIRECT_SESSION_COOKIE_WITHHELD", "HTTP_COOKIE", "HTTP_SEC_FETCH_SITE",
           "HTTP_SEC_FETCH_MODE", "REQUEST_METHOD"]

XS_ENV_CGI = """#!/bin/sh
[ "$REQUEST_METHOD" = POST ] && cat >/dev/null
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in @VARS@; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
""".replace("@VARS@", " ".join(XS_VARS))

# The application asks for rotation (IDSession-Reset: 1); ?status=500 answers 500.
APP_CGI = """#!/bin/sh
[ "$REQUEST_METHOD" = POST ] && cat >/dev/null
case "$QUERY_STRING" in *status=500*) printf 'Status: 500 Internal Server Error\\r\\n';; esac
printf 'IDSession-Reset: 1\\r\\nContent-Type: text/plain\\r\\n\\r\\n'
for v in @VARS@; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
""".replace("@VARS@", " ".join(XS_VARS))

EDIT = r'Header always edit Set-Cookie "^(_session=.*)$" "$1; X-Edited"'

# Only directives that predate the cross-site rules.
CONF = TESTMOD_LOAD + r"""
<Location /s>
    IDSession On
</Location>
<Location /s/reset>
    SetHandler idsession-reset
</Location>
<Location /lax>
    IDSession On
    IDSessionCookieSameSite Lax
</Location>
<Location /strict>
    IDSession On
    IDSessionCookieSameSite Strict
</Location>
<Location /none>
    IDSession On
    IDSessionCookieSameSite None
</Location>
<Location /ssoff>
    IDSession On
    IDSessionCookieSameSite Off
</Location>
<Location /ar>
    IDSession On
    IDSessionAppReset On
</Location>
<Location /api>
    IDSession On
    SetHandler idsession-test
</Location>
<Location /ed>
    IDSession On
    IDSessionAppReset On
    @EDIT@
</Location>
<Location /ed/reset>
    SetHandler idsession-reset
</Location>
""".replace("@EDIT@", EDIT)

# name prefixes: (location, cookie name, extra directives)
PREFIXES = {
    "http": ("__Http-session", ""),
    "http-path": ("__Http-session", "IDSessionCookiePath /http-path"),
    "http-upper": ("__HTTP-session", ""),
    "hosthttp": ("__Host-Http-session", ""),
    "hosthttp-lower": ("__host-http-session", ""),
    "host-nohttponly": ("__Host-session", "IDSessionCookieHttpOnly Off"),
}
for _loc, (_name, _extra) in PREFIXES.items():
    CONF += "<Location /%s>\n    IDSession On\n    IDSessionCookieName %s\n    %s\n</Location>\n" \
        % (_loc, _name, _extra)

NEWCONF = r"""
<Location /b>
    IDSession On
</Location>
<Location /b/reset-origin>
    SetHandler idsession-reset
    IDSessionResetFrom same-origin
</Location>
<Location /b/reset-site>
    SetHandler idsession-reset
    IDSessionResetFrom same-site
</Location>
<Location /b/reset-any>
    SetHandler idsession-reset
    IDSessionResetFrom any
</Location>
<Location /b/any-inherited>
    IDSessionResetFrom any
</Location>
<Location /b/any-inherited/reset>
    SetHandler idsession-reset
</Location>
<Location /b/any-overridden>
    IDSessionResetFrom any
</Location>
<Location /b/any-overridden/reset>
    SetHandler idsession-reset
    IDSessionResetFrom same-origin
</Location>
<Location /part>
    IDSession On
    IDSessionCookiePartitioned On
</Location>
<Location /part/off>
    IDSessionCookiePartitioned Off
</Location>
<Location /part-secure>
    IDSession On
    IDSessionCookiePartitioned On
    IDSessionCookieSecure On
</Location>
<Location /part-none>
    IDSession On
    IDSessionCookiePartitioned On
    IDSessionCookieSameSite None
</Location>
<Location /part-host>
    IDSession On
    IDSessionCookieName __Host-p
    IDSessionCookiePartitioned On
</Location>
<Location /part-secpfx>
    IDSession On
    IDSessionCookieName __Secure-p
    IDSessionCookiePartitioned On
</Location>
<Location /part-offdef>
    IDSession On
    IDSessionCookiePartitioned Off
    IDSessionCookieSecure On
</Location>
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    need(TESTMOD, "run `make` for tests/mod/.libs/mod_idsession_test.so")
    h = httpd_module_factory(conf=CONF, cgi=True, start=False, name="xs")
    for loc in ("s", "lax", "strict", "none", "ssoff", "ar", "ed") + tuple(PREFIXES):
        h.write(loc + "/index.html", loc + "\n")
        h.write_cgi(loc + "/env.cgi", XS_ENV_CGI)
    h.write_cgi("ar/app.cgi", APP_CGI)
    h.write_cgi("ed/app.cgi", APP_CGI)
    return h.start()


@pytest.fixture(scope="module")
def newconf(httpd_module_factory):
    h = httpd_module_factory(conf=NEWCONF, cgi=True, tls=True, start=False, name="xsnew")
    for loc in ("b", "part", "part/off", "part-secure", "part-none", "part-host",
                "part-secpfx", "part-offdef"):
        h.write(loc + "/index.html", loc + "\n")
    h.write_cgi("b/env.cgi", XS_ENV_CGI)
    return h.start()


# ---- helpers ------------------------------------------------------------------------------

def fetch(site="cross-site", mode=None, dest=None):
    """Fetch Metadata request headers as a browser sends them."""
    out = ["Sec-Fetch-Site: " + site]
    if mode:
        out.append("Sec-Fetch-Mode: " + mode)
    if dest:
        out.append("Sec-Fetch-Dest: " + dest)
    return out


# (method, Fetch Metadata) of the requests a page of another site can make
KINDS = {
    "nav-get": ("GET", fetch(mode="navigate", dest="document") + ["Sec-Fetch-User: ?1"]),
    "nav-head": ("HEAD", fetch(mode="navigate", dest="document")),
    "nav-post": ("POST", fetch(mode="navigate", dest="document")),
    "img": ("GET", fetch(mode="no-cors", dest="image")),
    # an iframe's navigation is a navigation, but not a top-level one
    "iframe-get": ("GET", fetch(mode="navigate", dest="iframe")),
    "fetch-post": ("POST", fetch(mode="cors", dest="empty")),
    "no-mode-get": ("GET", fetch()),
}

# Which kinds SameSite keeps the cookie from: Lax (explicit, default, Off) lets only
# top-level GET/HEAD navigations carry it; Strict none; None all.
LAX_WITHHELD = {"nav-post", "img", "iframe-get", "fetch-post", "no-mode-get"}
WITHHELD = {
    "lax": LAX_WITHHELD,
    "s": LAX_WITHHELD,           # no IDSessionCookieSameSite: Lax
    "ssoff": LAX_WITHHELD,       # no SameSite attribute: browsers apply Lax
    "strict": set(KINDS),
    "none": set(),
}


def request(h, path, kind, cookie=None, **kw):
    method, headers = KINDS[kind]
    if method == "HEAD":
        path = path.replace("env.cgi", "index.html")
    return h.curl(path, method=method, headers=headers, cookie_header=cookie,
                  data="x=1" if method == "POST" else None, **kw)


def raw_set_cookies(r):
    """The Set-Cookie lines of the raw response head, exactly as sent."""
    return [l.split(b":", 1)[1].strip().decode("latin-1")
            for l in re.split(rb"\r?\n", r.raw_head) if l.lower().startswith(b"set-cookie:")]


def last_log(h, regex):
    """The last line since the test began that matches regex (the module logs before it
    answers, so that is the line of the request just made)."""
    h.wait_log(regex)
    return [l for l in h.log_lines() if re.search(regex, l)][-1]


def value_of(set_cookie):
    return set_cookie.split(";")[0].split("=", 1)[1]


def assert_withheld(r, expect_env=True):
    """A response for a request the module minted a token for without sending it."""
    assert r.status == 200, r
    assert r.headers_named("set-cookie") == [], r.headers
    assert "private" not in cache_control(r), r.headers
    if expect_env:
        env = r.env()
        assert TOK.match(env["SESSION_TOKEN"]), env
        assert env["SESSION_TOKEN_NEW"] == "1"
        assert env["SESSION_COOKIE_WITHHELD"] == "1"
        return env
    return None


def assert_sent(r, expect_env=True):
    """A response that sets the minted token as before the cross-site rules."""
    assert r.status == 200, r
    assert len(r.headers_named("set-cookie")) == 1, r.headers
    [c] = r.set_cookies(NAME)
    assert TOK.match(c.value)
    assert "private" in cache_control(r)
    if expect_env:
        env = r.env()
        assert env["SESSION_TOKEN"] == c.value and env["SESSION_TOKEN_NEW"] == "1"
        assert env["SESSION_COOKIE_WITHHELD"] == UNSET
    return c


def curl_next(h, requests):
    """Several requests on one connection (curl --next): each a dict with path, headers,
    method, data; returns the Responses in order."""
    tmp = Path(tempfile.mkdtemp(prefix="curl-next-", dir=h.root))
    args = [CURL]
    for i, req in enumerate(requests):
        if i:
            args.append("--next")
        args += ["-s", "-D", str(tmp / ("h%d" % i)), "-o", str(tmp / ("b%d" % i))]
        if req.get("method"):
            args += ["-X", req["method"]]
        if req.get("data") is not None:
            args += ["--data-binary", req["data"]]
        for hd in req.get("headers", ()):
            args += ["-H", hd]
        args.append(h.url(req["path"]))
    p = subprocess.run(args + ["-v"], capture_output=True, timeout=REQ_TIMEOUT + 10)
    assert p.returncode == 0, p.stderr
    assert b"Re-using existing connection" in p.stderr     # one connection
    out = []
    for i in range(len(requests)):
        head = (tmp / ("h%d" % i)).read_bytes()
        status, headers, sl = parse_head(head)
        out.append(Response(status, headers, (tmp / ("b%d" % i)).read_bytes(), sl, head))
    return out


# ---- 0. a withheld cookie is not overwritten ------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("loc", list(WITHHELD))
def test_cross_site_without_cookie(httpd, loc, kind):
    """The SameSite x request-kind matrix: withheld where the browser would have kept a
    cookie back, a Set-Cookie as before where it would have sent it."""
    r = request(httpd, "/%s/env.cgi" % loc, kind)
    head = kind == "nav-head"
    if kind in WITHHELD[loc]:
        assert_withheld(r, expect_env=not head)
    else:
        assert_sent(r, expect_env=not head)


@pytest.mark.parametrize("site", ["same-origin", "same-site", "none"])
@pytest.mark.parametrize("loc", ["strict", "s"])
def test_not_cross_site_sets_cookie(httpd, loc, site):
    """SameSite sends the cookie on every request that is not cross-site."""
    r = httpd.curl("/%s/env.cgi" % loc, method="POST", data="x=1",
                   headers=fetch(site, mode="cors", dest="empty"))
    assert_sent(r)


def test_without_fetch_metadata_sets_cookie(httpd):
    """curl, scripts and old browsers send no Sec-Fetch-Site: as before the cross-site rules."""
    for path in ("/strict/env.cgi", "/s/env.cgi"):
        assert_sent(httpd.curl(path, method="POST", data="x=1"))


def test_plain_http_cross_site_post_by_origin_is_withheld(httpd):
    """Browsers send Fetch Metadata to HTTPS sites only; over plain HTTP a cross-site
    form POST still carries Origin, which the module then reads."""
    own = "http://127.0.0.1:%d" % httpd.port
    for path in ("/strict/env.cgi", "/s/env.cgi"):
        assert_withheld(httpd.curl(path, method="POST", data="x=1",
                                   headers=["Origin: http://evil.example"]))
        assert_withheld(httpd.curl(path, method="POST", data="x=1", headers=["Origin: null"]))
        assert_sent(httpd.curl(path, method="POST", data="x=1", headers=["Origin: " + own]))
        # a GET is a navigation the Lax cookie goes with, or a request we cannot judge
        assert_sent(httpd.curl(path, headers=["Origin: http://evil.example"]))


def test_plain_http_cross_site_link_by_referer_is_withheld_under_strict(httpd):
    """A link from another site over plain HTTP carries no Fetch Metadata and no Origin,
    but that site's Referer, and the browser keeps a Strict cookie back from it: a
    Set-Cookie would end the session the browser holds.  A Lax cookie goes with a link."""
    own = "http://127.0.0.1:%d/" % httpd.port
    for ref in ("http://evil.example/page", "https://127.0.0.1/", "null"):
        assert_withheld(httpd.curl("/strict/env.cgi", headers=["Referer: " + ref]))
        assert_sent(httpd.curl("/s/env.cgi", headers=["Referer: " + ref]))
    assert_sent(httpd.curl("/strict/env.cgi", headers=["Referer: " + own + "x"]))
    assert_sent(httpd.curl("/strict/env.cgi"))      # no Referer: cannot be told apart


def test_withheld_token_is_a_whole_session(httpd):
    """The request still gets a fresh, complete token: store key and log id match it."""
    env = assert_withheld(request(httpd, "/s/env.cgi", "nav-post"))
    tok = env["SESSION_TOKEN"]
    assert env["SESSION_STORE_KEY"] == hashlib.sha256(tok.encode()).hexdigest()
    assert env["SESSION_LOG_ID"] == env["SESSION_STORE_KEY"][:16]
    assert env["SESSION_TOKEN_NEXT"] == UNSET
    # and each such request its own
    assert request(httpd, "/s/env.cgi", "nav-post").env()["SESSION_TOKEN"] != tok
    assert "no Set-Cookie for the new token" in httpd.wait_log(r"may have withheld")


@pytest.mark.parametrize("loc", ["s", "strict", "none"])
@pytest.mark.parametrize("kind", ["nav-post", "img", "nav-get"])
def test_request_with_cookie_unaffected(httpd, loc, kind):
    t = token()
    r = request(httpd, "/%s/env.cgi" % loc, kind, cookie="%s=%s" % (NAME, t))
    assert r.status == 200 and r.headers_named("set-cookie") == []
    assert cache_control(r) == ""
    env = r.env()
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"], env["SESSION_COOKIE_WITHHELD"]) \
        == (t, UNSET, UNSET)


@pytest.mark.parametrize("cookie", ["_session=not-a-token", "_session=", "other=1"])
def test_invalid_cookie_counts_as_none(httpd, cookie):
    """No *valid* session cookie: a malformed one (or another cookie) is no session, and
    the browser may still hold the real one."""
    env = assert_withheld(request(httpd, "/s/env.cgi", "nav-post", cookie=cookie))
    assert env["HTTP_COOKIE"] == cookie


def test_app_rotation_in_withheld_request_sends_cookie(httpd):
    """The login-callback case: a cross-site POST (an identity provider's form) without
    the cookie, whose application rotates: the rotated cookie is sent."""
    r = request(httpd, "/ar/app.cgi", "nav-post")
    assert r.status == 200
    env = r.env()
    assert env["SESSION_COOKIE_WITHHELD"] == "1"        # what the application saw
    assert TOK.match(env["SESSION_TOKEN_NEXT"])
    assert len(r.headers_named("set-cookie")) == 1, r.headers
    [c] = r.set_cookies(NAME)
    assert c.value == env["SESSION_TOKEN_NEXT"] != env["SESSION_TOKEN"]
    assert "private" in cache_control(r)
    assert r.header("IDSession-Reset") is None


def test_withheld_request_without_rotation_in_appreset_location(httpd):
    """IDSessionAppReset On offers a next token; not asking for it sends nothing."""
    env = assert_withheld(request(httpd, "/ar/env.cgi", "nav-post"))
    assert TOK.match(env["SESSION_TOKEN_NEXT"])


def test_withheld_only_on_the_minting_request(httpd):
    """The next request that carries the token is an ordinary one (no WITHHELD, no NEW),
    cross-site or not."""
    tok = assert_withheld(request(httpd, "/s/env.cgi", "nav-post"))["SESSION_TOKEN"]
    for kind in ("nav-post", "img"):
        env = request(httpd, "/s/env.cgi", kind, cookie="%s=%s" % (NAME, tok)).env()
        assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"],
                env["SESSION_COOKIE_WITHHELD"]) == (tok, UNSET, UNSET)


def test_withheld_state_stays_with_its_request_on_a_connection(httpd):
    """Keep-alive: the state belongs to the request, not the connection."""
    post = {"path": "/s/env.cgi", "method": "POST", "data": "x=1",
            "headers": KINDS["nav-post"][1]}
    plain = {"path": "/s/env.cgi"}
    r1, r2, r3 = curl_next(httpd, [post, plain, post])
    assert_withheld(r1)
    c = assert_sent(r2)
    assert c.value != r1.env()["SESSION_TOKEN"]
    assert_withheld(r3)


def test_withheld_with_the_c_api(httpd):
    """idsession_get_token() in a withheld request: the token, no Set-Cookie."""
    r = request(httpd, "/api", "nav-post")
    assert r.status == 200 and r.headers_named("set-cookie") == []
    assert "private" not in cache_control(r)
    b = dict(l.partition("=")[::2] for l in r.body.splitlines())
    assert TOK.match(b["token"]) and b["new"] == "1"


# ---- 1. IDSessionResetFrom --------------------------------------------------------------------

def assert_reset(r, old=None, status=302):
    assert r.status == status, r
    assert len(r.headers_named("set-cookie")) == 1, r.headers
    [c] = r.set_cookies(NAME)
    assert TOK.match(c.value) and c.value != old
    assert "no-store" in cache_control(r)
    return c


def assert_refused(h, r, old=None, loc="/s"):
    """403, no-store, no Set-Cookie at all; the old session still works."""
    assert r.status == 403, r
    assert raw_set_cookies(r) == [], r.headers
    assert cache_control(r) == "no-store", r.headers
    line = last_log(h, r"session reset refused as cross-site")
    assert "[idsession:info]" in line and "IDSessionResetFrom" in line
    if old:
        env = h.curl(loc + "/env.cgi", cookie_header="%s=%s" % (NAME, old)).env()
        assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (old, UNSET)
    return line


def test_reset_without_fetch_metadata_or_origin(httpd):
    """curl: as before the cross-site rules, GET 302 and POST 303 with a new cookie."""
    t = token()
    assert_reset(httpd.curl("/s/reset", cookie_header="_session=" + t), t)
    assert_reset(httpd.curl("/s/reset", method="POST", data="a=1",
                            cookie_header="_session=" + t), t, status=303)
    assert_reset(httpd.curl("/s/reset"))


def test_reset_by_referer_without_fetch_metadata_or_origin(httpd):
    """Over plain HTTP a cross-site link carries neither Sec-Fetch-Site nor Origin, but
    usually a Referer: a foreign one is refused, our own resets."""
    t = token()
    r = httpd.curl("/s/reset", cookie_header="_session=" + t,
                   headers=["Referer: http://evil.example/page"])
    line = assert_refused(httpd, r, t)
    assert "Referer: http://evil.example/page is not this origin" in line, line
    own = "http://127.0.0.1:%d/s/page" % httpd.port
    assert_reset(httpd.curl("/s/reset", cookie_header="_session=" + t,
                            headers=["Referer: " + own]), t)


@pytest.mark.parametrize("site,ok", [("same-origin", True), ("none", True),
                                     ("same-site", False), ("cross-site", False),
                                     ("bogus", False)])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_reset_default_same_origin_by_fetch_metadata(httpd, site, ok, method):
    t = token()
    r = httpd.curl("/s/reset", method=method, data="a=1" if method == "POST" else None,
                   cookie_header="_session=" + t, headers=fetch(site, mode="navigate"))
    if ok:
        assert_reset(r, t, status=302 if method == "GET" else 303)
    else:
        line = assert_refused(httpd, r, t)
        assert "Sec-Fetch-Site: %s" % site in line


def origin_cases(h):
    own = "http://127.0.0.1:%d" % h.port
    return {
        own: True,
        own + "/": True,                       # a path is not part of the comparison
        "HTTP://127.0.0.1:%d" % h.port: True,  # scheme and host compare without case
        "http://127.0.0.1:%d" % (h.port + 1): False,
        "http://127.0.0.1": False,             # port 80
        "https://127.0.0.1:%d" % h.port: False,
        "http://127.0.0.2:%d" % h.port: False,
        "http://localhost:%d" % h.port: False,
        "http://evil.example": False,
        "null": False,                         # an opaque origin: cross-site
        "garbage": False,                      # unparsable: refused
        "http://": False,
        "http://127.0.0.1:%dx" % h.port: False,
    }


def test_reset_default_same_origin_by_origin(httpd):
    for origin, ok in origin_cases(httpd).items():
        t = token()
        r = httpd.curl("/s/reset", method="POST", data="a=1", cookie_header="_session=" + t,
                       headers=["Origin: " + origin])
        if ok:
            assert_reset(r, t, status=303)
        else:
            line = assert_refused(httpd, r, t)
            assert "Origin: " + origin in line, (origin, line)


def test_reset_empty_origin_refused(httpd):
    """`Origin:` with an empty value (curl cannot send one) is unparsable."""
    t = token()
    r = httpd.get_raw("/s/reset", [b"Origin: ", b"Cookie: _session=" + t.encode()])
    assert_refused(httpd, r, t)


def test_reset_origin_against_the_port_httpd_sees(httpd):
    """Without a port in Host, httpd's own origin has port 80: an Origin naming the port
    the connection really went to is another origin."""
    # get_raw sends `Host: 127.0.0.1`
    r = httpd.get_raw("/s/reset", [b"Origin: http://127.0.0.1"])
    assert r.status == 302 and len(r.set_cookies(NAME)) == 1
    r = httpd.get_raw("/s/reset", [b"Origin: http://127.0.0.1:%d" % httpd.port])
    assert_refused(httpd, r)


def test_reset_same_origin_ipv6_literal(httpd):
    """A site served at http://[::1]:P: its own Origin must be same-origin."""
    r = httpd.curl("/s/reset", headers=["Host: [::1]:%d" % httpd.port,
                                        "Origin: http://[::1]:%d" % httpd.port])
    assert r.status == 302, r


def test_fetch_metadata_wins_over_origin(httpd):
    t = token()
    r = httpd.curl("/s/reset", cookie_header="_session=" + t,
                   headers=fetch("same-origin") + ["Origin: http://evil.example"])
    assert_reset(r, t)
    r = httpd.curl("/s/reset", cookie_header="_session=" + t,
                   headers=fetch("cross-site") + ["Origin: http://127.0.0.1:%d" % httpd.port])
    assert_refused(httpd, r, t)


@pytest.mark.parametrize("how", ["nav-get", "origin-get", "origin-post"])
def test_refused_reset_drops_the_minted_cookie(httpd, how):
    """Without a cookie the fixups minted one (a navigation GET is not withheld; Origin
    alone says nothing about SameSite); the refusal sends none of it."""
    if how == "nav-get":
        r = request(httpd, "/s/reset", "nav-get")
    else:
        r = httpd.curl("/s/reset", method="POST" if how == "origin-post" else None,
                       data="a=1" if how == "origin-post" else None,
                       headers=["Origin: http://evil.example"])
    assert_refused(httpd, r)
    assert "private" not in cache_control(r)


def test_refused_reset_in_withheld_request(httpd):
    """A cross-site form POST without the cookie: withheld and refused, nothing sent."""
    assert_refused(httpd, request(httpd, "/s/reset", "nav-post"))


# reset location -> which Sec-Fetch-Site values may reset
ALLOWED = {
    "/b/reset-origin": {"same-origin", "none"},
    "/b/reset-site": {"same-origin", "none", "same-site"},
    "/b/reset-any": {"same-origin", "none", "same-site", "cross-site"},
    "/b/any-inherited/reset": {"same-origin", "none", "same-site", "cross-site"},
    "/b/any-overridden/reset": {"same-origin", "none"},
}


@pytest.mark.parametrize("site", ["same-origin", "none", "same-site", "cross-site"])
@pytest.mark.parametrize("loc", list(ALLOWED))
def test_reset_from_matrix(newconf, loc, site):
    t = token()
    r = newconf.curl(loc, cookie_header="_session=" + t, headers=fetch(site, mode="navigate"))
    if site in ALLOWED[loc]:
        assert_reset(r, t)
    else:
        assert_refused(newconf, r, t, loc="/b")


@pytest.mark.parametrize("host,origin,ok", [
    ("www.example.com", "http://app.example.com", True),
    ("www.example.com", "http://example.com:8080", True),      # ports do not count
    ("www.example.com", "http://a.b.example.com", True),
    ("example.com", "http://www.example.com", True),
    ("www.example.com", "https://app.example.com", False),     # schemeful
    ("www.example.com", "http://example.org", False),
    ("www.example.com", "http://evil-example.com", False),
    ("www.example.com", "http://com", False),
    ("www.example.com", "null", False),
    ("localhost", "http://localhost:5", True),
    ("127.0.0.1:@PORT@", "http://127.0.0.1:1", True),          # an IP address: itself
    ("127.0.0.1:@PORT@", "http://127.0.0.2:@PORT@", False),
    ("10.0.0.1", "http://20.0.0.1", False),
])
def test_reset_same_site_by_origin(newconf, host, origin, ok):
    host = host.replace("@PORT@", str(newconf.port))
    origin = origin.replace("@PORT@", str(newconf.port))
    t = token()
    r = newconf.curl("/b/reset-site", cookie_header="_session=" + t,
                     headers=["Host: " + host, "Origin: " + origin])
    if ok:
        assert_reset(r, t)
    else:
        line = assert_refused(newconf, r, t, loc="/b")
        assert ("Origin: %s is not same-site" % origin) in line, line


def test_reset_same_origin_by_origin_over_tls(newconf):
    t = token()
    own = "https://127.0.0.1:%d" % newconf.tls_port
    assert_reset(newconf.curl("/b/reset-origin", tls=True, cookie_header="_session=" + t,
                              headers=["Origin: " + own]), t)
    r = newconf.curl("/b/reset-origin", tls=True, cookie_header="_session=" + t,
                     headers=["Origin: http://127.0.0.1:%d" % newconf.tls_port])
    assert_refused(newconf, r)


def test_reset_any_ignores_origin(newconf):
    t = token()
    assert_reset(newconf.curl("/b/reset-any", cookie_header="_session=" + t,
                              headers=["Origin: null"]), t)


def test_reset_any_cross_site_post_without_cookie_sends_cookie(newconf):
    """IDSessionResetFrom any: a cross-site form POST (cookie withheld) resets, and the
    reset's cookie is sent."""
    r = newconf.curl("/b/reset-any", method="POST", data="a=1", headers=KINDS["nav-post"][1])
    assert_reset(r, status=303)


@pytest.mark.parametrize("value", ["cross-site", "same_origin", "none", "all", "origin"])
def test_reset_from_bad_value_fails_configtest(configtest, value):
    rc, out = configtest("<Location /r>\n    SetHandler idsession-reset\n"
                         "    IDSessionResetFrom %s\n</Location>\n" % value)
    assert rc != 0, out
    assert "IDSessionResetFrom" in out and "same-origin, same-site or any" in out, out


def test_reset_from_needs_one_argument(configtest):
    for args in ("", '""', "same-site any"):
        rc, out = configtest("IDSessionResetFrom %s\n" % args)
        assert rc != 0 and "IDSessionResetFrom" in out, out


@pytest.mark.parametrize("value", ["same-origin", "same-site", "any", "Same-Site", "ANY"])
def test_reset_from_good_values(configtest, value):
    rc, out = configtest("IDSessionResetFrom %s\n<Location /r>\n    SetHandler "
                         "idsession-reset\n    IDSessionResetFrom %s\n</Location>\n"
                         % (value, value))
    assert rc == 0 and "Syntax OK" in out, out


# ---- the C API: idsession_reset_token() -------------------------------------------------------

def api_body(r):
    return dict(l.partition("=")[::2] for l in r.body.splitlines())


def test_api_reset_refused_cross_site(httpd):
    """The test module answers 500 when idsession_reset_token() returns NULL; the module
    sends no Set-Cookie and the session stays."""
    t = token()
    r = httpd.curl("/api?reset=1", cookie_header="_session=" + t,
                   headers=fetch("cross-site", mode="navigate", dest="document"))
    assert r.status == 500, r
    assert raw_set_cookies(r) == []
    assert "Sec-Fetch-Site: cross-site" in last_log(httpd, r"session reset refused")
    b = api_body(httpd.curl("/api", cookie_header="_session=" + t))
    assert (b["token"], b["new"]) == (t, UNSET)


@pytest.mark.parametrize("headers", [fetch("cross-site", mode="navigate", dest="document"),
                                     fetch("same-site", mode="navigate"),
                                     ["Origin: http://evil.example"]])
def test_api_reset_refused_drops_minted_cookie(httpd, headers):
    r = httpd.curl("/api?reset=1", headers=headers)
    assert r.status == 500, r
    assert raw_set_cookies(r) == []
    httpd.wait_log(r"session reset refused")


@pytest.mark.parametrize("headers", [[], fetch("same-origin"), fetch("none"),
                                     ["Origin: http://127.0.0.1:@PORT@"]])
def test_api_reset_allowed(httpd, headers):
    headers = [h.replace("@PORT@", str(httpd.port)) for h in headers]
    t = token()
    r = httpd.curl("/api?reset=1", cookie_header="_session=" + t, headers=headers)
    assert r.status == 200, r
    b = api_body(r)
    assert b["token"] == t and TOK.match(b["reset"]) and b["reset"] != t
    assert [value_of(c) for c in raw_set_cookies(r)] == [b["reset"]]


# ---- 2. cookie attributes: Partitioned --------------------------------------------------------

# location -> (attribute names over http, over https)
PARTITIONED = {
    "/b": (["Path", "HttpOnly", "SameSite"], ["Path", "Secure", "HttpOnly", "SameSite"]),
    "/part": (["Path", "HttpOnly", "SameSite"],                 # Auto: no Secure on http
              ["Path", "Secure", "HttpOnly", "Partitioned", "SameSite"]),
    "/part/off": (["Path", "HttpOnly", "SameSite"], ["Path", "Secure", "HttpOnly", "SameSite"]),
    "/part-secure": (["Path", "Secure", "HttpOnly", "Partitioned", "SameSite"],) * 2,
    "/part-none": (["Path", "Secure", "HttpOnly", "Partitioned", "SameSite"],) * 2,
    "/part-host": (["Path", "Secure", "HttpOnly", "Partitioned", "SameSite"],) * 2,
    "/part-secpfx": (["Path", "Secure", "HttpOnly", "Partitioned", "SameSite"],) * 2,
    "/part-offdef": (["Path", "Secure", "HttpOnly", "SameSite"],) * 2,
}


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("loc", list(PARTITIONED))
def test_partitioned_attribute(newconf, loc, tls):
    r = newconf.curl(loc + "/index.html", tls=tls)
    assert r.status == 200
    [raw] = raw_set_cookies(r)
    [c] = r.set_cookies()
    assert c.attr_names() == PARTITIONED[loc][tls], raw
    if c.has("Partitioned"):
        assert "; Secure; HttpOnly; Partitioned; SameSite=" in raw


@pytest.mark.parametrize("first,second", [
    ("IDSessionCookiePartitioned On", "IDSessionCookieSecure Off"),
    ("IDSessionCookieSecure Off", "IDSessionCookiePartitioned On"),
])
@pytest.mark.parametrize("where", ["location", "server"])
def test_partitioned_secure_off_same_section_fails(configtest, first, second, where):
    body = "%s\n%s\n" % (first, second)
    if where == "location":
        body = "<Location /p>\n    IDSession On\n    %s\n    %s\n</Location>\n" % (first, second)
    rc, out = configtest(body)
    assert rc != 0, out
    name = second.split()[0]
    assert (name + ": IDSessionCookiePartitioned On contradicts IDSessionCookieSecure Off") \
        in out, out


@pytest.mark.parametrize("other", ["IDSessionCookieSecure On", "IDSessionCookieSecure Auto",
                                   "IDSessionCookieSameSite None",
                                   "IDSessionCookieName __Host-p",
                                   "IDSessionCookiePartitioned Off"])
def test_partitioned_good_combinations(configtest, other):
    rc, out = configtest("<Location /p>\n    IDSessionCookiePartitioned On\n    %s\n"
                         "</Location>\n" % other)
    assert rc == 0 and "Syntax OK" in out and "warn" not in out, out


@pytest.mark.parametrize("value", ["maybe", "Auto", '""'])
def test_partitioned_bad_value(configtest, value):
    rc, out = configtest("IDSessionCookiePartitioned %s\n" % value)
    assert rc != 0 and "IDSessionCookiePartitioned" in out, out


def test_partitioned_secure_off_merged_warns(httpd_factory):
    """Across sections: one warning at startup, and no Partitioned (nor Secure) sent."""
    h = httpd_factory(conf="IDSessionCookieSecure Off\n<Location /p>\n    IDSession On\n"
                           "    IDSessionCookiePartitioned On\n</Location>\n",
                      tls=True, start=False)
    h.write("p/index.html", "p\n")
    h.expect_log(r"IDSessionCookiePartitioned On contradicts IDSessionCookieSecure Off")
    h.start()
    for tls in (False, True):
        [c] = h.curl("/p/index.html", tls=tls).set_cookies(NAME)
        assert c.attr_names() == ["Path", "HttpOnly", "SameSite"], c
    warns = [l for l in h.log_lines() if "[idsession:warn]" in l]
    assert len(warns) == 1, warns
    assert "<Location /p>" in warns[0] and "Partitioned is not sent" in warns[0]


def test_partitioned_merge_warning_in_configtest(configtest):
    rc, out = configtest("IDSessionCookieSecure Off\n<Location /p>\n"
                         "    IDSessionCookiePartitioned On\n</Location>\n")
    assert rc == 0 and "Syntax OK" in out, out
    assert "Partitioned is not sent" in out


def test_partitioned_merge_warning_with_samesite_none(httpd_factory):
    h = httpd_factory(conf="IDSessionCookieSecure Off\n<Location /n>\n    IDSession On\n"
                           "    IDSessionCookieSameSite None\n"
                           "    IDSessionCookiePartitioned On\n</Location>\n", start=False)
    h.write("n/index.html", "n\n")
    h.expect_log(r"\[idsession:warn\]")
    h.start()
    [c] = h.curl("/n/index.html").set_cookies(NAME)
    assert c.attr_names() == ["Path", "Secure", "HttpOnly", "Partitioned", "SameSite"]
    [w] = [l for l in h.log_lines() if "[idsession:warn]" in l]
    assert "Partitioned is not sent" not in w, w


# ---- 2. cookie attributes: __Http- and __Host-Http- -----------------------------------------

@pytest.mark.parametrize("loc", list(PREFIXES))
def test_http_prefixes(httpd, loc):
    """Over plain http (IDSessionCookieSecure Auto): the prefix forces what it requires."""
    name, _ = PREFIXES[loc]
    r = httpd.curl("/%s/index.html" % loc)
    [c] = r.set_cookies(name)
    assert c.has("Secure"), c
    if loc == "host-nohttponly":
        assert not c.has("HttpOnly")           # __Host- does not require HttpOnly
    else:
        assert c.has("HttpOnly"), c
    if "host" in loc:
        assert c.attr("Path") == "/" and not c.has("Domain")
    elif loc == "http-path":
        assert c.attr("Path") == "/http-path"  # __Http- leaves Path alone
    # and the cookie is read back under its name
    env = httpd.curl("/%s/env.cgi" % loc, cookie_header="%s=%s" % (name, c.value)).env()
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (c.value, UNSET)


HTTP_NAMES = ["__Http-s", "__Host-Http-s", "__http-s", "__HOST-HTTP-s"]


@pytest.mark.parametrize("order", ["name-first", "httponly-first"])
@pytest.mark.parametrize("name", HTTP_NAMES)
def test_httponly_off_with_http_prefix_fails(configtest, name, order):
    lines = ["IDSessionCookieName " + name, "IDSessionCookieHttpOnly Off"]
    if order == "httponly-first":
        lines.reverse()
    rc, out = configtest("<Location /h>\n    %s\n    %s\n</Location>\n" % tuple(lines))
    assert rc != 0, out
    second = lines[1].split()[0]
    assert second + ": IDSessionCookieHttpOnly Off contradicts the cookie name " + name in out
    assert "requires HttpOnly" in out


@pytest.mark.parametrize("name,other,ok", [
    ("__Http-s", "IDSessionCookiePath /x", True),
    ("__Http-s", "IDSessionCookieDomain example.test", True),
    ("__Http-s", "IDSessionCookieSecure Off", False),
    ("__Host-Http-s", "IDSessionCookiePath /x", False),
    ("__Host-Http-s", "IDSessionCookieDomain example.test", False),
    ("__Host-Http-s", "IDSessionCookieSecure Off", False),
    ("__Host-s", "IDSessionCookieHttpOnly Off", True),
    ("__Secure-s", "IDSessionCookieHttpOnly Off", True),
    ("__Http-s", "IDSessionCookieHttpOnly On", True),
])
def test_http_prefix_other_directives(configtest, name, other, ok):
    rc, out = configtest("<Location /h>\n    IDSessionCookieName %s\n    %s\n</Location>\n"
                         % (name, other))
    assert (rc == 0) == ok, out
    if not ok:
        assert other.split()[0] + ":" in out and name in out, out


def test_httponly_off_merged_with_http_prefix_warns(httpd_factory):
    """Across sections the prefix wins (one warning per section), HttpOnly is sent."""
    h = httpd_factory(conf="IDSessionCookieHttpOnly Off\n"
                           "<Location /a>\n    IDSession On\n    IDSessionCookieName __Http-a\n"
                           "</Location>\n"
                           "<Location /b>\n    IDSession On\n"
                           "    IDSessionCookieName __Host-Http-b\n</Location>\n"
                           "<Location /c>\n    IDSession On\n</Location>\n", start=False)
    for d in "abc":
        h.write(d + "/index.html", d + "\n")
    h.expect_log(r"IDSessionCookieHttpOnly Off contradicts the cookie name")
    h.start()
    for d, name in (("a", "__Http-a"), ("b", "__Host-Http-b")):
        for _ in range(2):
            [c] = h.curl("/%s/index.html" % d).set_cookies(name)
            assert c.has("HttpOnly") and c.has("Secure"), c
    [c] = h.curl("/c/index.html").set_cookies(NAME)
    assert not c.has("HttpOnly")               # no prefix: the directive holds
    warns = [l for l in h.log_lines() if "[idsession:warn]" in l]
    assert len(warns) == 2, warns
    assert all("the prefix wins" in w for w in warns)
    assert any("__Http-a" in w for w in warns) and any("__Host-Http-b" in w for w in warns)


def test_httponly_merge_warning_in_configtest(configtest):
    rc, out = configtest("IDSessionCookieHttpOnly Off\n<Location /m>\n"
                         "    IDSessionCookieName __Http-m\n</Location>\n")
    assert rc == 0 and "Syntax OK" in out, out
    [w] = [l for l in out.splitlines() if "the prefix wins" in l]
    assert "__Http-m" in w


# ---- 2. Header always edit Set-Cookie on every path -------------------------------------------

# name -> (path, method, with an old cookie)
EDIT_PATHS = {
    "mint": ("/ed/index.html", None, False),
    "mint-cgi": ("/ed/env.cgi", None, False),
    "reset-get": ("/ed/reset", None, True),
    "reset-post": ("/ed/reset", "POST", True),
    "reset-mint": ("/ed/reset", None, False),
    "rotation": ("/ed/app.cgi", None, True),
    "rotation-mint": ("/ed/app.cgi", None, False),
    "error-404-mint": ("/ed/missing.html", None, False),
    "error-500-rotation": ("/ed/app.cgi?status=500", None, True),
    "error-500-rotation-mint": ("/ed/app.cgi?status=500", None, False),
}


# httpd answers the reset-* and error-404 cases itself (ap_die -> ap_send_error_response),
# which moves err_headers_out, the module's Set-Cookie included, to headers_out and empties
# err_headers_out before mod_headers' FIXUP_HEADERS_ERR edits it; the module's IDSESSION
# filter, which runs before that one, moves its cookie back.
@pytest.mark.parametrize("case", list(EDIT_PATHS))
def test_header_edit_reaches_the_session_cookie(httpd, case):
    path, method, with_cookie = EDIT_PATHS[case]
    old = token() if with_cookie else None
    r = httpd.curl(path, method=method, data="a=1" if method == "POST" else None,
                   cookie_header="_session=" + old if old else None)
    assert r.status == {"reset-get": 302, "reset-post": 303, "reset-mint": 302,
                        "error-404-mint": 404}.get(case, 500 if "500" in case else 200), r
    lines = raw_set_cookies(r)
    assert len(lines) == 1, lines
    assert lines[0].startswith("_session=") and lines[0].endswith("; HttpOnly; SameSite=Lax; "
                                                                  "X-Edited"), lines
    tok = value_of(lines[0])
    assert TOK.match(tok) and tok != old
    if "rotation" in case:
        assert tok == r.env()["SESSION_TOKEN_NEXT"]


def test_header_edit_nothing_to_edit(httpd):
    """Withheld and refused: no Set-Cookie to edit, none made up."""
    assert raw_set_cookies(request(httpd, "/ed/env.cgi", "nav-post")) == []
    r = httpd.curl("/ed/reset", headers=fetch("cross-site", mode="navigate"))
    assert_refused(httpd, r)
