"""Cross-site rules in a real browser (headless Chromium 156, browser.py), over https with two
sites: site 1 (https://127.0.0.1:P, the module's) and site 2 (https://127.0.0.2:P, another
site, so every request from its pages to site 1 is cross-site).

- first visits store the cookie as configured (default name, __Host-, __Host-Http-,
  Partitioned), and a reload keeps the token;
- same-origin resets (GET link, POST form) and the application's rotation
  (IDSession-Reset) store a new token;
- from site 2, an <img>, a link, a form POST, window.open() and a redirect to site 1's
  reset handler are refused (IDSessionResetFrom same-origin, the default) and leave the
  session alone; with IDSessionResetFrom any, the link and the form POST reset;
- a cross-site form POST (Lax) or link (Strict) to an ordinary page leaves the session
  alone, and the page sees SESSION_COOKIE_WITHHELD=1;
- iframes of site 1 in site 2: a Partitioned SameSite=None cookie lives in site 2's
  partition; an unpartitioned one is a blocked third-party cookie; the Lax session cookie
  is neither sent nor overwritten.

Servers: `httpd` uses only directives older than the cross-site rules (so that an older build runs
these tests too), `httpd_new` the new ones (IDSessionResetFrom, IDSessionCookiePartitioned).

What Chromium 156 does here (pinned below): a partitioned cookie's partitionKey is
{"topLevelSite": "https://<top-level host>", "hasCrossSiteAncestor": <bool>} (false for a
first-party Partitioned cookie); third-party cookies are blocked by default, so an
unpartitioned SameSite=None cookie set in a cross-site iframe is not stored at all; a
browser-initiated navigation keeps `Sec-Fetch-Site: none` across a cross-site redirect."""

import pytest
from selenium.webdriver.common.by import By

import browser as br
import idshttpd

# Under valgrind, httpd answers too slowly for the browser's page-load timeouts, and the
# curl suites (test_crosssite.py) drive the same code paths under memcheck.
pytestmark = pytest.mark.skipif(idshttpd.VALGRIND, reason="browser timeouts under valgrind; "
                                "make test runs the browser tests")
from idshttpd import UNSET, token_re

TOK = token_re(32)

# Only directives that predate the cross-site rules, so that an older build can run these tests too.
CONF = r"""
<Location /s>
    IDSession On
</Location>
<Location /s/reset>
    SetHandler idsession-reset
</Location>
<Location /host>
    IDSession On
    IDSessionCookieName __Host-session
</Location>
<Location /hosthttp>
    IDSession On
    IDSessionCookieName __Host-Http-session
</Location>
<Location /strict>
    IDSession On
    IDSessionCookieName strict
    IDSessionCookieSameSite Strict
</Location>
<Location /login>
    IDSession On
    IDSessionAppReset On
</Location>
# on site 2: a redirect to site 1's reset handler (server-level: inherited by site 2)
Redirect 302 /go-reset https://127.0.0.1:@TLS_PORT@/s/reset?next=/s/env.cgi
"""

# The new directives (a second server).
NEWCONF = r"""
<Location /s>
    IDSession On
</Location>
<Location /s/reset-any>
    SetHandler idsession-reset
    IDSessionResetFrom any
</Location>
<Location /part>
    IDSession On
    IDSessionCookieName part
    IDSessionCookiePartitioned On
</Location>
<Location /emb>
    IDSession On
    IDSessionCookieName emb
    IDSessionCookieSameSite None
    IDSessionCookiePartitioned On
</Location>
<Location /emb3p>
    IDSession On
    IDSessionCookieName emb3p
    IDSessionCookieSameSite None
</Location>
"""

VARS = ["SESSION_TOKEN", "SESSION_TOKEN_NEW", "SESSION_COOKIE_WITHHELD", "SESSION_TOKEN_NEXT",
        "HTTP_COOKIE", "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_DEST", "REQUEST_METHOD"]

