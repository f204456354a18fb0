"""Directive contexts: server config, <VirtualHost>, <Directory>, <Location>,
<Files> and .htaccess (AllowOverride FileInfo), with inner sections inheriting what they
don't set."""

import pytest

from idshttpd import ENV_CGI, UNSET, one_cookie, token, token_re

ALL_DIRECTIVES = """
    IDSession On
    IDSessionCookieName ctx
    IDSessionCookiePath /
    IDSessionCookieDomain example.test
    IDSessionCookieSecure Auto
    IDSessionCookieHttpOnly Off
    IDSessionCookieSameSite Strict
    IDSessionCookieMaxAge 10
    IDSessionTokenBytes 24
    IDSessionResetRedirect /somewhere
"""

CONTEXTS = {
    "server": "%s",
    "vhost": "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName x.test\n%s</VirtualHost>\n",
    "directory": '<Directory "@DOCROOT@/x">\n%s</Directory>\n',
    "location": "<Location /x>\n%s</Location>\n",
    "files": "<Files x.html>\n%s</Files>\n",
    "locationmatch": "<LocationMatch ^/y>\n%s</LocationMatch>\n",
    "directory-files": '<Directory "@DOCROOT@/x">\n<Files x.html>\n%s</Files>\n</Directory>\n',
}


@pytest.mark.parametrize("ctx", list(CONTEXTS))
def test_every_directive_allowed(configtest, ctx):
    rc, out = configtest(CONTEXTS[ctx] % ALL_DIRECTIVES)
    assert rc == 0, out


HTACCESS_ALL = """IDSession On
IDSessionCookieName htname
IDSessionCookiePath /ht
IDSessionCookieDomain example.test
IDSessionCookieSecure On
IDSessionCookieHttpOnly Off
IDSessionCookieSameSite None
IDSessionCookieMaxAge 30
IDSessionTokenBytes 24
IDSessionResetRedirect /after-ht
<Files reset>
    SetHandler idsession-reset
</Files>
"""

CONF = """
IDSessionCookieName srv
IDSessionCookieSameSite Strict

<Location /loc>
    IDSession On
</Location>

<Directory "@DOCROOT@/dir">
    IDSession On
    IDSessionCookieName dirname
    IDSessionCookieMaxAge 100
</Directory>
<Location /dir/loc>
    IDSessionCookiePath /dir/loc
</Location>
<Location /dir/off>
    IDSession Off
</Location>

<Directory "@DOCROOT@/files">
    <Files "on.html">
        IDSession On
        IDSessionCookieName filesname
    </Files>
</Directory>
<Files "top-files.html">
    IDSession On
    IDSessionCookieHttpOnly Off
</Files>

<Directory "@DOCROOT@/ht">
    AllowOverride FileInfo
</Directory>
<Directory "@DOCROOT@/ht-none">
    AllowOverride None
</Directory>
<Directory "@DOCROOT@/ht-indexes">
    AllowOverride Indexes
</Directory>
<Directory "@DOCROOT@/ht-inherit">
    AllowOverride FileInfo
    IDSession On
    IDSessionCookieName fromdir
    IDSessionCookieMaxAge 5
</Directory>

<VirtualHost 127.0.0.1:@PORT@>
    ServerName default.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName v.test
    IDSession On
    IDSessionCookieName vname
    IDSessionTokenBytes 16
    <Location /loc>
        IDSessionCookieName vloc
    </Location>
</VirtualHost>
"""


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, cgi=True, start=False)
    for d in ("loc", "dir", "dir/loc", "dir/off", "files", "ht", "ht/sub", "ht-none",
              "ht-indexes", "ht-inherit", "plain"):
        h.write(d + "/index.html", d + "\n")
        h.write_cgi(d + "/env.cgi", ENV_CGI)
    h.write("files/on.html", "on\n")
    h.write("files/off.html", "off\n")
    h.write("plain/top-files.html", "top\n")
    h.write("ht/.htaccess", HTACCESS_ALL)
    h.write("ht/reset", "")
    h.write("ht/sub/.htaccess", "IDSessionCookieSameSite Lax\n")
    h.write("ht-none/.htaccess", "IDSession On\n")
    h.write("ht-indexes/.htaccess", "IDSession On\n")
    h.write("ht-inherit/.htaccess", "IDSessionCookiePath /ht-inherit\n")
    return h.start()


def one(r, name):
    assert r.status == 200, r
    return one_cookie(r, name)


def test_server_level_settings_inherited_by_location(httpd):
    c = one(httpd.curl("/loc/index.html"), "srv")
    assert c.attr("SameSite") == "Strict"


def test_not_enabled_outside(httpd):
    r = httpd.curl("/plain/env.cgi")
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == UNSET


