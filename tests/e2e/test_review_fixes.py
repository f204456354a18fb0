"""Hardening: a token planted through ',' in a sibling cookie, store
keys that resist offline search (SESSION_STORE_KEY), literal secrets left in memory,
readable secret files, and misconfigurations that gave every request a new token.

(Subrequests, fast redirects, IDSession-Reset and tokens crossing rules are in
test_review_chain.py; dot segments in `next` in test_hostile_redirects.py.)"""

import hashlib
import os
import re
import subprocess

import pytest

import idshttpd
from idshttpd import ENV_CGI, UNSET, log_id, signed, signed_by, token, wait_file_line

S1 = "review-fixes-signing-secret-0123456789-abcdef"

CONF = r"""
SetEnvIf X-Plant "." SESSION_STORE_KEY=planted
LogFormat "%{X-Req}i %{SESSION_TOKEN}n %{SESSION_STORE_KEY}n %{SESSION_LOG_ID}n" idskeys
CustomLog "@ROOT@/logs/keys_log" idskeys
<Location /u>
    IDSession On
</Location>
<Location /host>
    IDSession On
    IDSessionCookieName __Host-session
    IDSessionSecret "@S1@"
</Location>
<Location /reset>
    IDSession On
    SetHandler idsession-reset
</Location>
<Location /app>
    IDSession On
    IDSessionAppReset On
</Location>
""".replace("@S1@", S1)


def store_key(tok):
    return hashlib.sha256(tok.encode()).hexdigest()


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, cgi=True, tls=True, modules=["setenvif"], start=False)
    for d in ("u", "host", "app"):
        h.write_cgi(d + "/env.cgi", ENV_CGI)
    h.write_cgi("app/rotate.cgi", "#!/bin/sh\nprintf 'IDSession-Reset: 1\\r\\n"
                "Content-Type: text/plain\\r\\n\\r\\nok\\n'\n")
    return h.start()


# ---- 1. ',' is part of a value: no token planted through a sibling cookie ----------------

def test_comma_plant_under_host_prefix_signed(httpd):
    """An attacker who controls any cookie value of the site (a
    sibling subdomain, a reflected preference) plants T, a genuine signed token it
    fetched, before the victim's own V.  The victim's V stays the session."""
    planted, own = signed(S1), signed(S1)
    hdr = "pref=x,__Host-session=%s; __Host-session=%s" % (planted, own)
    r = httpd.curl("/host/env.cgi", cookie_header=hdr, tls=True)
    assert r.status == 200
    assert r.env()["SESSION_TOKEN"] == own
    assert r.headers_named("set-cookie") == []


def test_comma_plant_alone_is_refused(httpd):
    """With only the planted pair, the session is a fresh token, never the planted one."""
    planted = signed(S1)
    r = httpd.curl("/host/env.cgi", cookie_header="pref=x,__Host-session=" + planted, tls=True)
    [c] = r.set_cookies("__Host-session")
    assert c.value != planted and signed_by(c.value, S1)
    assert r.env()["SESSION_TOKEN"] == c.value
    assert r.env()["SESSION_TOKEN_NEW"] == "1"


def test_comma_plant_survives_no_reset(httpd):
    """The login recipe: after /reset the browser still sends the tossed cookie; the
    request after the reset must carry the reset's token, not the planted one."""
    r = httpd.curl("/reset")
    [c] = r.set_cookies("_session")
    planted = token()
    hdr = "pref=x,_session=%s; _session=%s" % (planted, c.value)
    r = httpd.curl("/u/env.cgi", cookie_header=hdr)
    assert r.env()["SESSION_TOKEN"] == c.value


# ---- 2. SESSION_STORE_KEY ---------------------------------------------------------------

def test_store_key_kept_token(httpd):
    t = token()
    r = httpd.curl("/u/env.cgi", cookie_header="_session=" + t, headers=["X-Req: kept"])
    env = r.env()
    assert env["SESSION_STORE_KEY"] == store_key(t)
    assert re.fullmatch(r"[0-9a-f]{64}", env["SESSION_STORE_KEY"])
    assert env["SESSION_LOG_ID"] == env["SESSION_STORE_KEY"][:16] == log_id(t)
    line = wait_file_line(httpd.root / "logs" / "keys_log", lambda l: l.startswith("kept "))
    assert line.split() == ["kept", t, store_key(t), log_id(t)]


def test_store_key_minted_token(httpd):
    r = httpd.curl("/u/env.cgi")
    [c] = r.set_cookies("_session")
    assert r.env()["SESSION_STORE_KEY"] == store_key(c.value)


def test_store_key_signed_token_covers_the_tag(httpd):
    t = signed(S1)
    r = httpd.curl("/host/env.cgi", cookie_header="__Host-session=" + t, tls=True)
    assert r.env()["SESSION_STORE_KEY"] == store_key(t)


def test_store_key_follows_reset(httpd):
    r = httpd.curl("/reset", cookie_header="_session=" + token(), headers=["X-Req: reset1"])
    [c] = r.set_cookies("_session")
    line = wait_file_line(httpd.root / "logs" / "keys_log", lambda l: l.startswith("reset1 "))
    assert line.split() == ["reset1", c.value, store_key(c.value), log_id(c.value)]


