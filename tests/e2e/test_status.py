"""What operators see. The counters in server-status (?auto lines and the HTML
section) after known traffic under each MPM, exact under concurrency, kept across a
graceful restart and zeroed by a full one; SESSION_KEY_INDEX in the environment and the
access log; the numbered log messages; the version in mod_info. The Prometheus recipe
of docs/operations.md is tested in test_status_prometheus.py."""

import base64
import hashlib
import hmac
import re
import struct
import subprocess
import time

import pytest

from ecosystem import TESTMOD, TESTMOD_LOAD, need
from idshttpd import REPO, UNSET, VALGRIND, signed, token, wait_file_line

NAME = "_session"
NEW = "status-test-secret-new-0123456789-abcdefghij"     # signs
OLD = "status-test-secret-old-0123456789-klmnopqrst"     # verifies only
UNKNOWN = "status-test-secret-nobody-has-0123456789-uv"

MPMS = ["prefork"] if VALGRIND else ["prefork", "worker", "event"]

COUNTERS = ["IDSessionKept", "IDSessionMinted", "IDSessionRefusedMalformed",
            "IDSessionRefusedSignature", "IDSessionExpiredIdle", "IDSessionExpiredLifetime",
            "IDSessionRevokedRefused", "IDSessionRenewed", "IDSessionResets",
            "IDSessionResetsRefused", "IDSessionAppRotations", "IDSessionRandomFailures",
            "IDSessionStoreErrors", "IDSessionStoreBreakerOpen"]

ENV = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in SESSION_TOKEN SESSION_TOKEN_NEW SESSION_LOG_ID SESSION_KEY_INDEX \\
         REDIRECT_SESSION_KEY_INDEX; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
"""

ROTATE = """#!/bin/sh
printf 'IDSession-Reset: 1\\r\\nContent-Type: text/plain\\r\\n\\r\\nrotated\\n'
"""

# Status and metrics outside IDSession, so that reading them counts nothing.
STATUS_CONF = """
ExtendedStatus Off
<Location /server-status>
    SetHandler server-status
    IDSession Off
</Location>
<Location /metrics>
    SetHandler idsession-metrics
    IDSession Off
</Location>
"""

CONF = STATUS_CONF + """
LogFormat "%r key=%{SESSION_KEY_INDEX}n id=%{SESSION_LOG_ID}n" keylog
CustomLog "@ROOT@/logs/key_log" keylog
<Location /u>
    IDSession On
</Location>
<Location /s>
    IDSession On
    IDSessionSecret file:@ROOT@/new.secret
    IDSessionSecret file:@ROOT@/old.secret
    IDSessionAppReset On
</Location>
<Location /s/reset>
    SetHandler idsession-reset
</Location>
<Location /t>
    IDSession On
    IDSessionSecret file:@ROOT@/new.secret
    IDSessionSecret file:@ROOT@/old.secret
    IDSessionIdleTimeout 600
    IDSessionMaxLifetime 3600
    IDSessionRenewInterval 60
