"""Fixups hook: a token kept or minted, exactly one Set-Cookie, SESSION_TOKEN for
CGI/PHP/SSI, one token per request chain, RFC 6265 scanning, IDSession Off."""

import re

import pytest

from idshttpd import (ENV_CGI, ENV_PHP, UNSET, cache_control, one_cookie, token, token_re,
                      two_on_one_connection)

NAME = "_session"
TOK = token_re(32)

CONF = r"""
<Location /on>
    IDSession On
</Location>
<Location /on/other>
    Header always add Set-Cookie "other=1; Path=/"
</Location>
<Location /on/cc-max-age>
    Header always set Cache-Control "max-age=60"
</Location>
<Location /on/cc-no-store>
    Header always set Cache-Control "no-store"
</Location>
<Location /on/cc-private>
    Header always set Cache-Control "private, max-age=5"
</Location>
# A Redirect in <Directory> runs in mod_alias' fixups, after ours (REALLY_FIRST).
# (Server-level and <Location> Redirects answer in translate_name, before any fixups.)
<Directory "@DOCROOT@/on">
    Redirect 302 /on/moved /on/env.cgi
</Directory>
<Location /off>
    IDSession Off
</Location>
<Location /none>
</Location>

# An enabled area with its ErrorDocuments inside it, and one outside it.
<Location /err>
    IDSession On
    ErrorDocument 404 /err/doc.cgi
    ErrorDocument 403 /err/doc.shtml
    ErrorDocument 410 /outside/doc.cgi
</Location>
<Location /err/forbidden>
    Require all denied
</Location>
<Directory "@DOCROOT@/err">
    Redirect gone /err/gone
</Directory>

# SSI
<Directory "@DOCROOT@/ssi">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
<Directory "@DOCROOT@/err">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
<Location /ssi>
    IDSession On
</Location>
# An SSI page outside IDSession that includes an enabled CGI: by then the page's
# headers are out, so the cookie can't follow (a warning says so).
<Directory "@DOCROOT@/ssioff">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
# mod_dir's index subrequest is the first enabled request of the chain.
<Directory "@DOCROOT@/d2">
    DirectoryIndex missing.html index.html
    <Files "*.html">
        IDSession On
    </Files>
</Directory>

# Per-directory mod_rewrite: an external redirect and an internal rewrite.
<Directory "@DOCROOT@/rw">
    IDSession On
    RewriteEngine On
    RewriteBase /rw/
    RewriteRule ^old$ /rw/new [R=302,L]
    RewriteRule ^inner$ env.cgi [L]
</Directory>

# Server-wide On, switched off in one place.
<VirtualHost 127.0.0.1:@PORT@>
    ServerName main.test
    DocumentRoot "@DOCROOT@"
    # Values planted before fixups: the module's own replace them.
    RewriteEngine On
    RewriteRule ^/planted - [E=SESSION_TOKEN:planted,E=SESSION_LOG_ID:planted,E=SESSION_TOKEN_NEW:planted,E=SESSION_TOKEN_NEXT:planted]
</VirtualHost>
# A second Cookie header in the request's table, added by a module.
<VirtualHost 127.0.0.1:@PORT@>
    ServerName two.test
    DocumentRoot "@DOCROOT@"
    RequestHeader add Cookie "_session=@TWO_TOKEN@" early
</VirtualHost>
<Location /planted>
    IDSession On
</Location>
# mod_headers reads the environment with apr_table_get, which returns the first
# entry of a name: a second one added behind a planted value would not show.
<LocationMatch "^/planted">
    Header always set X-Env "T=%{SESSION_TOKEN}e L=%{SESSION_LOG_ID}e N=%{SESSION_TOKEN_NEW}e X=%{SESSION_TOKEN_NEXT}e"
</LocationMatch>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName wide.test
    DocumentRoot "@DOCROOT@"
    IDSession On
    <Location /off>
        IDSession Off
    </Location>
</VirtualHost>
"""

