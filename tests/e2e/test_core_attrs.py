"""Directives: the Set-Cookie attributes each directive produces, over plain HTTP
and TLS; token lengths; cookie-name prefixes (__Host-, __Secure-)."""

import email.utils
import re

import pytest

from idshttpd import VALGRIND, one_cookie, token, token_re

LOCS = {
    # location: directives
    "def": "",
    "name": "IDSessionCookieName sid",
    "path": "IDSessionCookiePath /path",
    "domain": "IDSessionCookieDomain example.test",
    "domain-dot": "IDSessionCookieDomain .example.test",
    "sec-on": "IDSessionCookieSecure On",
    "sec-off": "IDSessionCookieSecure Off",
    "sec-auto": "IDSessionCookieSecure Auto",
    "ho-off": "IDSessionCookieHttpOnly Off",
    "ho-on": "IDSessionCookieHttpOnly On",
    "ss-strict": "IDSessionCookieSameSite Strict",
    "ss-lax": "IDSessionCookieSameSite Lax",
    "ss-none": "IDSessionCookieSameSite None",
    "ss-off": "IDSessionCookieSameSite Off",
    "ma-3600": "IDSessionCookieMaxAge 3600",
    "ma-0": "IDSessionCookieMaxAge 0",
    "ma-max": "IDSessionCookieMaxAge 2147483647",
    "tb-16": "IDSessionTokenBytes 16",
    "tb-32": "IDSessionTokenBytes 32",
    "tb-33": "IDSessionTokenBytes 33",
    "tb-192": "IDSessionTokenBytes 192",
    "all": ("IDSessionCookieName all\n    IDSessionCookiePath /all\n"
            "    IDSessionCookieDomain example.test\n    IDSessionCookieMaxAge 60\n"
            "    IDSessionCookieSecure On\n    IDSessionCookieHttpOnly On\n"
            "    IDSessionCookieSameSite Strict"),
    "none-off": ("IDSessionCookieHttpOnly Off\n    IDSessionCookieSameSite Off\n"
                 "    IDSessionCookieSecure Off"),
    "host": "IDSessionCookieName __Host-sid",
    "host-sec-on": "IDSessionCookieName __Host-sid\n    IDSessionCookieSecure On",
    "secure-prefix": ("IDSessionCookieName __Secure-sid\n    IDSessionCookiePath /secure-prefix\n"
                      "    IDSessionCookieDomain example.test"),
}


def conf():
    out = []
    for loc, d in LOCS.items():
        out.append("<Location /%s>\n    IDSession On\n    %s\n</Location>\n" % (loc, d))
    return "".join(out)


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=conf(), tls=True, start=False)
    for loc in LOCS:
        h.write(loc + "/index.html", loc + "\n")
    return h.start()


def cookie(httpd, loc, tls=False, name=None, **kw):
    r = httpd.curl("/%s/index.html" % loc, tls=tls, **kw)
    assert r.status == 200, r
    sc = r.set_cookies()
    assert len(r.headers_named("set-cookie")) == 1, r.headers
    if name is not None:
        assert sc[0].name == name
    return sc[0], r


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_defaults_exact(httpd, tls):
    c, _ = cookie(httpd, "def", tls=tls, name="_session")
    assert token_re(32).match(c.value)
    want = "_session=%s; Path=/; %sHttpOnly; SameSite=Lax" % (c.value, "Secure; " if tls else "")
    assert c.raw == want


def test_name(httpd):
    c, _ = cookie(httpd, "name", name="sid")
    assert c.attr_names() == ["Path", "HttpOnly", "SameSite"]


def test_name_is_what_is_read(httpd):
    t = token()
    r = httpd.curl("/name/index.html", cookie_header="sid=" + t)
    assert r.headers_named("set-cookie") == []
    # the default name is not read where the name is sid
    r = httpd.curl("/name/index.html", cookie_header="_session=" + t)
    [c] = r.set_cookies("sid")
    assert c.value != t


def test_path(httpd):
    c, _ = cookie(httpd, "path")
    assert c.attrs[0] == ("Path", "/path")


@pytest.mark.parametrize("loc,dom", [("domain", "example.test"),
                                     ("domain-dot", ".example.test")])
def test_domain(httpd, loc, dom):
    c, _ = cookie(httpd, loc)
    assert c.attrs[:2] == [("Path", "/"), ("Domain", dom)]


def test_no_domain_by_default(httpd):
    c, _ = cookie(httpd, "def")
    assert not c.has("Domain")