</Location>
"""


def make_server(factory, mpm, conf=CONF, modules=()):
    h = factory(conf=conf, mpm=mpm, modules=["status", "info"] + list(modules), cgi=True,
                start=False)
    h.write("new.secret", NEW, mode=0o600, under=".")
    h.write("old.secret", OLD, mode=0o600, under=".")
    for d in ("u", "s", "t"):
        h.write(d + "/index.html", "ok\n")
        h.write_cgi(d + "/env.cgi", ENV)
    h.write_cgi("s/rotate.cgi", ROTATE)
    return h.start()


def auto(h):
    """server-status?auto as a dict of its Name: value lines (ints where they are)."""
    r = h.curl("/server-status?auto")
    assert r.status == 200, r
    out = {}
    for line in r.body.splitlines():
        k, sep, v = line.partition(": ")
        if sep:
            out[k] = int(v) if re.fullmatch(r"\d+", v) else v
    return out


def counters(h):
    a = auto(h)
    return {k: v for k, v in a.items() if k.startswith("IDSession")}


def stamp(secret, tok, created, renewed):
    """A stamp as the manual's token format lays it out."""
    times = struct.pack(">QQ", created, renewed)
    mac = hmac.new(secret.encode(), b"mod_idsession stamp v1\0" + times + tok.encode(),
                   hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(times + mac).rstrip(b"=").decode()


def stamped(secret, created, renewed):
    tok = signed(secret)
    return tok + "." + stamp(secret, tok, created, renewed)


def get(h, path, cookie=None, headers=()):
    return h.curl(path, cookie_header=None if cookie is None else NAME + "=" + cookie,
                  headers=headers)


def known_traffic(h):
    """Traffic whose every counter is known; returns the expected ?auto values."""
    now = int(time.time())
    for _ in range(3):                                        # first visits
        assert get(h, "/u/index.html").set_cookies(NAME)
    kept_u = token()
    for _ in range(2):                                        # kept, unsigned
        assert get(h, "/u/index.html", kept_u).set_cookies(NAME) == []
    assert get(h, "/u/index.html", "abc").set_cookies(NAME)   # malformed
    assert get(h, "/s/index.html").set_cookies(NAME)          # first visit, signed
    for _ in range(2):                                        # kept, the first secret
        assert get(h, "/s/index.html", signed(NEW)).set_cookies(NAME) == []
    for _ in range(3):                                        # kept, the second secret
        assert get(h, "/s/index.html", signed(OLD)).set_cookies(NAME) == []
    assert get(h, "/s/index.html", signed(UNKNOWN)).set_cookies(NAME)   # forged
    assert get(h, "/s/index.html", token()).set_cookies(NAME)  # unsigned where signed
    assert get(h, "/s/reset", signed(NEW)).status == 302       # kept, then reset
    r = get(h, "/s/reset", headers=["Sec-Fetch-Site: cross-site"])       # minted, refused
    assert r.status == 403
    r = get(h, "/s/rotate.cgi", signed(NEW))                   # kept, then rotated
    assert r.status == 200 and r.set_cookies(NAME)
    r = get(h, "/t/index.html", stamped(NEW, now - 300, now - 120))      # kept, renewed
    assert r.set_cookies(NAME)
    assert get(h, "/t/env.cgi", stamped(NEW, now - 900, now - 700)).env()[
        "SESSION_TOKEN_NEW"] == "1"                            # idle: ended
    assert get(h, "/t/env.cgi", stamped(NEW, now - 4000, now - 10)).env()[
        "SESSION_TOKEN_NEW"] == "1"                            # lifetime: ended
    want = dict.fromkeys(COUNTERS, 0)
    want.update(IDSessionKept=10, IDSessionMinted=10, IDSessionRefusedMalformed=2,
                IDSessionRefusedSignature=1, IDSessionExpiredIdle=1,
                IDSessionExpiredLifetime=1, IDSessionRenewed=1, IDSessionResets=1,
                IDSessionResetsRefused=1, IDSessionAppRotations=1,
                IDSessionVerifiedKey0=5, IDSessionVerifiedKey1=3)
    return want


@pytest.mark.parametrize("mpm", MPMS)
def test_counters_after_known_traffic(httpd_factory, mpm):
    h = make_server(httpd_factory, mpm)
    before = counters(h)
    assert before == dict(dict.fromkeys(COUNTERS, 0), IDSessionVerifiedKey0=0,
                          IDSessionVerifiedKey1=0)
    want = known_traffic(h)
    assert counters(h) == want
    # ?auto: the documented names in the documented order, the keys after them.
    names = [l.split(":")[0] for l in h.curl("/server-status?auto").body.splitlines()
             if l.startswith("IDSession")]
    assert names == COUNTERS + ["IDSessionVerifiedKey0", "IDSessionVerifiedKey1"]
    # the refused reset and the refused cookies were logged at info, with their numbers
    h.wait_log(r"\[idsession:info\] .*IDS00006: session reset refused as cross-site")
    h.wait_log(r"\[idsession:info\] .*IDS00007: session cookie _session rejected "
               r"\(1 seen; first: 3 characters, not 43\)")
    h.wait_log(r"\[idsession:info\] .*IDS00008: session cookie _session rejected .*"
               r"its tag does not verify under any IDSessionSecret")


def test_html_section(httpd_factory):
    h = make_server(httpd_factory, "event")
    get(h, "/s/index.html", signed(OLD))
    body = h.curl("/server-status").body
    assert "<h2>mod_idsession " in body
    assert re.search(r"<td>IDSessionKept</td><td>1</td>", body), body[-3000:]
    assert re.search(r"<td>IDSessionVerifiedKey1</td><td>1</td>", body)
    notable = h.curl("/server-status?notable").body
    assert "IDSessionKept: 1<br />" in notable and "<td>IDSessionKept" not in notable


def test_no_secret_no_key_lines(httpd_factory):
    h = httpd_factory(conf=STATUS_CONF + "<Location /u>\nIDSession On\n</Location>\n",
                      modules=["status"])
    h.write("u/index.html", "ok\n")
    get(h, "/u/index.html", token())
    c = counters(h)
    assert c["IDSessionKept"] == 1
    assert not [k for k in c if k.startswith("IDSessionVerifiedKey")]


def test_key_lines_follow_the_longest_ring(httpd_factory):
    conf = STATUS_CONF + "".join(
        "<Location /r%d>\nIDSession On\n%s</Location>\n"
        % (n, "".join("IDSessionSecret %s-%d\n" % (NEW, i) for i in range(n)))
        for n in (1, 3))
    h = httpd_factory(conf=conf, modules=["status"], start=False)
    h.expect_log(r"a literal secret")
    h.start()
    h.write("r3/index.html", "ok\n")
    get(h, "/r3/index.html", signed(NEW + "-2"))
    c = counters(h)
    assert [k for k in c if k.startswith("IDSessionVerifiedKey")] == [
        "IDSessionVerifiedKey0", "IDSessionVerifiedKey1", "IDSessionVerifiedKey2"]
    assert c["IDSessionVerifiedKey2"] == 1 and c["IDSessionKept"] == 1


@pytest.mark.skipif(VALGRIND, reason="apache2 -X is one process with one thread")
def test_exact_under_concurrency(httpd_factory):
    """N concurrent requests under the worker MPM, spread over several processes: the
    counters say exactly N."""
    h = make_server(httpd_factory, "worker",
                    conf=CONF + "StartServers 3\nMinSpareThreads 8\nMaxSpareThreads 32\n")
    cookie = "%s=%s" % (NAME, signed(OLD))
    total = 0
    for keepalive, n in ((True, 1200), (False, 400)):
        args = ["ab", "-q", "-n", str(n), "-c", "16", "-C", cookie]
        args += ["-k"] if keepalive else []
        p = subprocess.run(args + [h.url("/s/index.html")], capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stderr
        assert re.search(r"Complete requests:\s+%d\b" % n, p.stdout), p.stdout
        assert re.search(r"Failed requests:\s+0\b", p.stdout), p.stdout
        assert "Non-2xx" not in p.stdout, p.stdout
        total += n
    c = counters(h)
    assert c["IDSessionKept"] == total and c["IDSessionVerifiedKey1"] == total, c
    assert c["IDSessionMinted"] == 0 and c["IDSessionVerifiedKey0"] == 0, c
    pids = {m.group(1) for m in (re.search(r"\[pid (\d+)", l) for l in h.log_lines()
                                 if "[idsession:debug]" in l) if m}
    assert len(pids) >= 2, "the requests did not spread over processes: %s" % pids


def test_api_resets_count(httpd_factory):
    """idsession_reset_token() counts as a reset, or a refused one, like the handler."""
    need(TESTMOD, "run `make` for tests/mod/.libs/mod_idsession_test.so")
    h = httpd_factory(conf=TESTMOD_LOAD + STATUS_CONF
                      + "<Location /api>\nIDSession On\nSetHandler idsession-test\n"
                        "</Location>\n", modules=["status"])
    kept = token()
    assert get(h, "/api?reset=2", kept).body.count("reset=") == 2
    assert get(h, "/api?reset=1", kept, headers=["Sec-Fetch-Site: cross-site"]).status == 500
    c = counters(h)
    assert (c["IDSessionKept"], c["IDSessionMinted"], c["IDSessionResets"],
            c["IDSessionResetsRefused"]) == (2, 0, 2, 1), c
    h.wait_log(r"IDS00006: session reset refused as cross-site")


@pytest.mark.skipif(VALGRIND, reason="apache2 -X has no graceful restart")
@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_graceful_keeps_full_restart_zeroes(httpd_factory, mpm):
    h = make_server(httpd_factory, mpm)
    want = known_traffic(h)
    gen = auto(h)["ParentServerConfigGeneration"]
    h.graceful()
    a = auto(h)
    assert a["ParentServerConfigGeneration"] == gen + 1
    assert counters(h) == want
    get(h, "/s/index.html", signed(OLD))                  # the new generation counts on
    want.update(IDSessionKept=want["IDSessionKept"] + 1,
                IDSessionVerifiedKey1=want["IDSessionVerifiedKey1"] + 1)
    assert counters(h) == want
    h.hard_restart()
    assert counters(h) == dict(dict.fromkeys(COUNTERS, 0), IDSessionVerifiedKey0=0,
                               IDSessionVerifiedKey1=0)
    get(h, "/s/index.html", signed(NEW))
    assert counters(h)["IDSessionVerifiedKey0"] == 1
    notices = [l for l in h.log_lines() if "IDS00001: mod_idsession/" in l]
    assert len(notices) == 3, notices           # start, graceful, restart


def test_key_index_variable_and_access_log(httpd_factory):
    h = make_server(httpd_factory, "event")
    old = signed(OLD)
    r = get(h, "/s/env.cgi?old", old)
    assert r.env()["SESSION_KEY_INDEX"] == "1" and r.env()["SESSION_TOKEN_NEW"] == UNSET
    r = get(h, "/s/env.cgi")
    assert r.env()["SESSION_KEY_INDEX"] == "0" and r.env()["SESSION_TOKEN_NEW"] == "1"
    r = get(h, "/s/env.cgi", signed(UNKNOWN))
    assert r.env()["SESSION_KEY_INDEX"] == "0"               # the new token's signer
    r = get(h, "/u/env.cgi", token())
    assert r.env()["SESSION_KEY_INDEX"] == UNSET             # unsigned: none
    now = int(time.time())
    # timed: the oldest secret the cookie needs, the tag's or the stamp's
    tok = signed(OLD)
    r = get(h, "/t/env.cgi", tok + "." + stamp(NEW, tok, now - 10, now - 5))
    assert r.env()["SESSION_KEY_INDEX"] == "1"
    tok = signed(NEW)
    r = get(h, "/t/env.cgi", tok + "." + stamp(OLD, tok, now - 10, now - 5))
    assert r.env()["SESSION_KEY_INDEX"] == "1"
    r = get(h, "/t/env.cgi", tok + "." + stamp(NEW, tok, now - 10, now - 5))
    assert r.env()["SESSION_KEY_INDEX"] == "0"
    # a rotation re-signs with the first secret
    r = get(h, "/s/rotate.cgi", old)
    assert r.set_cookies(NAME)
    line = wait_file_line(h.root / "logs" / "key_log", "GET /s/rotate.cgi")
    assert " key=0 " in line
    line = wait_file_line(h.root / "logs" / "key_log", "GET /u/env.cgi")
    assert " key=- " in line
    # each line is written after its answer: find it by its own request, not its place
    line = wait_file_line(h.root / "logs" / "key_log", "GET /s/env.cgi?old ")
    assert " key=1 " in line


def test_key_index_planted_is_replaced(httpd_factory):
    conf = CONF + "RewriteEngine On\nRewriteRule ^/u/ - [E=SESSION_KEY_INDEX:9]\n"
    h = make_server(httpd_factory, "event", conf=conf, modules=["rewrite"])
    assert get(h, "/u/env.cgi", token()).env()["SESSION_KEY_INDEX"] == UNSET


def test_version_in_mod_info_and_startup(httpd_factory):
    h = make_server(httpd_factory, "event",
                    conf=CONF + "<Location /server-info>\nSetHandler server-info\n"
                                "IDSession Off\n</Location>\n")
    version = re.search(r'#define IDSESSION_VERSION "([^"]+)"',
                        (REPO / "mod_idsession.h").read_text()).group(1)
    body = h.curl("/server-info?server").body
    assert "mod_idsession/" + version in body
    assert auto(h)["ServerVersion"].endswith("mod_idsession/" + version)
    log = h.error_log.read_text()
    assert re.search(r"\[idsession:notice\] .*IDS00001: mod_idsession/%s configured: "
                     r"counters in shared memory, with 2 IDSessionVerifiedKey lines"
                     % re.escape(version), log)
    if not VALGRIND:        # apache2 -X does not log httpd's AH00163
        assert re.search(r"mod_idsession/%s configured -- resuming normal operations"
                         % re.escape(version), log)
    # the Server header only with ServerTokens Full (httpd's default): not here
    if VALGRIND:            # the stopped apache2 -X leaves its pid file
        h.expect_log(r"AH00098: pid file .* overwritten")
    h.restart(conf=CONF + "ServerTokens Prod\n")
    assert h.curl("/u/index.html").header("Server") == "Apache"


def test_metrics_handler_methods(httpd_factory):
    h = make_server(httpd_factory, "event")
    r = h.curl("/metrics")
    assert r.status == 200
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert r.header("Cache-Control") == "no-store"
    assert r.set_cookies() == []
    assert h.curl("/metrics", method="HEAD").status == 200
    r = h.curl("/metrics", method="POST", data="x")
    assert r.status == 405 and "GET" in (r.header("Allow") or "")


def test_startup_errors_are_numbered(configtest):
    rc, out = configtest("<Location /x>\nIDSession On\nIDSessionIdleTimeout 10\n"
                         "</Location>\n")
    assert rc != 0 and "IDS00013: IDSessionIdleTimeout 10 needs IDSessionSecret" in out, out
    rc, out = configtest("<Location /a>\nIDSessionSecret %s\nIDSessionIdleTimeout 8\n"
                         "</Location>\n<Location /a/b>\nIDSessionRenewInterval 8\n"
                         "</Location>\n" % NEW)
    assert rc != 0 and "IDS00014: IDSessionRenewInterval 8 is not smaller" in out, out


def test_at_most_32_secrets(configtest):
    many = "".join("IDSessionSecret %s-%02d\n" % (NEW, i) for i in range(33))
    rc, out = configtest(many)
    assert rc != 0 and "at most 32 secrets" in out, out
    rc, out = configtest("".join(many.splitlines(True)[:32]))
    assert rc == 0, out


# ---- the message numbers, in the source and in docs/operations.md --------------------------------

def source_numbers():
    nums = []
    for f in ("mod_idsession.c", "mod_idsession_status.c", "mod_idsession_store.c"):
        nums += re.findall(r"IDS_LOGNO\((\d{5})\)", (REPO / f).read_text())
    return nums


def documented_numbers():
    text = (REPO / "docs" / "operations.md").read_text()
    return re.findall(r"^\| `IDS(\d{5})` \|", text, re.M)


def test_every_number_once_and_documented():
    nums = source_numbers()
    assert len(nums) == len(set(nums)) >= 15, nums
    assert sorted(documented_numbers()) == sorted(nums)


def test_every_message_at_notice_or_above_is_numbered():
    """Each ap_log_(r)error call at notice or above, and each message built for the
    startup warnings and errors, carries IDS_LOGNO."""
    for f in ("mod_idsession.c", "mod_idsession_status.c", "mod_idsession_store.c"):
        src = (REPO / f).read_text()
        for m in re.finditer(r"ap_log_r?error\((.*?)\);", src, re.S):
            call = m.group(1)
            if re.search(r"APLOG_(NOTICE|WARNING|ERR|CRIT|ALERT|EMERG)\b", call) \
                    and '"%s", msg' not in call:
                assert "IDS_LOGNO(" in call, call
        for m in re.finditer(r"ids_(?:config_warn|warn_once)\((.*?)\);", src, re.S):
            if "msg" not in m.group(1) and "APR_ARRAY_IDX" not in m.group(1):
                assert "IDS_LOGNO(" in m.group(1), m.group(1)


def test_key_index_is_the_sections_own(httpd_factory):
    """An internal redirect (ErrorDocument) into a section that lists the secrets in
    another order, or lists none, publishes the index in that section's own list, or
    none: SESSION_KEY_INDEX is where the section's IDSessionSecret lines put it."""
    conf = STATUS_CONF + """
<Location /s>
    IDSession On
    IDSessionSecret file:@ROOT@/new.secret
    IDSessionSecret file:@ROOT@/old.secret
    ErrorDocument 404 /r/env.cgi
</Location>
<Location /v>
    IDSession On
    IDSessionSecret file:@ROOT@/new.secret
    IDSessionSecret file:@ROOT@/old.secret
    ErrorDocument 404 /u/env.cgi
</Location>
<Location /r>
    IDSession On
    IDSessionSecret file:@ROOT@/old.secret
    IDSessionSecret file:@ROOT@/new.secret
</Location>
<Location /u>
    IDSession On
</Location>
"""
    h = httpd_factory(conf=conf, modules=["status"], cgi=True, start=False)
    h.write("new.secret", NEW, mode=0o600, under=".")
    h.write("old.secret", OLD, mode=0o600, under=".")
    for d in ("r", "u"):
        h.write_cgi(d + "/env.cgi", ENV)
    h.start()
    for tok, here, there in ((signed(NEW), "0", "1"), (signed(OLD), "1", "0")):
        r = get(h, "/r/env.cgi", tok)
        assert r.env()["SESSION_KEY_INDEX"] == there
        r = get(h, "/s/missing", tok)              # 404 -> /r/env.cgi
        assert r.status == 404 and r.env()["SESSION_TOKEN"] == tok
        assert r.env()["REDIRECT_SESSION_KEY_INDEX"] == here
        assert r.env()["SESSION_KEY_INDEX"] == there
        r = get(h, "/v/missing", tok)              # 404 -> /u/env.cgi: no secret there
        assert r.status == 404 and r.env()["SESSION_TOKEN"] == tok
        assert r.env()["SESSION_KEY_INDEX"] == UNSET
