"""Every bad directive value fails `apache2 -t` with a message naming the directive;
prefix contradictions within one section fail too; good values pass."""

import pytest

BAD = [
    # (directive, raw argument text as written in the config)
    ("IDSession", "maybe"),
    ("IDSession", "1"),
    ("IDSessionCookieName", '"a b"'),
    ("IDSessionCookieName", "a;b"),
    ("IDSessionCookieName", "a=b"),
    ("IDSessionCookieName", '"a\x01b"'),
    ("IDSessionCookieName", '"a\tb"'),
    ("IDSessionCookieName", "a,b"),
    ("IDSessionCookieName", "'a\"b'"),
    ("IDSessionCookieName", "(sess)"),
    ("IDSessionCookieName", "a/b"),
    ("IDSessionCookieName", "a:b"),
    ("IDSessionCookieName", "a@b"),
    ("IDSessionCookieName", "a[b]"),
    ("IDSessionCookieName", "a{b}"),
    ("IDSessionCookieName", "a?b"),
    ("IDSessionCookieName", "s\u00e9ssion"),
    ("IDSessionCookieName", '""'),
    ("IDSessionCookieName", "a\\b"),
    ("IDSessionCookiePath", "nopath"),
    ("IDSessionCookiePath", "/a;b"),
    ("IDSessionCookiePath", '"/a b"'),
    ("IDSessionCookiePath", '""'),
    ("IDSessionCookieDomain", "a..b"),
    ("IDSessionCookieDomain", "-a.example"),
    ("IDSessionCookieDomain", "a_b.example"),
    ("IDSessionCookieDomain", '""'),
    ("IDSessionCookieDomain", "."),
    ("IDSessionCookieDomain", "a;b.example"),
    ("IDSessionCookieDomain", '"a b.example"'),
    # browsers refuse a single label and an IP address as Domain
    ("IDSessionCookieDomain", "localhost"),
    ("IDSessionCookieDomain", "com"),
    ("IDSessionCookieDomain", ".com"),
    ("IDSessionCookieDomain", "127.0.0.1"),
    ("IDSessionCookieDomain", ".10.0.0.1"),
    ("IDSessionCookieSecure", "maybe"),
    ("IDSessionCookieSecure", "yes"),
    ("IDSessionCookieSecure", "1"),
    ("IDSessionCookieSecure", '""'),
    ("IDSessionCookieHttpOnly", "maybe"),
    ("IDSessionCookieHttpOnly", "Auto"),
    ("IDSessionCookieSameSite", "Strictly"),
    ("IDSessionCookieSameSite", "Yes"),
    ("IDSessionCookieSameSite", "On"),
    ("IDSessionCookieSameSite", '""'),
    ("IDSessionCookieMaxAge", "-1"),
    ("IDSessionCookieMaxAge", "abc"),
    ("IDSessionCookieMaxAge", "1.5"),
    ("IDSessionCookieMaxAge", "1e3"),
    ("IDSessionCookieMaxAge", "+5"),
    ("IDSessionCookieMaxAge", "0x10"),
    ("IDSessionCookieMaxAge", "99999999999999999999999"),
    ("IDSessionCookieMaxAge", '""'),
    ("IDSessionCookieMaxAge", "10s"),
    ("IDSessionTokenBytes", "15"),
    ("IDSessionTokenBytes", "193"),
    ("IDSessionTokenBytes", "0"),
    ("IDSessionTokenBytes", "-32"),
    ("IDSessionTokenBytes", "abc"),
    ("IDSessionTokenBytes", "32x"),
    ("IDSessionTokenBytes", '""'),
    ("IDSessionTokenBytes", "18446744073709551648"),
    ("IDSessionTokenBytes", "4294967328"),
    ("IDSessionResetRedirect", "javascript:alert(1)"),
    ("IDSessionResetRedirect", "//evil.example/"),
    ("IDSessionResetRedirect", "/\\evil.example"),
    ("IDSessionResetRedirect", "relative/path"),
    ("IDSessionResetRedirect", "ftp://example.test/"),
    ("IDSessionResetRedirect", "http://"),
    ("IDSessionResetRedirect", '"/a b"'),
    ("IDSessionResetRedirect", '""'),
    # labels may not start or end with '-', and no trailing dot
    ("IDSessionCookieDomain", "a-.example"),
    ("IDSessionCookieDomain", "a.-b.example"),
    ("IDSessionCookieDomain", "example.com."),
    ("IDSessionCookieDomain", "example-"),
    # headers httpd or a backend relies on, in any spelling
    ("IDSessionHeader", "Host"),
    ("IDSessionHeader", "cookie"),
    ("IDSessionHeader", "Content-Length"),
    ("IDSessionHeader", "Transfer_Encoding"),
    ("IDSessionHeader", "Authorization"),
    ("IDSessionHeader", "a;b"),
]