def test_store_key_follows_app_rotation(httpd):
    r = httpd.curl("/app/rotate.cgi", cookie_header="_session=" + token(),
                   headers=["X-Req: rot1"])
    [c] = r.set_cookies("_session")
    line = wait_file_line(httpd.root / "logs" / "keys_log", lambda l: l.startswith("rot1 "))
    assert line.split() == ["rot1", c.value, store_key(c.value), log_id(c.value)]


def test_pipelined_requests_log_their_own_keys(httpd):
    """Three requests in one write (cookies A, A, B; the second hits the connection's
    memo, the third replaces it): each log line shows its own request's keys.  Over
    loopback httpd logs each response before reading the next request, so this passes
    whether or not a request copies the memo's strings; the copy is for a client too slow
    to read, whose responses httpd sets aside while it goes on with the next request."""
    httpd.write("u/small.txt", "s\n")
    a, b = token(), token()
    reqs = b"".join(
        ("GET /u/small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Req: pipe-%d\r\n"
         "Cookie: _session=%s\r\n%s\r\n" % (i, t, "Connection: close\r\n" if i == 2 else ""))
        .encode() for i, t in enumerate((a, a, b)))
    httpd.raw_request(reqs)
    log = httpd.root / "logs" / "keys_log"
    for i, t in enumerate((a, a, b)):
        line = wait_file_line(log, lambda l, i=i: l.startswith("pipe-%d " % i))
        assert line.split() == ["pipe-%d" % i, t, store_key(t), log_id(t)], (i, line)


def test_store_key_planted_before_fixups_is_replaced(httpd):
    """A SESSION_STORE_KEY set earlier (a server-context SetEnvIf) never survives."""
    t = token()
    r = httpd.curl("/u/env.cgi", cookie_header="_session=" + t, headers=["X-Plant: 1"])
    assert r.env()["SESSION_STORE_KEY"] == store_key(t)


# ---- 5. literal secrets in memory, readable secret files ---------------------------------

LITERAL_WARN = r"IDSessionSecret: a literal secret may stay in httpd's memory"


def _copies(pid, needle):
    """The copies of needle in the readable memory of process pid, each with the 16 bytes
    before it."""
    found = []
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perm = line.split()[:2]
            if "r" not in perm or "[vvar]" in line or "[vsyscall]" in line:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            i = data.find(needle)
            while i >= 0:
                found.append(data[max(0, i - 16):i])
                i = data.find(needle, i + 1)
    return found


def _pids(h):
    parent = int((h.root / "run" / "httpd.pid").read_text())
    kids = subprocess.run(["pgrep", "-P", str(parent), "-x", "apache2"],
                          capture_output=True, text=True).stdout.split()
    assert kids, "no child process"
    return parent, [int(k) for k in kids]


MEMSCAN = pytest.mark.skipif(idshttpd.VALGRIND, reason="memcheck keeps copies of the "
                             "client's memory of its own; make test runs the scans")


@MEMSCAN
def test_literal_secret_copies_wiped_and_warned(httpd_factory):
    """The module wipes the copies of a literal secret within its reach: the directive's
    argument and its text in the configuration tree (bare copies; the previous module left
    4 copies in the parent and 3 in each child).  What remains is in the configuration
    reader's own buffers (the file's read buffer and the line buffer, where the secret
    follows its directive name), which it cannot reach: how many of those survive depends
    on how later allocations reuse them.  So it warns once, with file and line, and
    recommends file:."""
    secret = "literal-secret-for-the-memory-scan-" + os.urandom(8).hex()
    h = httpd_factory(conf="IDSession On\nIDSessionSecret %s\n" % secret, start=False)
    h.expect_log(LITERAL_WARN)
    h.start()
    assert h.curl("/").status in (200, 403, 404)
    parent, kids = _pids(h)
    needle = secret.encode()
    for pid in [parent] + kids:
        copies = _copies(pid, needle)
        assert len(copies) <= 3, (pid, copies)
        bare = [c for c in copies if not c.endswith(b"SessionSecret ")]
        assert bare == [], (pid, copies)
    warns = [l for l in h.log_lines() if re.search(LITERAL_WARN, l)]
    assert len(warns) == 1 and "file:" in warns[0] and "httpd.conf:" in warns[0]
    assert secret not in h.error_log.read_text()


@MEMSCAN
def test_file_secret_leaves_no_copy(httpd_factory):
    secret = "file-secret-for-the-memory-scan-" + os.urandom(8).hex()
    h = httpd_factory(conf="IDSession On\nIDSessionSecret file:@ROOT@/conf/s\n", start=False)
    h.write("conf/s", secret + "\n", under=".", mode=0o600)
    h.start()
    assert h.curl("/").status in (200, 403, 404)
    parent, kids = _pids(h)
    for pid in [parent] + kids:
        assert _copies(pid, secret.encode()) == [], pid
    assert not [l for l in h.log_lines() if "[idsession:warn]" in l]


