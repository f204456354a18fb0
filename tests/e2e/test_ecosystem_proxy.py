"""Backends: IDSessionHeader sends the token as a request header to whatever
handles the request -- a real second httpd behind mod_proxy_http (its CGI echoes the request
headers it got), a local CGI, and PHP-FPM behind mod_proxy_fcgi -- and removes any copy the
client sent, always (also where IDSession is Off, and whatever the capitalisation), in every
context: server, <Location>, <Directory>, .htaccess; `IDSessionHeader none` turns it off in
an inner section."""


import pytest

from ecosystem import ECHO_CGI, PHP_FPM, SERVER_PHP, PhpFpm, log_id, need
from idshttpd import UNSET, VALGRIND, token, token_re, wait_file_line

TOK = token_re(32)
EVIL = "client-chosen-" + "A" * 29

# The backend: any path runs the echo CGI; it knows nothing about sessions.
BACKEND_CONF = """
ScriptAliasMatch "^/.*$" "@ROOT@/cgi-bin/echo.cgi"
LogFormat "%U [%{X-Session-Token}i] [%{X_Session_Token}i]" hdrs
CustomLog "@ROOT@/logs/hdr_log" hdrs
"""

# The front.  The server-wide header is X-Session-Token; sections override it.
FRONT_CONF = """
IDSessionHeader X-Session-Token

# server-context header, IDSession On, mod_proxy_http
<Location /p/>
    IDSession On
    ProxyPass http://127.0.0.1:@BACKEND@/p/
</Location>
# ... and switched off in an inner section
<Location /p/none/>
    IDSessionHeader none
</Location>

# IDSession Off, IDSessionHeader still set (inherited from the server)
<Location /off/>
    ProxyPass http://127.0.0.1:@BACKEND@/off/
</Location>

# A phase before fixups that reads the header (see test_client_header_before_fixups)
<Location /p/authz/>
    Require expr "%{HTTP:X-Session-Token} != 'letmein'"
</Location>

# README "mod_headers": the log id to the backend and the client
<Location /hdr/>
    IDSession On
    RequestHeader set X-Session-Log-Id "%{SESSION_LOG_ID}e"
    Header always set X-Session-Log-Id "%{SESSION_LOG_ID}e"
    ProxyPass        "http://127.0.0.1:@BACKEND@/hdr/"
    ProxyPassReverse "http://127.0.0.1:@BACKEND@/hdr/"
</Location>

# <Location> context
<Location /loc/>
    IDSession On
    IDSessionHeader X-Loc-Token
    ProxyPass http://127.0.0.1:@BACKEND@/loc/
</Location>

# <Directory> context, proxied by a per-directory rewrite rule
<Directory "@DOCROOT@/dir">
    IDSession On
    IDSessionHeader X-Dir-Token
    RewriteEngine On
    RewriteRule ^(.*)$ http://127.0.0.1:@BACKEND@/dir/$1 [P]
</Directory>

# .htaccess context (the file is written by the fixture)
<Directory "@DOCROOT@/ht">
    AllowOverride FileInfo
</Directory>

# A local CGI is "whatever handles the request" too.
<Directory "@DOCROOT@/cgi">
    IDSession On
</Directory>

# PHP-FPM behind mod_proxy_fcgi: HTTP_X_SESSION_TOKEN from the server-wide header.
<Directory "@DOCROOT@/fpm">
    IDSession On
    <FilesMatch "\\.php$">
        SetHandler "@FCGI@"
    </FilesMatch>
</Directory>
"""

HTACCESS = """IDSession On
IDSessionHeader X-Ht-Token
RewriteEngine On
RewriteRule ^(.*)$ http://127.0.0.1:@BACKEND@/ht/$1 [P]
"""


@pytest.fixture(scope="module")
def servers(httpd_module_factory):
    need(PHP_FPM, "apt-get install php8.2-fpm")
    backend = httpd_module_factory(conf=BACKEND_CONF, cgi=True, idsession=False,
                                   start=False, name="backend")
    backend.write_cgi("cgi-bin/echo.cgi", ECHO_CGI, under=".")
    backend.start()
    front = httpd_module_factory(modules=["proxy", "proxy_http", "proxy_fcgi", "rewrite"],
                                 cgi=True, start=False, name="front")
    fpm = PhpFpm(front.root, str(front.root / "run" / "php-fpm.sock"))
    bport = str(backend.port)
    front.conf = FRONT_CONF.replace("@BACKEND@", bport).replace("@FCGI@", fpm.fcgi_handler)
    front.write("ht/.htaccess", HTACCESS.replace("@BACKEND@", bport))
    front.write("dir/.keep", "")
    front.write_cgi("cgi/echo.cgi", ECHO_CGI)
    front.write("fpm/env.php", SERVER_PHP)
    fpm.start()
    try:
        front.start()
        yield front, backend
    finally:
        fpm.stop_and_check()


@pytest.fixture
def front(servers):
    return servers[0]


@pytest.fixture
def backend(servers):
    return servers[1]