ENV_CGI = """#!/bin/sh
[ "$REQUEST_METHOD" = POST ] && cat >/dev/null
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in @VARS@; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
""".replace("@VARS@", " ".join(VARS))

LOGIN_CGI = ENV_CGI.replace("printf 'Content-Type", "printf 'IDSession-Reset: 1\\r\\n'\nprintf "
                            "'Content-Type")

REFUSED = r"session reset refused as cross-site \(Sec-Fetch-Site: cross-site\)"


def page(body):
    return "<!doctype html><html><head><title>page</title></head><body>%s</body></html>\n" % body


def two_sites(factory, conf, dirs, site2, name):
    """A two-site server with ENV_CGI in each of dirs; site2(url) -> {file: html} are site
    2's pages, written once the port is final (they name site 1's URLs)."""
    h = br.two_site_server(factory, conf=conf, cgi=True, start=False, name=name)
    for d in dirs:
        h.write_cgi(d + "/env.cgi", ENV_CGI)
    h.start()
    for file, text in site2(lambda path: br.url(h, path)).items():
        h.write(file, text, under=br.SITE2_DIR)
    return h


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    def site2(u):
        return {
            "img.html": page('<img id="i" src="%s" onload="document.title=\'load\'" '
                             'onerror="document.title=\'error\'">'
                             % u("/s/reset?next=/s/env.cgi")),
            "link-reset.html": page('<a id="a" href="%s">go</a>' % u("/s/reset?next=/s/env.cgi")),
            "post-reset.html": br.autopost_page(u("/s/reset?next=/s/env.cgi"), {"x": "1"}),
            "open-reset.html": page('<button id="a" onclick="window.open(\'%s\')">open</button>'
                                    % u("/s/reset?next=/s/env.cgi")),
            "link-redirect.html": page('<a id="a" href="/go-reset">go</a>'),
            "post-page.html": br.autopost_page(u("/s/env.cgi"), {"x": "1"}),
            "link-strict.html": page('<a id="a" href="%s">go</a>' % u("/strict/env.cgi")),
            "frame-lax.html": page('<iframe id="f" src="%s"></iframe>' % u("/s/env.cgi")),
        }
    h = two_sites(httpd_module_factory, CONF, ("s", "host", "hosthttp", "strict"), site2,
                  "browser")
    h.write_cgi("login/login.cgi", LOGIN_CGI)
    h.write("s/links.html", page(
        '<a id="get" href="/s/reset?next=/s/env.cgi">reset</a>'
        '<form method="POST" action="/s/reset?next=/s/env.cgi">'
        '<input type="hidden" name="x" value="1"><button id="post">reset</button></form>'))
    return h


@pytest.fixture(scope="module")
def httpd_new(httpd_module_factory):
    def site2(u):
        return {
            "link-reset-any.html": page('<a id="a" href="%s">go</a>'
                                        % u("/s/reset-any?next=/s/env.cgi")),
            "post-reset-any.html": br.autopost_page(u("/s/reset-any?next=/s/env.cgi"),
                                                    {"x": "1"}),
            "frame-emb.html": page('<iframe id="f" src="%s"></iframe>' % u("/emb/env.cgi")),
            "frame-emb3p.html": page('<iframe id="f" src="%s"></iframe>' % u("/emb3p/env.cgi")),
        }
    return two_sites(httpd_module_factory, NEWCONF, ("s", "part", "emb", "emb3p"), site2,
                     "browser-new")


# ---- helpers ------------------------------------------------------------------------------

def start_session(httpd, browser, loc="/s", name="_session"):
    """A first-party visit that mints the session; returns its token."""
    browser.open(br.url(httpd, loc + "/env.cgi"))
    env = browser.env()
    assert env["SESSION_TOKEN_NEW"] == "1" and TOK.match(env["SESSION_TOKEN"]), env
    assert browser.cookie(name)["value"] == env["SESSION_TOKEN"]
    return env["SESSION_TOKEN"]


