"""Self-tests of the harness against a stock apache2 (mod_idsession not loaded)."""

import pytest

import idshttpd

CONF = """
<Location /dup>
    Header always add Set-Cookie "a=1; Path=/"
    Header always add Set-Cookie "b=2; Path=/"
    Header always add X-Dup one
    Header always add X-Dup two
</Location>
<Location /warn>
    Require all denied
</Location>
"""

CGI = """#!/bin/sh
cat >/dev/null
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "HTTP_COOKIE=$HTTP_COOKIE"
echo "METHOD=$REQUEST_METHOD"
echo "HTTPS=$HTTPS"
"""

PHP = """<?php header('Content-Type: text/plain');
echo "PHP=", PHP_MAJOR_VERSION, "\\n";
echo "HTTP_COOKIE=", getenv('HTTP_COOKIE'), "\\n";
"""


@pytest.fixture(scope="module")
def plain(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, cgi=True, php=True, tls=True, idsession=False)
    h.write("index.html", "hello\n")
    h.write("dup/x.html", "dup\n")
    h.write_cgi("env.cgi", CGI)
    h.write("p.php", PHP)
    return h


def test_get_and_duplicates(plain):
    r = plain.curl("/dup/x.html")
    assert r.status == 200 and r.body == "dup\n"
    assert r.headers_named("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.headers_named("X-Dup") == ["one", "two"]
    assert [c.name for c in r.set_cookies()] == ["a", "b"]
    assert r.set_cookies("b")[0].attr("path") == "/"


def test_cgi_two_cookie_headers(plain):
    r = plain.curl("/env.cgi", cookie_header=["a=1", "b=2"])
    assert r.env()["HTTP_COOKIE"] == "a=1, b=2"


def test_cgi_post_tls(plain):
    r = plain.curl("/env.cgi", method="POST", data="x=1", tls=True)
    assert r.status == 200
    assert r.env()["METHOD"] == "POST" and r.env()["HTTPS"] == "on"


def test_head(plain):
    r = plain.curl("/index.html", method="HEAD")
    assert r.status == 200 and r.body == ""


def test_php(plain):
    r = plain.curl("/p.php", cookie_header="z=9")
    assert r.status == 200, r.body
    assert r.env()["PHP"] == "8" and r.env()["HTTP_COOKIE"] == "z=9"


def test_raw_request(plain):
    r = plain.get_raw("/env.cgi", [b"Cookie: a=\x80\xff"])
    assert r.status == 200
    assert r.env()["HTTP_COOKIE"] == "a=\ufffd\ufffd"
    r = plain.get_raw("/index.html", tls=True)
    assert r.status == 200 and r.body == "hello\n"


def test_expected_log_line(plain):
    r = plain.curl("/warn/")
    assert r.status == 403
    plain.expect_log(r"AH01630")


def test_configtest(plain):
    rc, out = plain.configtest("NoSuchDirective x\n", idsession=False)
    assert rc != 0 and "NoSuchDirective" in out
    rc, out = plain.configtest("", idsession=False)
    assert rc == 0, out


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_mpms(httpd_factory, mpm):
    h = httpd_factory(mpm=mpm, cgi=True, idsession=False)
    h.write_cgi("env.cgi", CGI)
    assert h.curl("/env.cgi").status == 200


def test_h2_needs_a_threaded_mpm():
    with pytest.raises(ValueError):
        idshttpd.Httpd(h2=True, mpm="prefork", idsession=False)


def test_curl_many_h2(httpd_factory):
    """One curl process, a transfer a request each with its own Cookie header, over
    HTTP/2: one connection per host name."""
    h = httpd_factory(h2=True, cgi=True, idsession=False)
    h.write_cgi("env.cgi", CGI)
    reqs = [("/env.cgi?%d" % i, "c=%d" % i, "127.0.0.1" if i % 2 else "localhost")
            for i in range(20)]
    res = h.curl_many(reqs)
    assert [r.body.splitlines()[0] for r in res] == ["HTTP_COOKIE=c=%d" % i for i in range(20)]
    assert {r.http_version for r in res} == {"2"}
    assert sum(r.num_connects for r in res) == 2
    assert len({r.local_port for r in res[0::2]}) == len({r.local_port for r in res[1::2]}) == 1
    [r] = h.curl_many(reqs[:1], http2=False)
    assert r.http_version == "1.1" and r.status == 200
