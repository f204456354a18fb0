"""The module works under the event, worker and prefork MPMs (CGI through mod_cgid
or mod_cgi, SSI, the reset handler, TLS)."""

import re

import pytest

from idshttpd import ENV_CGI, UNSET, VALGRIND, token, token_re

CONF = r"""
<Location /s>
    IDSession On
</Location>
<Location /s/reset>
    SetHandler idsession-reset
</Location>
<Directory "@DOCROOT@/s">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
"""

MPMS = ["prefork"] if VALGRIND else ["event", "worker", "prefork"]


@pytest.fixture(scope="module", params=MPMS)
def httpd(request, httpd_module_factory):
    h = httpd_module_factory(conf=CONF, mpm=request.param, cgi=True, tls=True,
                             modules=["include"], start=False)
    h.write_cgi("s/env.cgi", ENV_CGI)
    h.write("s/page.shtml", '<!--#include virtual="/s/env.cgi" -->\n'
                            'ECHO=<!--#echo var="SESSION_TOKEN" -->\n')
    return h.start()


def test_mint_and_keep(httpd):
    r = httpd.curl("/s/env.cgi")
    assert r.status == 200
    [c] = r.set_cookies("_session")
    assert len(r.headers_named("set-cookie")) == 1
    assert token_re(32).match(c.value)
    assert r.env()["SESSION_TOKEN"] == c.value
    r = httpd.curl("/s/env.cgi", cookie_header="_session=" + c.value)
    assert r.headers_named("set-cookie") == []
    assert r.env()["SESSION_TOKEN"] == c.value
    assert r.env()["SESSION_TOKEN_NEW"] == UNSET


def test_ssi(httpd):
    r = httpd.curl("/s/page.shtml")
    assert len(r.headers_named("set-cookie")) == 1
    [c] = r.set_cookies()
    assert re.search(r"^SESSION_TOKEN=(.*)$", r.body, re.M).group(1) == c.value
    assert re.search(r"^ECHO=(.*)$", r.body, re.M).group(1) == c.value


def test_reset(httpd):
    t = token()
    r = httpd.curl("/s/reset", cookie_header="_session=" + t)
    assert r.status == 302
    assert len(r.headers_named("set-cookie")) == 1
    assert r.set_cookies()[0].value != t
    r = httpd.curl("/s/reset", method="POST", data="")
    assert r.status == 303


def test_tls_secure_auto(httpd):
    r = httpd.curl("/s/env.cgi", tls=True)
    [c] = r.set_cookies()
    assert c.has("Secure")
    assert r.env()["SESSION_TOKEN"] == c.value


def test_many_requests_distinct(httpd):
    values = set()
    for _ in range(20):
        r = httpd.curl("/s/env.cgi")
        values.add(r.set_cookies()[0].value)
    assert len(values) == 20
