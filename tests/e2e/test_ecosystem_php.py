"""PHP: mod_php (libapache2-mod-php8.2 under prefork) and PHP-FPM (php-fpm8.2 over
mod_proxy_fcgi, started by the test on a loopback TCP port and on a unix socket) both read
$_SERVER['SESSION_TOKEN'], SESSION_TOKEN_NEW and SESSION_LOG_ID.

The configurations follow conf/mod_php.conf and conf/php-fpm.conf (IDSession in the
application's <Directory>, IDSessionAppReset for login.php alone, a POST-only reset
location), so those examples are the ones tested here."""


import pytest

from ecosystem import PHP_FPM, PHP_LOAD, PHP_SO, SERVER_PHP, PhpFpm, log_id, need
from idshttpd import UNSET, free_port, token, token_re

TOK = token_re(32)

# What conf/mod_php.conf shows, plus the FilesMatch of Debian's php8.2.conf.
MOD_PHP_CONF = PHP_LOAD + """
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>

<Directory "@DOCROOT@/app">
    Require all granted
    IDSession On
    <Files "login.php">
        IDSessionAppReset On
    </Files>
</Directory>

<Location "/session/reset">
    SetHandler idsession-reset
    <LimitExcept POST>
        Require all denied
    </LimitExcept>
</Location>
"""

# What conf/php-fpm.conf shows; @FCGI@ is the pool's SetHandler target.
FPM_CONF = """
<Directory "@DOCROOT@/app">
    Require all granted
    IDSession On
    <Files "login.php">
        IDSessionAppReset On
    </Files>
    <FilesMatch "\\.php$">
        SetHandler "@FCGI@"
    </FilesMatch>
</Directory>
# Also PHP, but no IDSession (test_outside_the_directory).
<Directory "@DOCROOT@/other">
    <FilesMatch "\\.php$">
        SetHandler "@FCGI@"
    </FilesMatch>
</Directory>

<Location "/session/reset">
    SetHandler idsession-reset
    <LimitExcept POST>
        Require all denied
    </LimitExcept>
</Location>
"""

# The login recipe in one request: store user <-> SESSION_TOKEN_NEXT, then ask
# the module to rotate.
LOGIN_PHP = """<?php
header('Content-Type: text/plain');
echo 'OLD=', $_SERVER['SESSION_TOKEN'], "\\n";
echo 'NEXT=', isset($_SERVER['SESSION_TOKEN_NEXT']) ? $_SERVER['SESSION_TOKEN_NEXT'] : '<unset>', "\\n";
header('IDSession-Reset: 1');
"""


def write_app(h):
    h.write("app/env.php", SERVER_PHP)
    h.write("app/login.php", LOGIN_PHP)
    h.write("app/page.php", LOGIN_PHP)         # the same script, outside <Files "login.php">
    h.write("other/env.php", SERVER_PHP)       # outside the IDSession directory


def _mod_php_server(factory):
    need(PHP_SO, "apt-get install libapache2-mod-php8.2")
    h = factory(conf=MOD_PHP_CONF, mpm="prefork", start=False, name="modphp")
    write_app(h)
    return h.start()


def _fpm_server(factory, unix):
    need(PHP_FPM, "apt-get install php8.2-fpm")
    h = factory(conf="", modules=["proxy", "proxy_fcgi"], start=False,
                name="fpm-unix" if unix else "fpm-tcp")
    listen = str(h.root / "run" / "php-fpm.sock") if unix else free_port()
    fpm = PhpFpm(h.root, listen)
    h.conf = FPM_CONF.replace("@FCGI@", fpm.fcgi_handler)
    write_app(h)
    fpm.start()
    try:
        h.start()
    except Exception:
        fpm.stop()
        raise
    return h, fpm


SAPI = {"mod_php": "apache2handler", "fpm-tcp": "fpm-fcgi", "fpm-unix": "fpm-fcgi"}


