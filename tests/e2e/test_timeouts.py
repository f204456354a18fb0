"""Sessions that end: IDSessionIdleTimeout, IDSessionMaxLifetime,
IDSessionRenewInterval and IDSessionAdoptUntil, with real time (timeouts of 1-3 s).

The cookie is R.T.S; S is checked with the manual's own Python snippet (extracted from
docs/mod_idsession.md and run here), so the documented layout is the one the module
writes.  Tests wait for the wall clock to pass a deadline (wait_until), never for a
fixed sleep."""

import hashlib
import http.client
import re
import time

import pytest

from idshttpd import (wait_file_line, wait_until, REPO, UNSET, log_id, one_cookie, cache_control, signed,
                      signed_by, stamp)

NAME = "_session"
S1 = "timeout-secret-number-one-0123456789-abcdefgh"
S2 = "timeout-secret-number-two-0123456789-ijklmnop"
SX = "a-secret-no-server-here-knows-0123456789-qrst"

ENV = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in SESSION_TOKEN SESSION_TOKEN_NEW SESSION_LOG_ID SESSION_STORE_KEY \\
         SESSION_CREATED SESSION_EXPIRES SESSION_EXPIRED REDIRECT_SESSION_TOKEN \\
         SESSION_KEY_INDEX SCRIPT_NAME; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
"""

SSI = """<!--#include virtual="/idle/env.cgi" -->
<!--#include virtual="/idle/env.cgi" -->
"""

CONF = r"""
LogFormat "%{X-Req}i %{SESSION_EXPIRED}n %{SESSION_TOKEN_NEW}n" idsexp
CustomLog "@ROOT@/logs/expired_log" idsexp
<Location />
    IDSessionSecret S1X
</Location>
<Location /t>
    IDSession On
    IDSessionIdleTimeout 3
    IDSessionRenewInterval 2
</Location>
<Location /idle>
    IDSession On
    IDSessionIdleTimeout 2
    IDSessionRenewInterval 1
</Location>
<Directory @DOCROOT@/idle>
    Options +Includes
    AddOutputFilter INCLUDES .shtml
    ErrorDocument 404 /idle/env.cgi
</Directory>
<Location /life>
    IDSession On
    IDSessionIdleTimeout 3
    IDSessionRenewInterval 1
    IDSessionMaxLifetime 3
</Location>
<Location /adopt>
    IDSession On
    IDSessionIdleTimeout 60
    IDSessionAdoptUntil 2099-12-31T23:59:59Z
</Location>
<Location /adopt/none>
    IDSessionAdoptUntil none
</Location>
<Location /adopt-past>
    IDSession On
    IDSessionIdleTimeout 60
    IDSessionAdoptUntil 2000-01-01T00:00:00Z
</Location>
<Location /rot>
    IDSession On
    IDSessionIdleTimeout 3
    IDSessionRenewInterval 1
</Location>
<Location /rot/new>
    IDSessionSecret S2X
    IDSessionSecret S1X
</Location>
<Location /plain>
    IDSession On
</Location>
<Directory @DOCROOT@/plain>
    ErrorDocument 404 /t/env.cgi
</Directory>
<Location /maxonly>
    IDSession On
    IDSessionMaxLifetime 2
    IDSessionCookieMaxAge 0
</Location>
<Location /reset>
    IDSession On
    IDSessionIdleTimeout 3
    SetHandler idsession-reset
</Location>
<Location /memo-a>
    IDSession On
    IDSessionIdleTimeout 60
</Location>
<Location /memo-b>
    IDSession On
    IDSessionIdleTimeout 60
    IDSessionMaxLifetime 30
</Location>
""".replace("S1X", S1).replace("S2X", S2)


def snippet():
    """The manual's stamp verification snippet, run as it is printed."""
    text = (REPO / "docs" / "mod_idsession.md").read_text()
    m = re.search(r"<!-- stamp-snippet -->\n```python\n(.*?)```\n<!-- /stamp-snippet -->",
                  text, re.S)
    assert m, "docs/mod_idsession.md lost its stamp snippet"
    ns = {}
    exec(m.group(1), ns)
    return ns["stamp_times"]