def test_directory(httpd):
    c = one(httpd.curl("/dir/env.cgi"), "dirname")
    assert c.attr("Max-Age") == "100" and c.attr("SameSite") == "Strict"
    assert c.attr("Path") == "/"


def test_location_inside_directory_inherits(httpd):
    c = one(httpd.curl("/dir/loc/index.html"), "dirname")
    assert c.attr("Path") == "/dir/loc"
    assert c.attr("Max-Age") == "100" and c.attr("SameSite") == "Strict"


def test_inner_off(httpd):
    r = httpd.curl("/dir/off/env.cgi")
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == UNSET


def test_files_in_directory(httpd):
    c = one(httpd.curl("/files/on.html"), "filesname")
    assert c.attr("SameSite") == "Strict"
    assert httpd.curl("/files/off.html").headers_named("set-cookie") == []


def test_files_at_server_level(httpd):
    c = one(httpd.curl("/plain/top-files.html"), "srv")
    assert not c.has("HttpOnly")


def test_vhost(httpd):
    c = one(httpd.curl("/plain/env.cgi", headers=["Host: v.test"]), "vname")
    assert token_re(16).match(c.value)
    assert c.attr("SameSite") == "Strict"     # from the main server


def test_location_inside_vhost(httpd):
    c = one(httpd.curl("/loc/index.html", headers=["Host: v.test"]), "vloc")
    assert token_re(16).match(c.value)


def test_default_vhost_inherits_main_server(httpd):
    c = one(httpd.curl("/loc/index.html", headers=["Host: default.test"]), "srv")
    assert token_re(32).match(c.value)


def test_htaccess_all_directives(httpd):
    r = httpd.curl("/ht/env.cgi")
    c = one(r, "htname")
    assert token_re(24).match(c.value)
    assert c.attr_names() == ["Path", "Domain", "Max-Age", "Expires", "Secure", "SameSite"]
    assert c.attr("Path") == "/ht" and c.attr("Domain") == "example.test"
    assert c.attr("Max-Age") == "30" and c.attr("SameSite") == "None"
    assert r.env()["SESSION_TOKEN"] == c.value


def test_htaccess_kept(httpd):
    t = token(24)
    r = httpd.curl("/ht/env.cgi", cookie_header="htname=" + t)
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == t


def test_htaccess_reset_handler(httpd):
    r = httpd.curl("/ht/reset")
    assert r.status == 302
    assert r.header("location") == "/after-ht"
    c = one_cookie(r, "htname")
    assert c.attr("Path") == "/ht" and c.attr("SameSite") == "None"


def test_nested_htaccess_inherits(httpd):
    c = one(httpd.curl("/ht/sub/index.html"), "htname")
    assert c.attr("SameSite") == "Lax"
    assert c.attr("Path") == "/ht" and c.attr("Max-Age") == "30"


def test_htaccess_inherits_directory(httpd):
    c = one(httpd.curl("/ht-inherit/index.html"), "fromdir")
    assert c.attr("Path") == "/ht-inherit" and c.attr("Max-Age") == "5"
    assert c.attr("SameSite") == "Strict"


def test_htaccess_ignored_without_allowoverride(httpd):
    r = httpd.curl("/ht-none/env.cgi")
    assert r.status == 200
    assert r.headers_named("set-cookie") == []


def test_htaccess_needs_fileinfo(httpd):
    r = httpd.curl("/ht-indexes/index.html")
    assert r.status == 500
    httpd.expect_log(r"IDSession not allowed here")


# AllowOverrideList admits a directive of directory context in .htaccess by name.
# Secrets, revocation and timeouts are read once at startup (they size the
# denylist's entries and decide what the store is asked), so .htaccess must not set
# them: the request fails as for any directive not allowed there, and nothing is
# minted under half a configuration.  (httpd itself keeps IDSessionStore, of server
# context only, out of AllowOverrideList.)
@pytest.mark.parametrize("line", [
    "IDSessionSecret k0123456789abcdef0123456789abcdef",
    "IDSessionAppRevoke On",
    "IDSessionMaxLifetime 0",
    "IDSessionIdleTimeout 60",
    "IDSessionAdoptUntil 2030-01-31T12:00:00Z",
])
def test_htaccess_cannot_set_startup_settings_through_allowoverridelist(httpd_factory, line):
    name = line.split()[0]
    h = httpd_factory(conf="""
<Directory "@DOCROOT@/ol">
    AllowOverride None
    AllowOverrideList %s
</Directory>
<Location /ol>
    IDSession On
</Location>
""" % name, start=False)
    h.write("ol/index.html", "ol\n")
    h.write("ol/.htaccess", line + "\n")
    h.start()
    h.expect_log(r"\[core:alert\].*\.htaccess: %s cannot occur within "
                 r"htaccess files" % name)
    r = h.curl("/ol/index.html")
    assert r.status == 500, r
    assert r.headers_named("set-cookie") == []