@pytest.fixture(scope="module", params=list(SAPI))
def php(request, httpd_module_factory):
    """The same PHP application under mod_php, FPM over TCP and FPM over a unix socket."""
    if request.param == "mod_php":
        h = _mod_php_server(httpd_module_factory)
        h.sapi = request.param
        yield h
        h.stop()
        return
    h, fpm = _fpm_server(httpd_module_factory, request.param == "fpm-unix")
    h.sapi = request.param
    yield h
    h.stop()
    fpm.stop_and_check()


def test_sapi(php):
    assert php.curl("/app/env.php").env()["SAPI"] == SAPI[php.sapi]


def test_minted(php):
    r = php.curl("/app/env.php")
    assert r.status == 200, r
    e = r.env()
    [c] = r.set_cookies("_session")
    assert TOK.match(e["SESSION_TOKEN"])
    assert c.value == e["SESSION_TOKEN"]
    assert e["SESSION_TOKEN_NEW"] == "1"
    assert e["SESSION_LOG_ID"] == log_id(e["SESSION_TOKEN"])
    assert "private" in r.header("Cache-Control")


def test_kept(php):
    t = token()
    r = php.curl("/app/env.php", cookie_header="_session=" + t)
    e = r.env()
    assert e["SESSION_TOKEN"] == t
    assert e["SESSION_TOKEN_NEW"] == UNSET
    assert e["SESSION_LOG_ID"] == log_id(t)
    assert r.set_cookies() == []


def test_malformed_replaced(php):
    bad = token() + "x"
    r = php.curl("/app/env.php", cookie_header="_session=" + bad)
    e = r.env()
    assert e["SESSION_TOKEN"] != bad and TOK.match(e["SESSION_TOKEN"])
    assert [c.value for c in r.set_cookies("_session")] == [e["SESSION_TOKEN"]]


def test_outside_the_directory(php):
    r = php.curl("/other/env.php")
    e = r.env()
    assert e["SESSION_TOKEN"] == e["SESSION_LOG_ID"] == UNSET
    assert r.set_cookies() == []


def test_session_sticks(php):
    r = php.curl("/app/env.php")
    t = r.env()["SESSION_TOKEN"]
    for _ in range(3):
        r = php.curl("/app/env.php", cookie_header="_session=" + t)
        assert r.env()["SESSION_TOKEN"] == t and r.set_cookies() == []


def test_app_reset_from_php(php):
    t = token()
    r = php.curl("/app/login.php", cookie_header="_session=" + t)
    assert r.status == 200
    e = r.env()
    assert e["OLD"] == t
    assert TOK.match(e["NEXT"]) and e["NEXT"] != t
    assert [c.value for c in r.set_cookies("_session")] == [e["NEXT"]]
    assert r.header("IDSession-Reset") is None
    r2 = php.curl("/app/env.php", cookie_header="_session=" + e["NEXT"])
    assert r2.env()["SESSION_TOKEN"] == e["NEXT"] and r2.set_cookies() == []


def test_app_reset_only_in_login_script(php):
    """IDSessionAppReset is on for login.php alone: any other page of the application
    gets no SESSION_TOKEN_NEXT, and its IDSession-Reset header rotates nothing."""
    t = token()
    php.expect_log(r"IDS00004: IDSession-Reset: 1 in the response to /app/page.php was dropped")
    r = php.curl("/app/page.php", cookie_header="_session=" + t)
    assert r.status == 200
    e = r.env()
    assert e["OLD"] == t and e["NEXT"] == UNSET
    assert r.set_cookies("_session") == [] and r.header("IDSession-Reset") is None


def test_reset_location_post_only(php):
    t = token()
    php.expect_log(r"AH01630")
    r = php.curl("/session/reset", cookie_header="_session=" + t)
    assert r.status == 403
    r = php.curl("/session/reset?next=/app/env.php", method="POST", data="",
                 cookie_header="_session=" + t)
    assert r.status == 303 and r.header("Location") == "/app/env.php"
    [c] = r.set_cookies("_session")
    assert TOK.match(c.value) and c.value != t
