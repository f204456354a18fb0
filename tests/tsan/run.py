#!/usr/bin/python3
"""make test-tsan -- ThreadSanitizer over the connection memo, inside a real httpd.

HTTP/2 streams of one connection run in parallel on mod_http2's workers and share the
connection's memo (mod_idsession.c, ids_memo_slot). This builds the module with gcc's
-fsanitize=thread, loads it into Debian's apache2 -X (event MPM, mod_ssl, mod_http2) with
libtsan preloaded (httpd itself is not instrumented; the module's own reads and writes
are), and sends many parallel streams over one TLS connection: several valid tokens, a
tampered one, unsigned, signed and with timeouts, so that the memo is taken, compared and
rewritten by streams on different threads at once.

It passes when every response is 200 over h2 and ThreadSanitizer reports nothing with a
frame of the module (httpd is not instrumented; a report on its own sockets is listed). It
first checks that it can fail: a copy of the module whose memo slot is read and written
without the atomic exchange must draw a data race report naming ids_session.

Environment: IDS_TSAN_REQUESTS [600] requests per round (3 rounds), IDS_TSAN_KEEP=1 keeps
the work directory.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
MODDIR = os.environ.get("APACHE_MODDIR", "/usr/lib/apache2/modules")
SOURCES = ("mod_idsession.c", "mod_idsession.h", "mod_idsession_status.c",
           "mod_idsession_status.h", "mod_idsession_store.c", "mod_idsession_store.h",
           "idsession_core.c", "idsession_core.h")
REQUESTS = int(os.environ.get("IDS_TSAN_REQUESTS", "600"))
PATHS = ("/f.txt", "/s/f.txt", "/t/f.txt")

# The racy copy: the slot read and written with plain loads and stores.
TAKE = "s.memo = slot ? ids_xchgptr(&slot->rec, NULL) : NULL;"
GIVE = "(void)ids_xchgptr(&slot->rec, s.memo);"
RACY = {TAKE: "s.memo = slot ? slot->rec : NULL;", GIVE: "slot->rec = s.memo;"}

CONF = """\
ServerRoot "{root}"
ServerName 127.0.0.1
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
ErrorLog "{root}/error.log"
LogLevel warn
LoadModule mpm_event_module {moddir}/mod_mpm_event.so
LoadModule authz_core_module {moddir}/mod_authz_core.so
LoadModule mime_module {moddir}/mod_mime.so
LoadModule socache_shmcb_module {moddir}/mod_socache_shmcb.so
LoadModule ssl_module {moddir}/mod_ssl.so
LoadModule http2_module {moddir}/mod_http2.so
LoadModule idsession_module "{module}"
TypesConfig /etc/mime.types
ThreadsPerChild 16
H2MinWorkers 8
H2MaxWorkers 16
H2MaxSessionStreams 100
Listen 127.0.0.1:{port} https
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Require all granted
</Directory>
SSLEngine on
SSLCertificateFile "{root}/cert.pem"
SSLCertificateKeyFile "{root}/key.pem"
Protocols h2 http/1.1
IDSession On
<Location "/s/">
    IDSessionSecret file:secret
</Location>
<Location "/t/">
    IDSessionSecret file:secret
    IDSessionIdleTimeout 1800