@pytest.mark.parametrize("loc,tls,secure", [
    ("sec-on", False, True), ("sec-on", True, True),
    ("sec-off", False, False), ("sec-off", True, False),
    ("sec-auto", False, False), ("sec-auto", True, True),
    ("def", False, False), ("def", True, True),
])
def test_secure(httpd, loc, tls, secure):
    c, _ = cookie(httpd, loc, tls=tls)
    assert c.has("Secure") == secure
    if secure:
        assert c.attr("Secure") == ""        # a flag, no value


@pytest.mark.parametrize("loc,want", [("ho-off", False), ("ho-on", True), ("def", True)])
def test_httponly(httpd, loc, want):
    c, _ = cookie(httpd, loc)
    assert c.has("HttpOnly") == want


@pytest.mark.parametrize("loc,want", [("ss-strict", "Strict"), ("ss-lax", "Lax"),
                                      ("ss-none", "None"), ("def", "Lax")])
def test_samesite(httpd, loc, want):
    c, _ = cookie(httpd, loc)
    assert c.attr("SameSite") == want
    assert c.attr_names()[-1] == "SameSite"


def test_samesite_off(httpd):
    c, _ = cookie(httpd, "ss-off")
    assert not c.has("SameSite")
    assert c.attr_names() == ["Path", "HttpOnly"]


@pytest.mark.parametrize("loc", ["ss-none"])
def test_samesite_none_adds_secure_over_plain_http(httpd, loc):
    c, _ = cookie(httpd, loc)
    assert c.has("Secure") and c.attr("SameSite") == "None"
    assert c.raw.endswith("; Secure; HttpOnly; SameSite=None")


def _date(s):
    return email.utils.parsedate_to_datetime(s)


@pytest.mark.parametrize("loc,secs", [("ma-3600", 3600), ("ma-max", 2147483647)])
def test_max_age_and_expires(httpd, loc, secs):
    c, r = cookie(httpd, loc)
    assert c.attr_names()[:3] == ["Path", "Max-Age", "Expires"]
    assert c.attr("Max-Age") == str(secs)
    exp = c.attr("Expires")
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", exp), exp
    delta = (_date(exp) - _date(r.header("date"))).total_seconds()
    assert abs(delta - secs) <= 1


@pytest.mark.parametrize("loc", ["ma-0", "def"])
def test_max_age_zero_is_session_cookie(httpd, loc):
    c, _ = cookie(httpd, loc)
    assert not c.has("Max-Age") and not c.has("Expires")


@pytest.mark.parametrize("loc,nbytes", [("tb-16", 16), ("tb-32", 32), ("tb-33", 33),
                                        ("tb-192", 192), ("def", 32)])
def test_token_bytes(httpd, loc, nbytes):
    c, _ = cookie(httpd, loc)
    assert token_re(nbytes).match(c.value), (len(c.value), c.value)


def test_token_lengths_known(httpd):
    assert len(cookie(httpd, "tb-16")[0].value) == 22
    assert len(cookie(httpd, "tb-32")[0].value) == 43
    assert len(cookie(httpd, "tb-192")[0].value) == 256


@pytest.mark.parametrize("loc,nbytes,other", [("tb-16", 16, 32), ("tb-192", 192, 32),
                                              ("def", 32, 16), ("tb-33", 33, 32)])
def test_token_bytes_decides_what_is_kept(httpd, loc, nbytes, other):
    t = token(nbytes)
    r = httpd.curl("/%s/index.html" % loc, cookie_header="_session=" + t)
    assert r.headers_named("set-cookie") == []
    r = httpd.curl("/%s/index.html" % loc, cookie_header="_session=" + token(other))
    assert len(r.headers_named("set-cookie")) == 1


def test_all_attributes_in_order(httpd):
    c, _ = cookie(httpd, "all", name="all")
    assert c.attr_names() == ["Path", "Domain", "Max-Age", "Expires", "Secure", "HttpOnly",
                              "SameSite"]
    assert c.attr("Path") == "/all" and c.attr("Domain") == "example.test"
    assert c.attr("Max-Age") == "60" and c.attr("SameSite") == "Strict"


def test_all_off(httpd):
    c, _ = cookie(httpd, "none-off", tls=True)
    assert c.raw == "_session=%s; Path=/" % c.value


# ---- prefixes --------------------------------------------------------------------------------

@pytest.mark.parametrize("loc", ["host", "host-sec-on"])
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_host_prefix(httpd, loc, tls):
    c, _ = cookie(httpd, loc, tls=tls, name="__Host-sid")
    assert c.has("Secure") and c.attr("Path") == "/" and not c.has("Domain")


def test_secure_prefix_over_plain_http(httpd):
    c, _ = cookie(httpd, "secure-prefix", name="__Secure-sid")
    assert c.has("Secure")
    # __Secure- allows another Path and a Domain
    assert c.attr("Path") == "/secure-prefix" and c.attr("Domain") == "example.test"