STAMP_TIMES = snippet()


def split(value):
    tok, _, s = value.rpartition(".")
    return tok, s


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, cgi=True, modules=["include"])
    for d in ("t", "idle", "life", "adopt", "adopt/none", "adopt-past", "rot", "rot/new", "plain",
              "maxonly", "memo-a", "memo-b"):
        h.write_cgi(d + "/env.cgi", ENV)
    h.write("idle/page.shtml", SSI)
    return h


def get(httpd, path, value=None):
    r = httpd.curl(path, cookie_header=(NAME + "=" + value) if value else None)
    assert r.status == 200, r
    return r, r.env()


def test_mint_is_stamped(httpd):
    before = int(time.time())
    r, env = get(httpd, "/t/env.cgi")
    c = one_cookie(r)
    tok, s = split(c.value)
    assert tok == env["SESSION_TOKEN"] and signed_by(tok, S1)
    assert len(s) == 43
    created, renewed = STAMP_TIMES(c.value, [S1.encode()])
    assert before <= created == renewed <= int(time.time())
    assert env["SESSION_CREATED"] == str(created)
    assert env["SESSION_EXPIRES"] == str(created + 3)
    assert env["SESSION_EXPIRED"] == UNSET and env["SESSION_TOKEN_NEW"] == "1"
    assert env["SESSION_LOG_ID"] == log_id(tok)
    assert env["SESSION_STORE_KEY"] == hashlib.sha256(tok.encode()).hexdigest()
    # Max-Age: until SESSION_EXPIRES, plus the 300 s grace.
    assert 300 <= int(c.attr("Max-Age")) <= 303
    assert "private" in cache_control(r)


def test_no_timeouts_no_stamp(httpd):
    r, env = get(httpd, "/plain/env.cgi")
    c = one_cookie(r)
    assert c.value == env["SESSION_TOKEN"] and signed_by(c.value, S1)
    assert env["SESSION_CREATED"] == UNSET and env["SESSION_EXPIRES"] == UNSET
    assert c.attr("Max-Age") is None


def test_renewal_keeps_token(httpd):
    r, env = get(httpd, "/idle/env.cgi")
    v1 = one_cookie(r).value
    c1, _ = STAMP_TIMES(v1, [S1.encode()])
    # Within the renew interval: accepted, nothing sent.
    r, env = get(httpd, "/idle/env.cgi", v1)
    if int(time.time()) == c1:
        assert r.set_cookies(NAME) == []
        assert env["SESSION_TOKEN_NEW"] == UNSET
    wait_until(c1 + 1)
    r, env2 = get(httpd, "/idle/env.cgi", v1)
    v2 = one_cookie(r).value
    assert split(v2)[0] == split(v1)[0] == env2["SESSION_TOKEN"]
    assert env2["SESSION_LOG_ID"] == log_id(split(v1)[0])
    assert env2["SESSION_TOKEN_NEW"] == UNSET and env2["SESSION_EXPIRED"] == UNSET
    c2, r2 = STAMP_TIMES(v2, [S1.encode()])
    assert c2 == c1 and r2 >= c1 + 1
    assert env2["SESSION_CREATED"] == str(c1) and env2["SESSION_EXPIRES"] == str(r2 + 2)
    assert "private" in cache_control(r)


def test_idle_expiry(httpd):
    r, _ = get(httpd, "/idle/env.cgi")
    v = one_cookie(r).value
    c, _ = STAMP_TIMES(v, [S1.encode()])
    wait_until(c + 2)
    r, env = get(httpd, "/idle/env.cgi", v)
    new = one_cookie(r).value
    assert env["SESSION_EXPIRED"] == "idle" and env["SESSION_TOKEN_NEW"] == "1"
    assert split(new)[0] != split(v)[0] == split(v)[0]
    assert env["SESSION_TOKEN"] == split(new)[0]