def backend_env(r):
    assert r.status == 200, r
    return r.env()


# ---- the token reaches the backend ------------------------------------------------------

def test_backend_sees_minted_token(front):
    r = front.curl("/p/x")
    e = backend_env(r)
    [c] = r.set_cookies("_session")          # the front's cookie, through the proxy
    assert TOK.match(c.value)
    assert e["HTTP_X_SESSION_TOKEN"] == c.value
    assert "private" in r.header("Cache-Control")


def test_backend_sees_kept_token(front):
    t = token()
    r = front.curl("/p/x", cookie_header="_session=" + t)
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == t
    assert r.set_cookies() == []


def test_backend_sees_header_in_its_own_log(front, backend):
    # Independent of CGI: the backend's access log records the header as received.
    t = token()
    front.curl("/p/logged", cookie_header="_session=" + t)
    log = backend.root / "logs" / "hdr_log"
    line = wait_file_line(log, lambda l: l.startswith("/p/logged "))
    assert line == "/p/logged [%s] [-]" % t


# ---- a client never chooses what the backend sees -----------------------------------------

@pytest.mark.parametrize("name", ["X-Session-Token", "x-session-token", "X-SESSION-TOKEN",
                                  "x-SeSsIoN-tOkEn"])
def test_client_header_replaced(front, name):
    t = token()
    r = front.curl("/p/x", cookie_header="_session=" + t, headers=["%s: %s" % (name, EVIL)])
    e = backend_env(r)
    assert e["HTTP_X_SESSION_TOKEN"] == t


def test_client_header_replaced_when_minting(front):
    r = front.curl("/p/x", headers=["X-Session-Token: " + EVIL])
    e = backend_env(r)
    [c] = r.set_cookies("_session")
    assert e["HTTP_X_SESSION_TOKEN"] == c.value


def test_client_header_twice_replaced(front):
    t = token()
    r = front.get_raw("/p/x", [b"x-session-token: " + EVIL.encode(),
                               b"Cookie: _session=" + t.encode(),
                               b"X-Session-Token: second-" + EVIL.encode()])
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == t


@pytest.mark.parametrize("listed", ["X-Session-Token", "keep-alive, x-session-token"])
def test_client_cannot_drop_the_header_through_connection(front, listed):
    # mod_proxy_http drops every header the client names in Connection, and the module's
    # own would go with it: the backend must still see the token, and the rest of the
    # list stays.
    t = token()
    r = front.get_raw("/p/x", [b"Cookie: _session=" + t.encode(),
                               b"Connection: " + listed.encode()])
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == t


def test_client_header_with_a_valid_token_still_replaced(front):
    # Even a well-formed token in the header is not the session: the cookie is.
    t, other = token(), token()
    r = front.curl("/p/x", cookie_header="_session=" + t,
                   headers=["X-Session-Token: " + other])
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == t


@pytest.mark.parametrize("name", ["X-Session-Token", "x-session-token"])
def test_client_header_removed_where_idsession_off(front, name):
    # IDSession Off, IDSessionHeader set: no token, and the client's copy is gone.
    r = front.curl("/off/x", cookie_header="_session=" + token(),
                   headers=["%s: %s" % (name, EVIL)])
    e = backend_env(r)
    assert e["HTTP_X_SESSION_TOKEN"] == UNSET
    assert e["SESSION_TOKEN"] == UNSET
    assert r.set_cookies() == []


def test_underscore_variant_never_reaches_the_backend(front, backend):
    # X_Session_Token is the same name to a backend that folds "_" into "-"
    # (WSGI, Rack), so the module strips it like the real one.
    t = token()
    r = front.curl("/p/underscore", cookie_header="_session=" + t,
                   headers=["X_Session_Token: " + EVIL, "x_session-TOKEN: " + EVIL])
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == t
    line = wait_file_line(backend.root / "logs" / "hdr_log",
                          lambda l: l.startswith("/p/underscore "))
    assert line == "/p/underscore [%s] [-]" % t


def test_client_header_gone_before_authorization(front):
    # Stripped in post_read_request/header_parser, so no phase before fixups
    # (authz such as Require expr, server-context mod_rewrite) sees it.
    r = front.curl("/p/authz/x", cookie_header="_session=" + token(),
                   headers=["X-Session-Token: letmein"])
    assert r.status == 200


def test_request_header_log_id(front):
    # mod_headers' RequestHeader runs in fixups after mod_idsession, so %{..}e works.
    t = token()
    r = front.curl("/hdr/x", cookie_header="_session=" + t,
                   headers=["X-Session-Log-Id: " + EVIL])
    assert backend_env(r)["HTTP_X_SESSION_LOG_ID"] == log_id(t)
    assert r.header("X-Session-Log-Id") == log_id(t)
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == t   # server-wide IDSessionHeader


# ---- every context ----------------------------------------------------------------------

