"""The store's configuration and faults.  A stalled store never stalls the web
server: killed, frozen (SIGSTOP), restarted or unreachable at startup, no request waits
longer than IDSessionStoreTimeout (+100 ms), and IDSessionStoreFailure says what a request
with a session gets meanwhile.  Two servers sharing Redis see each other's revocations."""

import http.client
import json
import re
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

import idshttpd
from idshttpd import free_port, log_id
from stores import ENDPOINTS, REDIS, WRK, RedisServer, wrk

pytestmark = pytest.mark.skipif(not REDIS.exists(),
                                reason="redis-server is missing; `make test` installs it")

# Load tests measure time: not under valgrind.
timing = pytest.mark.skipif(idshttpd.VALGRIND or not WRK.exists(),
                            reason="timing under load: not under valgrind; needs wrk")

TIMEOUT_MS = 250

CONF = """
IDSessionStore redis:@REDIS@
IDSessionRevokeGrace 0
IDSessionStoreBreaker 3 1
<Location /s>
    IDSession On
</Location>
<Location /c>
    IDSession On
    IDSessionStoreFailure closed
</Location>
""" + ENDPOINTS

STORE_WARNING = r"IDSessionStore redis:127\.0\.0\.1:\d+: cannot (check a session|revoke)"


@pytest.fixture
def redis():
    tmp = Path(tempfile.mkdtemp(prefix="ids-redis-"))
    r = RedisServer(tmp).start()
    yield r
    r.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def server(factory, address, name="redis", start=True):
    h = factory(conf=CONF.replace("@REDIS@", address), modules=["authz_host"],
                name=name, start=False)
    for d in ("s", "c"):
        h.write(d + "/f.txt", "x\n")
    if start:
        h.start()
    return h


def session(h, path="/s/f.txt"):
    r = h.curl(path)
    assert r.status == 200
    return r.set_cookies("_session")[0].value


def revoke(h, tok):
    return h.curl("/admin", method="POST", data="log_id=" + log_id(tok),
                  headers=["Content-Type: application/x-www-form-urlencoded"])


def refused(h, tok):
    """True when h refuses tok as revoked (a new token in its place)."""
    r = h.curl("/s/f.txt", cookie_header="_session=" + tok)
    assert r.status == 200
    return [c.value for c in r.set_cookies("_session")] not in ([], [tok])


def in_background(fn, *args, **kw):
    out = {}
    t = threading.Thread(target=lambda: out.update(result=fn(*args, **kw)))
    t.start()
    return t, out


# ---- configuration ---------------------------------------------------------------------

def test_socache_provider_not_loaded_names_the_module(configtest):
    rc, out = configtest("IDSessionStore shmcb:/tmp/x(100000)\n")
    assert rc != 0
    assert "mod_socache_shmcb" in out and "IDSessionStore" in out


@pytest.mark.parametrize("arg, msg", [
    ("memcache:127.0.0.1:11211", "memcache is not supported"),
    ("redis:", "needs host:port"),
    ("redis:127.0.0.1", "is not host:port"),
])
def test_bad_store_arguments(configtest, arg, msg):
    rc, out = configtest("IDSessionStore %s\n" % arg)
    assert rc != 0 and msg in out, out


@pytest.mark.parametrize("line", ["IDSessionStoreTimeout 0", "IDSessionStoreBreaker 0 5",
                                  "IDSessionStoreFailure maybe", "IDSessionRevokeGrace -1"])
def test_bad_values(configtest, line):
    rc, out = configtest(line + "\n")
    assert rc != 0, out


def test_store_directives_not_in_location(configtest):
    rc, out = configtest("<Location /x>\n  IDSessionStore redis:127.0.0.1:6379\n</Location>\n")
    assert rc != 0 and "not allowed" in out


def test_mutex_directive_knows_idsession_store(configtest, tmp_path):
    rc, out = configtest("LoadModule socache_dbm_module %s\n"
                         "IDSessionStore dbm:%s/revoked\n"
                         "Mutex file:%s idsession-store\n"
                         % (idshttpd.MODDIR / "mod_socache_dbm.so", tmp_path, tmp_path))
    assert rc == 0 and "Syntax OK" in out, out