# The token the early RequestHeader adds as a second Cookie header.
TWO_TOKEN = token()
CONF = CONF.replace("@TWO_TOKEN@", TWO_TOKEN)

SSI_PAGE = """<!--#include virtual="/ssi/env.cgi" -->
ECHO=<!--#echo var="SESSION_TOKEN" -->
<!--#include virtual="/ssi/env.cgi?again" -->
"""


def env_header(r):
    [v] = r.headers_named("x-env")
    return dict(kv.split("=", 1) for kv in v.split(" "))


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, modules=["include", "rewrite"], cgi=True, php=True,
                             start=False)
    for d in ("on", "on/other", "on/cc-max-age", "on/cc-no-store", "on/cc-private", "off",
              "none", "ssi", "rw", "err", "outside", "on/sub"):
        h.write_cgi(d + "/env.cgi", ENV_CGI)
    h.write("on/index.html", "hello\n")
    h.write("on/env.php", ENV_PHP)
    h.write("off/index.html", "off\n")
    h.write("none/index.html", "none\n")
    h.write("ssi/page.shtml", SSI_PAGE)
    h.write("ssioff/page.shtml", 'BEFORE\n<!--#include virtual="/ssi/env.cgi" -->\n')
    h.write("d2/index.html", "index\n")
    h.write("rw/new", "new\n")
    h.write_cgi("err/doc.cgi", ENV_CGI)
    h.write("err/doc.shtml", 'DOC=<!--#echo var="SESSION_TOKEN" -->\n'
                             '<!--#include virtual="/err/env.cgi" -->\n')
    h.write_cgi("outside/doc.cgi", ENV_CGI)
    for d in ("planted", "plantedoff"):
        h.write(d + "/index.html", "planted\n")
    return h.start()


def assert_minted(r, name=NAME):
    c = one_cookie(r, name)
    assert TOK.match(c.value), c
    return c


# ---- minted and kept ---------------------------------------------------------------------

def test_no_cookie_mints_one(httpd):
    r = httpd.curl("/on/env.cgi")
    assert r.status == 200
    c = assert_minted(r)
    env = r.env()
    assert env["SESSION_TOKEN"] == c.value
    assert env["SESSION_TOKEN_NEW"] == "1"
    assert re.fullmatch(r"[0-9a-f]{16}", env["SESSION_LOG_ID"])


def test_tokens_differ_between_requests(httpd):
    seen = {assert_minted(httpd.curl("/on/index.html")).value for _ in range(5)}
    assert len(seen) == 5


def test_minted_on_static_file(httpd):
    r = httpd.curl("/on/index.html")
    assert r.status == 200 and r.body == "hello\n"
    assert_minted(r)


def test_minted_without_mod_cache_has_no_expires(httpd):
    # r->no_cache (which makes httpd add Expires) is set only for mod_cache; this
    # server has none. The response stays private through Cache-Control.
    r = httpd.curl("/on/index.html")
    assert_minted(r)
    assert r.headers_named("expires") == []
    assert cache_control(r) == "private"


def test_well_formed_token_kept(httpd):
    t = token()
    r = httpd.curl("/on/env.cgi", cookie_header="%s=%s" % (NAME, t))
    assert r.status == 200
    assert r.headers_named("set-cookie") == []
    env = r.env()
    assert env["SESSION_TOKEN"] == t
    assert env["SESSION_TOKEN_NEW"] == UNSET


def test_kept_token_no_cache_control(httpd):
    r = httpd.curl("/on/index.html", cookie_header="%s=%s" % (NAME, token()))
    assert r.headers_named("set-cookie") == []
    assert "private" not in cache_control(r)


def test_token_in_a_second_cookie_header_kept(httpd):
    # The client's header holds a malformed value; a module added a second Cookie header
    # with a good one (not merged, as httpd merges only what the client sent).
    r = httpd.curl("/on/env.cgi", headers=["Host: two.test"],
                   cookie_header="a=1; %s=short" % NAME)
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == TWO_TOKEN


