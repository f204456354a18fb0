"""The reset handler (SetHandler idsession-reset): methods and status codes,
exactly one Set-Cookie, Cache-Control: no-store, the redirect target and `next`, the
location's cookie attributes, SESSION_TOKEN in notes."""

import uuid
from urllib.parse import quote

import pytest

from idshttpd import cache_control, one_cookie, token, token_re, wait_file_line

TOK = token_re(32)

CONF = r"""
LogFormat "%U%q %{SESSION_TOKEN}n %{SESSION_TOKEN_NEW}n" idsnotes
CustomLog "@ROOT@/logs/notes_log" idsnotes

<Location />
    IDSession On
</Location>
<Location /reset>
    SetHandler idsession-reset
</Location>
<Location /reset-to>
    SetHandler idsession-reset
    IDSessionResetRedirect /landing
</Location>
<Location /reset-abs>
    SetHandler idsession-reset
    IDSessionResetRedirect https://example.test/after?x=1
</Location>
<Location /app>
    IDSessionCookieName appsid
    IDSessionCookiePath /app
    IDSessionCookieSameSite Strict
    IDSessionCookieMaxAge 60
    IDSessionCookieSecure On
</Location>
<Location /app/reset>
    SetHandler idsession-reset
</Location>
<Location /off>
    IDSession Off
</Location>
<Location /off/reset>
    SetHandler idsession-reset
    IDSessionTokenBytes 16
</Location>
<Location /post-only>
    SetHandler idsession-reset
    <LimitExcept POST>
        Require all denied
    </LimitExcept>
</Location>
<Location /other-cookie>
    Header always add Set-Cookie "other=1; Path=/"
    SetHandler idsession-reset
</Location>
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, modules=["include"], start=False)
    h.write("index.html", "root\n")
    return h.start()


# ---- methods and status codes ----------------------------------------------------------------

def test_get_302(httpd):
    r = httpd.curl("/reset")
    assert r.status == 302
    assert r.header("location") == "/"
    c = one_cookie(r)
    assert TOK.match(c.value)
    assert "no-store" in cache_control(r)


def test_post_303(httpd):
    r = httpd.curl("/reset", method="POST", data="a=1&b=2")
    assert r.status == 303
    assert r.header("location") == "/"
    assert TOK.match(one_cookie(r).value)
    assert "no-store" in cache_control(r)


def test_post_empty_body_303(httpd):
    r = httpd.curl("/reset", method="POST", data="")
    assert r.status == 303
    one_cookie(r)


def test_head(httpd):
    r = httpd.curl("/reset", method="HEAD")
    assert r.status == 302
    assert r.header("location") == "/"
    one_cookie(r)
    assert "no-store" in cache_control(r)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_405(httpd, method):
    t = token()
    r = httpd.curl("/reset", method=method, cookie_header="_session=" + t,
                   data="x" if method in ("PUT", "PATCH") else None)
    assert r.status == 405
    allow = [m.strip() for m in ",".join(r.headers_named("allow")).split(",") if m.strip()]
    assert "GET" in allow and "POST" in allow, r.headers
    for m in ("PUT", "DELETE", "PATCH"):
        assert m not in allow
    # the session is not rotated
    assert r.headers_named("set-cookie") == []


def test_405_without_cookie_still_one_set_cookie(httpd):
    r = httpd.curl("/reset", method="DELETE")
    assert r.status == 405
    assert len(r.headers_named("set-cookie")) <= 1


def test_post_only_recipe(httpd):
    assert httpd.curl("/post-only").status == 403
    httpd.expect_log(r"AH01630")
    r = httpd.curl("/post-only", method="POST", data="")
    assert r.status == 303
    one_cookie(r)


# ---- exactly one Set-Cookie, new token ----------------------------------------------------

def test_replaces_kept_token(httpd):
    t = token()
    r = httpd.curl("/reset", cookie_header="_session=" + t)
    c = one_cookie(r)
    assert c.value != t and TOK.match(c.value)


def test_one_cookie_although_fixups_minted(httpd):
    # no cookie: the fixups mint one, the handler mints another; only the latter is sent
    for _ in range(3):
        r = httpd.curl("/reset")
        one_cookie(r)


def test_one_cookie_malformed_cookie(httpd):
    r = httpd.curl("/reset", cookie_header="_session=bad; _session=alsobad")
    one_cookie(r)


def test_other_cookies_kept(httpd):
    r = httpd.curl("/other-cookie")
    assert r.status == 302
    assert sorted(c.name for c in r.set_cookies()) == ["_session", "other"]


def test_new_token_each_time(httpd):
    seen = {one_cookie(httpd.curl("/reset")).value for _ in range(4)}
    assert len(seen) == 4


def test_notes_hold_new_token(httpd):
    marker = uuid.uuid4().hex
    t = token()
    r = httpd.curl("/reset?m=" + marker, cookie_header="_session=" + t)
    c = one_cookie(r)
    line = wait_file_line(httpd.root / "logs" / "notes_log", marker).split(" ")
    assert line[1] == c.value
    assert line[1] != t


def test_notes_hold_new_token_when_fixups_minted(httpd):
    marker = uuid.uuid4().hex
    r = httpd.curl("/reset?m=" + marker)
    c = one_cookie(r)
    assert wait_file_line(httpd.root / "logs" / "notes_log",
                          marker).split(" ")[1] == c.value


def test_cookie_then_works(httpd):
    """The cookie the reset sent is then kept by the fixups."""
    c = one_cookie(httpd.curl("/reset"))
    r = httpd.curl("/index.html", cookie_header="_session=" + c.value)
    assert r.status == 200
    assert r.headers_named("set-cookie") == []


# ---- attributes come from the handler's location ---------------------------------------------

def test_attrs_from_handler_location(httpd):
    r = httpd.curl("/app/reset")
    assert r.status == 302
    c = one_cookie(r, "appsid")
    assert c.attr("Path") == "/app" and c.attr("SameSite") == "Strict"
    assert c.attr("Max-Age") == "60" and c.has("Expires") and c.has("Secure")


def test_attrs_from_handler_location_kept_cookie(httpd):
    t = token()
    r = httpd.curl("/app/reset", cookie_header="appsid=" + t)
    c = one_cookie(r, "appsid")
    assert c.value != t


def test_handler_where_idsession_off(httpd):
    r = httpd.curl("/off/reset")
    assert r.status == 302
    c = one_cookie(r)
    assert token_re(16).match(c.value)
    assert "no-store" in cache_control(r)


# ---- redirect target ---------------------------------------------------------------------

def test_configured_target(httpd):
    assert httpd.curl("/reset-to").header("location") == "/landing"


def test_configured_absolute_target(httpd):
    r = httpd.curl("/reset-abs")
    assert r.status == 302
    assert r.header("location") == "https://example.test/after?x=1"


HONOURED = {
    # raw query value: the Location expected
    "/account": "/account",
    "/a/b/c": "/a/b/c",
    "%2Fa%2Fb": "/a/b",
    "/a/b%3Fx%3D1": "/a/b?x=1",
    "/": "/",
    "/x?y=1": None,            # filled below: & ends the parameter, ? is part of it
    "/%7Euser": "/~user",
    "/a.b-c_d": "/a.b-c_d",
}
HONOURED["/x?y=1"] = "/x?y=1"


@pytest.mark.parametrize("raw", list(HONOURED), ids=list(HONOURED))
@pytest.mark.parametrize("loc", ["/reset", "/reset-to", "/reset-abs"])
def test_next_honoured(httpd, loc, raw):
    r = httpd.curl("%s?next=%s" % (loc, raw))
    assert r.status == 302
    assert r.header("location") == HONOURED[raw]
    one_cookie(r)


def test_next_honoured_post(httpd):
    r = httpd.curl("/reset-to?next=/after-post", method="POST", data="next=/ignored")
    assert r.status == 303
    assert r.header("location") == "/after-post"


def test_next_among_other_args(httpd):
    r = httpd.curl("/reset-to?a=1&next=%2Fthere&b=2")
    assert r.header("location") == "/there"


REFUSED = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "%252F%252Fevil.example",
    "/%252Fevil.example",
    "/%255Cevil.example",
    "https://evil.example/",
    "http:/evil.example",
    "evil.example",
    "javascript:alert(1)",
    "data:text/html,x",
    "%0D%0ALocation:%20http://evil.example",
    "/a%0Ab",
    "/a%09b",
    "/a%00b",
    "/a%5Cb",
    "",
    "%20/x",
    "\\\\evil.example",
    "/%09/evil.example",
]


@pytest.mark.parametrize("raw", REFUSED, ids=[quote(x) for x in REFUSED])
def test_next_refused(httpd, raw):
    r = httpd.curl("/reset-to?next=" + raw)
    assert r.status == 302
    assert r.header("location") == "/landing"
    one_cookie(r)


@pytest.mark.parametrize("raw", ["//evil.example", "https://evil.example/"])
def test_next_refused_default_target(httpd, raw):
    r = httpd.curl("/reset?next=" + quote(raw, safe=""))
    assert r.header("location") == "/"


def test_next_refused_post(httpd):
    r = httpd.curl("/reset-to?next=//evil.example", method="POST", data="")
    assert r.status == 303
    assert r.header("location") == "/landing"


def test_reset_in_ssi_page_redirect_is_not_reset(httpd):
    """A request elsewhere keeps the token the reset gave (sanity across requests)."""
    c = one_cookie(httpd.curl("/reset"))
    r = httpd.curl("/reset", cookie_header="_session=" + c.value)
    c2 = one_cookie(r)
    assert c2.value != c.value