def test_lifetime_expiry_while_renewing(httpd):
    r, _ = get(httpd, "/life/env.cgi")
    v = one_cookie(r).value
    tok = split(v)[0]
    created, _ = STAMP_TIMES(v, [S1.encode()])
    for k in (1, 2):
        wait_until(created + k)
        r, env = get(httpd, "/life/env.cgi", v)
        v = one_cookie(r).value
        assert split(v)[0] == tok and env["SESSION_EXPIRED"] == UNSET
        assert env["SESSION_EXPIRES"] == str(created + 3)    # the lifetime comes first
        assert STAMP_TIMES(v, [S1.encode()])[0] == created
    wait_until(created + 3)
    r, env = get(httpd, "/life/env.cgi", v)
    assert env["SESSION_EXPIRED"] == "lifetime" and split(one_cookie(r).value)[0] != tok


def test_lifetime_alone_never_renews(httpd):
    """IDSessionMaxLifetime without an idle timeout: the stamp is written once, and
    IDSessionCookieMaxAge 0 keeps a browser-session cookie."""
    r, env = get(httpd, "/maxonly/env.cgi")
    c = one_cookie(r)
    assert c.attr("Max-Age") is None
    created, _ = STAMP_TIMES(c.value, [S1.encode()])
    assert env["SESSION_EXPIRES"] == str(created + 2)
    wait_until(created + 1)
    r, env = get(httpd, "/maxonly/env.cgi", c.value)
    assert r.set_cookies(NAME) == [] and env["SESSION_TOKEN"] == split(c.value)[0]
    wait_until(created + 2)
    r, env = get(httpd, "/maxonly/env.cgi", c.value)
    assert env["SESSION_EXPIRED"] == "lifetime"


def test_invalid_stamps(httpd):
    r, _ = get(httpd, "/t/env.cgi")
    v = one_cookie(r).value
    tok, s = split(v)
    now = int(time.time())
    other = signed(S1)
    bad = {
        "tampered": tok + "." + s[:10] + ("A" if s[10] != "A" else "B") + s[11:],
        "swapped": other + "." + s,
        "unknown key": tok + "." + stamp(SX, tok, now, now),
        "future": tok + "." + stamp(S1, tok, now, now + 120),
        "created after renewed": tok + "." + stamp(S1, tok, now, now - 1),
        "two stamps": v + "." + s,
    }
    for what, value in bad.items():
        r, env = get(httpd, "/t/env.cgi", value)
        assert env["SESSION_TOKEN_NEW"] == "1", what
        assert env["SESSION_EXPIRED"] == UNSET, what
        assert split(one_cookie(r).value)[0] not in (tok, other), what
    # 59 s ahead is clock skew: accepted.
    r, env = get(httpd, "/t/env.cgi", tok + "." + stamp(S1, tok, now, now + 59))
    assert env["SESSION_TOKEN"] == tok and env["SESSION_TOKEN_NEW"] == UNSET


def test_stripped_stamp_has_ended(httpd):
    r, _ = get(httpd, "/t/env.cgi")
    tok = split(one_cookie(r).value)[0]
    r, env = get(httpd, "/t/env.cgi", tok)
    assert env["SESSION_EXPIRED"] == "lifetime" and env["SESSION_TOKEN"] != tok


def test_adoption(httpd):
    tok = signed(S1)
    r, env = get(httpd, "/adopt/env.cgi", tok)
    assert env["SESSION_TOKEN"] == tok and env["SESSION_TOKEN_NEW"] == UNSET
    c = one_cookie(r)
    created, renewed = STAMP_TIMES(c.value, [S1.encode()])
    assert split(c.value)[0] == tok and created == renewed
    assert abs(created - time.time()) < 2 and env["SESSION_CREATED"] == str(created)
    assert "private" in cache_control(r)
    # After the window: the same token has ended.
    r, env = get(httpd, "/adopt-past/env.cgi", tok)
    assert env["SESSION_EXPIRED"] == "lifetime" and env["SESSION_TOKEN"] != tok
    # A forged bare token is not adopted, nor reported as expired.
    r, env = get(httpd, "/adopt/env.cgi", signed(SX))
    assert env["SESSION_TOKEN_NEW"] == "1" and env["SESSION_EXPIRED"] == UNSET
    # An inner section ends the outer one's window with "none".
    r, env = get(httpd, "/adopt/none/env.cgi", tok)
    assert env["SESSION_EXPIRED"] == "lifetime" and env["SESSION_TOKEN"] != tok