MERGED = {
    # name: (outer section, inner section, attributes the prefix forces)
    "host-path": ("IDSessionCookiePath /other", "IDSessionCookieName __Host-m", "path"),
    "host-domain": ("IDSessionCookieDomain example.test", "IDSessionCookieName __Host-m",
                    "domain"),
    "host-secure-off": ("IDSessionCookieSecure Off", "IDSessionCookieName __Host-m", "secure"),
    "secure-secure-off": ("IDSessionCookieSecure Off", "IDSessionCookieName __Secure-m",
                          "secure"),
    "host-name-outside": ("IDSessionCookieName __Host-m", "IDSessionCookiePath /merged",
                          "path"),
    # <Directory> and <Location> each fine alone, contradictory once merged
    "dir-location": ("IDSessionCookieName __Host-m", "IDSessionCookiePath /merged", "path"),
    "dir-location-domain": ("IDSessionCookieDomain example.test",
                            "IDSessionCookieName __Host-m", "domain"),
    # a virtual host's own settings and its <Location>
    "vhost-location": ("IDSessionCookieSecure Off", "IDSessionCookieName __Secure-m",
                       "secure"),
}


@pytest.mark.parametrize("case", list(MERGED))
def test_prefix_wins_after_merge_with_one_warning(httpd_factory, case):
    outer, inner, what = MERGED[case]
    if case.startswith("dir-"):
        conf = ('<Directory "@DOCROOT@/merged">\n    %s\n</Directory>\n'
                "<Location /merged>\n    IDSession On\n    %s\n</Location>\n" % (outer, inner))
    elif case.startswith("vhost-"):
        conf = ("<VirtualHost 127.0.0.1:@PORT@>\n    ServerName v.test\n    %s\n"
                "    <Location /merged>\n        IDSession On\n        %s\n    </Location>\n"
                "</VirtualHost>\n" % (outer, inner))
    else:
        conf = "%s\n<Location /merged>\n    IDSession On\n    %s\n</Location>\n" % (outer, inner)
    h = httpd_factory(conf=conf, start=False)
    h.write("merged/index.html", "m\n")
    h.expect_log(r"\[idsession:warn\]")
    h.start()
    for _ in range(2):   # the prefix wins, on every request
        r = h.curl("/merged/index.html")
        assert len(r.headers_named("set-cookie")) == 1
        [c] = r.set_cookies()
        assert c.name in ("__Host-m", "__Secure-m")
        assert c.has("Secure")
        if c.name.startswith("__Host-"):
            assert c.attr("Path") == "/" and not c.has("Domain")
    # one warning (at startup), not one per request
    warns = [l for l in h.log_lines() if "[idsession:warn]" in l]
    assert len(warns) == 1, warns
    assert "__Host-m" in warns[0] or "__Secure-m" in warns[0]


def test_configtest_shows_the_merge_warning(configtest):
    # apache2 -t runs no post_config; the module's test_config hook warns there too.
    rc, out = configtest("IDSessionCookiePath /other\n"
                         "<Location /merged>\n    IDSession On\n"
                         "    IDSessionCookieName __Host-m\n</Location>\n")
    assert rc == 0, out
    assert "Syntax OK" in out
    [warn] = [l for l in out.splitlines() if "the prefix wins" in l]
    assert "IDSessionCookiePath /other" in warn and "__Host-m" in warn


# Attributes set outside any section reach every section that sets none of its
# own (the module writes them once at startup for those), over both schemes; a
# section or virtual host that sets one gets exactly its own.
INHERIT_CONF = """
IDSessionCookieDomain example.test
IDSessionCookieSameSite Strict
IDSessionCookieHttpOnly Off
<Location /inherit>
    IDSession On
</Location>
<Location /inherit/own>
    IDSessionCookieSameSite None
</Location>
<Location /inherit/age>
    IDSessionCookieMaxAge 60
</Location>
<Directory "@DOCROOT@/inherit/dir">
    IDSessionTokenBytes 16
</Directory>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName a.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName b.test
    IDSessionCookieName vb
    IDSessionCookiePath /inherit
</VirtualHost>
"""


@pytest.fixture(scope="module")
def inherit(httpd_module_factory):
    h = httpd_module_factory(conf=INHERIT_CONF, tls=True, start=False)
    for d in ("inherit", "inherit/own", "inherit/dir", "inherit/age"):
        h.write(d + "/index.html", d + "\n")
    return h.start()