def test_conf_example_passes_configtest(configtest, tmp_path):
    secret = tmp_path / "idsession.secret"
    secret.write_text("s" * 48 + "\n")
    text = (idshttpd.REPO / "conf" / "revocation.conf").read_text()
    text = text.replace("/etc/apache2/idsession.secret", str(secret))
    rc, out = configtest("LoadModule authz_host_module %s\n%s"
                         % (idshttpd.MODDIR / "mod_authz_host.so", text))
    assert rc == 0 and "Syntax OK" in out, out


def test_unreachable_at_startup_starts_and_warns(httpd_factory):
    h = server(httpd_factory, "127.0.0.1:%d" % free_port(), start=False)
    h.expect_log(r"IDSessionStore: redis 127\.0\.0\.1:\d+ does not answer .*httpd starts")
    h.start()
    h.wait_log(r"does not answer")
    tok = session(h)
    h.expect_log(STORE_WARNING)
    r = h.curl("/s/f.txt", cookie_header="_session=" + tok)
    assert r.status == 200 and r.set_cookies() == []       # open: kept
    r = h.curl("/c/f.txt", cookie_header="_session=" + tok)
    assert r.status == 503                                  # closed
    r = h.curl("/c/f.txt")
    assert r.status == 200 and r.set_cookies("_session")   # no token: a new one


# ---- a fleet ---------------------------------------------------------------------------

def test_two_servers_share_revocations(httpd_factory, redis):
    a = server(httpd_factory, redis.address, name="fleet-a")
    b = server(httpd_factory, redis.address, name="fleet-b")
    tok = session(a)
    assert not refused(b, tok)
    r = revoke(a, tok)
    assert r.status == 200 and json.loads(r.body) == {"revoked": 1}
    assert refused(b, tok)
    # and a reset on b ends the old token on a
    old = session(b)
    r = b.curl("/reset", cookie_header="_session=" + old)
    assert r.status == 302
    assert refused(a, old)
    assert redis.keys() == sorted("idsession:revoked:" + log_id(t) for t in (tok, old))


def test_redis_restart_works_again_without_restarting_httpd(httpd_factory, redis):
    h = server(httpd_factory, redis.address)
    tok = session(h)
    assert not refused(h, tok)         # a pooled connection now exists
    redis.stop()
    redis.start()
    r = revoke(h, tok)
    assert r.status == 200, r
    assert refused(h, tok)


def admin_ids(h, ids):
    return h.curl("/admin", method="POST", data="&".join("log_id=" + i for i in ids),
                  headers=["Content-Type: application/x-www-form-urlencoded"])


def test_admin_list_of_thousands_gets_a_timeout_for_each_id(httpd_factory, redis):
    """An administrator's bulk logout: 2,000 ids, one SET each.  On loopback they take
    longer in all than IDSessionStoreTimeout 50 (as 2,000 round trips to a remote Redis
    take longer than the default 250 ms), but each is well within it."""
    h = server(httpd_factory, redis.address, start=False)
    h.conf += "IDSessionStoreTimeout 50\n"
    h.start()
    ids = ["%016x" % i for i in range(1, 2001)]
    r = admin_ids(h, ids)
    assert r.status == 200 and json.loads(r.body) == {"revoked": 2000}, r
    assert redis.command("DBSIZE") == b":2000\r\n"


def test_admin_says_how_many_were_revoked_when_the_store_fails(httpd_factory, redis):
    """The store gone: 503, and the body says how many of the list are on it (in the
    body's order), so that the administrator knows to send it again."""
    h = server(httpd_factory, redis.address)
    h.expect_log(STORE_WARNING)
    redis.stop()
    r = admin_ids(h, ["%016x" % i for i in range(1, 4)])
    assert r.status == 503, r
    assert json.loads(r.body) == {"revoked": 0, "failed": 3}, r.body
    assert r.header("Cache-Control") == "no-store"


# ---- how long a denylist entry lives --------------------------------------------------