</Location>
"""


def log(msg):
    print("tsan: " + msg, flush=True)


def tsan_runtime():
    p = subprocess.run(["gcc", "-print-file-name=libtsan.so.2"], capture_output=True,
                       text=True)
    lib = Path(p.stdout.strip()).resolve() if p.returncode == 0 else None
    if lib is None or not lib.exists():
        sys.exit("tsan: libtsan.so.2 not found (Debian package libtsan2)")
    return lib


def build(work, name, racy=False):
    d = work / name
    d.mkdir()
    for f in SOURCES:
        shutil.copy(REPO / f, d / f)
    if racy:
        src = (d / "mod_idsession.c").read_text()
        for old, new in RACY.items():
            if old not in src:
                sys.exit("tsan: %r is not in mod_idsession.c; update tests/tsan/run.py" % old)
            src = src.replace(old, new)
        (d / "mod_idsession.c").write_text(src)
    p = subprocess.run(["apxs", "-c", "-Wc,-fsanitize=thread", "-Wc,-O1", "-Wc,-g",
                        "-Wl,-fsanitize=thread", "-o", "mod_idsession.la",
                        "mod_idsession.c", "mod_idsession_status.c",
                        "mod_idsession_store.c", "idsession_core.c",
                        "-lcrypto", "-lhiredis"],
                       cwd=d, capture_output=True, text=True)
    so = d / ".libs" / "mod_idsession.so"
    if p.returncode != 0 or not so.exists():
        sys.exit("tsan: build of %s failed:\n%s" % (name, p.stdout + p.stderr))
    return so


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(args):
    return subprocess.run(["curl", "-sS", "--max-time", "60"] + args,
                          capture_output=True, text=True)


class Server:
    def __init__(self, work, name, module, lib):
        self.root = work / ("root-" + name)
        (self.root / "htdocs").mkdir(parents=True)
        for sub in ("", "s", "t"):
            (self.root / "htdocs" / sub).mkdir(exist_ok=True)
            (self.root / "htdocs" / sub / "f.txt").write_bytes(b"x" * 1024)
        (self.root / "secret").write_text("tsan-" + "k" * 40 + "\n")
        os.chmod(self.root / "secret", 0o600)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(self.root / "key.pem"),
                        "-out", str(self.root / "cert.pem")],
                       check=True, capture_output=True)
        self.port = free_port()
        (self.root / "httpd.conf").write_text(CONF.format(
            root=self.root, moddir=MODDIR, module=module, port=self.port))
        env = dict(os.environ, LD_PRELOAD=str(lib),
                   TSAN_OPTIONS="log_path=%s/tsan report_signal_unsafe=0" % self.root)
        self.proc = subprocess.Popen([APACHE2, "-X", "-f", str(self.root / "httpd.conf")],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = "https://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                sys.exit("tsan: apache2 exited with %s:\n%s"
                         % (self.proc.returncode, self.error_log()))
            p = curl(["-k", "-o", "/dev/null", "-w", "%{http_code}", self.base + "/f.txt"])
            if p.stdout == "200":
                break
            if time.monotonic() > deadline:
                self.stop()
                sys.exit("tsan: apache2 did not answer:\n" + self.error_log())
            time.sleep(0.2)

    def error_log(self):
        f = self.root / "error.log"
        return f.read_text(errors="replace") if f.exists() else ""

    def token(self, path):
        p = curl(["-k", "--http2", "-D", "-", "-o", "/dev/null", self.base + path])
        m = re.search(r"^set-cookie: (_session=[^;\r\n]+)", p.stdout, re.I | re.M)
        if not m:
            sys.exit("tsan: no cookie from %s:\n%s" % (path, p.stdout + p.stderr))
        return m.group(1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def reports(self):
        """(the reports with a frame of the module, their text, the others' summaries).
        httpd and APR are not instrumented, but libtsan's interceptors still see their
        system calls: at shutdown it may report the main thread closing a socket that a
        worker wrote to, with no frame of the module. Those are listed, not counted."""
        text = "".join(f.read_text(errors="replace") for f in self.root.glob("tsan*"))
        ours, others = [], []
        for rep in re.findall(r"WARNING: ThreadSanitizer.*?(?:SUMMARY: ThreadSanitizer[^\n]*|\Z)",
                              text, re.S):
            (ours if re.search(r"mod_idsession|idsession_core|\bids_\w+", rep)
             else others).append(rep)
        return len(ours), "\n".join(ours), [r.splitlines()[-1] for r in others]


def drive(srv, requests, rounds):
    """Parallel streams over one connection; -> the set of 'versioncode' results."""
    cookies = {}
    for path in PATHS:
        toks = [srv.token(path) for _ in range(4)]
        last = toks[0][-1]
        toks.append(toks[0][:-1] + ("A" if last != "A" else "B"))    # tampered
        cookies[path] = toks
    parts = []
    for i in range(requests):
        path = PATHS[i % len(PATHS)]
        # a fixed, mixed order: neighbouring streams carry different values
        c = cookies[path][(i * 7 + i // 3) % len(cookies[path])]
        parts.append('url = "%s%s?%d"\nheader = "Cookie: other=1; %s"\n'
                     'output = "/dev/null"\ninsecure\nhttp2\n'
                     'write-out = "%%{http_version} %%{http_code} %%{num_connects}\\n"\n'
                     % (srv.base, path, i, c))
    cfg = srv.root / "curl.cfg"
    cfg.write_text("next\n".join(parts))
    seen = set()
    connects = 0
    for _ in range(rounds):
        p = subprocess.run(["curl", "-sS", "--parallel", "--parallel-max", "100", "-K",
                            str(cfg)], capture_output=True, text=True, timeout=900)
        lines = p.stdout.split("\n")[:-1]
        if len(lines) != requests:
            sys.exit("tsan: %d of %d answers:\n%s" % (len(lines), requests, p.stderr[-2000:]))
        for line in lines:
            version, code, n = line.split()
            seen.add(version + " " + code)
            connects += int(n)
    return seen, connects


def main():
    if os.environ.get("IDS_VALGRIND") == "1":
        log("skipped under valgrind")
        return 0
    lib = tsan_runtime()
    work = Path(tempfile.mkdtemp(prefix="ids-tsan-"))
    os.chmod(work, 0o755)
    rc = 1
    try:
        # 1. It can fail: the racy copy must be reported.
        srv = Server(work, "racy", build(work, "racy", racy=True), lib)
        try:
            drive(srv, 300, 1)
        finally:
            srv.stop()
        n, text, _ = srv.reports()
        if n == 0 or "ids_session" not in text:
            log("FAIL: the racy copy of the memo drew no data race report; the run "
                "cannot see races")
            return 1
        log("self-check: the racy copy drew %d report(s) naming ids_session" % n)

        # 2. The module itself.
        srv = Server(work, "real", build(work, "real"), lib)
        try:
            seen, connects = drive(srv, REQUESTS, 3)
        finally:
            srv.stop()
        n, text, others = srv.reports()
        for summary in others:
            log("not the module's (no frame of it), not counted: %s" % summary)
        if seen != {"2 200"}:
            log("FAIL: answers other than h2 200: %s" % sorted(seen))
            return 1
        if n:
            log("FAIL: %d ThreadSanitizer report(s):\n%s" % (n, text[:6000]))
            return 1
        errors = [l for l in srv.error_log().splitlines()
                  if re.search(r":(error|crit|alert|emerg)\]", l)
                  and "AH02155" not in l]        # -X as root: no User to look up
        if errors:
            log("FAIL: error log: %s" % errors[0])
            return 1
        log("ok: %d requests over h2 (%d TLS connections opened by curl), mixed and "
            "tampered tokens, unsigned, signed and timed: no ThreadSanitizer report"
            % (3 * REQUESTS, connects))
        rc = 0
        return 0
    finally:
        if os.environ.get("IDS_TSAN_KEEP") == "1" or rc:
            log("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
