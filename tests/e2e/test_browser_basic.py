"""A real browser (headless Chromium, see browser.py) and the session cookie: what it
stores from a first visit over https, that a reload keeps the token, a __Host- name, and
a cross-site form POST from a second site (https://127.0.0.2) to the server."""

import pytest

import browser as br
import idshttpd

# Under valgrind, httpd answers too slowly for the browser's page-load timeouts, and the
# curl suites (test_crosssite.py) drive the same code paths under memcheck.
pytestmark = pytest.mark.skipif(idshttpd.VALGRIND, reason="browser timeouts under valgrind; "
                                "make test runs the browser tests")
from idshttpd import ENV_CGI, UNSET, token_re

CONF = """
<Location /s>
    IDSession On
</Location>
<Location /host>
    IDSession On
    IDSessionCookieName __Host-session
</Location>
"""

# What a request looked like on arrival (KEY=VALUE lines, like ENV_CGI).
REQ_CGI = """#!/bin/sh
[ "$REQUEST_METHOD" = POST ] && cat >/dev/null
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in REQUEST_METHOD HTTP_SEC_FETCH_SITE HTTP_COOKIE SESSION_TOKEN SESSION_TOKEN_NEW; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = br.two_site_server(httpd_module_factory, conf=CONF, cgi=True, start=False)
    h.write("s/index.html", "<!doctype html><p>hello</p>\n")
    h.write_cgi("s/env.cgi", ENV_CGI)
    h.write_cgi("s/req.cgi", REQ_CGI)
    h.write_cgi("host/env.cgi", ENV_CGI)
    h.write("post.html", br.autopost_page(br.url(h, "/s/req.cgi"), {"x": "1"}),
            under=br.SITE2_DIR)
    return h.start()


def need(cond, what):
    """A precondition: pytest.fail, so that a broken setup reads as such and not as the
    assertion under test."""
    if not cond:
        pytest.fail("precondition failed: %s" % what)


def start_session(httpd, browser):
    """A same-site visit that mints the session; returns its token."""
    browser.open(br.url(httpd, "/s/env.cgi"))
    env = browser.env()
    need(env.get("SESSION_TOKEN_NEW") == "1", "a new session: %r" % env)
    tok = env["SESSION_TOKEN"]
    need(browser.get_cookies(name="_session")[0]["value"] == tok,
         "the browser stored the token: %r" % browser.get_cookies())
    return tok


def cross_site_post(httpd, browser):
    """Site 2's page auto-submits a form POST to site 1's /s/req.cgi; returns what
    arrived there (after the POST's answer has loaded)."""
    browser.open(br.url(httpd, "/post.html", site=2))
    browser.wait_url(br.url(httpd, "/s/req.cgi"))
    browser.wait_text("REQUEST_METHOD=")
    return browser.env()


def test_first_visit_stores_session_cookie(httpd, browser):
    assert browser.get_cookies() == []
    browser.open(br.url(httpd, "/s/index.html"))
    assert browser.text() == "hello"
    [c] = browser.get_cookies()
    assert c["name"] == "_session"
    assert token_re(32).match(c["value"])
    assert c["domain"] == "127.0.0.1"          # host-only: no Domain attribute
    assert c["path"] == "/"
    assert c["httpOnly"] is True
    assert c["secure"] is True                 # IDSessionCookieSecure Auto, over https
    assert c["sameSite"] == "Lax"
    assert c["session"] is True                # no Max-Age/Expires
    assert "partitionKey" not in c             # not a partitioned (CHIPS) cookie
    assert browser.get_cookies(br.url(httpd, "/anything")) == [c]
    assert browser.get_cookies(br.url(httpd, "/", site=2)) == []


def test_reload_keeps_token(httpd, browser):
    tok = start_session(httpd, browser)
    browser.reload()
    env = browser.env()
    assert env["SESSION_TOKEN"] == tok
    assert env["SESSION_TOKEN_NEW"] == UNSET
    assert env["HTTP_COOKIE"] == "_session=" + tok
    assert browser.cookie("_session")["value"] == tok


def test_host_prefix_cookie(httpd, browser):
    browser.open(br.url(httpd, "/host/env.cgi"))
    tok = browser.env()["SESSION_TOKEN"]
    [c] = browser.get_cookies()                # the browser accepted the __Host- cookie
    assert (c["name"], c["value"]) == ("__Host-session", tok)
    assert (c["domain"], c["path"], c["secure"], c["httpOnly"], c["sameSite"]) == \
        ("127.0.0.1", "/", True, True, "Lax")
    browser.reload()
    env = browser.env()
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (tok, UNSET)
    assert env["HTTP_COOKIE"] == "__Host-session=" + tok


def test_cross_site_post_arrives_without_cookie(httpd, browser):
    """The browser's side of the cross-site rules: a SameSite=Lax cookie is withheld from a cross-site
    POST, so the module sees a request without a session."""
    start_session(httpd, browser)
    env = cross_site_post(httpd, browser)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["HTTP_SEC_FETCH_SITE"] == "cross-site"
    assert env["HTTP_COOKIE"] == UNSET


def test_cross_site_post_keeps_session(httpd, browser):
    """The module gives the cookie-less cross-site POST a token of its own but
    no Set-Cookie, so the session the browser already had stays."""
    tok = start_session(httpd, browser)
    env = cross_site_post(httpd, browser)
    need((env.get("REQUEST_METHOD"), env.get("HTTP_COOKIE")) == ("POST", UNSET),
         "a cookie-less cross-site POST: %r" % env)
    assert env["SESSION_TOKEN_NEW"] == "1" and env["SESSION_TOKEN"] != tok
    assert browser.cookie("_session")["value"] == tok
    browser.open(br.url(httpd, "/s/env.cgi"))
    assert browser.env()["SESSION_TOKEN"] == tok