def test_token_in_a_second_cookie_header_kept_on_one_connection(httpd):
    # The second request finds the token the first verified (the connection's memo) in
    # the second Cookie header again.
    assert two_on_one_connection(httpd, "/on/index.html", "/on/index.html",
                                 "a=1; %s=short" % NAME, headers=["Host: two.test"]) \
        == [None, None]


def test_kept_among_other_cookies(httpd):
    t = token()
    r = httpd.curl("/on/env.cgi", cookie_header="a=1; %s=%s; b=2" % (NAME, t))
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == t


def _bad_last_char():
    # 32 bytes -> 43 characters; the last carries 2 data bits and 4 zero padding bits,
    # so only A, Q, g, w can end a token this module mints.
    return token()[:-1] + "B"


MALFORMED = {
    "empty": "",
    "short-42": token()[:-1],
    "long-44": token() + "A",
    "plus": token()[:-1] + "+",
    "slash": token()[:-1] + "/",
    "padded": token() + "=",
    "std-base64-44": token()[:42] + "A=",
    "dot": token()[:-1] + ".",
    "quoted": '"%s"' % token(),
    "quoted-short": '"%s"' % token()[:41],
    "16-byte-token": token(16),
    "192-byte-token": token(192),
    "signed-shape": token() + "." + token(16),
    "nonzero-padding-bits": _bad_last_char(),
    "percent": token()[:40] + "%2D",
    "hex-64": "0123456789abcdef" * 4,
    "one-char": "x",
    "inner-space": token()[:20] + " " + token()[:22],
    "star": "*" * 43,
}