def assert_session(httpd, browser, tok, loc="/s", name="_session"):
    """The browser still holds tok, and a first-party page of site 1 sees it."""
    assert browser.cookie(name)["value"] == tok
    browser.open(br.url(httpd, loc + "/env.cgi"))
    env = browser.env()
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (tok, UNSET), env
    assert browser.cookie(name)["value"] == tok


def click(browser, element_id):
    browser.driver.find_element(By.ID, element_id).click()


def in_frame(browser, frame_id="f"):
    """The env printed in the iframe of the current page."""
    browser.driver.switch_to.frame(frame_id)
    try:
        return browser.env()
    finally:
        browser.driver.switch_to.default_content()


# ---- first visits, reload ------------------------------------------------------------------

FIRST = {
    # location: (server fixture, cookie name, partitionKey)
    "/s": ("httpd", "_session", None),
    "/host": ("httpd", "__Host-session", None),
    "/hosthttp": ("httpd", "__Host-Http-session", None),
    "/part": ("httpd_new", "part",
              {"topLevelSite": "https://127.0.0.1", "hasCrossSiteAncestor": False}),
}


@pytest.mark.parametrize("loc", list(FIRST))
def test_first_visit_stores_cookie_and_reload_keeps_it(request, browser, loc):
    server, name, pkey = FIRST[loc]
    httpd = request.getfixturevalue(server)
    tok = start_session(httpd, browser, loc, name)
    [c] = browser.get_cookies()
    assert (c["name"], c["value"], c["domain"], c["path"]) == (name, tok, "127.0.0.1", "/")
    assert (c["secure"], c["httpOnly"], c["sameSite"], c["session"]) == (True, True, "Lax", True)
    assert c.get("partitionKey") == pkey
    browser.reload()
    env = browser.env()
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (tok, UNSET)
    assert env["HTTP_COOKIE"] == "%s=%s" % (name, tok)
    assert browser.get_cookies() == [c]


# ---- same-origin resets and the application's rotation -------------------------------------

@pytest.mark.parametrize("how", ["get", "post"])
def test_same_origin_reset_lands_on_next_with_new_token(httpd, browser, how):
    tok = start_session(httpd, browser)
    browser.open(br.url(httpd, "/s/links.html"))
    click(browser, how)
    browser.wait_url(br.url(httpd, "/s/env.cgi"))
    env = browser.env()
    new = browser.cookie("_session")["value"]
    assert TOK.match(new) and new != tok
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (new, UNSET)
    assert env["HTTP_SEC_FETCH_SITE"] == "same-origin"      # the redirect's target
    assert_session(httpd, browser, new)


def test_login_rotation_stores_new_token(httpd, browser):
    tok = start_session(httpd, browser)
    browser.open(br.url(httpd, "/login/login.cgi"))
    env = browser.env()
    assert env["SESSION_TOKEN"] == tok and TOK.match(env["SESSION_TOKEN_NEXT"])
    assert browser.cookie("_session")["value"] == env["SESSION_TOKEN_NEXT"] != tok
    assert_session(httpd, browser, env["SESSION_TOKEN_NEXT"])


# ---- cross-site resets -------------------------------------------------------------------------

def reset_by_img(httpd, browser):
    browser.open(br.url(httpd, "/img.html", site=2))
    browser.wait_for(lambda b: b.driver.title in ("load", "error"), message="the <img>")
    assert browser.driver.title == "error"            # a 403 HTML page is no image


def reset_by_link(httpd, browser):
    browser.open(br.url(httpd, "/link-reset.html", site=2))
    click(browser, "a")
    browser.wait_url(br.url(httpd, "/s/reset"))
    browser.wait_text("Forbidden")


def reset_by_post(httpd, browser):
    browser.open(br.url(httpd, "/post-reset.html", site=2))
    browser.wait_url(br.url(httpd, "/s/reset"))
    browser.wait_text("Forbidden")