LIFETIME_CONF = """
IDSessionSecret "denylist-lifetime-test-secret-0123456789"
IDSessionStore redis:@REDIS@
IDSessionRevokeGrace 0
@SERVER@
<Location /s>
    IDSession On
</Location>
<Location /t>
    IDSession On
    IDSessionMaxLifetime 3600
</Location>
<Location /t/reset>
    SetHandler idsession-reset
</Location>
<Location /u>
    IDSession On
    IDSessionMaxLifetime 7200
</Location>
"""

REVOKE_KEEP = 2592000  # IDSessionRevokeKeep's default, 30 days


@pytest.mark.parametrize("server_conf,low,high", [
    # Timeouts in some sections only: /s accepts the token (without its stamp) for
    # ever, so the entry must outlive /t's lifetime: IDSessionRevokeKeep.
    ("", REVOKE_KEEP - 60, REVOKE_KEEP),
    # ... unless a section's lifetime is longer than the keep: then that long.
    ("IDSessionRevokeKeep 600", 7200 - 60, 7200),
    # Every section has a lifetime, /u the longest: the entry lives that long.
    ("IDSessionMaxLifetime 3600", 7200 - 60, 7200),
    # ... and a section that turns lifetimes off brings back IDSessionRevokeKeep.
    ("IDSessionMaxLifetime 3600\n<Location /s>\n    IDSessionMaxLifetime 0\n"
     "</Location>", REVOKE_KEEP - 60, REVOKE_KEEP),
    # An adoption window: a stripped stamp is adopted, as created then, until its end.
    ("IDSessionMaxLifetime 3600\nIDSessionAdoptUntil @ADOPT@",
     86400 + 7200 - 60, 86400 + 7200),
], ids=["some-sections", "a-lifetime-longer-than-the-keep", "longest-section",
        "a-section-turns-it-off", "adoption"])
def test_replaced_token_is_denied_while_any_section_would_accept_it(
        httpd_factory, redis, server_conf, low, high):
    # A day from now, when the test runs: the TTL counts from then.
    adopt = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    h = httpd_factory(conf=LIFETIME_CONF.replace("@REDIS@", redis.address)
                      .replace("@SERVER@", server_conf.replace("@ADOPT@", adopt)),
                      start=False)
    h.write("t/f.txt", "x\n")
    h.start()
    r = h.curl("/t/f.txt")
    [c] = r.set_cookies("_session")
    token = c.value.rsplit(".", 1)[0]          # less the stamp
    r = h.curl("/t/reset", cookie_header="_session=" + c.value)
    assert r.status == 302, r
    ttl = redis.command("TTL", "idsession:revoked:" + log_id(token))
    assert re.fullmatch(rb":\d+\r\n", ttl), ttl
    assert low <= int(ttl[1:-2]) <= high, ttl


# ---- faults under load -----------------------------------------------------------------

@timing
def test_kill_under_load_open_gives_no_errors(httpd_factory, redis):
    h = server(httpd_factory, redis.address)
    tok = session(h)
    h.expect_log(STORE_WARNING)
    t, out = in_background(wrk, h.url("/s/f.txt"), 6, cookie="_session=" + tok)
    time.sleep(2)          # let the load run against a live store first
    redis.kill()
    t.join()
    res = out["result"]
    assert res["requests"] > 0 and res["non2xx"] == 0 and res["errors"] == 0, res["text"]
    assert res["max_ms"] <= TIMEOUT_MS + 100, res["text"]


@timing
def test_kill_under_load_closed_refuses_only_sessions(httpd_factory, redis):
    h = server(httpd_factory, redis.address)
    tok = session(h)
    h.expect_log(STORE_WARNING)
    t1, with_tok = in_background(wrk, h.url("/c/f.txt"), 6, cookie="_session=" + tok)
    t2, without = in_background(wrk, h.url("/c/f.txt"), 6)
    time.sleep(2)
    redis.kill()
    t1.join()
    t2.join()
    assert without["result"]["non2xx"] == 0, without["result"]["text"]
    assert 0 < with_tok["result"]["non2xx"] < with_tok["result"]["requests"]
    assert h.curl("/c/f.txt", cookie_header="_session=" + tok).status == 503
    assert h.curl("/c/f.txt").status == 200
    assert h.curl("/s/f.txt", cookie_header="_session=" + tok).status == 200