def test_key_rotation(httpd):
    """/rot/new signs with S2 and still verifies S1: a session stamped under S1 goes on,
    and its renewal is signed with S2."""
    r, _ = get(httpd, "/rot/env.cgi")
    v = one_cookie(r).value
    created, _ = STAMP_TIMES(v, [S1.encode()])
    wait_until(created + 1)
    r, env = get(httpd, "/rot/new/env.cgi", v)
    v2 = one_cookie(r).value
    assert split(v2)[0] == split(v)[0] == env["SESSION_TOKEN"]
    assert STAMP_TIMES(v2, [S1.encode()]) is None
    assert STAMP_TIMES(v2, [S2.encode()])[0] == created
    # Back where S1 alone verifies: a stamp signed with S2 is not valid there.
    r, env = get(httpd, "/rot/env.cgi", v2)
    assert env["SESSION_TOKEN_NEW"] == "1" and env["SESSION_EXPIRED"] == UNSET


def test_subrequests_renew_once(httpd):
    r, _ = get(httpd, "/idle/env.cgi")
    v = one_cookie(r).value
    c, _ = STAMP_TIMES(v, [S1.encode()])
    wait_until(c + 1)
    r = httpd.curl("/idle/page.shtml", cookie_header=NAME + "=" + v)
    assert r.status == 200
    v2 = one_cookie(r).value                       # one Set-Cookie for the whole chain
    assert split(v2)[0] == split(v)[0]
    toks = re.findall(r"^SESSION_TOKEN=(.*)$", r.body, re.M)
    assert toks == [split(v)[0]] * 2
    assert "private" in cache_control(r)


def test_internal_redirect_renews_once(httpd):
    r, _ = get(httpd, "/idle/env.cgi")
    v = one_cookie(r).value
    c, _ = STAMP_TIMES(v, [S1.encode()])
    wait_until(c + 1)
    r = httpd.curl("/idle/missing", cookie_header=NAME + "=" + v)
    assert r.status == 404
    v2 = one_cookie(r).value
    assert split(v2)[0] == split(v)[0] and r.env()["SESSION_TOKEN"] == split(v)[0]
    assert STAMP_TIMES(v2, [S1.encode()])[1] >= c + 1


def test_reset_starts_a_new_session(httpd):
    r, _ = get(httpd, "/t/env.cgi")
    v = one_cookie(r).value
    r = httpd.curl("/reset", cookie_header=NAME + "=" + v)
    assert r.status == 302
    v2 = one_cookie(r).value
    assert split(v2)[0] != split(v)[0]
    created, renewed = STAMP_TIMES(v2, [S1.encode()])
    assert created == renewed and abs(created - time.time()) < 2


def test_keepalive_memo_still_checks_time(httpd):
    """The connection memo covers the stamp, not the clock: on one keep-alive
    connection, the same cookie is accepted, then refused once the session has ended."""
    r, _ = get(httpd, "/idle/env.cgi")
    v = one_cookie(r).value
    c, _ = STAMP_TIMES(v, [S1.encode()])
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=15)
    try:
        answers = []
        for when in (None, c + 2):
            if when:
                wait_until(when)
            conn.request("GET", "/idle/env.cgi", headers={"Cookie": NAME + "=" + v})
            resp = conn.getresponse()
            body = resp.read().decode()
            answers.append(dict(l.split("=", 1) for l in body.splitlines() if "=" in l))
            if when is None:
                sock = conn.sock
        assert conn.sock is sock                     # the same connection
    finally:
        conn.close()
    assert answers[0]["SESSION_TOKEN"] == split(v)[0]
    assert answers[1]["SESSION_EXPIRED"] == "idle"
    assert answers[1]["SESSION_TOKEN"] != split(v)[0]


