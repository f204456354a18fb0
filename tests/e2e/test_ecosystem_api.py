"""The API for other modules: mod_idsession.h's optional functions
idsession_get_token and idsession_reset_token, used by tests/mod/mod_idsession_test.c
(handler `idsession-test`, retrieved in an optional_fn_retrieve hook)."""

import pytest

from ecosystem import ECHO_CGI, TESTMOD, TESTMOD_LOAD, SIGNED_RE, log_id, need
from idshttpd import ENV_CGI, UNSET, token, token_re

TOK = token_re(32)

CONF = TESTMOD_LOAD + """
# IDSession Off here: get_token still gives (and sets) a token.
<Location /off>
    SetHandler idsession-test
</Location>

<Location /on>
    IDSession On
    SetHandler idsession-test
</Location>

<Location /named>
    IDSession On
    IDSessionCookieName api
    IDSessionTokenBytes 24
    IDSessionCookieMaxAge 60
    SetHandler idsession-test
</Location>

<Location /signed>
    IDSession On
    IDSessionSecret 0123456789abcdef0123456789abcdef-api
    SetHandler idsession-test
</Location>

# The token the API returns is the one CGI sees in the same chain.
<Directory "@DOCROOT@/chain">
    IDSession On
</Directory>
<Location /chain/api>
    SetHandler idsession-test
</Location>
ErrorDocument 404 /off/errdoc
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    need(TESTMOD, "run `make` for tests/mod/.libs/mod_idsession_test.so")
    h = httpd_module_factory(conf=CONF, cgi=True, start=False, name="api")
    h.write_cgi("chain/env.cgi", ENV_CGI)
    return h.start()


def body(r):
    """The handler's KEY=VALUE lines; reset= may repeat, so keep them as a list too."""
    lines = [l.partition("=") for l in r.body.splitlines()]
    return {k: v for k, _, v in lines}, [v for k, _, v in lines if k == "reset"]


def one_cookie(r, name="_session"):
    cs = r.set_cookies(name)
    assert len(cs) == 1, r.headers
    return cs[0]


def test_get_token_where_off_mints_one_with_one_cookie(httpd):
    r = httpd.curl("/off")
    assert r.status == 200, r
    b, _ = body(r)
    assert TOK.match(b["token"])
    c = one_cookie(r)
    assert c.value == b["token"]
    assert c.attr("Path") == "/" and c.has("HttpOnly") and c.attr("SameSite") == "Lax"
    # The module publishes what it gave: notes, log id, "new", and a private response.
    assert b["note"] == b["token"] and b["new"] == "1"
    assert b["log_id"] == log_id(b["token"])
    assert "private" in (r.header("Cache-Control") or "")


def test_get_token_where_off_keeps_a_valid_cookie(httpd):
    t = token()
    r = httpd.curl("/off", cookie_header="_session=" + t)
    b, _ = body(r)
    assert b["token"] == t and b["new"] == UNSET
    assert r.set_cookies() == []
    assert r.header("Cache-Control") is None


def test_get_token_where_off_replaces_a_malformed_cookie(httpd):
    r = httpd.curl("/off", cookie_header="_session=" + token()[:-1])
    b, _ = body(r)
    assert TOK.match(b["token"])
    assert one_cookie(r).value == b["token"]


def test_get_token_where_on_is_session_token(httpd):
    r = httpd.curl("/on")
    b, _ = body(r)
    c = one_cookie(r)      # fixups minted it; get_token adds no second cookie
    assert b["token"] == c.value == b["note"]
    assert b["new"] == "1"
    t = token()
    r = httpd.curl("/on", cookie_header="_session=" + t)
    b, _ = body(r)
    assert b["token"] == b["note"] == t and b["new"] == UNSET
    assert r.set_cookies() == []


def test_get_token_follows_the_location_config(httpd):
    r = httpd.curl("/named")
    b, _ = body(r)
    assert token_re(24).match(b["token"])
    c = one_cookie(r, "api")
    assert c.value == b["token"] and c.attr("Max-Age") == "60"
    assert r.set_cookies("_session") == []


def test_get_token_signed(httpd):
    r = httpd.curl("/signed")
    b, _ = body(r)
    assert SIGNED_RE.match(b["token"])
    assert one_cookie(r).value == b["token"]
    r2 = httpd.curl("/signed", cookie_header="_session=" + b["token"])
    assert body(r2)[0]["token"] == b["token"] and r2.set_cookies() == []
    # An unsigned token is not a session here.
    r3 = httpd.curl("/signed", cookie_header="_session=" + token())
    assert SIGNED_RE.match(body(r3)[0]["token"])


@pytest.mark.parametrize("where", ["/off", "/on"])
def test_reset_replaces_a_valid_cookie(httpd, where):
    t = token()
    r = httpd.curl(where + "?reset=1", cookie_header="_session=" + t)
    assert r.status == 200
    b, resets = body(r)
    assert b["token"] == t
    [new] = resets
    assert TOK.match(new) and new != t
    assert one_cookie(r).value == new
    assert b["after"] == new and b["note"] == new and b["new"] == "1"
    assert b["log_id"] == log_id(new)
    assert "private" in r.header("Cache-Control")


@pytest.mark.parametrize("where", ["/off", "/on"])
def test_reset_after_a_minted_cookie_sends_one_cookie(httpd, where):
    # /on: fixups minted a token (and its Set-Cookie) before the handler reset it;
    # /off: get_token minted it first.  Either way only the new token is sent.
    r = httpd.curl(where + "?reset=1")
    b, [new] = body(r)
    assert new != b["token"]
    c = one_cookie(r)
    assert c.value == new
    assert b["token"] not in "\n".join(r.headers_named("set-cookie"))


