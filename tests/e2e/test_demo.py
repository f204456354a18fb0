"""`make demo`: scripts/demo.sh serves demo/ with mod_idsession, and Ctrl-C stops it.

The demo runs exactly as a person would run it, on a free port (IDS_DEMO_PORT) with
its ServerRoot in a temporary directory (IDS_DEMO_ROOT).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import idshttpd
from idshttpd import log_id

REPO = idshttpd.REPO
DEMO = REPO / "scripts" / "demo.sh"
# The demo signs tokens (R.T) and ends idle sessions: the cookie is R.T.S.
TOKEN = re.compile(r"<code>([A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22})</code>")


class Demo:
    """One scripts/demo.sh process; its whole process group is stopped at the end."""

    def __init__(self):
        self.port = idshttpd.free_port()
        # Children run as www-data when started as root: the root must be reachable.
        self.root = Path(tempfile.mkdtemp(prefix="ids-demo-"))
        os.chmod(self.root, 0o755)
        self.out = self.root / "demo.out"
        self.env = dict(os.environ, IDS_DEMO_PORT=str(self.port),
                        IDS_DEMO_ROOT=str(self.root / "serverroot"))
        self.proc = None

    def start(self):
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen([str(DEMO)], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + idshttpd.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("demo.sh exited with %s:\n%s" % (
                    self.proc.returncode, self.output()))
            if self.answers():
                return self
            time.sleep(0.05)   # polling interval, not synchronisation
        self.kill()
        raise RuntimeError("the demo did not answer:\n" + self.output())

    def answers(self):
        p = subprocess.run([idshttpd.CURL, "-s", "-o", "/dev/null", "--max-time", "2",
                            self.url("/cgi-bin/index.cgi")], capture_output=True)
        return p.returncode == 0

    def output(self):
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, cookie=None, data=None, headers=()):
        """curl once, with an optional session cookie value, form data and headers."""
        head = self.root / "head"
        args = [idshttpd.CURL, "-s", "-D", str(head), "--max-time", str(idshttpd.REQ_TIMEOUT)]
        if cookie:
            args += ["-H", "Cookie: _session=" + cookie]
        for h in headers:
            args += ["-H", h]
        for k, v in (data or {}).items():
            args += ["--data-urlencode", "%s=%s" % (k, v)]
        p = subprocess.run(args + [self.url(path)], capture_output=True,
                           timeout=idshttpd.REQ_TIMEOUT + 10)
        assert p.returncode == 0, p.stderr
        status, headers, status_line = idshttpd.parse_head(head.read_bytes())
        return idshttpd.Response(status, headers, p.stdout, status_line)

    def ctrl_c(self, timeout=30):
        """What Ctrl-C in the terminal does: SIGINT to the whole process group."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def group_alive(self):
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def kill(self):
        if self.proc and self.group_alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def demo():
    if not idshttpd.MODULE.exists():
        pytest.fail("%s is missing: run make" % idshttpd.MODULE)
    d = Demo()
    try:
        yield d.start()
    finally:
        d.cleanup()


def session_cookie(r):
    cs = r.set_cookies("_session")
    assert len(cs) <= 1, r.headers
    return cs[0].value if cs else None


def tok(value):
    """SESSION_TOKEN of a cookie value R.T.S: without the stamp."""
    return value.rsplit(".", 1)[0]


def shown_token(r):
    m = TOKEN.search(r.body)
    assert m, r.body
    return m.group(1)


def test_prints_the_urls_first(demo):
    out = demo.output()
    assert out.startswith("mod_idsession demo on http://127.0.0.1:%d/" % demo.port), out
    for path in ("/cgi-bin/index.cgi", "/login.php", "/reset"):
        assert demo.url(path) in out.split("[", 1)[0]


def test_php_page_shows_the_minted_token(demo):
    r = demo.get("/")
    assert r.status == 200
    token = session_cookie(r)
    assert token and shown_token(r) == tok(token)
    assert "<code>%s</code>" % log_id(tok(token)) in r.body
    assert "minted by this request" in r.body
    assert 'href="/reset' in r.body


def test_cgi_page_shows_the_same_token(demo):
    token = session_cookie(demo.get("/"))
    r = demo.get("/cgi-bin/index.cgi", cookie=token)
    assert r.status == 200
    assert session_cookie(r) is None
    assert shown_token(r) == tok(token)
    assert "<code>%s</code>" % log_id(tok(token)) in r.body
    assert "read from your cookie" in r.body
    assert 'href="/reset' in r.body


def test_reset_link_swaps_the_token(demo):
    token = session_cookie(demo.get("/"))
    r = demo.get("/reset?next=/cgi-bin/index.cgi", cookie=token)
    assert r.status == 302 and r.header("Location") == "/cgi-bin/index.cgi"
    new = session_cookie(r)
    assert new and new != token
    assert shown_token(demo.get("/cgi-bin/index.cgi", cookie=new)) == tok(new)