def test_keepalive_memo_times_follow_the_section(httpd):
    """The connection memo keeps SESSION_CREATED and SESSION_EXPIRES of the last stamp
    it verified; on one keep-alive connection, a section with other timeouts still
    gets its own SESSION_EXPIRES for the same cookie, in either order."""
    r, _ = get(httpd, "/memo-a/env.cgi")
    v = one_cookie(r).value
    c, renewed = STAMP_TIMES(v, [S1.encode()])
    want = {"/memo-a/env.cgi": str(renewed + 60), "/memo-b/env.cgi": str(c + 30)}
    paths = ["/memo-a/env.cgi", "/memo-b/env.cgi", "/memo-b/env.cgi", "/memo-a/env.cgi",
             "/memo-a/env.cgi"]
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=15)
    try:
        answers = []
        for path in paths:
            conn.request("GET", path, headers={"Cookie": NAME + "=" + v})
            resp = conn.getresponse()
            body = resp.read().decode()
            assert resp.status == 200, body
            answers.append(dict(l.split("=", 1) for l in body.splitlines() if "=" in l))
            if len(answers) == 1:
                sock = conn.sock
        assert conn.sock is sock                     # the same connection
    finally:
        conn.close()
    for path, env in zip(paths, answers):
        assert env["SESSION_TOKEN"] == split(v)[0], (path, env)
        assert env["SESSION_CREATED"] == str(c), (path, env)
        assert env["SESSION_EXPIRES"] == want[path], (path, env)


TWO = r"""
<Location /s>
    IDSession On
    IDSessionSecret %s
    IDSessionIdleTimeout 3
    IDSessionRenewInterval %d
</Location>
"""


def test_two_servers_share_a_secret(httpd_factory):
    a = httpd_factory(conf=TWO % (S1, 1), cgi=True)
    b = httpd_factory(conf=TWO % (S1, 2), cgi=True)
    for h in (a, b):
        h.write_cgi("s/env.cgi", ENV)
    r, _ = get(a, "/s/env.cgi")
    v = one_cookie(r).value
    c, _ = STAMP_TIMES(v, [S1.encode()])
    wait_until(c + 1)
    r, env = get(a, "/s/env.cgi", v)                # A renews
    v2 = one_cookie(r).value
    assert split(v2)[0] == split(v)[0]
    r, env = get(b, "/s/env.cgi", v2)               # B accepts, no renewal yet
    assert env["SESSION_TOKEN"] == split(v)[0] and r.set_cookies(NAME) == []
    assert env["SESSION_CREATED"] == str(c)


# ---- configuration ----------------------------------------------------------------


@pytest.mark.parametrize("conf,directive", [
    ("IDSessionIdleTimeout abc", "IDSessionIdleTimeout"),
    ("IDSessionIdleTimeout -1", "IDSessionIdleTimeout"),
    ("IDSessionMaxLifetime 1.5", "IDSessionMaxLifetime"),
    ("IDSessionMaxLifetime 99999999999", "IDSessionMaxLifetime"),
    ("IDSessionRenewInterval x", "IDSessionRenewInterval"),
    ("IDSessionAdoptUntil 2030-01-01", "IDSessionAdoptUntil"),
    ("IDSessionAdoptUntil 2030-01-01T00:00:00+02:00", "IDSessionAdoptUntil"),
    ("IDSessionAdoptUntil never", "IDSessionAdoptUntil"),
    ("IDSessionSecret %s\nIDSessionIdleTimeout 10\nIDSessionRenewInterval 10" % S1,
     "IDSessionRenewInterval"),
    ("IDSessionSecret %s\nIDSessionRenewInterval 20\nIDSessionIdleTimeout 10" % S1,
     "IDSessionIdleTimeout"),
    ("IDSessionIdleTimeout 10", "IDSessionSecret"),
    ("IDSessionMaxLifetime 10", "IDSessionSecret"),
])
def test_configtest_errors(configtest, conf, directive):
    rc, out = configtest("<Location /x>\nIDSession On\n%s\n</Location>\n" % conf)
    assert rc != 0 and directive in out, out
    assert S1 not in out


