"""Who can see the token: SSI (`<!--#echo var=...-->`), mod_rewrite's
%{ENV:SESSION_TOKEN} in per-directory context (<Directory>, .htaccess) and -- documented by
test -- not in server context, where rules run before the fixups phase; a LogFormat with
%{SESSION_LOG_ID}n (log ids instead of tokens); and mod_info listing the directives."""

import html
import re

import pytest

from ecosystem import log_id
from idshttpd import token, wait_file_line


DIRECTIVES = ["IDSession", "IDSessionCookieName", "IDSessionCookiePath",
              "IDSessionCookieDomain", "IDSessionCookieSecure", "IDSessionCookieHttpOnly",
              "IDSessionCookieSameSite", "IDSessionCookieMaxAge", "IDSessionTokenBytes",
              "IDSessionResetRedirect", "IDSessionSecret", "IDSessionHeader",
              "IDSessionAppReset"]

CONF = """
# ---- SSI ----
<Directory "@DOCROOT@/ssi">
    IDSession On
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>

# ---- mod_rewrite, server context: runs in translate_name, before fixups ----
RewriteEngine On
RewriteRule ^/srv/redirect$ /srv/seen?v=%{ENV:SESSION_TOKEN} [R=302,L]
RewriteRule ^/srv/pt$ /srv/show.cgi?seen=%{ENV:SESSION_TOKEN} [PT,L]
RewriteCond %{ENV:SESSION_TOKEN} ^$
RewriteRule ^/srv/cond$ /srv/empty.txt [PT,L]
RewriteRule ^/srv/cond$ /srv/full.txt [PT,L]
<Directory "@DOCROOT@/srv">
    IDSession On
</Directory>

# ---- mod_rewrite, <Directory> context: runs in fixups, after mod_idsession ----
<Directory "@DOCROOT@/rw">
    IDSession On
    RewriteEngine On
    RewriteCond %{ENV:SESSION_TOKEN} ^([A-Za-z0-9_-]{43})$
    RewriteRule ^probe$ /rw/show.cgi?seen=%1 [R=302,L]
    RewriteRule ^probe$ /rw/no-token [R=302,L]
    RewriteCond %{ENV:SESSION_TOKEN} !^$
    RewriteRule ^gate$ full.txt [L]
    RewriteRule ^gate$ empty.txt [L]
    RewriteRule ^copy\\.cgi$ - [E=COPIED:%{ENV:SESSION_TOKEN}]
</Directory>

# ---- mod_rewrite, .htaccess (the file is written by the fixture) ----
<Directory "@DOCROOT@/rwht">
    AllowOverride FileInfo
</Directory>

# ---- logs: log ids, never tokens ----
LogFormat "%U %{SESSION_LOG_ID}n %{SESSION_LOG_ID}e %{SESSION_TOKEN_NEW}n" ids
CustomLog "@ROOT@/logs/ids_log" ids
<Directory "@DOCROOT@/log">
    IDSession On
</Directory>
<Location /log/reset>
    SetHandler idsession-reset
</Location>

# ---- mod_info ----
<Location /server-info>
    SetHandler server-info
</Location>
<Location /info-secret>
    IDSessionSecret file:@ROOT@/secret
</Location>
<Location /info-literal>
    IDSessionSecret literal-secret-in-the-config-0123456789-abcdef
</Location>
"""

HTACCESS = r"""IDSession On
RewriteEngine On
RewriteBase /rwht/
RewriteCond %{ENV:SESSION_TOKEN} ^([A-Za-z0-9_-]{43})$
RewriteRule ^probe$ /rwht/show.cgi?seen=%1 [R=302,L]
RewriteRule ^probe$ /rwht/no-token [R=302,L]
RewriteCond %{ENV:SESSION_TOKEN} !^$
RewriteRule ^gate$ full.txt [L]
RewriteRule ^gate$ empty.txt [L]
"""

SSI_PAGE = """T=<!--#echo var="SESSION_TOKEN"-->
L=<!--#echo var="SESSION_LOG_ID"-->
N=<!--#echo var="SESSION_TOKEN_NEW"-->
I=<!--#include virtual="/ssi/inc.shtml"-->
"""

SHOW_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'QUERY_STRING=%s\\n' "$QUERY_STRING"
printf 'SESSION_TOKEN=%s\\n' "${SESSION_TOKEN-<unset>}"
printf 'COPIED=%s\\n' "${COPIED-<unset>}"
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, modules=["include", "rewrite", "info"], cgi=True,
                             start=False, name="env")
    h.write("ssi/page.shtml", SSI_PAGE)
    h.write("ssi/inc.shtml", '<!--#echo var="SESSION_TOKEN"-->')
    for d in ("srv", "rw", "rwht"):
        h.write_cgi(d + "/show.cgi", SHOW_CGI)
        h.write(d + "/empty.txt", "EMPTY\n")
        h.write(d + "/full.txt", "FULL\n")
    h.write_cgi("rw/copy.cgi", SHOW_CGI)
    h.write("rwht/.htaccess", HTACCESS)
    h.write("log/x.html", "x\n")
    h.write("secret", "s" * 40 + "\n", under=".", mode=0o600)
    return h.start()


def one_cookie(r):
    cs = r.set_cookies("_session")
    assert len(cs) == 1, r.headers
    return cs[0].value


# ---- SSI ---------------------------------------------------------------------------------

def test_ssi_echo_minted(httpd):
    r = httpd.curl("/ssi/page.shtml")
    assert r.status == 200
    e = r.env()
    t = one_cookie(r)
    assert e["T"] == t and e["L"] == log_id(t) and e["N"] == "1"
    assert e["I"] == t            # the subrequest sees the same token