@timing
def test_frozen_store_never_stalls_requests(httpd_factory, redis):
    """SIGSTOP for 20 s under load: no request longer than the timeout + 100 ms, at least
    half the throughput, and everything works after SIGCONT."""
    h = server(httpd_factory, redis.address)
    tok = session(h)
    url = h.url("/s/f.txt")
    normal = wrk(url, 5, cookie="_session=" + tok)
    assert normal["non2xx"] == 0
    h.expect_log(STORE_WARNING)
    redis.freeze()
    try:
        frozen = wrk(url, 20, cookie="_session=" + tok)
    finally:
        redis.thaw()
    print("normal: %.0f req/s, max %.1f ms; frozen: %.0f req/s, max %.1f ms"
          % (normal["rps"], normal["max_ms"], frozen["rps"], frozen["max_ms"]))
    assert frozen["non2xx"] == 0 and frozen["errors"] == 0, frozen["text"]
    assert frozen["max_ms"] <= TIMEOUT_MS + 100, frozen["text"]
    assert frozen["rps"] >= 0.5 * normal["rps"], (normal["text"], frozen["text"])
    # After SIGCONT: the breaker lets a probe through within its retry time (1 s).
    deadline = time.monotonic() + 10
    while revoke(h, tok).status != 200:
        assert time.monotonic() < deadline, "revocations do not work after SIGCONT"
        time.sleep(0.2)    # polling interval, not synchronisation


# ---- IDSessionStoreReuse --------------------------------------------------------------

def keepalive_get(conn, tok):
    """A GET /s/f.txt on the open connection conn with tok; the Set-Cookie values."""
    conn.request("GET", "/s/f.txt", headers={"Cookie": "_session=" + tok})
    r = conn.getresponse()
    r.read()
    assert r.status == 200
    return [v for k, v in r.getheaders() if k.lower() == "set-cookie"]


@pytest.mark.skipif(idshttpd.VALGRIND, reason="two connections at once; apache2 -X serves one")
@pytest.mark.parametrize("reuse", [0, 60])
def test_reuse_on_one_connection(httpd_factory, redis, reuse):
    """With IDSessionStoreReuse, a connection that was told "not revoked" keeps the
    answer for that long (the documented delay); other connections see the revocation at
    once.  Without, the next request on the same connection sees it."""
    h = server(httpd_factory, redis.address, start=False)
    h.conf += "IDSessionStoreReuse %d\n" % reuse
    h.start()
    tok = session(h)
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    try:
        assert keepalive_get(conn, tok) == []
        assert revoke(h, tok).status == 200
        again = keepalive_get(conn, tok)
    finally:
        conn.close()
    assert (again == []) == (reuse > 0)
    assert refused(h, tok)              # a new connection asks the store


# ---- the counters -------------------------------------------------------------

METRICS = """
<Location /metrics>
    SetHandler idsession-metrics
    IDSession Off
</Location>
"""