def test_configtest_merged_errors_name_the_sections(configtest):
    rc, out = configtest("IDSessionIdleTimeout 30\n"
                         "<Location /a>\nIDSessionSecret %s\n</Location>\n"
                         "<Location /b>\nIDSession On\n</Location>\n" % S1)
    assert rc != 0 and "IDSessionSecret" in out and "<Location /b>" in out, out
    rc, out = configtest("<Location /a>\nIDSessionSecret %s\nIDSessionIdleTimeout 8\n"
                         "</Location>\n<Location /a/b>\nIDSessionRenewInterval 8\n"
                         "</Location>\n" % S1)
    assert rc != 0 and "IDSessionRenewInterval 8" in out and "<Location /a/b>" in out, out


def test_configtest_good(configtest):
    rc, out = configtest("IDSessionSecret %s\nIDSessionIdleTimeout 1800\n"
                         "IDSessionMaxLifetime 86400\nIDSessionRenewInterval 60\n"
                         "IDSessionAdoptUntil 2030-01-01T00:00:00Z\n"
                         "<Location /a>\nIDSessionIdleTimeout 0\nIDSessionMaxLifetime 0\n"
                         "</Location>\n<Location /b>\nIDSessionAdoptUntil NONE\n</Location>\n"
                         % S1)
    assert rc == 0, out


def test_startup_fails_without_secret(httpd_factory):
    h = httpd_factory(conf="<Location /a>\nIDSession On\nIDSessionIdleTimeout 5\n"
                           "</Location>\n", start=False)
    with pytest.raises(Exception):
        h.start()


def test_unstamped_chain_not_handed_to_timed_location(httpd):
    """Timeouts are rules too.  A chain read where no timeout applies
    accepts a bare R.T (here one whose stamp was stripped); its ErrorDocument in a timed
    location must not hand that session over: no SESSION_* there, no new cookie."""
    r0, _ = get(httpd, "/t/env.cgi")
    bare = split(r0.set_cookies(NAME)[0].value)[0]
    r = httpd.curl("/plain/missing.html", cookie_header=NAME + "=" + bare)
    assert r.status == 404, r
    e = r.env()
    assert e["SCRIPT_NAME"] == "/t/env.cgi", r.body
    assert e["SESSION_TOKEN"] == UNSET and e["REDIRECT_SESSION_TOKEN"] == UNSET
    assert r.set_cookies(NAME) == []



def assert_fails_closed(factory, conf, log_rx):
    """A server with conf: /f/env.cgi, under the section, answers 500 without a cookie and
    the error log says why (log_rx), once a minute at most; /f/page.html, which the
    section does not cover, works as before."""
    h = factory(conf=conf, cgi=True, start=False)
    h.write_cgi("f/env.cgi", ENV)
    h.write("f/page.html", "static\n")
    h.expect_log(log_rx)
    h.start()
    for _ in range(2):
        r = h.curl("/f/env.cgi")
        assert r.status == 500 and r.set_cookies(NAME) == [], r
    assert len(h.curl("/f/page.html").set_cookies(NAME)) == 1
    errs = [l for l in h.log_lines() if re.search(log_rx, l)]
    assert 1 <= len(errs) <= 2, errs        # once a minute per process