def test_ssi_echo_kept(httpd):
    t = token()
    r = httpd.curl("/ssi/page.shtml", cookie_header="_session=" + t)
    e = r.env()
    assert e["T"] == e["I"] == t and e["L"] == log_id(t)
    assert e["N"] == "(none)"      # mod_include's text for an unset variable
    assert r.set_cookies() == []


# ---- mod_rewrite -------------------------------------------------------------------------

@pytest.mark.parametrize("d", ["rw", "rwht"])
def test_rewrite_per_dir_sees_minted_token(httpd, d):
    r = httpd.curl("/%s/probe" % d)
    assert r.status == 302
    t = one_cookie(r)              # the redirect carries the cookie
    assert r.header("Location").endswith("/%s/show.cgi?seen=%s" % (d, t))


@pytest.mark.parametrize("d", ["rw", "rwht"])
def test_rewrite_per_dir_sees_kept_token(httpd, d):
    t = token()
    r = httpd.curl("/%s/probe" % d, cookie_header="_session=" + t)
    assert r.status == 302
    assert r.header("Location").endswith("seen=" + t)
    assert r.set_cookies() == []


@pytest.mark.parametrize("d", ["rw", "rwht"])
def test_rewrite_per_dir_condition(httpd, d):
    r = httpd.curl("/%s/gate" % d)
    assert r.status == 200 and r.body == "FULL\n"


def test_rewrite_per_dir_env_flag(httpd):
    t = token()
    r = httpd.curl("/rw/copy.cgi", cookie_header="_session=" + t)
    assert r.env()["COPIED"] == t


def test_rewrite_server_context_redirect_sees_nothing(httpd):
    # Server-context rules run in translate_name: the token doesn't exist yet, and a
    # redirect issued there ends the request before mod_idsession's fixups.
    for cookie in (None, "_session=" + token()):
        r = httpd.curl("/srv/redirect", cookie_header=cookie)
        assert r.status == 302
        assert r.header("Location").endswith("/srv/seen?v=")
        assert r.set_cookies() == []


def test_rewrite_server_context_pass_through(httpd):
    # The rule saw an empty variable; the CGI it passed to sees the token.
    t = token()
    r = httpd.curl("/srv/pt", cookie_header="_session=" + t)
    e = r.env()
    assert e["QUERY_STRING"] == "seen="
    assert e["SESSION_TOKEN"] == t


def test_rewrite_server_context_condition_is_empty(httpd):
    for cookie in (None, "_session=" + token()):
        r = httpd.curl("/srv/cond", cookie_header=cookie)
        assert r.status == 200 and r.body == "EMPTY\n"


# ---- logs --------------------------------------------------------------------------------

def log_line(httpd, uri):
    """The ids_log fields for uri."""
    return wait_file_line(httpd.root / "logs" / "ids_log",
                          lambda l: l.split(" ")[0] == uri).split(" ")


def test_log_id_minted(httpd):
    uri = "/log/x.html"
    r = httpd.curl(uri + "?minted")
    t = one_cookie(r)
    assert log_line(httpd, uri)[1:] == [log_id(t), log_id(t), "1"]


def test_log_id_kept_is_stable(httpd):
    t = token()
    for i in range(2):
        uri = "/log/kept%d" % i        # a 404 is logged with the session's log id too
        httpd.curl(uri, cookie_header="_session=" + t)
        assert log_line(httpd, uri)[1:] == [log_id(t), log_id(t), "-"]


def test_log_id_is_sha256_prefix(httpd):
    t = token()
    httpd.curl("/log/sha", cookie_header="_session=" + t)
    lid = log_line(httpd, "/log/sha")[1]
    assert re.fullmatch(r"[0-9a-f]{16}", lid)
    assert lid == log_id(t)
    assert t not in (httpd.root / "logs" / "ids_log").read_text()


def test_log_id_after_reset_is_the_new_session(httpd):
    t = token()
    r = httpd.curl("/log/reset", cookie_header="_session=" + t)
    assert r.status == 302
    new = one_cookie(r)
    assert log_line(httpd, "/log/reset")[1:3] == [log_id(new), log_id(new)]


def test_log_id_outside(httpd):
    # Outside every IDSession section there is no log id, whatever the client sent.
    httpd.curl("/elsewhere", cookie_header="_session=" + token())
    assert log_line(httpd, "/elsewhere")[1:] == ["-", "-", "-"]


# ---- mod_info ----------------------------------------------------------------------------

def text_of(r):
    """mod_info's HTML as one line of text (tags and runs of white space -> one space)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.body)).split())


def test_mod_info_lists_the_module(httpd):
    r = httpd.curl("/server-info?list")
    assert r.status == 200 and "mod_idsession.c" in text_of(r)


def test_mod_info_shows_the_directives(httpd):
    r = httpd.curl("/server-info?mod_idsession.c")
    assert r.status == 200
    t = text_of(r)
    assert "Module Name: mod_idsession.c" in t
    for d in DIRECTIVES:
        assert re.search(r"(?<![\w])%s - \w" % d, t), d
    assert re.search(r"Request Phase Participation: [^:]*Fixups", t)


def test_mod_info_config_shows_secret_paths_only(httpd):
    # mod_info prints configuration lines verbatim; with file: it shows the path only.
    r = httpd.curl("/server-info?config")
    t = text_of(r)
    assert "IDSessionSecret file:%s/secret" % httpd.root in t
    assert "s" * 40 not in t


def test_mod_info_config_hides_a_literal_secret(httpd):
    t = text_of(httpd.curl("/server-info?config"))
    assert "IDSessionSecret (secret not shown)" in t
    assert "literal-secret-in-the-config" not in t