@pytest.mark.parametrize("path,host,tls,nbytes,want", [
    ("/inherit/", "a.test", False, 32,
     "_session=%s; Path=/; Domain=example.test; SameSite=Strict"),
    ("/inherit/", "a.test", True, 32,
     "_session=%s; Path=/; Domain=example.test; Secure; SameSite=Strict"),
    ("/inherit/dir/", "a.test", False, 16,
     "_session=%s; Path=/; Domain=example.test; SameSite=Strict"),
    ("/inherit/own/", "a.test", False, 32,
     "_session=%s; Path=/; Domain=example.test; Secure; SameSite=None"),
    ("/inherit/", "b.test", False, 32,
     "vb=%s; Path=/inherit; Domain=example.test; SameSite=Strict"),
], ids=["plain", "tls", "directory-sets-no-attribute", "location-sets-one",
        "vhost-sets-its-own"])
def test_server_attributes_inherited_exactly(inherit, path, host, tls, nbytes, want):
    for _ in range(2):
        r = inherit.curl(path + "index.html", headers=["Host: " + host], tls=tls)
        assert r.status == 200, r
        c = one_cookie(r, None)              # want names it
        assert token_re(nbytes).match(c.value), c.value
        assert c.raw == want % c.value


# Without a TLS module (behind a TLS-terminating proxy), only ServerName's
# scheme says https; the module then works out each server's attributes at
# startup instead of asking per request.  Secure Auto must still follow it.
FRONT_CONF = """
<Location /front>
    IDSession On
</Location>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName http://plain.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName https://behind-tls.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName https://own.test
    <Location /front/own>
        IDSessionCookieSameSite Strict
    </Location>
</VirtualHost>
"""


@pytest.fixture(scope="module")
def front(httpd_module_factory):
    h = httpd_module_factory(conf=FRONT_CONF, start=False)
    for d in ("front", "front/own"):
        h.write(d + "/index.html", d + "\n")
    return h.start()


@pytest.mark.parametrize("path,host,want", [
    ("/front/", "plain.test", "_session=%s; Path=/; HttpOnly; SameSite=Lax"),
    ("/front/", "behind-tls.test",
     "_session=%s; Path=/; Secure; HttpOnly; SameSite=Lax"),
    ("/front/own/", "own.test",
     "_session=%s; Path=/; Secure; HttpOnly; SameSite=Strict"),
], ids=["http", "https-servername", "https-section-sets-one"])
def test_secure_auto_follows_servername_scheme_without_tls_module(front, path, host, want):
    assert "ssl_module" not in front.conf_file.read_text()
    r = front.curl(path + "index.html", headers=["Host: " + host])
    assert r.status == 200, r
    c = one_cookie(r)
    assert c.raw == want % c.value


ALL_HTTPS_CONF = """
ServerName https://all.test
<Location /front>
    IDSession On
</Location>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName https://other.test
</VirtualHost>
"""


def all_https(httpd_factory):
    h = httpd_factory(conf=ALL_HTTPS_CONF, start=False)
    h.write("front/index.html", "front\n")
    return h.start()


@pytest.mark.parametrize("host", ["all.test", "other.test"])
def test_secure_auto_when_every_servername_says_https(httpd_factory, host):
    h = all_https(httpd_factory)
    r = h.curl("/front/index.html", headers=["Host: " + host])
    assert r.status == 200, r
    c = one_cookie(r)
    assert c.raw == "_session=%s; Path=/; Secure; HttpOnly; SameSite=Lax" % c.value


@pytest.mark.skipif(VALGRIND, reason="apache2 -X has no graceful restart")
def test_secure_auto_decided_anew_on_each_graceful_restart(httpd_factory):
    """The scheme worked out at startup belongs to one generation: a graceful
    restart that turns every ServerName to http, or back, changes Secure."""
    h = all_https(httpd_factory)

    def secure():
        r = h.curl("/front/index.html", headers=["Host: other.test"])
        assert r.status == 200, r
        return "; Secure;" in one_cookie(r).raw

    assert secure()
    for scheme in ("http", "https"):
        h.graceful(conf=ALL_HTTPS_CONF.replace("https://", scheme + "://"))
        assert secure() == (scheme == "https"), scheme


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_section_max_age_keeps_server_attributes(inherit, tls):
    """A section that sets only IDSessionCookieMaxAge keeps the attributes
    worked out at startup and puts Max-Age and Expires where they belong."""
    r = inherit.curl("/inherit/age/index.html", headers=["Host: a.test"], tls=tls)
    assert r.status == 200, r
    c = one_cookie(r)
    m = re.fullmatch(r"_session=%s; Path=/; Domain=example\.test; Max-Age=60; "
                     r"Expires=([^;]+); %sSameSite=Strict"
                     % (re.escape(c.value), "Secure; " if tls else ""), c.raw)
    assert m, c.raw
    expires = email.utils.parsedate_to_datetime(m.group(1)).timestamp()
    date = email.utils.parsedate_to_datetime(r.header("date")).timestamp()
    assert expires - date == 60