def test_timeout_without_secret_in_a_files_section_fails_closed(httpd_factory):
    """A timeout that only a <FilesMatch> (invisible to the startup check) brings, with no
    IDSessionSecret anywhere: sessions could not end there."""
    assert_fails_closed(httpd_factory,
                        'IDSession On\n<FilesMatch "\\.cgi$">\n    IDSessionIdleTimeout 60\n'
                        '</FilesMatch>\n',
                        r"\[idsession:error\].*IDS00005: /f/env.cgi: IDSessionIdleTimeout or "
                        r"IDSessionMaxLifetime applies here, but no IDSessionSecret")


@pytest.mark.parametrize("section", [
    '<Files "env.cgi">\n    IDSessionRenewInterval 900\n</Files>',
    '<If "%{REQUEST_URI} =~ m#cgi$#">\n    IDSessionRenewInterval 900\n</If>',
    '<LocationMatch "cgi$">\n    IDSessionRenewInterval 900\n</LocationMatch>',
], ids=["files", "if", "locationmatch"])
def test_renew_not_below_idle_in_a_section_fails_closed(httpd_factory, section):
    """A renew interval not below the idle timeout that only a section invisible to the
    startup check brings: active sessions would end there after the idle timeout."""
    assert_fails_closed(httpd_factory,
                        "IDSession On\nIDSessionSecret %s\nIDSessionIdleTimeout 600\n%s\n"
                        % (S1, section),
                        r"\[idsession:error\].*IDS00023: /f/env.cgi: IDSessionRenewInterval 900 "
                        r"is not smaller than IDSessionIdleTimeout 600")


def test_rotation_clears_session_expired(httpd):
    """An ended session's cookie at /reset: the fixups mint a token and say
    SESSION_EXPIRED=idle, then the reset starts another session, which has not expired:
    the notes the access log reads no longer carry SESSION_EXPIRED."""
    tok = signed(S1)
    now = int(time.time())
    dead = tok + "." + stamp(S1, tok, now - 100, now - 100)
    r = httpd.curl("/reset", cookie_header=NAME + "=" + dead, headers=["X-Req: exp-reset"])
    assert r.status == 302 and len(r.set_cookies(NAME)) == 1, r
    line = wait_file_line(httpd.root / "logs" / "expired_log",
                          lambda l: l.startswith("exp-reset "))
    assert line.split() == ["exp-reset", "-", "1"], line



def test_rate_limited_messages_do_not_hide_each_other(httpd_factory):
    """Each rate-limited message has its own once-a-minute clock: a dropped
    IDSession-Reset warned about first does not silence the error about a timeout
    without a secret (one server process, so both go through the same child)."""
    h = httpd_factory(conf='IDSession On\n<FilesMatch "^t\\.cgi$">\n'
                           '    IDSessionIdleTimeout 60\n</FilesMatch>\n', cgi=True,
                      start=False)
    h.write_cgi("r/app.cgi", "#!/bin/sh\nprintf 'IDSession-Reset: 1\\r\\n"
                "Content-Type: text/plain\\r\\n\\r\\nok\\n'\n")
    h.write_cgi("r/t.cgi", ENV)
    h.expect_log(r"\[idsession:warn\].*IDSession-Reset: 1 in the response to /r/app\.cgi")
    h.expect_log(r"\[idsession:error\].*no IDSessionSecret")
    h.start()
    assert h.curl("/r/app.cgi").status == 200
    assert h.curl("/r/t.cgi").status == 500
    lines = h.log_lines()
    assert [l for l in lines if "IDSession-Reset: 1 in the response" in l], lines
    assert [l for l in lines if "no IDSessionSecret" in l], lines


# ---- a chain that crosses into other timeouts -------------------------------------------

