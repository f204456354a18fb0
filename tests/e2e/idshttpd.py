"""idshttpd -- a small pytest harness that runs Debian's apache2 with mod_idsession.

Modelled on the shape of apache/httpd's test/pyhttpd (generated ServerRoot, curl as the
client, error log checked after every test); written from scratch for this module.

How to write a test
-------------------
    # tests/e2e/test_something.py
    import pytest

    CONF = '''
    <Location /s>
        IDSession On
    </Location>
    '''

    @pytest.fixture(scope="module")
    def httpd(httpd_module_factory):
        # One server for the whole module; every test hits its own <Location>.
        h = httpd_module_factory(conf=CONF, modules=["include"], cgi=True, tls=True)
        h.write("s/index.html", "hello\\n")
        return h

    def test_mints(httpd):
        r = httpd.curl("/s/index.html")              # or tls=True for the TLS port
        assert r.status == 200
        [c] = r.set_cookies("_session")              # parsed Set-Cookie lines for that name
        assert len(c.value) == 43 and c.attr("Path") == "/"

    def test_own_server(httpd_factory):                 # a server just for this test
        h = httpd_factory(conf="IDSession On\\n", mpm="prefork")
        ...

Pieces:
- `Httpd(conf=..., modules=[...], mpm="event|worker|prefork", tls=..., cgi=..., php=...)`;
  `.write(rel, text, mode=None)`, `.write_cgi(rel, text)` (executable), `.start()`, `.stop()`,
  `.restart(conf=None)`, `.configtest(extra_conf) -> (rc, output)`, `.graceful(conf=None)` and
  `.hard_restart()` (`apache2 -k graceful|restart`, returning once the new generation
  has logged "resuming normal operations").
- In `conf`, `@ROOT@ @DOCROOT@ @PORT@ @TLS_PORT@ @MODULE@ @CERT@ @KEY@` are replaced
  (no str.format: httpd configs are full of braces).
- `Httpd(env={...})` adds environment variables for apache2 (e.g. LD_PRELOAD).
- `.curl(path, headers=[...], method=, data=, cookie_header=str|[str,..], tls=, extra_args=)`
  runs the real curl (`-s -k -D file --path-as-is --globoff`); returns a `Response`:
  `.status`, `.headers` (ordered list of (name, value), duplicates kept),
  `.header(name)`, `.headers_named(name)`, `.set_cookies(cookie_name=None)`, `.body`.
- `.curl_many([(path, cookie_header or None[, host]), ...], parallel=True, parallel_max=100,
  http2=True)` runs ONE curl process with one transfer per request (each its own `next`
  block of a -K config file, so each sends its own Cookie header) over TLS; with
  parallel=True they run together (--parallel), which over HTTP/2 curl multiplexes on one
  connection per host name (a host other than 127.0.0.1 is --resolve'd to it: several
  names, several connections at once). Returns a Response per request, in order, each
  with `.http_version`, `.num_connects` and `.local_port` from curl's -w.
- `.raw_request(bytes, tls=False)` sends exact bytes over a socket (for Cookie bytes curl
  cannot send) and parses the answer the same way.
- Error log: after every test the autouse fixture in conftest.py fails the test when the
  log holds a `[...:warn]`, `:error]`, `:crit]`, `:alert]` or `:emerg]` line that was not
  declared with `httpd.expect_log(regex)` during the test, or an `[idsession:...]` line at
  notice or above without its `IDSnnnnn: ` message number (which no declaration excuses). `httpd.log_lines()` gives the
  lines written since the current test began, `httpd.wait_log(regex)` polls for one.
  Warnings logged at startup count against the first test that checks that server, so
  declare them before `start()` (e.g. `h = factory(..., start=False); h.expect_log(..);
  h.start()`).
- Base config: Listen 127.0.0.1:<free port>, ServerName 127.0.0.1, User/Group www-data,
  LogLevel warn idsession:debug, modules mpm_* authz_core mime dir alias env headers (+
  `modules=[...]` by short name: "include", "rewrite", ...), DocumentRoot @DOCROOT@ with
  `Require all granted`, `AllowOverride None`. `cgi=True`: mod_cgid (mod_cgi under prefork),
  `*.cgi` runs anywhere below the docroot, ScriptAlias /cgi-bin/ -> @ROOT@/cgi-bin/.
  `php=True`: php-cgi via mod_actions (`Action application/x-httpd-php /cgi-bin/php-cgi`,
  `AddHandler ... .php`) -- an internal redirect to /cgi-bin/php-cgi. `tls=True`: mod_ssl on
  a second port (`tls_port`) with a throwaway self-signed certificate. `h2=True` (implies
  `tls=True`): mod_http2 and `Protocols h2 http/1.1` on the TLS vhost; mod_http2 needs a
  threaded MPM, so prefork is refused and under IDS_VALGRIND the server runs the event MPM
  (still `-X`, one process).
- Helpers: `ENV_CGI` / `ENV_PHP` (scripts printing SESSION_* as KEY=VALUE lines; parse with
  `Response.env()`, "<unset>" = UNSET when absent), `token(nbytes)` makes a well-formed token,
  `token_re(nbytes)` matches one, `signed(secret)` signs one, `stamp(secret, tok, created,
  renewed)` makes the stamp of a timed cookie value `tok.stamp` (README's layout),
  `get_raw(path, [b"Header: bytes"])` for raw requests, `wait_until(t)` waits for the
  wall clock to pass Unix second t (for timeouts and grace windows, in real time).
- httpd facts worth knowing: a server-level or <Location> `Redirect` answers in
  translate_name, before any fixups, so it never carries the cookie (use it in <Directory>);
  httpd answers 400 itself to control characters in header values.
- Server roots are /tmp/ids-<name>-XXXX (mode 0755: children run as www-data and pytest's
  own basetemp is 0700) and are removed at the end of the session.
- `IDS_VALGRIND=1` runs every server as `valgrind ... apache2 -X` (prefork, one process;
  event for `h2=True`);
  memcheck errors fail the test that stopped the server. `IDS_KEEP=1` keeps server roots.
"""