def test_reset_is_refused_cross_site(demo):
    """The demo's reset is protected by default: another site's link or form gets 403 and
    the session stays; the same request from this site resets."""
    token = session_cookie(demo.get("/"))
    for hdrs in (["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate"],
                 ["Origin: https://evil.example"]):
        r = demo.get("/reset?next=/", cookie=token, headers=hdrs)
        assert r.status == 403 and session_cookie(r) is None, (hdrs, r)
        assert r.header("Cache-Control") == "no-store"
    r = demo.get("/reset?next=/", cookie=token, headers=["Sec-Fetch-Site: same-origin"])
    assert r.status == 302 and session_cookie(r) not in (None, token)


def test_login_rotates_the_session_in_one_response(demo):
    before = session_cookie(demo.get("/"))
    page = demo.get("/login.php", cookie=before)
    assert page.status == 200 and "user <code>demo</code>" in page.body
    assert session_cookie(page) is None

    bad = demo.get("/login.php", cookie=before, data={"user": "demo", "pass": "wrong"})
    assert bad.status == 403 and session_cookie(bad) is None

    r = demo.get("/login.php", cookie=before, data={"user": "demo", "pass": "demo"})
    assert r.status == 200 and "Logged in as demo" in r.body
    after = session_cookie(r)
    assert after and after != before
    assert r.header("IDSession-Reset") is None
    assert "<code>%s</code>" % tok(after) in r.body

    # The new token is the session from now on, and it is the one logged in.
    home = demo.get("/", cookie=after)
    assert session_cookie(home) is None and shown_token(home) == tok(after)
    assert re.search(r"logged in as</th>\s*<td>demo</td>", home.body)
    # The token from before the login never became a logged-in session.
    old = demo.get("/", cookie=before)
    assert re.search(r"logged in as</th>\s*<td>\(nobody", old.body)
    # Logging out is a reset.
    out = session_cookie(demo.get("/reset", cookie=after))
    assert re.search(r"logged in as</th>\s*<td>\(nobody", demo.get("/", cookie=out).body)


def test_sessions_end_after_a_minute_idle(demo):
    """The demo signs tokens with a secret that demo.sh generated (mode 600) and ends a
    session after 60 s without renewal; both pages show SESSION_EXPIRES."""
    secret = demo.root / "serverroot" / "conf" / "idsession.secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) >= 32
    r = demo.get("/")
    value = session_cookie(r)
    created = int(time.time())
    m = re.search(r"SESSION_EXPIRES</th>\s*<td><code>(\d+)</code>", r.body)
    assert m and abs(int(m.group(1)) - (created + 60)) <= 2, r.body
    r = demo.get("/cgi-bin/index.cgi", cookie=value)
    assert re.search(r"SESSION_EXPIRES</th><td><code>%s</code>" % m.group(1), r.body), r.body
    # A stamp from more than 60 s ago, signed with the demo's own secret: ended.
    import base64, hashlib, hmac, struct
    t = tok(value)
    old = int(time.time()) - 61
    times = struct.pack(">QQ", old, old)
    mac = hmac.new(secret.read_text().strip().encode(),
                   b"mod_idsession stamp v1\0" + times + t.encode(), hashlib.sha256).digest()
    stale = t + "." + base64.urlsafe_b64encode(times + mac[:16]).rstrip(b"=").decode()
    r = demo.get("/", cookie=stale)
    assert "Your previous session ended" in r.body and shown_token(r) != t
    r = demo.get("/cgi-bin/index.cgi", cookie=stale)
    assert "Your previous session ended" in r.body


def test_php_cgi_is_not_reachable_directly(demo):
    assert demo.get("/php-cgi/index.php").status == 403


def test_server_info_lists_the_directives(demo):
    r = demo.get("/server-info?mod_idsession.c")
    assert r.status == 200
    for name in ("IDSession", "IDSessionAppReset", "IDSessionResetRedirect"):
        assert name in r.body


def test_server_status_shows_the_counters(demo):
    before = demo.get("/server-status?auto")
    assert before.status == 200 and before.set_cookies("_session") == []
    kept = session_cookie(demo.get("/cgi-bin/index.cgi"))
    demo.get("/cgi-bin/index.cgi", cookie=kept)
    html = demo.get("/server-status")
    assert "<h2>mod_idsession " in html.body and "<td>IDSessionKept</td>" in html.body
    after = demo.get("/server-status?auto").body

    def n(body, name):
        return int(re.search(r"^%s: (\d+)$" % name, body, re.M).group(1))
    assert n(after, "IDSessionKept") - n(before.body, "IDSessionKept") == 1
    assert n(after, "IDSessionMinted") - n(before.body, "IDSessionMinted") == 1
    assert n(after, "IDSessionVerifiedKey0") - n(before.body, "IDSessionVerifiedKey0") == 1
    assert "idsession_kept_total " in demo.get("/idsession-metrics").body


def test_refuses_a_busy_port(demo):
    p = subprocess.run([str(DEMO)], env=dict(demo.env, IDS_DEMO_ROOT=str(demo.root / "other")),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "127.0.0.1:%d is already in use" % demo.port in p.stderr
    assert demo.get("/").status == 200


def test_ctrl_c_stops_it():
    d = Demo()
    try:
        d.start()
        assert d.ctrl_c() == 0, d.output()
        assert not d.group_alive()
        assert "shutting down" in d.output()
    finally:
        d.cleanup()