CHAIN_CONF = """
IDSessionSecret %s
<Location /ca>
    IDSession On
    IDSessionIdleTimeout 600
</Location>
<Directory "@DOCROOT@/ca">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
    ErrorDocument 404 /cb/env.cgi
</Directory>
<Location /cb>
    IDSession On
    IDSessionIdleTimeout 600
    IDSessionMaxLifetime 100
</Location>
# Other lists of secrets along a chain: /ka knows S1 and S2, /kb only S2, /kc S2 then S1.
<Location /ka>
    IDSession On
    IDSessionSecret %s
    IDSessionSecret %s
    IDSessionIdleTimeout 600
</Location>
<Directory "@DOCROOT@/ka">
    ErrorDocument 404 /kb/env.cgi
</Directory>
<Directory "@DOCROOT@/ka/c">
    ErrorDocument 404 /kc/env.cgi
</Directory>
<Location /kb>
    IDSession On
    IDSessionSecret %s
    IDSessionIdleTimeout 600
</Location>
<Location /kc>
    IDSession On
    IDSessionSecret %s
    IDSessionSecret %s
    IDSessionIdleTimeout 600
</Location>
""" % (S1, S1, S2, S2, S2, S1)


@pytest.fixture(scope="module")
def chain(httpd_module_factory):
    h = httpd_module_factory(conf=CHAIN_CONF, cgi=True, modules=["include"], start=False,
                             name="timeout-chain")
    for d in ("ca", "cb", "ka", "ka/c", "kb", "kc"):
        h.write_cgi(d + "/env.cgi", ENV)
    h.write("ca/page.shtml", '<!--#include virtual="/cb/env.cgi" -->\n')
    return h.start()


@pytest.mark.parametrize("path", ["/cb/env.cgi", "/ca/missing", "/ca/page.shtml"],
                         ids=["direct", "error-document", "ssi-include"])
def test_chain_expires_under_the_sections_own_timeouts(chain, path):
    """/cb's IDSessionMaxLifetime 100 ends the session at created + 100, and /cb says so,
    also when an ErrorDocument or an SSI include of /ca reaches it, where the session's
    end was first worked out under /ca's idle timeout alone (renewed + 600)."""
    now = int(time.time())
    tok = signed(S1)
    r = chain.curl(path, cookie_header=NAME + "=" + tok + "."
                   + stamp(S1, tok, now - 10, now - 10))
    env = dict(l.split("=", 1) for l in r.body.splitlines() if "=" in l)
    assert env["SESSION_TOKEN"] == tok, env
    assert env["SESSION_EXPIRES"] == str(now - 10 + 100), env


def s2_tag_s1_stamp():
    """A cookie whose tag S2 signs and whose stamp S1 signs, both ten seconds old."""
    now = int(time.time())
    tok = signed(S2)
    return tok, tok + "." + stamp(S1, tok, now - 10, now - 10)


@pytest.mark.parametrize("path", ["/kb/env.cgi", "/ka/missing"],
                         ids=["direct", "error-document"])
def test_chain_checks_the_stamp_under_the_sections_own_secrets(chain, path):
    """/kb knows only S2: a stamp that only S1 verifies is refused there, also when an
    ErrorDocument of /ka (which knows both) reaches it: a secret taken out of a section
    stops the stamps it signed, however the request gets there.  Asked directly, /kb
    mints a new token; reached through the chain, it is handed none (as for any token
    its rules refuse)."""
    tok, v = s2_tag_s1_stamp()
    env = chain.curl(path, cookie_header=NAME + "=" + v).env()
    if path == "/kb/env.cgi":
        assert env["SESSION_TOKEN"] != tok and env["SESSION_TOKEN_NEW"] == "1", env
    else:
        assert env["SESSION_TOKEN"] == UNSET and env["SESSION_KEY_INDEX"] == UNSET, env


@pytest.mark.parametrize("path", ["/kc/env.cgi", "/ka/c/missing"],
                         ids=["direct", "error-document"])
def test_chain_key_index_counts_the_stamp(chain, path):
    """/kc lists S2 then S1: the stamp needs S1, so SESSION_KEY_INDEX is 1, the oldest
    secret the cookie needs, also through /ka's ErrorDocument."""
    tok, v = s2_tag_s1_stamp()
    env = chain.curl(path, cookie_header=NAME + "=" + v).env()
    assert env["SESSION_TOKEN"] == tok and env["SESSION_KEY_INDEX"] == "1", env
