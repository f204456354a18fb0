#!/usr/bin/python3
"""make bench -- the per-request cost of mod_idsession side by side with httpd alone,
mod_usertrack and mod_session (issue 4).

Every variant serves the same static 1 KiB file over loopback with keep-alive, on two
paths: "mint" (a request without a cookie) and "hot" (a request with a valid cookie that
the variant itself issued: one request is made first and its Set-Cookie is sent back).

1. Instructions per request (primary, deterministic): valgrind --tool=callgrind on
   `apache2 -X` (prefork, one process). After a warm-up of every path the counters are
   zeroed (`callgrind_control -z`), `ab -k -c 1 -n N` sends N requests over one keep-alive
   connection, and `callgrind_control -d` dumps. instr/req = the dump's total Ir / N. The
   script checks that the dump holds exactly N calls of ap_process_request and that ab saw
   N keep-alive requests, no failures and no non-2xx answers. A third path, "hot/conn",
   sends the hot cookie with one request per connection (ab without -k), so nothing can
   be reused from the connection's previous request. Run as root, valgrind and
   callgrind_control run as www-data (vgdb cannot reach a valgrind that changed uid).
   The dumps are kept in bench/out/callgrind/ for callgrind_annotate.
2. Throughput: wrk against the event MPM (one server per variant, all running, normal
   daemon mode), interleaved rounds: in each round and path every variant runs once,
   each run between two runs of httpd alone (B V1 B V2 B ...), the order rotating from
   round to round. Reported: the median req/s over the rounds, and the ratio to httpd
   alone = the median over rounds of (variant / the mean of its two neighbouring
   httpd-alone runs), which cancels the drift of the host's load within a round.

Environment (defaults in brackets):
  BENCH_N [2000]          requests per callgrind measurement (the issue asks for >= 2000)
  BENCH_WARMUP [200]      warm-up requests per path before the counters are zeroed
  BENCH_ROUNDS [5]        wrk rounds
  BENCH_SECONDS [2]       seconds per wrk run
  BENCH_CONNECTIONS [8]   wrk connections (one wrk thread)
  BENCH_QUICK=1           smoke run: N=300, 1 round of 1 s (numbers not meaningful)
  BENCH_VARIANTS          comma list of variant keys (default: all), e.g.
                          baseline,ids-unsigned,ids-signed -- baseline is always added
  BENCH_MEASURES          callgrind,wrk (default both)
  BENCH_OUT [bench/out]   where results.txt, results.json and callgrind/ go
  BENCH_PIN [1]           wrk phase: httpd pinned to CPU 0 and wrk to CPU 1 (taskset)
  BENCH_KEEP=1            keep the generated server roots (/tmp/ids-bench-*)
  IDS_MODULE              the module to load [.libs/mod_idsession.so]
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import statistics
import string
import struct
import subprocess
import sys
import atexit
import tempfile
import time
from pathlib import Path

import httpdrun
from httpdrun import FILE, MODULE, Server, http_get, set_cookies


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = os.environ.get("BENCH_QUICK") == "1"
N = env_int("BENCH_N", 300 if QUICK else 2000)
WARMUP = env_int("BENCH_WARMUP", 50 if QUICK else 200)
ROUNDS = env_int("BENCH_ROUNDS", 1 if QUICK else 5)
SECONDS = env_int("BENCH_SECONDS", 1 if QUICK else 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 8)
MEASURES = set(os.environ.get("BENCH_MEASURES", "callgrind,wrk").replace(" ", "").split(","))
OUT = Path(os.environ.get("BENCH_OUT", httpdrun.BENCH / "out"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
# wrk phase: httpd on CPU 0, wrk on CPU 1, so that httpd's CPU time limits throughput
# (unpinned, both share the cores and the module's cost is diluted by wrk's own).
PIN = os.environ.get("BENCH_PIN", "1") == "1" and (os.cpu_count() or 1) >= 2
HTTPD_CPUS, WRK_CPUS = ("0", "1") if PIN else (None, None)

# mint: no cookie; hot: the variant's own cookie, keep-alive (the issue's two paths);
# hot/conn: the same cookie, but one request per connection (ab without -k) -- callgrind
# only. It shows what a module pays when it cannot reuse anything from the connection's
# previous request (mod_idsession remembers the last verified token per connection).
PATHS = ("mint", "hot")
CG_PATHS = ("mint", "hot", "hot/conn")
ALNUM = string.ascii_letters + string.digits
SECRET = "".join(secrets.choice(ALNUM) for _ in range(48))
OLD_SECRET = "".join(secrets.choice(ALNUM) for _ in range(48))

# A cookie header of the same shape as mod_idsession's for httpd alone's "hot" path, so
# that both rows parse a Cookie header of similar size (httpd alone ignores it).
BASELINE_COOKIE = "_session=" + "".join(secrets.choice(ALNUM + "-_") for _ in range(43))

IDS_LOAD = "LoadModule idsession_module {module}\n"
TIMEOUTS_CONF = ("IDSession On\nIDSessionSecret file:secret\n"
                 "IDSessionIdleTimeout 1800\nIDSessionMaxLifetime 43200\n")


def old_stamp(cookie, age=400):
    """cookie (_session=R.T.S) with its stamp re-signed as created and renewed age
    seconds ago (the README's layout), so that the module renews it."""
    name, value = cookie.split("=", 1)
    tok = value.rsplit(".", 1)[0]
    t = int(time.time()) - age
    times = struct.pack(">QQ", t, t)
    mac = hmac.new(SECRET.encode(), b"mod_idsession stamp v1\0" + times + tok.encode(),
                   hashlib.sha256).digest()[:16]
    return "%s=%s.%s" % (name, tok,
                         base64.urlsafe_b64encode(times + mac).rstrip(b"=").decode())


class Variant:
    def __init__(self, key, title, modules="", conf="", cookie=None, issue_path=FILE,
                 files=None, needs_module=False, note="", paths=CG_PATHS, wrk=True,
                 secrets=None, renew=False):
        self.key = key
        self.title = title
        self.modules = modules
        self.conf = conf
        self.cookie = cookie            # the cookie name this variant issues (None: none)
        self.issue_path = issue_path    # where to get the hot cookie from
        self.files = files or {}
        self.secrets = secrets or {}    # IDSessionSecret files, relative to ServerRoot
        self.needs_module = needs_module
        self.note = note
        self.paths = paths              # the callgrind paths measured
        self.wrk = wrk                  # measured with wrk too
        self.renew = renew              # hot cookie with an old stamp: every request renews


# A Set-Cookie of the size mod_idsession sends by default.
FLOOR_COOKIE = ("_session=" + "".join(secrets.choice(ALNUM + "-_") for _ in range(43))
                + "; Path=/; HttpOnly; SameSite=Lax")

VARIANTS = [
    Variant("baseline", "httpd alone",
            note="hot path sends an ignored Cookie of the same size as mod_idsession's"),
    Variant("floor", "two fixed headers",
            modules="LoadModule headers_module {moddir}/mod_headers.so\n",
            conf='Header always set Set-Cookie "%s"\n'
                 'Header always set Cache-Control "private"\n' % FLOOR_COOKIE,
            paths=("mint",), wrk=False,
            note="mod_headers sets a fixed Set-Cookie of mod_idsession's size and "
                 "Cache-Control: private on every response, and nothing else: what httpd "
                 "spends to send the two headers that every minted response carries "
                 "(mint path, callgrind only)"),
    Variant("usertrack", "mod_usertrack",
            modules="LoadModule usertrack_module {moddir}/mod_usertrack.so\n",
            conf="CookieTracking on\n", cookie="Apache"),
    Variant("session", "mod_session",
            # mod_session writes a cookie only when the session holds data, so the hot
            # cookie comes from /issue.asis, whose (as-is) response header sets one entry
            # through SessionHeader. mod_asis is loaded for that and costs a handler check.
            modules="LoadModule session_module {moddir}/mod_session.so\n"
                    "LoadModule session_cookie_module {moddir}/mod_session_cookie.so\n"
                    "LoadModule asis_module {moddir}/mod_asis.so\n",
            conf="Session On\n"
                 "SessionCookieName session path=/\n"
                 "<Files issue.asis>\n"
                 "    SetHandler send-as-is\n"
                 "    SessionHeader X-Replace-Session\n"
                 "</Files>\n",
            cookie="session", issue_path="/issue.asis",
            files={"issue.asis": b"Status: 200 OK\nX-Replace-Session: uid=1\n"
                                 b"Content-Type: text/plain\n\nissued\n"},
            note="mint path issues no cookie (mod_session writes one only when the "
                 "session holds data); the hot cookie (session=uid=1) comes from "
                 "/issue.asis through SessionHeader"),
    Variant("ids-unsigned", "idsession unsigned", modules=IDS_LOAD,
            conf="IDSession On\n", cookie="_session", needs_module=True),
    Variant("ids-signed", "idsession signed", modules=IDS_LOAD,
            conf="IDSession On\nIDSessionSecret file:secret\n",
            secrets={"secret": SECRET}, cookie="_session", needs_module=True),
    Variant("ids-all", "idsession all features", modules=IDS_LOAD,
            conf="IDSession On\n"
                 "IDSessionSecret file:secret\n"
                 "IDSessionSecret file:old-secret\n"
                 "IDSessionHeader X-Session-Token\n"
                 "IDSessionAppReset On\n"
                 "IDSessionCookieMaxAge 3600\n"
                 "IDSessionCookieDomain bench.example\n"
                 "IDSessionCookieSameSite Strict\n"
                 "IDSessionCookieSecure On\n",
            secrets={"secret": SECRET, "old-secret": OLD_SECRET},
            cookie="_session", needs_module=True,
            note="signed with a second (verify-only) secret, IDSessionHeader, "
                 "IDSessionAppReset On (a next token minted per request), MaxAge, Domain, "
                 "SameSite=Strict, Secure"),
    Variant("ids-timeouts", "idsession signed + timeouts", modules=IDS_LOAD,
            conf=TIMEOUTS_CONF, secrets={"secret": SECRET}, cookie="_session",
            needs_module=True,
            note="IDSessionIdleTimeout 1800, IDSessionMaxLifetime 43200: the cookie is "
                 "token.stamp (issue 12)"),
    Variant("ids-renew", "idsession timeouts, renewal", modules=IDS_LOAD,
            conf=TIMEOUTS_CONF, secrets={"secret": SECRET}, cookie="_session",
            needs_module=True, paths=("hot",), wrk=False, renew=True,
            note="the hot cookie's stamp is 400 s old (renew interval 300 s), so every "
                 "request verifies it and answers with a renewed one (callgrind only)"),
]


# -- revocation stores (issue 13) -----------------------------------------------------------

_REDIS = {}


def bench_redis():
    """The address of a redis-server on a loopback port, started on first use and stopped
    when bench exits (its own directory, no persistence)."""
    if "address" not in _REDIS:
        port = httpdrun.free_port()
        d = Path(tempfile.mkdtemp(prefix="ids-bench-redis-"))
        # On wrk's CPU when pinned: the store is another machine's CPU time in a
        # fleet, and httpd's CPU alone should limit the throughput measured.
        pin = ["taskset", "-c", WRK_CPUS] if WRK_CPUS else []
        proc = subprocess.Popen(pin + ["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                 "--dir", str(d), "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        atexit.register(lambda: (proc.terminate(), proc.wait(),
                                 shutil.rmtree(d, ignore_errors=True)))
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("bench: redis-server did not start")
            time.sleep(0.05)
        _REDIS["address"] = "127.0.0.1:%d" % port
    return _REDIS["address"]


class RedisVariant(Variant):
    """A variant whose @REDIS@ becomes bench_redis()'s address when a server is made."""

    @property
    def conf(self):
        return self._conf.replace("@REDIS@", bench_redis())

    @conf.setter
    def conf(self, text):
        self._conf = text


VARIANTS += [
    Variant("ids-shmcb", "idsession + shmcb store",
            modules=IDS_LOAD + "LoadModule socache_shmcb_module {moddir}/mod_socache_shmcb.so\n",
            conf="IDSession On\nIDSessionStore shmcb\n", cookie="_session",
            needs_module=True,
            note="IDSessionStore shmcb: every hot request looks its log id up in the "
                 "denylist (compare with idsession unsigned)"),
    RedisVariant("ids-redis", "idsession + redis store", modules=IDS_LOAD,
                 conf="IDSession On\nIDSessionStore redis:@REDIS@\n", cookie="_session",
                 needs_module=True,
                 note="IDSessionStore redis on loopback (redis-server on wrk's CPU): a "
                      "GET per hot request (compare with idsession unsigned)"),
    RedisVariant("ids-redis-reuse", "idsession + redis, reuse 1 s", modules=IDS_LOAD,
                 conf="IDSession On\nIDSessionStore redis:@REDIS@\nIDSessionStoreReuse 1\n",
                 cookie="_session", needs_module=True,
                 note="IDSessionStoreReuse 1: a keep-alive connection asks Redis at most "
                      "once a second for its token"),
]

# Issue 13's budgets, against the same configuration without a store.
STORE_TARGETS = {"ids-shmcb": (2500, 0.95), "ids-redis": (None, 0.80),
                 "ids-redis-reuse": (None, 0.80)}


def store_target_lines(cg, wr):
    out = []
    for key, (limit, ratio) in STORE_TARGETS.items():
        if limit is not None and (key, "hot") in cg and ("ids-unsigned", "hot") in cg:
            extra = cg[(key, "hot")] - cg[("ids-unsigned", "hot")]
            out.append("%s hot: extra over idsession unsigned %s, budget <= %s: %s" % (
                key, fmt_extra(extra), "{:,}".format(limit),
                "met" if extra <= limit else "MISSED"))
        if (key, "hot") in wr and ("ids-unsigned", "hot") in wr:
            r = wr[(key, "hot")]["ratio"] / wr[("ids-unsigned", "hot")]["ratio"]
            out.append("%s hot: wrk vs idsession unsigned %.3f, budget >= %.2f: %s" % (
                key, r, ratio, "met" if r >= ratio else "MISSED"))
    return out


def log(msg):
    print(msg, flush=True)


def selected_variants():
    want = os.environ.get("BENCH_VARIANTS", "").replace(" ", "")
    keys = [v.key for v in VARIANTS]
    if want:
        asked = want.split(",")
        bad = [k for k in asked if k not in keys]
        if bad:
            sys.exit("bench: unknown variant(s) %s; known: %s" % (", ".join(bad),
                                                                   ", ".join(keys)))
        asked = set(asked) | {"baseline"}
        chosen = [v for v in VARIANTS if v.key in asked]
    else:
        chosen = list(VARIANTS)
    skipped = []
    if not MODULE.exists():
        skipped = [v for v in chosen if v.needs_module]
        chosen = [v for v in chosen if not v.needs_module]
    return chosen, skipped


# -- cookies --------------------------------------------------------------------------------

def fetch_hot_cookie(v, port, problems):
    """Ask the variant for a cookie and check that it is then accepted without a new one."""
    if v.cookie is None:
        return BASELINE_COOKIE
    status, headers, _ = http_get(port, v.issue_path)
    mine = [c for c in set_cookies(headers) if c.split("=", 1)[0] == v.cookie]
    if status != 200 or not mine:
        raise RuntimeError("%s: %s gave status %d and no %s cookie (headers: %s)"
                           % (v.title, v.issue_path, status, v.cookie, headers))
    cookie = old_stamp(mine[0]) if v.renew else mine[0]
    status, headers, _ = http_get(port, FILE, {"Cookie": cookie})
    again = [c for c in set_cookies(headers) if c.split("=", 1)[0] == v.cookie]
    if status != 200:
        raise RuntimeError("%s: hot request answered %d" % (v.title, status))
    if v.renew and (not again or again[0].split(".")[0] != cookie.split(".")[0]):
        problems.append("%s: the old stamp was not renewed with the same token" % v.title)
    elif again and not v.renew:
        problems.append("%s: the hot path answers with a new cookie (%s...)"
                        % (v.title, again[0][:20]))
    status, headers, _ = http_get(port, FILE)
    minted = [c for c in set_cookies(headers) if c.split("=", 1)[0] == v.cookie]
    if v.issue_path == FILE and not minted:
        problems.append("%s: the mint path issued no cookie" % v.title)
    return cookie


def cookie_headers(path, cookie):
    return {"Cookie": cookie} if path == "hot" else {}


# -- callgrind ------------------------------------------------------------------------------

def run_ab(port, n, cookie=None, keepalive=True):
    cmd = ["ab", "-q"] + (["-k"] if keepalive else []) + ["-c", "1", "-n", str(n)]
    if cookie:
        cmd += ["-H", "Cookie: " + cookie]
    cmd.append("http://127.0.0.1:%d%s" % (port, FILE))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr

    def num(label):
        m = re.search(r"^%s:\s+(\d+)" % re.escape(label), out, re.M)
        return int(m.group(1)) if m else None

    got = {"complete": num("Complete requests"), "failed": num("Failed requests"),
           "non2xx": num("Non-2xx responses") or 0, "keepalive": num("Keep-Alive requests") or 0}
    if (p.returncode != 0 or got["complete"] != n or got["failed"] != 0
            or got["non2xx"] != 0 or got["keepalive"] != (n if keepalive else 0)):
        raise RuntimeError("ab did not complete %d clean %srequests: %s\n%s"
                           % (n, "keep-alive " if keepalive else "", got, out[-2000:]))
    return got


def callgrind_control(server, opt):
    cmd = httpdrun.as_user() + ["callgrind_control", "--vgdb-prefix=" + server.vgdb_prefix,
                                opt, str(server.pid())]
    last = ""
    for _ in range(3):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        last = p.stdout + p.stderr
        if p.returncode == 0 and "OK" in last:
            return
        time.sleep(0.5)
    raise RuntimeError("callgrind_control %s failed: %s" % (opt, last))


def parse_dump(path):
    """-> (total Ir from 'summary:', calls of ap_process_request)."""
    total = None
    calls = 0
    pending = False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:"):
                total = int(line.split()[1])
            elif line.startswith("cfn="):
                pending = line[4:].strip() == "ap_process_request"
            elif line.startswith("calls=") and pending:
                calls += int(line[6:].split()[0])
                pending = False
    if total is None:
        raise RuntimeError("%s: no summary line" % path)
    return total, calls


def wait_for_dump(server, known, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dumps = [p for p in server.root.glob("callgrind.out.*") if p.name not in known]
        for p in dumps:
            try:
                if any(l.startswith("totals:") or l.startswith("summary:")
                       for l in p.read_text(errors="replace").splitlines()[-5:]):
                    return p
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError("%s: callgrind dump did not appear" % server.name)


def measure_callgrind(v, problems):
    s = Server(v.key + "-cg", httpdrun.MPM_PREFORK_X, modules=v.modules, extra=v.conf,
               files=v.files, secrets=v.secrets, mode="callgrind")
    t0 = time.monotonic()
    s.start()
    try:
        cookie = fetch_hot_cookie(v, s.port, problems)
        def ab(path, n):
            run_ab(s.port, n, None if path == "mint" else cookie, keepalive=path != "hot/conn")

        for path in v.paths:                     # warm up every code path
            ab(path, WARMUP)
        result = {}
        known = set()
        for path in v.paths:
            callgrind_control(s, "-z")
            ab(path, N)
            callgrind_control(s, "-d")
            dump = wait_for_dump(s, known)
            known.add(dump.name)
            total, calls = parse_dump(dump)
            if calls != N:
                problems.append("%s %s: the dump holds %d calls of ap_process_request, not %d"
                                % (v.title, path, calls, N))
            result[path] = total / N
            dest = OUT / "callgrind" / ("%s.%s.callgrind" % (v.key, path.replace("/", "-")))
            shutil.copyfile(dump, dest)
        s.stop()
        errs = [l for l in s.error_log().splitlines()
                if re.search(r":(warn|error|crit|alert|emerg)\]", l)]
        if errs:
            problems.append("%s (callgrind): error log: %s" % (v.title, errs[0]))
        log("  callgrind %-24s %s instr/req   (%.0f s)" % (
            v.title, "  ".join("%s %.0f" % (p, result[p]) for p in v.paths),
            time.monotonic() - t0))
        return result
    finally:
        s.stop()


# -- wrk ------------------------------------------------------------------------------------

def run_wrk(port, cookie, seconds):
    cmd = (["taskset", "-c", WRK_CPUS] if WRK_CPUS else []) + ["wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % seconds, "--timeout", "10s"]
    if cookie:
        cmd += ["-H", "Cookie: " + cookie]
    cmd.append("http://127.0.0.1:%d%s" % (port, FILE))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = p.stdout + p.stderr
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed: %s" % out)
    errors = 0
    m2 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m2:
        errors += sum(int(x) for x in m2.groups())
    m3 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m3:
        errors += int(m3.group(1))
    return float(m.group(1)), errors


def measure_wrk(variants, problems):
    servers = {}
    cookies = {}
    for v in variants:
        s = Server(v.key + "-wrk", httpdrun.MPM_EVENT_BENCH, modules=v.modules, extra=v.conf,
                   files=v.files, secrets=v.secrets, cpus=HTTPD_CPUS)
        s.start()
        servers[v.key] = s
        cookies[v.key] = fetch_hot_cookie(v, s.port, [])
    for v in variants:                               # warm-up, not recorded
        for path in PATHS:
            run_wrk(servers[v.key].port, cookies[v.key] if path == "hot" else None, 1)
    # Every run of a variant sits between two runs of httpd alone (B V1 B V2 B ...), and
    # its ratio is taken to the mean of those two neighbours, seconds apart: the load of
    # this VM's host drifts by several % within a round, which a ratio to a baseline run
    # half a minute away would take for the module's cost.
    base_key = variants[0].key
    others = [v for v in variants if v.key != base_key]
    rps = {(v.key, p): [] for v in variants for p in PATHS}
    ratios = {(v.key, p): [] for v in others for p in PATHS}

    def one(v, path):
        x, errs = run_wrk(servers[v.key].port, cookies[v.key] if path == "hot" else None,
                          SECONDS)
        if errs:
            problems.append("%s %s: wrk saw %d socket errors or non-2xx answers"
                            % (v.title, path, errs))
        rps[(v.key, path)].append(x)
        return x

    for r in range(ROUNDS):
        order = others[r % len(others):] + others[:r % len(others)] if others else []
        paths = PATHS if r % 2 == 0 else tuple(reversed(PATHS))
        for path in paths:
            before = one(variants[0], path)
            for v in order:
                x = one(v, path)
                after = one(variants[0], path)
                ratios[(v.key, path)].append(x / ((before + after) / 2))
                before = after
        log("  wrk round %d/%d: %s" % (r + 1, ROUNDS, "  ".join(
            "%s %s %.0f (%.3f)" % (v.key, p[0], rps[(v.key, p)][-1], ratios[(v.key, p)][-1])
            for p in PATHS for v in others)))
    for v in variants:
        s = servers[v.key]
        s.stop()
        errs = [l for l in s.error_log().splitlines()
                if re.search(r":(warn|error|crit|alert|emerg)\]", l)]
        if errs:
            problems.append("%s (wrk): error log: %s" % (v.title, errs[0]))
    result = {}
    for v in variants:
        for p in PATHS:
            runs = rps[(v.key, p)]
            result[(v.key, p)] = {"median": statistics.median(runs),
                                  "ratio": statistics.median(ratios[(v.key, p)])
                                  if v.key != base_key else 1.0, "runs": runs}
    return result


# -- report ---------------------------------------------------------------------------------

def fmt_int(x):
    return "-" if x is None else "{:,.0f}".format(x)


def fmt_extra(x):
    return "-" if x is None else "{:+,.0f}".format(x)


def table(variants, cg, wr):
    head = ("variant", "path", "instr/req", "extra vs baseline", "wrk req/s (median)", "ratio")
    rows = []
    for v in variants:
        for p in CG_PATHS:
            if (v.key, p) not in cg and (v.key, p) not in wr:
                continue
            ir = cg.get((v.key, p)) if cg else None
            base = cg.get(("baseline", p)) if cg else None
            extra = None if ir is None or base is None else ir - base
            w = wr.get((v.key, p)) if wr else None
            rows.append((v.title, p, fmt_int(ir), "-" if v.key == "baseline" else fmt_extra(extra),
                         "-" if w is None else "{:,.0f}".format(w["median"]),
                         "-" if w is None else "%.3f" % w["ratio"]))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    align = ["<", "<", ">", ">", ">", ">"]

    def line(r):
        return "| " + " | ".join("{:{}{}}".format(c, a, w) for c, a, w in zip(r, align, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) if a == "<" else "-" * (w + 1) + ":"
                         for w, a in zip(widths, align)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


# Issue 4's targets: extra instructions per request over httpd alone, and wrk ratio.
TARGETS = {("ids-unsigned", "hot"): 1000, ("ids-unsigned", "mint"): 2500,
           ("ids-signed", "hot"): 4000, ("ids-signed", "mint"): 6000}
RATIO_TARGET = 0.97


def target_lines(variants, cg, wr):
    out = []
    for v in variants:
        for p in PATHS:
            limit = TARGETS.get((v.key, p))
            if limit is not None and cg.get((v.key, p)) is not None:
                extra = cg[(v.key, p)] - cg[("baseline", p)]
                out.append("%s %s: extra %s, target <= %s: %s" % (
                    v.title, p, fmt_extra(extra), "{:,}".format(limit),
                    "met" if extra <= limit else "MISSED"))
            if v.needs_module and wr.get((v.key, p)) is not None:
                r = wr[(v.key, p)]["ratio"]
                out.append("%s %s: wrk ratio %.3f, target >= %.2f: %s" % (
                    v.title, p, r, RATIO_TARGET, "met" if r >= RATIO_TARGET else "MISSED"))
    return out


def main():
    httpdrun.install_signal_handlers()
    variants, skipped = selected_variants()
    OUT.mkdir(parents=True, exist_ok=True)
    if "callgrind" in MEASURES:
        cgdir = OUT / "callgrind"
        shutil.rmtree(cgdir, ignore_errors=True)
        cgdir.mkdir()
    started = time.monotonic()
    log("bench: %s, %d cores; variants: %s%s" % (
        httpdrun.apache_version(), os.cpu_count(), ", ".join(v.key for v in variants),
        "; SKIPPED (no %s): %s" % (MODULE, ", ".join(v.key for v in skipped)) if skipped else ""))
    problems = []
    cg, wr = {}, {}
    try:
        if "callgrind" in MEASURES:
            log("callgrind: apache2 -X (prefork), %d warm-up + %d measured requests per path, "
                "ab -k -c 1" % (WARMUP, N))
            for v in variants:
                r = measure_callgrind(v, problems)
                for p in v.paths:
                    cg[(v.key, p)] = r[p]
        if "wrk" in MEASURES:
            log("wrk: event MPM, %d rounds x %d s, %d connections, B V1 B V2 B ..."
                % (ROUNDS, SECONDS, CONNECTIONS))
            wr = measure_wrk([v for v in variants if v.wrk], problems)
    finally:
        stop_errors = httpdrun.stop_all(keep=KEEP)
    problems += stop_errors
    elapsed = time.monotonic() - started

    tbl = table(variants, cg, wr)
    notes = ["instr/req: callgrind Ir per request on apache2 -X (prefork), N=%d after %d "
             "warm-up requests per path, one keep-alive connection (ab -k -c 1); "
             "extra = instr/req - httpd alone's on the same path." % (N, WARMUP),
             "wrk: event MPM, one child with 32 threads per variant%s, wrk -t1 -c%d, "
             "%d rounds of %d s runs, each variant's run between two runs of httpd alone "
             "(B V1 B V2 B ...); ratio = median over rounds of (variant / mean of its two "
             "neighbouring httpd-alone runs)." % (
                 ", httpd on CPU %s and wrk on CPU %s" % (HTTPD_CPUS, WRK_CPUS) if PIN else "",
                 CONNECTIONS, ROUNDS, SECONDS),
             "mint = no cookie sent; hot = the cookie the variant issued is sent back; "
             "hot/conn = the same, one request per connection (ab without -k; callgrind "
             "only): nothing can be carried over from a previous request on the connection "
             "(mod_idsession skips the HMAC and log id for the token the connection's "
             "previous request already verified, so its keep-alive hot row shows that memo "
             "hit). The issue's targets are for mint and hot."]
    notes += ["%s: %s" % (v.title, v.note) for v in variants if v.note]
    if QUICK:
        notes.append("BENCH_QUICK=1: a smoke run, the numbers are not meaningful.")
    if skipped:
        notes.append("skipped (module not built at %s): %s" % (MODULE, ", ".join(
            v.title for v in skipped)))
    header = "mod_idsession bench, %s, %s, %d cores, %s (%.0f s)" % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), httpdrun.apache_version(),
        os.cpu_count(), os.uname().release, elapsed)
    text = header + "\n\n" + tbl + "\n\n" + "\n".join("- " + n for n in notes) + "\n"
    targets = target_lines(variants, cg, wr) + store_target_lines(cg, wr)
    if targets:
        text += "\nissue 4 targets (informational):\n" + "\n".join("- " + t for t in targets) + "\n"
    if problems:
        text += "\nPROBLEMS:\n" + "\n".join("- " + p for p in problems) + "\n"
    print()
    print(text, end="")
    (OUT / "results.txt").write_text(text)
    (OUT / "results.json").write_text(json.dumps({
        "n": N, "warmup": WARMUP, "rounds": ROUNDS, "seconds": SECONDS,
        "connections": CONNECTIONS, "apache": httpdrun.apache_version(),
        "rows": [{"variant": v.key, "path": p,
                  "instr_per_req": cg.get((v.key, p)),
                  "wrk": wr.get((v.key, p))} for v in variants for p in CG_PATHS],
        "problems": problems}, indent=1) + "\n")
    print("\nwritten: %s, %s" % (OUT / "results.txt", OUT / "results.json"))
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except httpdrun.Interrupted as e:
        sys.exit("bench: interrupted (%s); servers stopped" % e)