@pytest.mark.parametrize("path,var", [
    ("/loc/x", "HTTP_X_LOC_TOKEN"),
    ("/dir/x", "HTTP_X_DIR_TOKEN"),
    ("/ht/x", "HTTP_X_HT_TOKEN"),
])
def test_section_header(front, path, var):
    t = token()
    hdr = var[len("HTTP_"):].replace("_", "-").lower()
    r = front.curl(path, cookie_header="_session=" + t, headers=["%s: %s" % (hdr, EVIL)])
    e = backend_env(r)
    assert e[var] == t
    # The section's own name replaces the server's: X-Session-Token is not sent there.
    assert e["HTTP_X_SESSION_TOKEN"] == UNSET


@pytest.mark.parametrize("path,var", [
    ("/loc/x", "HTTP_X_LOC_TOKEN"),
    ("/dir/x", "HTTP_X_DIR_TOKEN"),
    ("/ht/x", "HTTP_X_HT_TOKEN"),
])
def test_section_header_minting(front, path, var):
    r = front.curl(path)
    e = backend_env(r)
    [c] = r.set_cookies("_session")
    assert e[var] == c.value


def test_none_in_an_inner_section(front):
    t = token()
    r = front.curl("/p/none/x", cookie_header="_session=" + t)
    e = backend_env(r)
    assert e["HTTP_X_SESSION_TOKEN"] == UNSET
    # The token reaches the backend only in the Cookie header.
    assert [k for k, v in e.items() if t in v] == ["HTTP_COOKIE"]


def test_none_adds_nothing_and_server_name_still_stripped(front):
    # The server-wide IDSessionHeader is stripped in post_read_request, before any
    # <Location> applies, so even where an inner section says none, a client's copy
    # of the server-wide name never gets through; the module adds no token there.
    r = front.curl("/p/none/x", cookie_header="_session=" + token(),
                   headers=["X-Session-Token: " + EVIL])
    assert backend_env(r)["HTTP_X_SESSION_TOKEN"] == UNSET


def test_local_cgi(front):
    t = token()
    r = front.curl("/cgi/echo.cgi", cookie_header="_session=" + t,
                   headers=["X-Session-Token: " + EVIL])
    e = r.env()
    assert e["HTTP_X_SESSION_TOKEN"] == e["SESSION_TOKEN"] == t


# ---- PHP-FPM behind mod_proxy_fcgi -------------------------------------------------------

def test_fpm_sees_header(front):
    t = token()
    r = front.curl("/fpm/env.php", cookie_header="_session=" + t,
                   headers=["x-session-token: " + EVIL])
    e = r.env()
    assert e["SAPI"] == "fpm-fcgi"
    assert e["HTTP_X_SESSION_TOKEN"] == e["SESSION_TOKEN"] == t


def test_fpm_sees_minted_header(front):
    r = front.curl("/fpm/env.php", headers=["X-Session-Token: " + EVIL,
                                            "X_Session_Token: " + EVIL])
    e = r.env()
    [c] = r.set_cookies("_session")
    assert e["HTTP_X_SESSION_TOKEN"] == e["SESSION_TOKEN"] == c.value


# ---- the server-wide strip across restarts ------------------------------------------------

RESTART_CONF = """
IDSessionHeader X-Session-Token
<Directory "@DOCROOT@/cgi">
    IDSession On
</Directory>
<Directory "@DOCROOT@/cgi/none">
    IDSessionHeader none
</Directory>
"""


@pytest.mark.skipif(VALGRIND, reason="apache2 -X (valgrind) has no graceful restart")
def test_server_wide_strip_survives_restarts(httpd_factory):
    # The strip at post_read_request is registered while the configuration is read,
    # only where a server-wide IDSessionHeader asks for it: every generation must
    # register it again.  Under "none" only that early strip removes the client's copy.
    h = httpd_factory(conf=RESTART_CONF, cgi=True, start=False)
    h.write_cgi("cgi/none/echo.cgi", ECHO_CGI)
    h.start()

    def client_copy():
        r = h.curl("/cgi/none/echo.cgi", headers=["X-Session-Token: " + EVIL])
        assert r.status == 200, r
        return r.env()["HTTP_X_SESSION_TOKEN"]

    assert client_copy() == UNSET
    h.graceful()
    assert client_copy() == UNSET
    h.restart()
    assert client_copy() == UNSET
    # Without the server-wide setting, nothing strips it under "none".
    h.restart(conf=RESTART_CONF.replace("IDSessionHeader X-Session-Token\n", "", 1))
    assert client_copy() == EVIL


def test_setenvif_never_sees_the_client_copy(httpd_factory):
    """A server-wide IDSessionHeader is stripped before every other module's
    post_read_request hook, such as mod_setenvif's, whatever the LoadModule order."""
    h = httpd_factory(modules=["setenvif"], conf="""
IDSessionHeader X-Session-Token
SetEnvIf X-Session-Token "(.+)" FORGED=$1
<Location /s>
    IDSession On
    Header always set X-Forged-Seen "%{FORGED}e"
</Location>
""")
    h.write("s/x", "x\n")
    r = h.curl("/s/x", headers=["X-Session-Token: evil"])
    assert r.status == 200 and r.header("X-Forged-Seen") == "(null)", r.headers