def test_readable_secret_file_warns_at_startup(httpd_factory):
    h = httpd_factory(conf="IDSession On\nIDSessionSecret file:@ROOT@/conf/s\n", start=False)
    f = h.write("conf/s", "x" * 40 + "\n", under=".", mode=0o644)
    h.expect_log(r"secret file")
    h.start()
    assert h.curl("/").status in (200, 403, 404)
    [w] = [l for l in h.log_lines() if "[idsession:warn]" in l]
    assert str(f) in w and "mode 0644" in w and "chmod 600" in w


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602, 0o620])
def test_readable_secret_file_modes_warn(configtest, _configtest_server, mode):
    f = _configtest_server.write("conf/readable-%o" % mode, "x" * 40 + "\n", under=".",
                                 mode=mode)
    rc, out = configtest("IDSessionSecret file:%s\n" % f)
    assert rc == 0, out
    [w] = [l for l in out.splitlines() if "secret file" in l]
    assert str(f) in w and ("mode %04o" % mode) in w


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_secret_file_does_not_warn(configtest, _configtest_server, mode):
    f = _configtest_server.write("conf/private-%o" % mode, "x" * 40 + "\n", under=".",
                                 mode=mode)
    rc, out = configtest("IDSessionSecret file:%s\n" % f)
    assert rc == 0, out
    assert "secret file" not in out and "warn" not in out, out


# ---- 6. misconfigurations that gave every request a new token ----------------------------

def test_samesite_none_secure_off_merged_warns(httpd_factory):
    """In one section it fails configtest (test_core_config.py); merged across sections it
    warns once at startup, and Secure is sent all the same."""
    h = httpd_factory(conf="IDSessionCookieSecure Off\n<Location /n>\n    IDSession On\n"
                           "    IDSessionCookieSameSite None\n</Location>\n", start=False)
    h.write("n/index.html", "n\n")
    h.expect_log(r"SameSite None contradicts IDSessionCookieSecure Off")
    h.start()
    r = h.curl("/n/index.html")
    [c] = r.set_cookies("_session")
    assert c.has("Secure") and c.attr("SameSite") == "None"
    warns = [l for l in h.log_lines() if "[idsession:warn]" in l]
    assert len(warns) == 1 and "Secure is sent all the same" in warns[0]


PATH_CASES = {
    # name: (config, URL where IDSession is On, expected to warn)
    "location-outside": ("<Location /app>\n IDSession On\n IDSessionCookiePath /other\n"
                         "</Location>\n", "/app", True),
    "location-slash": ("<Location /app>\n IDSession On\n IDSessionCookiePath /app/\n"
                       "</Location>\n", "/app", True),
    "location-longer": ("<Location /app>\n IDSession On\n IDSessionCookiePath /app/sub\n"
                        "</Location>\n", "/app", True),
    "server-wide": ("IDSession On\nIDSessionCookiePath /app\n", "/", True),
    "path-outside-location": ("IDSessionCookiePath /other\n<Location /app>\n IDSession On\n"
                              "</Location>\n", "/app", True),
    "directory": ('<Directory "@DOCROOT@/app">\n IDSession On\n IDSessionCookiePath /x\n'
                  "</Directory>\n", "/app/", True),
    "covers-exact": ("<Location /app>\n IDSession On\n IDSessionCookiePath /app\n"
                     "</Location>\n", "/app", False),
    "covers-parent": ("<Location /app/sub>\n IDSession On\n IDSessionCookiePath /app\n"
                      "</Location>\n", "/app/sub", False),
    "covers-dir": ('<Directory "@DOCROOT@/app">\n IDSession On\n IDSessionCookiePath /app\n'
                   "</Directory>\n", "/app/", False),
    "off-where-uncovered": ("IDSessionCookiePath /app\n<Location /app>\n IDSession On\n"
                            "</Location>\n", "/app", False),
    "host-prefix-forces-root": ("<Location /app>\n IDSession On\n IDSessionCookieName "
                                "__Host-x\n</Location>\n", "/app", False),
}


@pytest.mark.parametrize("case", list(PATH_CASES))
def test_cookie_path_not_covering_warns(configtest, case):
    conf, url, warns = PATH_CASES[case]
    rc, out = configtest(conf)
    assert rc == 0, out
    hits = [l for l in out.splitlines() if "does not cover" in l]
    if warns:
        assert len(hits) == 1, out
        assert ("does not cover %s," % url) in hits[0] and "IDSessionCookiePath" in hits[0]
        assert "every request there gets a new token" in hits[0]
    else:
        assert hits == [], out


def test_cookie_path_warning_at_startup_once(httpd_factory):
    h = httpd_factory(conf="<Location /app>\n IDSession On\n IDSessionCookiePath /other\n"
                           "</Location>\n", start=False)
    h.write("app/index.html", "a\n")
    h.expect_log(r"does not cover /app")
    h.start()
    # what the warning predicts: the cookie is never sent back to /app
    for _ in range(2):
        r = h.curl("/app/index.html")
        [c] = r.set_cookies("_session")
        assert c.attr("Path") == "/other"
    assert len([l for l in h.log_lines() if "does not cover" in l]) == 1