def reset_by_window_open(httpd, browser):
    browser.open(br.url(httpd, "/open-reset.html", site=2))
    first = browser.driver.current_window_handle
    click(browser, "a")
    browser.wait_for(lambda b: len(b.driver.window_handles) == 2, message="the new window")
    [other] = [w for w in browser.driver.window_handles if w != first]
    browser.driver.switch_to.window(other)
    browser.wait_url(br.url(httpd, "/s/reset"))
    browser.wait_text("Forbidden")
    browser.driver.close()
    browser.driver.switch_to.window(first)


def reset_by_redirect(httpd, browser):
    """Site 2's page links to site 2's /go-reset, which 302s to site 1's reset."""
    browser.open(br.url(httpd, "/link-redirect.html", site=2))
    click(browser, "a")
    browser.wait_url(br.url(httpd, "/s/reset"))
    browser.wait_text("Forbidden")


CROSS_SITE_RESETS = {"img": reset_by_img, "link": reset_by_link, "post": reset_by_post,
                     "window-open": reset_by_window_open, "redirect": reset_by_redirect}


@pytest.mark.parametrize("how", list(CROSS_SITE_RESETS))
def test_cross_site_reset_refused(httpd, browser, how):
    tok = start_session(httpd, browser)
    CROSS_SITE_RESETS[how](httpd, browser)
    httpd.wait_log(REFUSED)
    assert_session(httpd, browser, tok)


@pytest.mark.parametrize("how", ["link", "post"])
def test_cross_site_reset_allowed_with_reset_from_any(httpd_new, browser, how):
    httpd = httpd_new
    tok = start_session(httpd, browser)
    browser.open(br.url(httpd, "/%s-reset-any.html" % how, site=2))
    if how == "link":
        click(browser, "a")
    browser.wait_url(br.url(httpd, "/s/env.cgi"))
    env = browser.env()
    new = browser.cookie("_session")["value"]
    assert TOK.match(new) and new != tok
    # the redirect's GET to next is still a cross-site navigation: Lax sends the cookie
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (new, UNSET)
    assert env["HTTP_SEC_FETCH_SITE"] == "cross-site"
    assert_session(httpd, browser, new)


def test_browser_initiated_redirect_is_not_cross_site(httpd, browser):
    """Pinned, a limit of Fetch Metadata: a navigation the browser starts (typed URL,
    bookmark, a link from another application) says `Sec-Fetch-Site: none` even after a
    redirect to another site, and `none` may reset."""
    tok = start_session(httpd, browser)
    browser.open(br.url(httpd, "/go-reset", site=2))
    browser.wait_url(br.url(httpd, "/s/env.cgi"))
    env = browser.env()
    assert env["HTTP_SEC_FETCH_SITE"] == "none"
    assert env["SESSION_TOKEN"] != tok and browser.cookie("_session")["value"] != tok


# ---- cross-site requests to ordinary pages -----------------------------------------------------

def test_cross_site_post_to_page_keeps_lax_session(httpd, browser):
    tok = start_session(httpd, browser)
    browser.open(br.url(httpd, "/post-page.html", site=2))
    browser.wait_url(br.url(httpd, "/s/env.cgi"))
    env = browser.env()
    assert (env["REQUEST_METHOD"], env["HTTP_SEC_FETCH_SITE"], env["HTTP_COOKIE"]) == \
        ("POST", "cross-site", UNSET)
    assert env["SESSION_COOKIE_WITHHELD"] == "1" and env["SESSION_TOKEN_NEW"] == "1"
    assert env["SESSION_TOKEN"] != tok
    assert_session(httpd, browser, tok)