@pytest.mark.parametrize("value", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_replaced(httpd, value):
    r = httpd.curl("/on/env.cgi", cookie_header="%s=%s" % (NAME, value))
    assert r.status == 200
    c = assert_minted(r)
    assert c.value != value
    env = r.env()
    assert env["SESSION_TOKEN"] == c.value
    assert env["SESSION_TOKEN_NEW"] == "1"


@pytest.mark.parametrize("raw", [
    b"_session=" + token()[:-2].encode() + b"\xc3\xa9",    # UTF-8 inside
    b"_session=" + token()[:-1].encode() + b"\xff",         # obs-text byte
    b"_session=" + token().encode() + b"\t",                # trailing tab (trimmed by httpd)
    b"_session=" + token()[:-1].encode() + b"\x7f",         # DEL
    b"_session=\t" + token().encode(),                      # tab after '='
], ids=["utf8", "0xff", "trailing-tab", "del", "leading-tab"])
def test_raw_bytes(httpd, raw):
    """Cookie bytes curl cannot send. Whitespace around a well-formed value (trailing:
    stripped by httpd; after '=': optional whitespace) may or may not be accepted, but
    the outcome is consistent; every other case is replaced."""
    r = httpd.get_raw("/on/env.cgi", [b"Cookie: " + raw])
    if raw.endswith(b"\x7f"):
        # httpd itself rejects control characters in header values (400, no fixups).
        assert r.status == 400
        return
    assert r.status == 200
    sent = raw.split(b"=", 1)[1].strip(b" \t")
    env = r.env()
    if TOK.match(sent.decode("latin-1")) and not r.headers_named("set-cookie"):
        assert env["SESSION_TOKEN"] == sent.decode()
        assert env["SESSION_TOKEN_NEW"] == UNSET
    else:
        assert not raw.endswith(b"\t")
        c = assert_minted(r)
        assert env["SESSION_TOKEN"] == c.value


def test_exactly_one_set_cookie_with_other_modules_cookies(httpd):
    r = httpd.curl("/on/other/env.cgi")
    assert r.status == 200
    names = [c.name for c in r.set_cookies()]
    assert sorted(names) == ["_session", "other"]
    assert r.set_cookies("other")[0].raw == "other=1; Path=/"


def test_kept_token_leaves_other_cookies_alone(httpd):
    r = httpd.curl("/on/other/env.cgi", cookie_header="_session=" + token())
    assert [c.raw for c in r.set_cookies()] == ["other=1; Path=/"]


# ---- redirects and error pages carry the cookie -------------------------------------------

def test_redirect_carries_cookie(httpd):
    r = httpd.curl("/on/moved")
    assert r.status == 302
    assert r.header("location").endswith("/on/env.cgi")
    assert_minted(r)
    assert "private" in cache_control(r)


def test_404_carries_cookie(httpd):
    r = httpd.curl("/on/no-such-file")
    assert r.status == 404
    assert_minted(r)
    assert "private" in cache_control(r)


# ---- Cache-Control ---------------------------------------------------------------------------

def test_minted_response_is_private(httpd):
    r = httpd.curl("/on/index.html")
    assert_minted(r)
    assert r.headers_named("cache-control") == ["private"]


def test_private_merged_into_existing_cache_control(httpd):
    r = httpd.curl("/on/cc-max-age/env.cgi")
    assert_minted(r)
    parts = [p.strip() for p in cache_control(r).split(",")]
    assert "max-age=60" in parts and "private" in parts


@pytest.mark.parametrize("loc,want", [("/on/cc-no-store/env.cgi", "no-store"),
                                      ("/on/cc-private/env.cgi", "private, max-age=5")])
def test_private_not_added_twice(httpd, loc, want):
    r = httpd.curl(loc)
    assert_minted(r)
    assert cache_control(r) == want


# ---- RFC 6265 scanning ---------------------------------------------------------------------

GOOD = token()
GOOD2 = token()

KEPT = {
    "alone": "_session=%s" % GOOD,
    "semicolon-no-space": "a=1;_session=%s" % GOOD,
    "semicolon-space": "a=1; _session=%s; b=2" % GOOD,
    "spaces-around-semicolon": "a=1 ;   _session=%s ; b=2" % GOOD,
    "first-wellformed-wins": "_session=bad; _session=%s; _session=%s" % (GOOD, GOOD2),
    "empty-then-good": "_session=; _session=%s" % GOOD,
    "suffix-name-first": "x_session=%s; _session=%s" % (GOOD2, GOOD),
    "prefix-name-first": "_session_x=%s; _session=%s" % (GOOD2, GOOD),
    "name-in-value-first": "a=_session=%s; _session=%s" % (GOOD2, GOOD),
    "separators-around": ";; ;_session=%s;;" % GOOD,
    "quoted-then-good": '_session="%s"; _session=%s' % (GOOD2, GOOD),
}


@pytest.mark.parametrize("header", list(KEPT.values()), ids=list(KEPT))
def test_scan_kept(httpd, header):
    r = httpd.curl("/on/env.cgi", cookie_header=header)
    assert r.headers_named("set-cookie") == [], header
    assert r.env()["SESSION_TOKEN"] == GOOD


MINTED = {
    "suffix-name": "x_session=%s" % GOOD,
    "prefix-name": "_session_x=%s" % GOOD,
    "case": "_Session=%s" % GOOD,
    "upper": "_SESSION=%s" % GOOD,
    "name-inside-value": "a=_session=%s" % GOOD,
    "name-inside-value-2": "a=b_session=%s" % GOOD,
    "only-separators": ";; , ;",
    "no-equals": "_session",
    "space-in-name": "_ session=%s" % GOOD,
    "other-cookies-only": "a=1; b=2",
    # ',' is part of a value (RFC 6265 4.2.1): a sibling cookie cannot plant a token.
    "comma": "a=1, _session=%s" % GOOD,
    "comma-no-space": "a=1,_session=%s" % GOOD,
    "comma-after-value": "_session=%s,x=1" % GOOD,
}


@pytest.mark.parametrize("header", list(MINTED.values()), ids=list(MINTED))
def test_scan_minted(httpd, header):
    r = httpd.curl("/on/env.cgi", cookie_header=header)
    c = assert_minted(r)
    assert c.value != GOOD
    assert r.env()["SESSION_TOKEN"] == c.value


def test_two_cookie_headers_read_as_merged(httpd):
    """httpd joins repeated Cookie lines with ", " and the result is read with ';' as the
    only separator, so a second line's token is part of the first line's last value.
    Browsers send one line (and HTTP/2 fields are joined with "; ")."""
    r = httpd.curl("/on/env.cgi", cookie_header=["a=1", "_session=" + GOOD])
    assert r.env()["HTTP_COOKIE"] == "a=1, _session=" + GOOD
    c = assert_minted(r)
    assert c.value != GOOD and r.env()["SESSION_TOKEN"] == c.value


def test_two_cookie_headers_first_wellformed_wins(httpd):
    r = httpd.curl("/on/env.cgi", cookie_header=["_session=" + GOOD + ";", "_session=" + GOOD2])
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == GOOD


def test_two_cookie_headers_bad_then_good_in_one_value(httpd):
    """"_session=nope, _session=GOOD2" is one malformed value."""
    r = httpd.curl("/on/env.cgi", cookie_header=["_session=nope", "_session=" + GOOD2])
    c = assert_minted(r)
    assert c.value != GOOD2 and r.env()["SESSION_TOKEN"] == c.value


def test_tab_separator(httpd):
    r = httpd.get_raw("/on/env.cgi", [b"Cookie: a=1;\t_session=" + GOOD.encode()])
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == GOOD


# ---- CGI and PHP -----------------------------------------------------------------------------

def test_cgi_post(httpd):
    r = httpd.curl("/on/env.cgi", method="POST", data="x=1")
    c = assert_minted(r)
    assert r.env()["SESSION_TOKEN"] == c.value


def test_php_reads_token_minted(httpd):
    """IDSession On only for /on: php-cgi runs after mod_actions' internal redirect to
    /cgi-bin/php-cgi, outside /on. The redirect is part of the request chain, so it sees
    the chain's token (contract: internal redirects see the same token)."""
    r = httpd.curl("/on/env.php")
    assert r.status == 200, r.body
    c = assert_minted(r)
    env = r.env()
    assert env["SESSION_TOKEN"] == c.value, r.body
    assert env["SERVER_SESSION_TOKEN"] == c.value
    assert env["SESSION_TOKEN_NEW"] == "1"


def test_php_minted_response_private(httpd):
    """The php-cgi response carries the minted Set-Cookie, so it is Cache-Control: private
    even though the Action's internal redirect leaves the enabled <Location>."""
    r = httpd.curl("/on/env.php")
    assert r.status == 200, r.body
    assert_minted(r)
    assert "private" in cache_control(r), r.headers


def test_php_server_wide(httpd):
    """IDSession On also covers the php-cgi Action target (/cgi-bin/), as a server-wide
    setting does."""
    r = httpd.curl("/on/env.php", headers=["Host: wide.test"])
    assert r.status == 200, r.body
    c = assert_minted(r)
    env = r.env()
    assert env["SESSION_TOKEN"] == c.value, r.body
    assert env["SESSION_TOKEN_NEW"] == "1"
    assert "private" in cache_control(r)
    t = token()
    r = httpd.curl("/on/env.php", headers=["Host: wide.test"], cookie_header="_session=" + t)
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == t


def test_php_reads_token_kept(httpd):
    t = token()
    r = httpd.curl("/on/env.php", cookie_header="_session=" + t)
    assert r.headers_named("set-cookie") == []
    env = r.env()
    assert env["SESSION_TOKEN"] == t, r.body
    assert env["SESSION_TOKEN_NEW"] == UNSET


# ---- one token per request chain -----------------------------------------------------------

def test_ssi_subrequests_share_token(httpd):
    r = httpd.curl("/ssi/page.shtml")
    assert r.status == 200
    c = assert_minted(r)
    tokens = re.findall(r"^SESSION_TOKEN=(.*)$", r.body, re.M)
    assert tokens == [c.value, c.value], r.body
    assert re.search(r"^ECHO=(.*)$", r.body, re.M).group(1) == c.value
    assert re.findall(r"^SESSION_TOKEN_NEW=(.*)$", r.body, re.M) == ["1", "1"]
    assert "private" in cache_control(r)


def test_ssi_subrequests_kept_token(httpd):
    t = token()
    r = httpd.curl("/ssi/page.shtml", cookie_header="_session=" + t)
    assert r.headers_named("set-cookie") == []
    assert re.findall(r"^SESSION_TOKEN=(.*)$", r.body, re.M) == [t, t]
    assert re.findall(r"^SESSION_TOKEN_NEW=(.*)$", r.body, re.M) == [UNSET, UNSET]


def test_ssi_include_minting_too_late_is_logged(httpd):
    httpd.expect_log(r"\[idsession:warn\].*minted in a subrequest after /ssioff/page.shtml "
                     r"had sent its headers")
    r = httpd.curl("/ssioff/page.shtml")
    assert r.status == 200
    assert "SESSION_TOKEN_NEW=1" in r.body
    assert r.headers_named("set-cookie") == []
    httpd.wait_log(r"minted in a subrequest after /ssioff/page.shtml")


def test_directory_index_subrequest_mint_is_private(httpd):
    # The main request for /d2/ is not enabled; mod_dir's subrequest for index.html is,
    # and its cookie goes out with the fast-redirected main response.
    r = httpd.curl("/d2/")
    assert r.status == 200 and r.body == "index\n"
    assert assert_minted(r)
    assert "private" in cache_control(r)


def test_errordocument_cgi_same_token(httpd):
    r = httpd.curl("/err/missing")
    assert r.status == 404
    c = assert_minted(r)
    env = r.env()
    assert env["SESSION_TOKEN"] == c.value
    assert env["REQUEST_URI"] == "/err/missing"


def test_errordocument_kept_token(httpd):
    t = token()
    r = httpd.curl("/err/missing", cookie_header="_session=" + t)
    assert r.status == 404
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == t


def test_errordocument_ssi_with_subrequest(httpd):
    r = httpd.curl("/err/forbidden/x")
    assert r.status == 403
    httpd.expect_log(r"AH01630")   # authz denial is logged at error level
    c = assert_minted(r)
    assert re.search(r"^DOC=(.*)$", r.body, re.M).group(1) == c.value
    assert r.env()["SESSION_TOKEN"] == c.value


def test_errordocument_outside_enabled_area(httpd):
    """The ErrorDocument lives where IDSession is not On: the cookie is still the one
    minted by the failed request, exactly once, and the redirect sees that token."""
    r = httpd.curl("/err/gone")
    assert r.status == 410
    c = assert_minted(r)
    env = r.env()
    assert c.value in (env["SESSION_TOKEN"], env["REDIRECT_SESSION_TOKEN"]), r.body


def test_errordocument_outside_enabled_area_private(httpd):
    """That response carries the minted Set-Cookie, so it is Cache-Control: private."""
    r = httpd.curl("/err/gone")
    assert r.status == 410
    assert_minted(r)
    assert "private" in cache_control(r), r.headers


def test_errordocument_inside_private(httpd):
    r = httpd.curl("/err/missing")
    assert r.status == 404
    assert_minted(r)
    assert "private" in cache_control(r), r.headers


def test_rewrite_redirect_carries_cookie(httpd):
    r = httpd.curl("/rw/old")
    assert r.status == 302
    assert r.header("location").endswith("/rw/new")
    assert_minted(r)
    assert "private" in cache_control(r)


def test_rewrite_redirect_kept_token_no_cookie(httpd):
    r = httpd.curl("/rw/old", cookie_header="_session=" + token())
    assert r.status == 302
    assert r.headers_named("set-cookie") == []


def test_rewrite_internal_same_token(httpd):
    r = httpd.curl("/rw/inner")
    assert r.status == 200
    c = assert_minted(r)
    assert "private" in cache_control(r)
    assert r.env()["SESSION_TOKEN"] == c.value


# ---- IDSession Off ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/off/env.cgi", "/none/env.cgi", "/off/index.html"])
def test_off_does_nothing(httpd, path):
    r = httpd.curl(path)
    assert r.status == 200
    assert r.headers_named("set-cookie") == []
    assert "private" not in cache_control(r)
    if path.endswith(".cgi"):
        env = r.env()
        assert env["SESSION_TOKEN"] == UNSET and env["SESSION_TOKEN_NEW"] == UNSET
        assert env["SESSION_LOG_ID"] == UNSET


def test_off_ignores_cookie(httpd):
    r = httpd.curl("/off/env.cgi", cookie_header="_session=" + token())
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == UNSET


def test_server_wide_on(httpd):
    r = httpd.curl("/none/env.cgi", headers=["Host: wide.test"])
    c = assert_minted(r)
    assert r.env()["SESSION_TOKEN"] == c.value


def test_server_wide_on_off_inside(httpd):
    r = httpd.curl("/off/env.cgi", headers=["Host: wide.test"])
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == UNSET


# ---- LogLevel idsession:debug --------------------------------------------------------------

def test_debug_log_traces_decisions_without_tokens(httpd):
    kept = token()
    r1 = httpd.curl("/on/env.cgi", cookie_header="_session=" + kept)
    r2 = httpd.curl("/on/env.cgi")
    r3 = httpd.curl("/on/env.cgi", cookie_header="_session=" + kept[:-3])
    minted = [c.value for r in (r2, r3) for c in r.set_cookies(NAME)]
    assert len(minted) == 2 and r1.headers_named("set-cookie") == []
    httpd.wait_log(r"\[idsession:debug\].*found")
    httpd.wait_log(r"\[idsession:debug\].*minted")
    # the first refusal of a minute in a process is at info (IDS00007)
    httpd.wait_log(r"\[idsession:(debug|info)\].*rejected")
    text = "\n".join(httpd.log_lines())
    for t in [kept] + minted:
        assert t not in text
        assert t[:20] not in text   # not even a prefix long enough to matter
    # the log id of the kept token identifies the session instead
    assert r1.env()["SESSION_LOG_ID"] in text


@pytest.mark.parametrize("values, why", [
    (["abc", "BAD_PAD"], r"\(2 seen; first: 3 characters, not 43\)"),
    (["BAD_PAD"], r"\(1 seen; first: not the base64url this module mints\)"),
])
def test_debug_log_says_why_a_cookie_was_refused(httpd, values, why):
    bad_pad = _bad_last_char()
    header = "; ".join("%s=%s" % (NAME, bad_pad if v == "BAD_PAD" else v) for v in values)
    assert httpd.curl("/on/env.cgi", cookie_header=header).set_cookies(NAME)
    httpd.wait_log(r"\[idsession:(debug|info)\] .*session cookie _session rejected " + why)


# ---- values planted before fixups ------------------------------------------------------

def test_planted_env_is_effective_outside_idsession(httpd):
    # The control: the server-context rule does plant the values.
    r = httpd.curl("/plantedoff/index.html")
    assert r.status == 200
    assert env_header(r) == {"T": "planted", "L": "planted", "N": "planted", "X": "planted"}


def test_planted_env_replaced_on_mint(httpd):
    r = httpd.curl("/planted/index.html")
    c = assert_minted(r)
    env = env_header(r)
    assert env["T"] == c.value and env["N"] == "1" and env["X"] == "(null)"
    assert re.fullmatch(r"[0-9a-f]{16}", env["L"])


def test_planted_env_replaced_on_kept_token(httpd):
    t = token()
    r = httpd.curl("/planted/index.html", cookie_header="%s=%s" % (NAME, t))
    assert r.headers_named("set-cookie") == []
    env = env_header(r)
    assert env["T"] == t and env["N"] == "(null)" and env["X"] == "(null)"
    assert re.fullmatch(r"[0-9a-f]{16}", env["L"])