@pytest.mark.parametrize("directive,arg", BAD, ids=["%s-%r" % d for d in BAD])
@pytest.mark.parametrize("where", ["server", "location"])
def test_bad_value_rejected(configtest, directive, arg, where):
    line = "%s %s\n" % (directive, arg)
    if where == "location":
        line = "<Location /x>\n    %s</Location>\n" % line
    rc, out = configtest(line)
    assert rc != 0, out
    assert directive in out, out
    assert "Syntax OK" not in out


CONFLICTS = [
    "IDSessionCookieName __Host-s\nIDSessionCookieSecure Off",
    "IDSessionCookieSecure Off\nIDSessionCookieName __Host-s",
    "IDSessionCookieName __Host-s\nIDSessionCookiePath /x",
    "IDSessionCookiePath /x\nIDSessionCookieName __Host-s",
    "IDSessionCookieName __Host-s\nIDSessionCookieDomain example.test",
    "IDSessionCookieDomain example.test\nIDSessionCookieName __Host-s",
    "IDSessionCookieName __Secure-s\nIDSessionCookieSecure Off",
    "IDSessionCookieSecure Off\nIDSessionCookieName __Secure-s",
    "IDSessionCookieSameSite None\nIDSessionCookieSecure Off",
    "IDSessionCookieSecure Off\nIDSessionCookieSameSite None",
]


@pytest.mark.parametrize("lines", CONFLICTS, ids=[c.replace("\n", " / ") for c in CONFLICTS])
@pytest.mark.parametrize("where", ["server", "location", "directory", "vhost"])
def test_prefix_contradiction_same_section(configtest, lines, where):
    wrap = {
        "server": "%s\n",
        "location": "<Location /x>\n%s\n</Location>\n",
        "directory": '<Directory "@DOCROOT@">\n%s\n</Directory>\n',
        "vhost": "<VirtualHost 127.0.0.1:@PORT@>\n%s\n</VirtualHost>\n",
    }[where]
    rc, out = configtest(wrap % lines)
    assert rc != 0, out
    second = lines.split("\n")[1].split()[0]
    assert second in out, out


GOOD = [
    "IDSessionCookieName __Host-s\nIDSessionCookieSecure On\nIDSessionCookiePath /",
    "IDSessionCookieName __Host-s\nIDSessionCookieSecure Auto",
    "IDSessionCookieName __Secure-s\nIDSessionCookiePath /x\nIDSessionCookieDomain example.test",
    "IDSessionCookieName !#$%&'*+-.^_`|~09azAZ",
    "IDSessionCookieName a",
    "IDSessionCookiePath /a/b-c_d.e~f",
    "IDSessionCookieDomain example.test",
    "IDSessionCookieDomain .example.test",
    "IDSessionCookieDomain example.co.uk",
    "IDSessionCookieDomain 1.example",
    "IDSessionCookieDomain a.b2",
    "IDSessionCookieSecure on\nIDSessionCookieSecure OFF\nIDSessionCookieSecure auto",
    "IDSessionCookieSameSite strict\nIDSessionCookieSameSite LAX\nIDSessionCookieSameSite none\n"
    "IDSessionCookieSameSite off",
    "IDSessionCookieHttpOnly on\nIDSessionCookieHttpOnly off",
    "IDSessionCookieMaxAge 0\nIDSessionCookieMaxAge 31536000",
    "IDSessionTokenBytes 16\nIDSessionTokenBytes 192\nIDSessionTokenBytes 32",
    "IDSessionResetRedirect /\nIDSessionResetRedirect /a/b?c=d",
    "IDSessionResetRedirect https://example.test/after?x=1",
    "IDSessionResetRedirect http://127.0.0.1:8080/",
    "IDSession On\nIDSession Off",
]


@pytest.mark.parametrize("lines", GOOD, ids=[g.replace("\n", " / ") for g in GOOD])
def test_good_values_accepted(configtest, lines):
    rc, out = configtest(lines + "\n")
    assert rc == 0, out
    assert "Syntax OK" in out


def test_prefix_contradiction_across_sections_is_not_fatal(configtest):
    rc, out = configtest("IDSessionCookiePath /x\n<Location /a>\nIDSessionCookieName __Host-s\n"
                         "</Location>\n")
    assert rc == 0, out


def test_module_without_directives(configtest):
    rc, out = configtest("")
    assert rc == 0, out