import base64
import hashlib
import hmac
import os
import re
import shutil
import signal
import ctypes
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
CURL = "/usr/bin/curl"
MODDIR = Path("/usr/lib/apache2/modules")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODULE = Path(os.environ.get("IDS_MODULE", REPO / ".libs" / "mod_idsession.so"))
VALGRIND = os.environ.get("IDS_VALGRIND") == "1"
KEEP = os.environ.get("IDS_KEEP") == "1"
START_TIMEOUT = 90.0 if VALGRIND else 15.0
REQ_TIMEOUT = 60 if VALGRIND else 15

# Log levels that fail a test unless expected.
BAD_LOG = re.compile(r"\[[A-Za-z0-9_.-]*:(warn|error|crit|alert|emerg)\]")

# mod_idsession's lines at notice and above must carry a message number (README, "Log
# messages"); one without fails the test whatever it declared.
UNNUMBERED_LOG = re.compile(r"\[idsession:(notice|warn|error|crit|alert|emerg)\](?!.*\bIDS\d{5}: )")

# Environment noise that never fails a test (Debian's mod_ssl vs. a newer libssl).
IGNORED_LOG = [re.compile(r"AH01882: Init: this version of mod_ssl was compiled against"),
               # Every literal IDSessionSecret warns at startup (copies the module cannot
               # wipe); test_review_fixes.py checks the warning itself.
               re.compile(r"IDSessionSecret: a literal secret may stay in httpd's memory")]

# Module names whose LoadModule identifier is not simply "<name>_module".
_MODULE_ALIASES = {}

_CERT_CACHE = {}


UNSET = "<unset>"

# A CGI script printing what mod_idsession exported (KEY=VALUE lines; see Response.env()).
ENV_CGI = """#!/bin/sh
[ "$REQUEST_METHOD" = POST ] && cat >/dev/null
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in SESSION_TOKEN SESSION_TOKEN_NEW SESSION_LOG_ID SESSION_STORE_KEY \\
         SESSION_TOKEN_NEXT SESSION_COOKIE_WITHHELD REDIRECT_SESSION_TOKEN \\
         REDIRECT_SESSION_TOKEN_NEW HTTP_COOKIE REQUEST_URI; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
"""

# The same for PHP (php-cgi): getenv() and $_SERVER.
ENV_PHP = """<?php header('Content-Type: text/plain');
foreach (['SESSION_TOKEN', 'SESSION_TOKEN_NEW', 'SESSION_LOG_ID', 'HTTP_COOKIE'] as $v) {
    $e = getenv($v);
    echo $v, '=', $e === false ? '<unset>' : $e, "\\n";
    echo 'SERVER_', $v, '=', isset($_SERVER[$v]) ? $_SERVER[$v] : '<unset>', "\\n";
}
"""


def token(nbytes=32):
    """A well-formed token as mod_idsession mints it (unsigned): unpadded base64url."""
    return b64url(os.urandom(nbytes))