def metrics(h):
    r = h.curl("/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.body.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = int(value)
    return out


def test_counters_of_revocation_and_the_store(httpd_factory, redis):
    """IDSessionRevokedRefused counts a revoked token refused; IDSessionStoreErrors each
    failed call; IDSessionStoreBreakerOpen is 1 while the (one child's) breaker is open
    and 0 again once a probe gets through."""
    h = httpd_factory(conf=CONF.replace("@REDIS@", redis.address) + METRICS,
                      modules=["authz_host"], name="redis", start=False)
    h.write("s/f.txt", "x\n")
    h.start()
    tok, other = session(h), session(h)
    assert revoke(h, tok).status == 200
    m0 = metrics(h)
    assert refused(h, tok)
    m1 = metrics(h)
    assert m1["idsession_revoked_refused_total"] == m0["idsession_revoked_refused_total"] + 1
    assert m1["idsession_minted_total"] == m0["idsession_minted_total"] + 1
    assert m1["idsession_store_errors_total"] == 0
    assert m1["idsession_store_breaker_open"] == 0

    h.expect_log(STORE_WARNING)
    redis.kill()
    for _ in range(3):                 # IDSessionStoreBreaker 3 1: three failures open it
        assert h.curl("/s/f.txt", cookie_header="_session=" + other).status == 200
    m2 = metrics(h)
    assert m2["idsession_store_errors_total"] == 3
    assert m2["idsession_store_breaker_open"] == 1
    assert h.curl("/s/f.txt", cookie_header="_session=" + other).status == 200
    assert metrics(h)["idsession_store_errors_total"] == 3      # skipped, not failed

    redis.start()
    deadline = time.monotonic() + 10
    while metrics(h)["idsession_store_breaker_open"] != 0:
        assert time.monotonic() < deadline, "the breaker did not close"
        h.curl("/s/f.txt", cookie_header="_session=" + other)
        time.sleep(0.2)    # polling interval, not synchronisation


def test_inherited_store_keeps_the_main_servers_breaker(httpd_factory, redis):
    """A virtual host that inherits the main server's store does not change its breaker:
    three failures open it (the main server's IDSessionStoreBreaker 3 1), whatever the
    virtual host's own IDSessionStoreBreaker says."""
    vhosts = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName 127.0.0.1
    IDSessionStoreBreaker 1000 1
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vh.example
    DocumentRoot "@DOCROOT@"
    IDSessionStoreBreaker 1000 1
</VirtualHost>
"""
    h = httpd_factory(conf=CONF.replace("@REDIS@", redis.address) + METRICS + vhosts,
                      modules=["authz_host"], name="redis", start=False)
    h.write("s/f.txt", "x\n")
    h.start()
    vh = ["Host: vh.example"]
    r = h.curl("/s/f.txt", headers=vh)
    tok = r.set_cookies("_session")[0].value
    h.expect_log(STORE_WARNING)
    redis.kill()
    for _ in range(3):
        assert h.curl("/s/f.txt", headers=vh, cookie_header="_session=" + tok).status == 200
    assert metrics(h)["idsession_store_breaker_open"] == 1


# ---- the wire --------------------------------------------------------------------------

class FakeRedis:
    """A loopback server that speaks just enough RESP to stand in for Redis: PING gets
    +PONG; any other command gets `reply`, sent `piece` bytes at a time, `gap` seconds
    apart (the whole of it at once by default).  `commands` counts those commands, `cut`
    the replies whose reader closed the connection before their last piece; `replied`
    is set when a reply has ended either way."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.reply, self.piece, self.gap, self.commands = b"$-1\r\n", 0, 0.0, 0
        self.cut, self.replied = 0, threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _command(f):
        """One command (a RESP array of bulk strings) from the file f, or None at EOF."""
        head = f.readline()
        if not head.startswith(b"*"):
            return None
        words = []
        for _ in range(int(head[1:])):
            n = int(f.readline()[1:])
            words.append(f.read(n + 2)[:n])
        return words

    def _serve(self, conn):
        with conn, conn.makefile("rb") as f:
            while True:
                try:
                    words = self._command(f)
                    if words is None:
                        return
                    if words[0].upper() == b"PING":
                        conn.sendall(b"+PONG\r\n")
                        continue
                    self.commands += 1
                    whole = self._send(conn)
                    self.cut += not whole
                    self.replied.set()
                    if not whole:
                        return
                except OSError:
                    return

    def _send(self, conn):
        """Sends the reply in its pieces; False if the peer closed before the last."""
        out, step = self.reply, self.piece or len(self.reply)
        for i in range(0, len(out), step):
            conn.sendall(out[i:i + step])
            time.sleep(self.gap)
            if i + step < len(out) and self._closed(conn):
                return False
        return True

    @staticmethod
    def _closed(conn):
        """Whether the peer has closed conn (EOF or reset), without waiting."""
        try:
            return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True


@pytest.fixture
def fake_redis():
    f = FakeRedis()
    yield f
    f.close()


def test_replies_in_pieces_are_read_whole(httpd_factory, fake_redis):
    """The module reads Redis's replies itself: a reply that comes a byte at a time is
    read to its end, for a GET (nil, then a second long past: revoked) and a SET."""
    h = server(httpd_factory, fake_redis.address)
    tok = session(h)
    fake_redis.piece, fake_redis.gap = 1, 0.005
    assert not refused(h, tok)
    fake_redis.reply = b"$10\r\n1000000000\r\n"
    assert refused(h, tok)
    fake_redis.reply = b"+OK\r\n"
    r = revoke(h, tok)
    assert r.status == 200 and json.loads(r.body) == {"revoked": 1}
    assert fake_redis.commands == 3


@pytest.mark.parametrize("reply, why", [
    (b"-ERR out of luck\r\n", "ERR out of luck"),
    (b"+OK\r\n", "unexpected reply to GET"),
    (b"*1\r\n$1\r\nx\r\n", "protocol error"),
    (b"$-1\r\n$-1\r\n", "protocol error"),
    (b"$5\r\n12345xx", "protocol error"),
    (b"$" + b"9" * 12 + b"\r\n", "protocol error"),
    (b"$300\r\n" + b"1" * 300 + b"\r\n", "protocol error"),
    (b"hello\r\n", "protocol error"),
])
def test_bad_replies_are_store_failures(httpd_factory, fake_redis, reply, why):
    """A reply that is an error, of another kind or not RESP is a failure of the store
    (IDSessionStoreFailure applies), and the warning says why."""
    h = server(httpd_factory, fake_redis.address)
    tok = session(h)
    h.expect_log(STORE_WARNING + ".*" + re.escape(why))
    fake_redis.reply = reply
    r = h.curl("/c/f.txt", cookie_header="_session=" + tok)
    assert r.status == 503
    r = h.curl("/s/f.txt", cookie_header="_session=" + tok)
    assert r.status == 200 and r.set_cookies() == []
    h.wait_log(re.escape(why))
    fake_redis.reply = b"$-1\r\n"           # the next connection works again
    r = h.curl("/c/f.txt", cookie_header="_session=" + tok)
    assert r.status == 200 and r.set_cookies() == []


def test_a_reply_with_control_bytes_is_logged_escaped(httpd_factory, fake_redis):
    """Whatever answers on the store's port cannot write control bytes (an escape
    sequence, a CR that hides the line's start) into the error log: httpd escapes
    every error message (unless built with AP_UNSAFE_ERROR_LOG_UNESCAPED), so the
    module passes the reply's text as it is, and escaping it again would double the
    backslashes."""
    h = server(httpd_factory, fake_redis.address)
    tok = session(h)
    h.expect_log(STORE_WARNING)
    fake_redis.reply = b"-ERR \x1b[31mred\rX\r\n"
    r = h.curl("/s/f.txt", cookie_header="_session=" + tok)
    assert r.status == 200 and r.set_cookies() == []
    line = h.wait_log(re.escape(r"ERR \x1b[31mred\rX"))
    assert "\x1b" not in line and "\r" not in line


@pytest.mark.skipif(idshttpd.VALGRIND, reason="valgrind may spend the 250 ms before the send")
def test_a_reply_dripping_in_is_cut_at_the_timeout(httpd_factory, fake_redis):
    """IDSessionStoreTimeout bounds the whole reply, not each read: a nil sent a byte
    every 100 ms (500 ms in all) is given up before its last byte, as timed out, and
    the request goes on.  A timeout for each read would wait for every byte."""
    h = server(httpd_factory, fake_redis.address)
    tok = session(h)
    h.expect_log(STORE_WARNING + r": redis 127\.0\.0\.1:\d+: timed out")
    fake_redis.piece, fake_redis.gap = 1, 0.1
    assert 5 * fake_redis.gap > TIMEOUT_MS / 1000.0
    r = h.curl("/s/f.txt", cookie_header="_session=" + tok)
    assert r.status == 200 and r.set_cookies() == []
    h.wait_log(STORE_WARNING + r": redis 127\.0\.0\.1:\d+: timed out")
    assert fake_redis.replied.wait(10)
    assert fake_redis.commands == 1 and fake_redis.cut == 1