def test_reset_three_times_sends_the_last(httpd):
    r = httpd.curl("/on?reset=3", cookie_header="_session=" + token())
    b, resets = body(r)
    assert len(set(resets)) == 3
    assert one_cookie(r).value == resets[-1] == b["after"]


def test_reset_keeps_other_cookies(httpd):
    r = httpd.curl("/named?reset=1")
    _, [new] = body(r)
    assert one_cookie(r, "api").value == new
    assert r.set_cookies("_session") == []
    # A Set-Cookie the handler added before the reset stays, in its place.
    r = httpd.curl("/on?other=1&reset=2")
    _, resets = body(r)
    assert [c.raw for c in r.set_cookies("other")] == ["other=1; Path=/"]
    assert one_cookie(r).value == resets[-1]


def test_reset_signed(httpd):
    r = httpd.curl("/signed?reset=1")
    _, [new] = body(r)
    assert SIGNED_RE.match(new)
    assert one_cookie(r).value == new
    r2 = httpd.curl("/signed", cookie_header="_session=" + new)
    assert body(r2)[0]["token"] == new and r2.set_cookies() == []


def test_new_token_is_the_session_next_time(httpd):
    r = httpd.curl("/on?reset=1")
    _, [new] = body(r)
    r2 = httpd.curl("/on", cookie_header="_session=" + new)
    assert body(r2)[0]["token"] == new and r2.set_cookies() == []


def test_head_request(httpd):
    r = httpd.curl("/on?reset=1", method="HEAD")
    assert r.status == 200
    assert len(r.set_cookies("_session")) == 1


def test_same_chain_as_cgi(httpd):
    # A CGI and the API in one session: the cookie from the CGI's request is the token
    # the API hands out next, and neither sends a second cookie.
    r = httpd.curl("/chain/env.cgi")
    t = r.env()["SESSION_TOKEN"]
    assert one_cookie(r).value == t
    r2 = httpd.curl("/chain/api", cookie_header="_session=" + t)
    assert body(r2)[0]["token"] == t and r2.set_cookies() == []


def test_in_an_error_document(httpd):
    # ErrorDocument runs the handler in an internal redirect: the API sees the chain's
    # token and the 404 carries exactly one cookie.
    r = httpd.curl("/chain/missing.html")
    assert r.status == 404
    b, _ = body(r)
    assert one_cookie(r).value == b["token"]
    t = token()
    r = httpd.curl("/chain/missing.html", cookie_header="_session=" + t)
    assert r.status == 404 and body(r)[0]["token"] == t and r.set_cookies() == []


def test_functions_missing_without_mod_idsession(httpd_factory):
    need(TESTMOD, "run `make` for tests/mod/.libs/mod_idsession_test.so")
    h = httpd_factory(conf=TESTMOD_LOAD + "<Location /t>\n  SetHandler idsession-test\n"
                      "</Location>\n", idsession=False, name="api-nomod")
    h.expect_log(r"optional functions are missing")
    r = h.curl("/t")
    assert r.status == 500
    assert r.set_cookies() == []


# ---- at odd times: after the headers, inside a subrequest, in a fixup -----------------------

ODD_CONF = TESTMOD_LOAD + """
IDSessionStore "shmcb:@ROOT@/run/api(100000)"
IDSessionRevokeGrace 0
<Location /api>
    IDSession On
    SetHandler idsession-test
</Location>
# A module's fixup resets here (IDS_TEST_FIXUP_RESET), after the token went into the header.
<Directory "@DOCROOT@/fx">
    IDSession On
    IDSessionHeader X-Session-Token
    SetEnv IDS_TEST_FIXUP_RESET 1
</Directory>
"""


@pytest.fixture(scope="module")
def odd(httpd_module_factory):
    need(TESTMOD, "run `make` for tests/mod/.libs/mod_idsession_test.so")
    h = httpd_module_factory(conf=ODD_CONF, modules=["socache_shmcb"], cgi=True,
                             start=False, name="api-odd")
    h.write_cgi("fx/echo.cgi", ECHO_CGI)
    return h.start()


def test_reset_after_the_headers_were_sent_fails_and_keeps_the_session(odd):
    """The new cookie could not reach the client: the reset returns NULL, logs why, and
    neither rotates nor revokes, so the client's token stays its session."""
    odd.expect_log(r"\[idsession:error\].*IDS00024: idsession_reset_token\(\) called after "
                   r"the response to /api had begun")
    t = token()
    r = odd.curl("/api?late=1", cookie_header="_session=" + t)
    assert r.status == 200, r
    b, resets = body(r)
    assert b["token"] == t and resets == ["<NULL>"] and b["after"] == t
    assert r.set_cookies() == []
    again = odd.curl("/api", cookie_header="_session=" + t)
    assert body(again)[0]["token"] == t and again.set_cookies() == []


def test_reset_in_a_subrequest_is_the_main_requests_too(odd):
    t = token()
    r = odd.curl("/api?sub=1", cookie_header="_session=" + t)
    b, _ = body(r)
    c = one_cookie(r)
    assert c.value != t
    assert b["note"] == c.value and b["main_env"] == c.value and b["new"] == "1"
    assert b["log_id"] == log_id(c.value)


def test_reset_in_a_fixup_moves_the_header_too(odd):
    t = token()
    r = odd.curl("/fx/echo.cgi", cookie_header="_session=" + t)
    e = r.env()
    c = one_cookie(r)
    assert c.value != t
    assert e["SESSION_TOKEN"] == c.value and e["HTTP_X_SESSION_TOKEN"] == c.value, e