def token_re(nbytes=32):
    """Regex for an unsigned token of nbytes random bytes."""
    return re.compile(r"^[A-Za-z0-9_-]{%d}$" % ((nbytes * 4 + 2) // 3))


def b64url(data):
    """Unpadded base64url, the module's token alphabet."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tag(secret, r):
    """T for random part r: base64url of the first 16 bytes of HMAC-SHA256(secret, R)."""
    if isinstance(secret, str):
        secret = secret.encode()
    return b64url(hmac.new(secret, r.encode(), hashlib.sha256).digest()[:16])


def signed(secret, nbytes=32, r=None):
    """A token R.T signed with secret, as the module mints it."""
    r = r if r is not None else token(nbytes)
    return r + "." + tag(secret, r)


def stamp(secret, tok, created, renewed):
    """The stamp S of a timed cookie value tok.S, in the layout README.md documents:
    base64url(created, renewed as 64-bit big-endian, then the first 16 bytes of
    HMAC-SHA256(secret, "mod_idsession stamp v1" NUL times tok))."""
    times = struct.pack(">QQ", created, renewed)
    mac = hmac.new(secret.encode(), b"mod_idsession stamp v1\0" + times + tok.encode(),
                   hashlib.sha256).digest()[:16]
    return b64url(times + mac)


def signed_by(tok, secret, nbytes=32):
    """True if tok is R.T with a canonical R of nbytes and T the tag under secret."""
    r, sep, t = tok.partition(".")
    return (sep == "." and token_re(nbytes).match(r) is not None
            and len(t) == 22 and hmac.compare_digest(t, tag(secret, r)))


def one_cookie(r, name="_session"):
    """The response's single Set-Cookie, for name (asserting there is exactly one
    Set-Cookie header in the whole response)."""
    assert len(r.headers_named("set-cookie")) == 1, r.headers
    [c] = r.set_cookies(name)
    return c


def cache_control(r):
    """Every Cache-Control line of the response, joined as one list."""
    return ", ".join(r.headers_named("cache-control"))


def log_id(tok):
    """SESSION_LOG_ID of a token: the first 16 hex digits (lowercase) of SHA-256."""
    return hashlib.sha256(tok.encode()).hexdigest()[:16]


def wait_until(t):
    """Wait for the wall clock to pass t (Unix seconds): the server's times are whole
    seconds of the same clock."""
    while time.time() < t:
        time.sleep(min(0.05, max(0.0, t - time.time())))


def wait_file_line(path, match, timeout=10.0):
    """The first line of the file at path that holds match (a substring, or a predicate
    on the line). Polled: mod_log_config writes access logs after the response."""
    pred = match if callable(match) else (lambda line: match in line)
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if pred(line):
                    return line
        if time.monotonic() > deadline:
            raise AssertionError("no line matching %r in %s" % (match, path))
        time.sleep(0.05)    # polling interval, not synchronisation


def two_on_one_connection(httpd, first, second, cookie, cookie2=None, headers=(),
                          name="_session"):
    """Two requests on one connection (curl --next), to first and second, with cookie
    (and cookie2 for the second, if given) and the extra headers; returns the two
    responses' Set-Cookie values for name (None where there is none)."""
    h1, h2 = httpd.root / "ka-head-1", httpd.root / "ka-head-2"
    extra = [a for h in headers for a in ("-H", h)]
    p = subprocess.run([CURL, "-s", "-v", "-D", str(h1), "-o", "/dev/null",
                        "-H", "Cookie: " + cookie] + extra + [httpd.url(first), "--next",
                        "-s", "-D", str(h2), "-o", "/dev/null",
                        "-H", "Cookie: " + (cookie2 or cookie)] + extra + [httpd.url(second)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert b"Re-using existing connection" in p.stderr   # one connection, two requests
    out = []
    for h in (h1, h2):
        cookies = [l.split(b":", 1)[1].strip().decode()
                   for l in h.read_bytes().split(b"\r\n")
                   if l.lower().startswith(b"set-cookie:")
                   and l.split(b":", 1)[1].strip().startswith(name.encode() + b"=")]
        assert len(cookies) <= 1
        out.append(cookies[0].split(";")[0].split("=", 1)[1] if cookies else None)
    return out


def free_port():
    """A currently free loopback TCP port (races are handled by retrying start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory):
    """A throwaway self-signed cert/key for 127.0.0.1 (one per directory)."""
    directory = Path(directory)
    key, cert = directory / "server.key", directory / "server.crt"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True)
    return cert, key


class SetCookie:
    """One parsed Set-Cookie value: name, value, ordered attrs [(key, value-or-None)]."""

    def __init__(self, raw):
        self.raw = raw
        parts = raw.split(";")
        first = parts[0]
        self.name, _, self.value = first.partition("=")
        self.name = self.name.strip()
        self.value = self.value.strip()
        self.attrs = []
        for p in parts[1:]:
            p = p.strip()
            k, eq, v = p.partition("=")
            self.attrs.append((k.strip(), v.strip() if eq else None))

    def attr(self, key):
        """Value of the first attribute named key (case-insensitive); '' for flags, None if absent."""
        for k, v in self.attrs:
            if k.lower() == key.lower():
                return "" if v is None else v
        return None

    def has(self, key):
        return self.attr(key) is not None

    def attr_names(self):
        return [k for k, _ in self.attrs]

    def __repr__(self):
        return "SetCookie(%r)" % self.raw


class Response:
    """A parsed HTTP response: status, ordered header list (duplicates kept), body."""

    def __init__(self, status, headers, body_bytes, status_line="", raw_head=b"", stderr=""):
        self.status = status
        self.status_line = status_line
        self.headers = headers
        self.body_bytes = body_bytes
        self.body = body_bytes.decode("utf-8", "replace")
        self.raw_head = raw_head
        self.stderr = stderr

    def headers_named(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name):
        vals = self.headers_named(name)
        return vals[0] if vals else None

    def set_cookies(self, cookie_name=None):
        """Parsed Set-Cookie headers, optionally only those for cookie_name."""
        cs = [SetCookie(v) for v in self.headers_named("set-cookie")]
        if cookie_name is not None:
            cs = [c for c in cs if c.name == cookie_name]
        return cs

    def env(self):
        """Parse a body of KEY=VALUE lines (what the test CGI scripts print) into a dict."""
        out = {}
        for line in self.body.splitlines():
            k, eq, v = line.partition("=")
            if eq:
                out[k] = v
        return out

    def __repr__(self):
        return "Response(%s, %r, body=%r)" % (self.status, self.headers, self.body[:200])


def parse_head(head):
    """Parse a raw response head (bytes); if several (100 Continue), the last one wins."""
    blocks = [b for b in re.split(rb"\r?\n\r?\n", head) if b.strip()]
    if not blocks:
        raise ValueError("no response head: %r" % head)
    lines = re.split(rb"\r?\n", blocks[-1])
    status_line = lines[0].decode("latin-1")
    m = re.match(r"HTTP/\S+\s+(\d{3})", status_line)
    if not m:
        raise ValueError("bad status line %r" % status_line)
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:   # obsolete folding
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip().decode("latin-1"))
            continue
        k, _, v = line.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    return int(m.group(1)), headers, status_line


def _dechunk(data):
    out = b""
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return out + data
        try:
            n = int(line.split(b";")[0], 16)
        except ValueError:
            return out + data
        if n == 0:
            return out
        out += rest[:n]
        data = rest[n + 2:]


def _die_with_parent():
    """In the child before exec: httpd gets SIGTERM when the test process dies,
    so a killed pytest run never leaves a server behind."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _curl_conf_quote(text):
    """A double-quoted value of a curl -K config file."""
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


class _CurlMany:
    """One running curl process for Httpd.curl_many (HTTPS, one transfer a request)."""

    def __init__(self, httpd, requests, parallel, parallel_max, http2):
        self.n = len(requests)
        self.tmp = Path(tempfile.mkdtemp(prefix="curlmany-", dir=httpd.root))
        lines = ["parallel", "parallel-max = %d" % parallel_max] if parallel else []
        for i, (path, cookie, *host) in enumerate(requests):
            if i:
                lines.append("next")
            url = httpd.url(path, tls=True)
            if host:
                url = url.replace("//127.0.0.1:", "//%s:" % host[0], 1)
                lines.append("resolve = %s:%d:127.0.0.1" % (host[0], httpd.tls_port))
            lines += ["url = " + _curl_conf_quote(url),
                      "http2" if http2 else "http1.1", "insecure", "path-as-is", "globoff",
                      "max-time = %d" % REQ_TIMEOUT,
                      "output = " + _curl_conf_quote(str(self.tmp / ("%d.body" % i))),
                      "dump-header = " + _curl_conf_quote(str(self.tmp / ("%d.head" % i))),
                      'write-out = "%d %%{http_version} %%{num_connects} %%{local_port}\\n"'
                      % i]
            if cookie is not None:
                lines.append("header = " + _curl_conf_quote("Cookie: " + cookie))
        cfg = self.tmp / "curl.conf"
        cfg.write_text("\n".join(lines) + "\n")
        # All transfers wait in one process: its limit grows with their number.
        self.timeout = REQ_TIMEOUT * 2 + self.n * (1 if VALGRIND else 0.2)
        self.proc = subprocess.Popen([CURL, "--no-progress-meter", "-K", str(cfg)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def result(self):
        try:
            out, err = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        try:
            if self.proc.returncode != 0:
                raise RuntimeError("curl failed rc=%d: %s" % (self.proc.returncode,
                                                              err.decode(errors="replace")))
            wout = {}
            for line in out.decode().splitlines():
                i, version, connects, port = line.split()
                wout[int(i)] = (version, int(connects), int(port))
            assert sorted(wout) == list(range(self.n)), out
            res = []
            for i in range(self.n):
                head = (self.tmp / ("%d.head" % i)).read_bytes()
                status, headers_l, sl = parse_head(head)
                body = self.tmp / ("%d.body" % i)
                r = Response(status, headers_l, body.read_bytes() if body.exists() else b"",
                             sl, head)
                r.http_version, r.num_connects, r.local_port = wout[i]
                res.append(r)
            return res
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Httpd:
    """One apache2 instance with a generated ServerRoot. See the module docstring."""

    def __init__(self, conf="", modules=(), mpm="event", tls=False, cgi=False, php=False,
                 idsession=True, debug=True, base_dir=None, name="httpd", env=None, h2=False):
        if h2 and mpm == "prefork":
            raise ValueError("mod_http2 needs a threaded MPM (event or worker)")
        if VALGRIND and not h2:
            mpm = "prefork"
        self.mpm = mpm
        self.h2 = h2
        self.tls = tls or h2
        self.cgi = cgi or php
        self.php = php
        self.idsession = idsession
        self.debug = debug
        self.modules = list(modules)
        self.conf = conf
        self.env = dict(env or {})   # extra environment for apache2 (e.g. LD_PRELOAD)
        self.root = Path(tempfile.mkdtemp(prefix="ids-%s-" % name, dir=base_dir))
        os.chmod(self.root, 0o755)   # children run as www-data and must reach htdocs
        self.docroot = self.root / "htdocs"
        for d in ("htdocs", "logs", "run", "conf", "cgi-bin"):
            (self.root / d).mkdir(mode=0o755, exist_ok=True)
        os.chmod(self.root / "run", 0o777)
        self.error_log = self.root / "logs" / "error_log"
        self.conf_file = self.root / "conf" / "httpd.conf"
        self.port = free_port()
        self.tls_port = free_port() if self.tls else None
        self.cert = self.key = None
        if self.tls:
            self.cert, self.key = make_cert(self.root / "conf")
        self.proc = None
        self.valgrind_log = self.root / "logs" / "valgrind.log"
        self._checked = 0          # error-log offset already checked
        self._test_start = 0       # error-log offset when the current test began
        self._expected = []        # regexes declared by the current test
        self.started_once = False
        if php:
            self.write_cgi("cgi-bin/php-cgi", "#!/bin/sh\nexec /usr/bin/php-cgi \"$@\"\n",
                           under=".")

    # ---- files -------------------------------------------------------------------------

    def path(self, rel):
        return self.docroot / rel

    def write(self, rel, text, mode=None, under=None):
        """Write a file below the docroot (or below `under`, relative to the ServerRoot)."""
        base = self.docroot if under is None else self.root / under
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        for parent in p.relative_to(self.root).parents:
            if str(parent) != ".":
                os.chmod(self.root / parent, 0o755)
        data = text.encode() if isinstance(text, str) else text
        p.write_bytes(data)
        os.chmod(p, mode if mode is not None else 0o644)
        return p

    def write_cgi(self, rel, text, under=None):
        """Write an executable script (CGI); `under` as in write()."""
        return self.write(rel, text, mode=0o755, under=under)

    # ---- configuration -----------------------------------------------------------------

    def subst(self, text):
        reps = {"@ROOT@": str(self.root), "@DOCROOT@": str(self.docroot),
                "@PORT@": str(self.port), "@TLS_PORT@": str(self.tls_port),
                "@MODULE@": str(MODULE), "@CERT@": str(self.cert), "@KEY@": str(self.key)}
        for k, v in reps.items():
            text = text.replace(k, v)
        return text

    def _load(self, name):
        ident = _MODULE_ALIASES.get(name, name + "_module")
        return "LoadModule %s %s\n" % (ident, MODDIR / ("mod_%s.so" % name))

    def render(self, conf=None, idsession=None):
        """The full httpd.conf text for `conf` (default: this server's own)."""
        conf = self.conf if conf is None else conf
        idsession = self.idsession if idsession is None else idsession
        mods = ["mpm_" + self.mpm, "authz_core", "mime", "dir", "alias", "env", "headers"]
        if self.cgi:
            mods.append("cgi" if self.mpm == "prefork" else "cgid")
        if self.php:
            mods.append("actions")
        if self.tls:
            mods += ["socache_shmcb", "ssl"]
        if self.h2:
            mods.append("http2")
        for m in self.modules:
            if m not in mods:
                mods.append(m)
        out = [
            "# generated by tests/e2e/idshttpd.py\n",
            'ServerRoot "%s"\n' % self.root,
            'DefaultRuntimeDir "%s/run"\n' % self.root,
            'PidFile "%s/run/httpd.pid"\n' % self.root,
            "ServerName 127.0.0.1\n",
            "Listen 127.0.0.1:%d\n" % self.port,
        ]
        out += [self._load(m) for m in mods]
        if idsession:
            out.append("LoadModule idsession_module %s\n" % MODULE)
        out += [
            "User www-data\nGroup www-data\n",
            'ErrorLog "%s"\n' % self.error_log,
            "LogLevel warn%s\n" % (" idsession:debug" if (self.debug and idsession) else ""),
            "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common\n",
            'CustomLog "%s/logs/access_log" common\n' % self.root,
            "TypesConfig /etc/mime.types\n",
            "Timeout 30\nKeepAlive On\n",
            'DocumentRoot "%s"\n' % self.docroot,
            '<Directory "%s">\n  Require all granted\n  AllowOverride None\n</Directory>\n' % self.root,
            "DirectoryIndex index.html\n",
        ]
        if self.mpm == "prefork":
            out.append("StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\n"
                       "MaxRequestWorkers 16\n")
        else:
            out.append("StartServers 1\nServerLimit 4\nThreadsPerChild 8\nThreadLimit 8\n"
                       "MinSpareThreads 1\nMaxSpareThreads 16\nMaxRequestWorkers 32\n")
        if self.cgi:
            if self.mpm != "prefork":
                out.append('ScriptSock "%s/run/cgisock"\n' % self.root)
            out.append('ScriptAlias /cgi-bin/ "%s/cgi-bin/"\n' % self.root)
            out.append('<Directory "%s">\n  Options +ExecCGI\n  AddHandler cgi-script .cgi\n'
                       '</Directory>\n' % self.docroot)
        if self.php:
            out.append("Action application/x-httpd-php /cgi-bin/php-cgi\n"
                       "AddHandler application/x-httpd-php .php\n")
        if self.tls:
            out.append("Listen 127.0.0.1:%d\n" % self.tls_port)
            out.append('SSLSessionCache "shmcb:%s/run/ssl_scache(64000)"\n' % self.root)
            out.append("<VirtualHost 127.0.0.1:%d>\n  SSLEngine on\n"
                       '  SSLCertificateFile "%s"\n  SSLCertificateKeyFile "%s"\n'
                       "%s</VirtualHost>\n" % (self.tls_port, self.cert, self.key,
                                                "  Protocols h2 http/1.1\n" if self.h2 else ""))
        out.append("\n# ---- test configuration ----\n")
        out.append(self.subst(conf))
        out.append("\n")
        return "".join(out)

    def configtest(self, extra_conf="", idsession=True):
        """Run `apache2 -t` on this server's base config + extra_conf. Returns (rc, output)."""
        f = self.root / "conf" / "configtest.conf"
        f.write_text(self.render(conf=extra_conf, idsession=idsession))
        p = subprocess.run([APACHE2, "-t", "-f", str(f)], capture_output=True, text=True,
                           timeout=60)
        return p.returncode, (p.stdout + p.stderr)

    # ---- lifecycle ---------------------------------------------------------------------

    def _check_module(self):
        if self.idsession and not MODULE.exists():
            raise RuntimeError("%s is missing: run `make` in %s first" % (MODULE, REPO))

    def start(self):
        """Write httpd.conf, start apache2 in the foreground, poll until it answers."""
        self._check_module()
        last = None
        for _ in range(4):   # retry on port races with parallel test runs
            self.conf_file.write_text(self.render())
            try:
                self._start_once()
                self.started_once = True
                return self
            except RuntimeError as e:
                last = e
                if "Address already in use" not in str(e) and "could not bind" not in str(e):
                    raise
                self.port = free_port()
                if self.tls:
                    self.tls_port = free_port()
        raise last

    def _cmd(self):
        if VALGRIND:
            return ["valgrind", "--tool=memcheck", "--error-exitcode=99",
                    "--log-file=%s" % self.valgrind_log, "--num-callers=40",
                    "--suppressions=%s" % (HERE / "valgrind.supp"),
                    "--leak-check=full", "--errors-for-leak-kinds=definite", "--vgdb=no",
                    # name the module in leak stacks although httpd unloads it first
                    "--keep-debuginfo=yes",
                    "--show-leak-kinds=definite", "--trace-children=no",
                    APACHE2, "-X", "-f", str(self.conf_file)]
        return [APACHE2, "-DFOREGROUND", "-f", str(self.conf_file)]

    def _start_once(self):
        log_pos = self.error_log.stat().st_size if self.error_log.exists() else 0
        self._stdout = open(self.root / "logs" / "stdout", "ab")
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(self._cmd(), stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = (self.root / "logs" / "stdout").read_text(errors="replace")
                log = self._read_log(log_pos)
                rc, self.proc = self.proc.returncode, None
                self._stdout.close()
                raise RuntimeError("apache2 exited with %s:\n%s\n%s" % (
                    rc, out[-3000:], log[-3000:]))
            if self._answers():
                return
            time.sleep(0.05)   # polling interval, not synchronisation
        self._kill()
        raise RuntimeError("apache2 did not answer within %ss; log:\n%s"
                           % (START_TIMEOUT, self._read_log(log_pos)[-3000:]))

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"OPTIONS * HTTP/1.0\r\n\r\n")
                s.settimeout(REQ_TIMEOUT)
                return s.recv(12).startswith(b"HTTP/")
        except OSError:
            return False

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self):
        """SIGTERM the parent and wait for it to exit; valgrind errors raise AssertionError."""
        if not self.proc:
            return
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60 if VALGRIND else 20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise RuntimeError("apache2 did not stop on SIGTERM")
        self.proc = None
        self._stdout.close()
        if VALGRIND:
            self._check_valgrind(proc.returncode)

    def _check_valgrind(self, rc):
        text = self.valgrind_log.read_text(errors="replace") if self.valgrind_log.exists() else ""
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if rc == 99 or (m and int(m.group(1)) > 0):
            raise AssertionError("valgrind reported errors (%s):\n%s" % (
                self.valgrind_log, text[-8000:]))

    def _signal_restart(self, how):
        """`apache2 -k how` (graceful or restart); returns once the new generation has
        logged that it resumes normal operations."""
        done = re.compile(r"configured -- resuming normal operations")
        before = len(done.findall(self._read_log()))
        p = subprocess.run([APACHE2, "-f", str(self.conf_file), "-k", how],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        deadline = time.monotonic() + START_TIMEOUT
        while len(done.findall(self._read_log())) <= before:
            if time.monotonic() > deadline:
                raise AssertionError("no new generation after -k %s:\n%s"
                                     % (how, self._read_log()[-3000:]))
            time.sleep(0.05)   # polling interval, not synchronisation
        return self

    def graceful(self, conf=None):
        """A graceful restart, optionally with a new test configuration: the children
        finish their requests; the scoreboard stays."""
        if conf is not None:
            self.conf = conf
            self.conf_file.write_text(self.render())
        return self._signal_restart("graceful")

    def hard_restart(self):
        """A full restart (SIGHUP): the children are stopped at once."""
        return self._signal_restart("restart")

    def restart(self, conf=None):
        """Stop, optionally replace the test configuration, start again."""
        self.stop()
        if conf is not None:
            self.conf = conf
        return self.start()

    def cleanup(self):
        try:
            self.stop()
        finally:
            if not KEEP:
                shutil.rmtree(self.root, ignore_errors=True)

    # ---- error log ---------------------------------------------------------------------

    def _read_log(self, pos=0):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(pos)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def expect_log(self, regex):
        """Declare that warn/error lines matching regex are expected in the current test."""
        self._expected.append(re.compile(regex))

    def log_lines(self):
        """Error-log lines written since the current test began (all levels)."""
        return self._read_log(self._test_start).splitlines()

    def wait_log(self, regex, timeout=10.0):
        """Poll until a line matching regex shows up since the test began; return it."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no log line matching %r; got:\n%s"
                                     % (regex, "\n".join(self.log_lines()[-30:])))
            time.sleep(0.05)

    def begin_test(self):
        self._test_start = self.error_log.stat().st_size if self.error_log.exists() else 0
        self._expected = []

    def unexpected_log_lines(self):
        """warn+ lines since the last check that no expect_log() regex matches; advances."""
        try:
            with open(self.error_log, "rb") as f:
                f.seek(self._checked)
                raw = f.read()
        except FileNotFoundError:
            raw = b""
        self._checked += len(raw)
        text = raw.decode("utf-8", "replace")
        bad = [l for l in text.splitlines()
               if UNNUMBERED_LOG.search(l)
               or (BAD_LOG.search(l)
                   and not any(rx.search(l) for rx in self._expected + IGNORED_LOG))]
        self._expected = []
        return bad

    # ---- clients -----------------------------------------------------------------------

    def url(self, path, tls=False):
        if tls:
            return "https://127.0.0.1:%d%s" % (self.tls_port, path)
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def curl(self, path, headers=(), method=None, data=None, cookie_header=None, tls=False,
             extra_args=(), http10=False):
        """Run curl once; see module docstring. cookie_header may be a str or list of str
        (each becomes its own `Cookie:` line; httpd merges them with ", ")."""
        tmp = Path(tempfile.mkdtemp(prefix="curl-", dir=self.root))
        hdr, body = tmp / "head", tmp / "body"
        args = [CURL, "-s", "-k", "--path-as-is", "--globoff", "-D", str(hdr), "-o", str(body),
                "--max-time", str(REQ_TIMEOUT)]
        if http10:
            args.append("--http1.0")
        if method == "HEAD":
            args.append("-I")
        elif method:
            args += ["-X", method]
        if data is not None:
            args += ["--data-binary", "@-"]
        if cookie_header is not None:
            if isinstance(cookie_header, (str, bytes)):
                cookie_header = [cookie_header]
            for c in cookie_header:
                args += ["-H", (b"Cookie: " + c) if isinstance(c, bytes) else "Cookie: " + c]
        for h in headers:
            args += ["-H", h]
        args += list(extra_args)
        args.append(self.url(path, tls=tls))
        inp = data.encode() if isinstance(data, str) else data
        p = subprocess.run(args, input=inp, capture_output=True, timeout=REQ_TIMEOUT + 10)
        try:
            if p.returncode != 0 and not hdr.exists():
                raise RuntimeError("curl failed rc=%d: %s" % (p.returncode, p.stderr))
            head = hdr.read_bytes()
            status, headers_l, sl = parse_head(head)
            # with -I curl also writes the head to -o; a HEAD response has no body.
            b = body.read_bytes() if body.exists() and method != "HEAD" else b""
            return Response(status, headers_l, b, sl, head, p.stderr.decode(errors="replace"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def curl_many(self, requests, parallel=True, parallel_max=100, http2=True):
        """Many requests from one curl process; see the module docstring."""
        return _CurlMany(self, requests, parallel, parallel_max, http2).result()

    def raw_request(self, data, tls=False):
        """Send exact request bytes (add `Connection: close` yourself, or use HTTP/1.0),
        read until the server closes, and parse the response."""
        port = self.tls_port if tls else self.port
        sock = socket.create_connection(("127.0.0.1", port), timeout=REQ_TIMEOUT)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        with sock:
            sock.sendall(data)
            chunks = []
            while True:
                try:
                    c = sock.recv(65536)
                except (ConnectionResetError, ssl.SSLEOFError):
                    break
                if not c:
                    break
                chunks.append(c)
        raw = b"".join(chunks)
        head, sep, body = raw.partition(b"\r\n\r\n")
        status, headers_l, sl = parse_head(head + b"\r\n\r\n")
        r = Response(status, headers_l, body, sl, head)
        if (r.header("transfer-encoding") or "").lower() == "chunked":
            r = Response(status, headers_l, _dechunk(body), sl, head)
        return r

    def get_raw(self, path, header_lines=(), method=b"GET", tls=False):
        """Convenience for raw_request: an HTTP/1.1 request with Host and Connection: close,
        plus header_lines given as bytes (sent exactly, CRLF added)."""
        req = method + b" " + (path.encode() if isinstance(path, str) else path) + b" HTTP/1.1\r\n"
        req += b"Host: 127.0.0.1\r\nConnection: close\r\n"
        for h in header_lines:
            req += h + b"\r\n"
        return self.raw_request(req + b"\r\n", tls=tls)