def test_cross_site_link_keeps_strict_session(httpd, browser):
    tok = start_session(httpd, browser, "/strict", "strict")
    browser.open(br.url(httpd, "/link-strict.html", site=2))
    click(browser, "a")
    browser.wait_url(br.url(httpd, "/strict/env.cgi"))
    env = browser.env()
    assert (env["REQUEST_METHOD"], env["HTTP_SEC_FETCH_SITE"], env["HTTP_COOKIE"]) == \
        ("GET", "cross-site", UNSET)
    assert env["SESSION_COOKIE_WITHHELD"] == "1" and env["SESSION_TOKEN_NEW"] == "1"
    assert env["SESSION_TOKEN"] != tok
    # a typed URL (Sec-Fetch-Site: none) sends the Strict cookie again
    assert_session(httpd, browser, tok, "/strict", "strict")


# ---- iframes -------------------------------------------------------------------------------------

def test_partitioned_cookie_in_cross_site_iframe(httpd_new, browser):
    """SameSite=None; Partitioned: stored in site 2's partition, kept across a reload of
    the top page, and apart from site 1's own (first-party) partition."""
    httpd = httpd_new
    frame = br.url(httpd, "/frame-emb.html", site=2)
    browser.open(frame)
    env = in_frame(browser)
    tok = env["SESSION_TOKEN"]
    assert TOK.match(tok) and env["SESSION_TOKEN_NEW"] == "1"
    assert (env["HTTP_SEC_FETCH_SITE"], env["HTTP_SEC_FETCH_DEST"]) == ("cross-site", "iframe")
    assert env["SESSION_COOKIE_WITHHELD"] == UNSET         # SameSite None: never withheld
    [c] = browser.get_cookies(name="emb")
    assert c["value"] == tok and (c["secure"], c["sameSite"]) == (True, "None")
    assert c["partitionKey"] == {"topLevelSite": "https://127.0.0.2",
                                 "hasCrossSiteAncestor": True}
    browser.reload()
    env = in_frame(browser)
    assert (env["SESSION_TOKEN"], env["SESSION_TOKEN_NEW"]) == (tok, UNSET)
    assert env["HTTP_COOKIE"] == "emb=" + tok
    # site 1 on its own does not see site 2's partition, and does not disturb it
    browser.open(br.url(httpd, "/emb/env.cgi"))
    own = browser.env()
    assert own["SESSION_TOKEN_NEW"] == "1" and own["SESSION_TOKEN"] != tok
    assert sorted(c["partitionKey"]["topLevelSite"]
                  for c in browser.get_cookies(name="emb")) == ["https://127.0.0.1",
                                                                "https://127.0.0.2"]
    browser.open(frame)
    assert in_frame(browser)["SESSION_TOKEN"] == tok


def test_unpartitioned_none_cookie_in_cross_site_iframe_is_blocked(httpd_new, browser):
    """Without Partitioned, the SameSite=None cookie is a third-party cookie, which
    headless Chromium 156 blocks by default: not stored, a new token on every load."""
    httpd = httpd_new
    browser.open(br.url(httpd, "/frame-emb3p.html", site=2))
    first = in_frame(browser)
    assert first["SESSION_TOKEN_NEW"] == "1"
    assert browser.get_cookies(name="emb3p") == []
    browser.reload()
    again = in_frame(browser)
    assert again["HTTP_COOKIE"] == UNSET and again["SESSION_TOKEN_NEW"] == "1"
    assert again["SESSION_TOKEN"] != first["SESSION_TOKEN"]
    assert browser.get_cookies(name="emb3p") == []


def test_lax_session_survives_cross_site_iframe(httpd, browser):
    """A cross-site iframe of an ordinary page: the Lax cookie is not sent there, the
    module mints a token for the frame, and the browser does not let it replace the
    session."""
    tok = start_session(httpd, browser)
    browser.open(br.url(httpd, "/frame-lax.html", site=2))
    env = in_frame(browser)
    assert (env["HTTP_SEC_FETCH_SITE"], env["HTTP_SEC_FETCH_DEST"], env["HTTP_COOKIE"]) == \
        ("cross-site", "iframe", UNSET)
    assert env["SESSION_TOKEN_NEW"] == "1" and env["SESSION_TOKEN"] != tok
    assert_session(httpd, browser, tok)
