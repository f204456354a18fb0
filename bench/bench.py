#!/usr/bin/python3
"""make bench -- the per-request cost of mod_idsession side by side with httpd alone,
mod_usertrack and mod_session, over HTTP/1.1 and over HTTP/2 + TLS.

Every variant serves the same static 1 KiB file over loopback with keep-alive, on two
paths: "mint" (a request without a cookie) and "hot" (a request with a valid cookie that
the variant itself issued: one request is made first and its Set-Cookie is sent back).
httpd alone (the baseline) ignores cookies, but parsing a longer Cookie header costs it
a few instructions per byte: on every path that sends a cookie ("hot", "hot/conn",
"h2 hot"), a variant is compared with httpd alone sent a Cookie header of exactly the
same length (the first selected variant's own cookie of that length, which httpd alone
ignores). httpd alone is measured once per distinct length, after the variants (whose
cookies are only known once issued), and has one row per length.

1. Instructions per request (primary, deterministic): valgrind --tool=callgrind on
   `apache2 -X` (prefork, one process). After a warm-up of every path the counters are
   zeroed (`callgrind_control -z`), N requests go over one keep-alive connection, and
   `callgrind_control -d` dumps. instr/req = the dump's total Ir / N. Each request is sent
   only once httpd waits for it (run_paced), so httpd reads every request the same way,
   as after a browser's pause; with ab the next request was sometimes already
   there, in a share that changed with the server's own speed. The script checks that
   the dump holds exactly N calls of ap_process_request and that all N answers were 200s
   on the kept connection. A third path, "hot/conn",
   sends the hot cookie with one request per connection (ab without -k), so nothing can
   be reused from the connection's previous request. Run as root, valgrind and
   callgrind_control run as www-data (vgdb cannot reach a valgrind that changed uid).
   The dumps are kept in bench/out/callgrind/ for callgrind_annotate.
2. Throughput: wrk against the event MPM (one server per variant, all running, normal
   daemon mode), interleaved rounds: in each round and path every variant runs once,
   each run between two runs of httpd alone (B V1 B V2 B ...), the order rotating from
   round to round. Reported: the median req/s over the rounds, and the ratio to httpd
   alone = the median over rounds of (variant / the mean of its two neighbouring
   httpd-alone runs), which cancels the drift of the host's load within a round. On a
   hot path the httpd-alone runs around V send a Cookie of V's length (a run between two
   variants whose cookies differ in length is not shared: B V1 B B V2 B).
3. HTTP/2 over TLS (rows "h2 mint" and "h2 hot"; variants with h2=True: httpd alone,
   idsession unsigned, signed, signed + timeouts): every server gets mod_ssl (a throwaway
   self-signed EC P-256 cert) and mod_http2 with `Protocols h2 http/1.1` on its one
   listener. The hot cookie is fetched over TLS (HTTP/1.1) and sent as
   `cookie: other=1; <cookie>`. Callgrind runs `apache2 -X` with the event MPM (mod_http2
   offers no h2 under prefork), and `h2load -n H2_N -c 1 -m 8` sends the requests as
   streams over one TLS connection (its handshake is in the count); the script checks
   that h2 was negotiated, that all H2_N succeeded with 2xx, and that the dump holds H2_N
   calls of ap_process_request (mod_http2 calls it once per stream). Throughput: h2load
   -c CONNECTIONS -m 8 -D SECONDS against the event MPM daemon, interleaved with httpd
   alone exactly as wrk is (measure_throughput serves both tools).

Environment (defaults in brackets):
  BENCH_N [2000]          requests per callgrind measurement (at least 2000 for stable counts)
  BENCH_WARMUP [200]      warm-up requests per path before the counters are zeroed
  BENCH_ROUNDS [5]        wrk and h2load rounds
  BENCH_SECONDS [2]       seconds per wrk or h2load run
  BENCH_CONNECTIONS [8]   wrk and h2load connections (one thread)
  BENCH_H2 [1]            0: no HTTP/2 + TLS rows
  BENCH_H2_N [3000]       requests (streams) per h2 callgrind measurement
  BENCH_H2_REPEAT [5]     h2 callgrind measurements per variant and path (median)
  BENCH_QUICK=1           smoke run: N=300, H2_N=300, 1 round of 1 s (numbers not meaningful)
  BENCH_VARIANTS          comma list of variant keys (default: all), e.g.
                          baseline,ids-unsigned,ids-signed -- baseline is always added
  BENCH_MEASURES          callgrind,wrk,h2load (default all; h2load = h2 throughput)
  BENCH_OUT [bench/out]   where results.txt, results.json and callgrind/ go
  BENCH_PIN [1]           wrk and h2load phases: httpd pinned to CPU 0, the load tool to
                          CPU 1 (taskset)
  BENCH_KEEP=1            keep the generated server roots (/tmp/ids-bench-*)
  IDS_MODULE              the module to load [.libs/mod_idsession.so]
"""

import base64
import datetime
import hashlib
import hmac
import http.client
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
from httpdrun import FILE, MODULE, Server, set_cookies


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = os.environ.get("BENCH_QUICK") == "1"
N = env_int("BENCH_N", 300 if QUICK else 2000)
WARMUP = env_int("BENCH_WARMUP", 50 if QUICK else 200)
ROUNDS = env_int("BENCH_ROUNDS", 1 if QUICK else 5)
SECONDS = env_int("BENCH_SECONDS", 1 if QUICK else 2)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 8)
H2 = os.environ.get("BENCH_H2", "1") != "0"
H2_N = env_int("BENCH_H2_N", 300 if QUICK else 3000)
# h2 counts vary by a few hundred per request from run to run (how streams and TLS
# records batch depends on timing): the median of several measurements is reported.
H2_REPEAT = env_int("BENCH_H2_REPEAT", 1 if QUICK else 5)
H2_STREAMS = 8                  # h2load -m: concurrent streams per connection
MEASURES = set(os.environ.get("BENCH_MEASURES", "callgrind,wrk,h2load").replace(" ", "")
               .split(","))
OUT = Path(os.environ.get("BENCH_OUT", httpdrun.BENCH / "out"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
# wrk phase: httpd on CPU 0, wrk on CPU 1, so that httpd's CPU time limits throughput
# (unpinned, both share the cores and the module's cost is diluted by wrk's own).
PIN = os.environ.get("BENCH_PIN", "1") == "1" and (os.cpu_count() or 1) >= 2
HTTPD_CPUS, WRK_CPUS = ("0", "1") if PIN else (None, None)

# mint: no cookie; hot: the variant's own cookie, keep-alive;
# hot/conn: the same cookie, but one request per connection (ab without -k) -- callgrind
# only. It shows what a module pays when it cannot reuse anything from the connection's
# previous request (mod_idsession remembers the last verified token per connection).
PATHS = ("mint", "hot")
CG_PATHS = ("mint", "hot", "hot/conn")
# HTTP/2 over TLS (h2load): the same two paths; the hot cookie header carries a second
# cookie before the module's, as a browser's often does.
H2_PATHS = ("h2 mint", "h2 hot")
ALL_PATHS = CG_PATHS + H2_PATHS
# The paths that send a cookie: there httpd alone is measured once per Cookie length.
COOKIE_PATHS = ("hot", "hot/conn", "h2 hot")
# The paths without one: all that a mint_only variant is measured on.
MINT_PATHS = ("mint", "h2 mint")
ALNUM = string.ascii_letters + string.digits
SECRET = "".join(secrets.choice(ALNUM) for _ in range(48))
OLD_SECRET = "".join(secrets.choice(ALNUM) for _ in range(48))

# httpd alone's cookie on the hot paths when no selected variant sends one (otherwise it
# is sent each variant's cookie length, see baseline_headers): mod_idsession's unsigned size.
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


def only_mint(mint_only, paths):
    """paths, or only those of them without a cookie when mint_only."""
    return tuple(p for p in paths if not mint_only or p in MINT_PATHS)


class Variant:
    def __init__(self, key, title, modules="", conf="", cookie=None, issue_path=FILE,
                 files=None, needs_module=False, note="", paths=CG_PATHS, wrk=True,
                 secrets=None, renew=False, h2=False, mint_only=False,
                 hot_len=None):
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
        self.paths = only_mint(mint_only, paths)    # the callgrind paths measured
        self.wrk = wrk                  # measured with wrk too
        self.renew = renew              # hot cookie with an old stamp: every request renews
        self.h2 = h2                    # measured over HTTP/2 + TLS too (both measures)
        self.mint_only = mint_only      # only the mint paths, in every measure
        self.hot_len = hot_len          # the hot cookie's value cut or padded to this


# A Set-Cookie of the size mod_idsession sends by default.
FLOOR_COOKIE = ("_session=" + "".join(secrets.choice(ALNUM + "-_") for _ in range(43))
                + "; Path=/; HttpOnly; SameSite=Lax")

# The contract floors' module (built by `make bench`).
FLOOR_MODULE = httpdrun.REPO / "bench" / "floor" / ".libs" / "mod_ids_floor.so"
FLOOR_VARS = "SESSION_TOKEN SESSION_STORE_KEY SESSION_LOG_ID"


def contract_floor(key, title, chars, more_vars="", h2=True, note=""):
    """The contract's floor: a cookie value of chars characters and the variables of a
    session (more_vars after the three every session has)."""
    token = "".join(secrets.choice(ALNUM + "-_") for _ in range(chars))
    return Variant(key, title, modules="LoadModule ids_floor_module %s\n" % FLOOR_MODULE,
                   conf="IDSFloorToken %s\nIDSFloorVars %s %s\n" % (token, FLOOR_VARS,
                                                                   more_vars),
                   cookie="_session", h2=h2, note=note)


# Each variant's contract floor (below: cookie values as long as the variant's, 43
# characters unsigned, a 22-character tag more signed, a 43-character stamp more with
# timeouts, and the same variables).
FLOORS = {"ids-unsigned": "contract-unsigned", "ids-signed": "contract-signed",
          "ids-timeouts": "contract-timeouts"}

VARIANTS = [
    Variant("baseline", "httpd alone", h2=True,
            note="on hot, hot/conn and h2 hot, measured once per Cookie length that the "
                 "variants send (one row each), with the first such variant's cookie, "
                 "which it ignores; each variant's extra and ratio on those paths are "
                 "against httpd alone sent a Cookie header of the same length"),
    Variant("floor", "two fixed headers",
            modules="LoadModule headers_module {moddir}/mod_headers.so\n",
            conf='Header always set Set-Cookie "%s"\n'
                 'Header always set Cache-Control "private"\n' % FLOOR_COOKIE,
            h2=True, mint_only=True,
            note="mod_headers sets a fixed Set-Cookie of mod_idsession's size and "
                 "Cache-Control: private on every response, and nothing else: what httpd "
                 "spends to send the two headers that every minted response carries "
                 "(mint paths only); its throughput ratio is the most that any module "
                 "sending them can reach on a mint path"),
    Variant("usertrack", "mod_usertrack",
            modules="LoadModule usertrack_module {moddir}/mod_usertrack.so\n",
            # Its values vary in length (the time's digits), and it accepts any:
            # every measure sends one of the same length.
            conf="CookieTracking on\n", cookie="Apache", hot_len=24),
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
    contract_floor(
        "contract-unsigned", "contract floor, unsigned", 43,
        note="bench/floor/mod_ids_floor.c: only what no implementation of the contract can "
             "skip, each through the cheapest httpd call. With its cookie: the Cookie header "
             "found and the value compared with a fixed one, SESSION_TOKEN, "
             "SESSION_STORE_KEY and SESSION_LOG_ID in r->notes and r->subprocess_env, one "
             "output filter that takes IDSession-Reset off the response. Without: the "
             "same, SESSION_TOKEN_NEW, a fixed Set-Cookie and Cache-Control: private; the "
             "token is not minted nor hashed (add the SHA-256 blocks, as for the mint "
             "targets). No check, memo, state, subrequests, redirects, error responses, "
             "counters or logs. Over h2 it leaves its notes in mod_http2's copies of them, "
             "which the module avoids"),
    contract_floor("contract-signed", "contract floor, signed", 66, "SESSION_KEY_INDEX",
                   note="the same, with a signed cookie's length and SESSION_KEY_INDEX"),
    contract_floor("contract-timeouts", "contract floor, timeouts", 110,
                   "SESSION_KEY_INDEX SESSION_CREATED SESSION_EXPIRES",
                   note="the same, with a stamped cookie's length, SESSION_KEY_INDEX, "
                        "SESSION_CREATED and SESSION_EXPIRES"),
    Variant("ids-unsigned", "idsession unsigned", modules=IDS_LOAD,
            conf="IDSession On\n", cookie="_session", needs_module=True, h2=True),
    Variant("ids-signed", "idsession signed", modules=IDS_LOAD,
            conf="IDSession On\nIDSessionSecret file:secret\n",
            secrets={"secret": SECRET}, cookie="_session", needs_module=True, h2=True),
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
            needs_module=True, h2=True,
            note="IDSessionIdleTimeout 1800, IDSessionMaxLifetime 43200: the cookie is "
                 "token.stamp"),
    Variant("ids-renew", "idsession timeouts, renewal", modules=IDS_LOAD,
            conf=TIMEOUTS_CONF, secrets={"secret": SECRET}, cookie="_session",
            needs_module=True, paths=("hot",), wrk=False, renew=True,
            note="the hot cookie's stamp is 400 s old (renew interval 300 s), so every "
                 "request verifies it and answers with a renewed one (callgrind only)"),
]


# -- revocation stores -----------------------------------------------------------

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

# The noise of the throughput ratios: idsession unsigned again, on a second server of the
# same configuration, whose ratio to the first shows what "no difference" measures as in
# this run (throughput only).
VARIANTS.append(
    Variant("ids-unsigned-twin", "idsession unsigned, again", modules=IDS_LOAD,
            conf="IDSession On\n", cookie="_session", needs_module=True, paths=(),
            note="the same configuration as idsession unsigned on a second server, "
                 "throughput only: its ratio to idsession unsigned (in targets) is what "
                 "no difference measures as in this run, the noise every ratio carries"))

# Store budgets, against the same configuration without a store.
STORE_TARGETS = {"ids-shmcb": (2500, 0.95), "ids-redis": (None, 0.80),
                 "ids-redis-reuse": (None, 0.80)}


def store_target_lines(cg, wr):
    out = []
    for p in PATHS:
        twin, one = wr.get(("ids-unsigned-twin", p)), wr.get(("ids-unsigned", p))
        if twin and one:
            out.append("noise, %s: idsession unsigned on a second server vs the first: "
                       "wrk %.3f (identical configurations)" % (p, twin["ratio"] / one["ratio"]))
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

def fetch_hot_cookie(v, server, problems):
    """Ask the variant for a cookie and check that it is then accepted without a new one
    (over HTTP/1.1, on TLS when the server has it)."""
    if v.cookie is None:
        return BASELINE_COOKIE
    status, headers, _ = server.get(v.issue_path)
    mine = [c for c in set_cookies(headers) if c.split("=", 1)[0] == v.cookie]
    if status != 200 or not mine:
        raise RuntimeError("%s: %s gave status %d and no %s cookie (headers: %s)"
                           % (v.title, v.issue_path, status, v.cookie, headers))
    cookie = old_stamp(mine[0]) if v.renew else mine[0]
    if v.hot_len:
        name, value = cookie.split("=", 1)
        cookie = name + "=" + (value + "0" * v.hot_len)[:v.hot_len]
    status, headers, _ = server.get(FILE, {"Cookie": cookie})
    again = [c for c in set_cookies(headers) if c.split("=", 1)[0] == v.cookie]
    if status != 200:
        raise RuntimeError("%s: hot request answered %d" % (v.title, status))
    if v.renew and (not again or again[0].split(".")[0] != cookie.split(".")[0]):
        problems.append("%s: the old stamp was not renewed with the same token" % v.title)
    elif again and not v.renew:
        problems.append("%s: the hot path answers with a new cookie (%s...)"
                        % (v.title, again[0][:20]))
    status, headers, _ = server.get(FILE)
    minted = [c for c in set_cookies(headers) if c.split("=", 1)[0] == v.cookie]
    if v.issue_path == FILE and not minted:
        problems.append("%s: the mint path issued no cookie" % v.title)
    return cookie


# -- load tools -----------------------------------------------------------------------------

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


# The system calls in which httpd's one thread waits for a client's next request
# (x86_64): poll and ppoll on a kept connection; accept and accept4 for a new one, where
# the kernel hands httpd the connection only once its first data has come (httpd's
# AcceptFilter, TCP_DEFER_ACCEPT).
IDLE_SYSCALLS = {"7", "271", "43", "288"}


def httpd_idle(pid):
    """True while every thread of process pid waits for a request."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        return all(open("/proc/%d/task/%s/syscall" % (pid, t)).read().split(" ", 1)[0]
                   in IDLE_SYSCALLS for t in tasks)
    except OSError:
        return False


def run_paced(server, n, cookie=None):
    """n requests over one keep-alive connection to the callgrind server, each sent only
    once httpd waits for it again: its work on the previous request is done, so its
    check for a pipelined request finds none and it reads the next one the same way
    every time, as after a browser's pause. With ab, whether the next request had
    already arrived when httpd looked depended on how fast httpd was, so httpd alone and
    a variant took different paths through the read code (a few hundred instructions
    apart) in proportions that changed with the variant's own cost."""
    pid = server.pid()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        for i in range(n):
            deadline = time.monotonic() + 120
            while not httpd_idle(pid):
                if time.monotonic() > deadline:
                    raise RuntimeError("%s: httpd did not wait for request %d"
                                       % (server.name, i + 1))
            # One send: the request line, Host, then these, as ab sent them.
            conn.putrequest("GET", FILE, skip_accept_encoding=True)
            conn.putheader("User-Agent", "idsession-bench")
            conn.putheader("Accept", "*/*")
            if cookie:
                conn.putheader("Cookie", cookie)
            conn.endheaders()
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200 or resp.will_close:
                raise RuntimeError("%s: request %d: %d%s" % (
                    server.name, i + 1, resp.status,
                    ", and the connection closes" if resp.will_close else ""))
    finally:
        conn.close()


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


def run_h2load(url, cookie=None, n=None, seconds=None, clients=1, cpus=None):
    """h2load over TLS, -n n requests or -D seconds, `clients` connections with H2_STREAMS
    streams each -> (req/s, {total, started, done, succeeded, failed, errored, timeout,
    2xx, non2xx}). Raises unless h2 was negotiated (and, for -n, unless all n succeeded
    with 2xx)."""
    cmd = ((["taskset", "-c", cpus] if cpus else [])
           + ["h2load", "-t", "1", "-c", str(clients), "-m", str(H2_STREAMS)]
           + (["-D", str(seconds)] if seconds else ["-n", str(n)]))
    if cookie:
        cmd += ["-H", "cookie: " + cookie]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=(seconds or 0) + 600)
    out = p.stdout + p.stderr
    got = {}
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out, re.M)
    if m:
        got = dict(zip(("total", "started", "done", "succeeded", "failed", "errored",
                        "timeout"), map(int, m.groups())))
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out, re.M)
    if m:
        got["2xx"] = int(m.group(1))
        got["non2xx"] = sum(int(x) for x in m.groups()[1:])
    proto = re.search(r"^Application protocol: (\S+)", out, re.M)
    rate = re.search(r"^finished in [^,]+, ([\d.]+) req/s", out, re.M)
    ok = p.returncode == 0 and proto and proto.group(1) == "h2" and rate and len(got) == 9
    if ok and n is not None:
        ok = (got["total"] == n and got["succeeded"] == n and got["2xx"] == n
              and got["failed"] == got["errored"] == got["timeout"] == 0)
    if not ok:
        raise RuntimeError("h2load did not %s over h2: %s\n%s" % (
            "complete %d clean requests" % n if n is not None else "run", got, out[-2000:]))
    return float(rate.group(1)), got


class Http1:
    """HTTP/1.1 rows: callgrind on prefork -X driven by ab, throughput with wrk."""
    name = "HTTP/1.1"
    tls = False
    cg_mpm = httpdrun.MPM_PREFORK_X
    tool = "wrk"
    paths = PATHS                       # the throughput paths

    @staticmethod
    def repeat():
        return 1

    @staticmethod
    def n():
        return N

    @staticmethod
    def cg_paths(v):
        return v.paths

    @staticmethod
    def variants(variants, measure):
        return [v for v in variants if v.wrk] if measure == "throughput" else variants

    @staticmethod
    def cookie(path, cookie):
        return None if path == "mint" else cookie

    @staticmethod
    def drive(server, path, cookie, n):
        if path == "hot/conn":
            run_ab(server.port, n, cookie, keepalive=False)
        else:
            run_paced(server, n, cookie)

    @staticmethod
    def throughput(server, cookie, seconds):
        return run_wrk(server.port, cookie, seconds)


class Http2:
    """h2 rows over TLS: callgrind on event -X (mod_http2 offers no h2 under prefork)
    driven by h2load -c 1 -m 8 (one connection), throughput with h2load -c CONNECTIONS.
    mod_http2 runs each stream's request on a secondary connection through
    ap_process_request too, so the dump's count of it is checked as for HTTP/1.1."""
    name = "h2"
    tls = True
    cg_mpm = httpdrun.MPM_EVENT_X
    tool = "h2load"
    paths = H2_PATHS

    @staticmethod
    def repeat():
        return H2_REPEAT

    @staticmethod
    def n():
        return H2_N

    @staticmethod
    def cg_paths(v):
        return only_mint(v.mint_only, H2_PATHS)

    @staticmethod
    def variants(variants, measure):
        return [v for v in variants if v.h2]

    @staticmethod
    def cookie(path, cookie):
        return None if path == "h2 mint" else "other=1; " + cookie

    @staticmethod
    def drive(server, path, cookie, n):
        run_h2load(server.url(), cookie, n=n)

    @staticmethod
    def throughput(server, cookie, seconds):
        rate, got = run_h2load(server.url(), cookie, seconds=seconds, clients=CONNECTIONS,
                               cpus=WRK_CPUS)
        return rate, got["failed"] + got["errored"] + got["timeout"] + got["non2xx"]


# -- callgrind ------------------------------------------------------------------------------

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


def measure_callgrind(v, proto, problems, base_headers=None):
    """Callgrind instr/req of v on proto's paths -> ({row: instr/req}, {row: [the
    measurements]} (when proto repeats), {path: the Cookie header value sent or None}).
    A row is (v.key, path); for httpd alone, base_headers ({(path, length): Cookie
    header}, see baseline_headers) gives its cookie paths, each a row (v.key, path,
    length), and its paths without a cookie are rows (v.key, path)."""
    s = Server(v.key + "-cg-" + proto.tool, proto.cg_mpm, modules=v.modules, extra=v.conf,
               files=v.files, secrets=v.secrets, mode="callgrind", tls=proto.tls)
    t0 = time.monotonic()
    n = proto.n()
    s.start()
    try:
        if base_headers is None:
            cookie = fetch_hot_cookie(v, s, problems)
            jobs = [((v.key, p), p, proto.cookie(p, cookie)) for p in proto.cg_paths(v)]
        else:
            jobs = ([((v.key, p), p, None) for p in proto.cg_paths(v) if p not in COOKIE_PATHS]
                    + [((v.key, p, length), p, header)
                       for (p, length), header in base_headers.items()])
        for _, path, header in jobs:             # warm up every code path
            proto.drive(s, path, header, WARMUP)
        result, runs_of = {}, {}
        known = set()
        for row, path, header in jobs:
            runs = []
            for _ in range(proto.repeat()):
                callgrind_control(s, "-z")
                proto.drive(s, path, header, n)
                callgrind_control(s, "-d")
                dump = wait_for_dump(s, known)
                known.add(dump.name)
                total, calls = parse_dump(dump)
                if calls != n:
                    problems.append("%s %s: the dump holds %d calls of ap_process_request, "
                                    "not %d" % (v.title, row_label(row), calls, n))
                runs.append(total / n)
            result[row] = statistics.median(runs)
            if len(runs) > 1:
                runs_of[row] = runs
            dest = OUT / "callgrind" / ("%s.%s.callgrind" % (v.key, re.sub(
                r"\W", "-", path if len(row) == 2 else "%s.cookie%d" % (path, row[2]))))
            shutil.copyfile(dump, dest)
        s.stop()
        errs = s.log_problems()
        if errs:
            problems.append("%s (callgrind %s): error log: %s" % (v.title, proto.name, errs[0]))
        log("  callgrind %-24s %s instr/req   (%.0f s)" % (
            v.title, "  ".join("%s %.0f" % (row_label(row), result[row]) for row, _, _ in jobs),
            time.monotonic() - t0))
        return result, runs_of, {path: header for row, path, header in jobs if len(row) == 2}
    except RuntimeError as e:
        raise RuntimeError("%s\n%s: error log:\n%s" % (e, s.name, s.error_log()[-3000:]))
    finally:
        s.stop()


def baseline_headers(proto, paths, sent):
    """{(path, length): Cookie header value} that httpd alone is sent on its cookie paths:
    one per path and length among sent ({(variant key, path): the header value it sent,
    None for none}), the first variant's header of that length; when no variant sends a
    cookie, BASELINE_COOKIE on those of paths that send one."""
    out = {}
    for (_, path), header in sent.items():
        if header is not None:
            out.setdefault((path, len(header)), header)
    if not out:
        for path in paths:
            if path in COOKIE_PATHS:
                header = proto.cookie(path, BASELINE_COOKIE)
                out[(path, len(header))] = header
    return out


def base_row(path, length):
    """httpd alone's row that a variant's row on path, sent a Cookie header value of
    length bytes (None: no cookie), is compared with."""
    return ("baseline", path) if length is None else ("baseline", path, length)


def path_label(path, length):
    """A path as the table shows it: "hot (cookie 52 B)" when a Cookie of length bytes
    is sent."""
    return path if length is None else "%s (cookie %d B)" % (path, length)


def row_label(row):
    """A row's path as the table shows it."""
    return path_label(row[1], row[2] if len(row) == 3 else None)


def note_sent(sent, key, path, header, problems):
    """Records in sent {(variant key, path): length} the Cookie header value's length that
    a variant sent on path (None: no cookie); the callgrind and throughput servers of a
    variant must send the same length, as the rows share httpd alone's."""
    length = None if header is None else len(header)
    if sent.get((key, path), length) != length:
        problems.append("%s %s: Cookie of %s bytes in one measure, %s in another"
                        % (key, path, sent[(key, path)], length))
    sent.setdefault((key, path), length)


# -- throughput -----------------------------------------------------------------------------

def tp_paths(v, proto):
    """The throughput paths of v."""
    return only_mint(v.mint_only, proto.paths)


def measure_throughput(variants, proto, problems, sent):
    """proto.tool's req/s of every variant on proto.paths, interleaved with httpd alone
    (variants[0]) -> {row: {"median", "ratio", "runs"}}, rows as measure_callgrind's; the
    Cookie lengths sent go to sent (see note_sent)."""
    servers = {}
    cookies = {}
    for v in variants:
        s = Server(v.key + "-" + proto.tool, httpdrun.MPM_EVENT_BENCH, modules=v.modules,
                   extra=v.conf, files=v.files, secrets=v.secrets, cpus=HTTPD_CPUS,
                   tls=proto.tls)
        s.start()
        servers[v.key] = s
        cookies[v.key] = fetch_hot_cookie(v, s, [])
    base = variants[0]
    others = variants[1:]
    header = {(v.key, p): proto.cookie(p, cookies[v.key])
              for v in others for p in tp_paths(v, proto)}
    for (key, p), h in header.items():
        note_sent(sent, key, p, h, problems)
    base_headers = baseline_headers(proto, proto.paths, header)

    def base_header(v, path):
        """What httpd alone is sent around v's runs on path (v None: when it runs alone)."""
        if v is None:
            return next((h for (p, _), h in base_headers.items() if p == path), None)
        h = header[(v.key, path)]
        return None if h is None else base_headers[(path, len(h))]

    rps = {}

    def one(v, path, h, seconds=SECONDS):
        x, errs = proto.throughput(servers[v.key], h, seconds)
        if errs and seconds == SECONDS:
            problems.append("%s %s: %s saw %d socket errors or non-2xx answers"
                            % (v.title, path, proto.tool, errs))
        if seconds == SECONDS:
            row = ((v.key, path) if v is not base
                   else base_row(path, None if h is None else len(h)))
            rps.setdefault(row, []).append(x)
        return x

    def on(path, vs):
        """Those of vs measured on path."""
        return [v for v in vs if path in tp_paths(v, proto)]

    for path in proto.paths:                         # warm-up, not recorded
        for h in {base_header(v, path) for v in on(path, others) or [None]}:
            one(base, path, h, 1)
        for v in on(path, others):
            one(v, path, header[(v.key, path)], 1)
    # Every run of a variant sits between two runs of httpd alone (B V1 B V2 B ...), and
    # its ratio is taken to the mean of those two neighbours, seconds apart: the load of
    # this VM's host drifts by several % within a round, which a ratio to a baseline run
    # half a minute away would take for the module's cost. Those runs send V's Cookie
    # length, so a run of httpd alone is shared by two neighbours only when their cookies
    # have the same length (B V1 B B V2 B otherwise).
    ratios = {(v.key, p): [] for v in others for p in tp_paths(v, proto)}
    for r in range(ROUNDS):
        order = others[r % len(others):] + others[:r % len(others)] if others else []
        paths = proto.paths if r % 2 == 0 else tuple(reversed(proto.paths))
        for path in paths:
            before = None                            # (header, req/s) of httpd alone's last run
            for v in on(path, order) or [None]:
                h = base_header(v, path)
                if before is None or before[0] != h:
                    before = (h, one(base, path, h))
                if v is None:
                    continue
                x = one(v, path, header[(v.key, path)])
                after = one(base, path, h)
                ratios[(v.key, path)].append(x / ((before[1] + after) / 2))
                before = (h, after)
        log("  %s round %d/%d: %s" % (proto.tool, r + 1, ROUNDS, "  ".join(
            "%s %s %.0f (%.3f)" % (v.key, p, rps[(v.key, p)][-1], ratios[(v.key, p)][-1])
            for p in proto.paths for v in others if (v.key, p) in ratios)))
    for v in variants:
        s = servers[v.key]
        s.stop()
        errs = s.log_problems()
        if errs:
            problems.append("%s (%s): error log: %s" % (v.title, proto.tool, errs[0]))
    return {row: {"median": statistics.median(runs),
                  "ratio": statistics.median(ratios[row]) if row in ratios else 1.0,
                  "runs": runs} for row, runs in rps.items()}


# -- report ---------------------------------------------------------------------------------

def fmt_int(x):
    return "-" if x is None else "{:,.0f}".format(x)


def fmt_extra(x):
    return "-" if x is None else "{:+,.0f}".format(x)


def report_rows(variants, cg, wr, sent):
    """The measured rows in the table's order -> [(variant, row, path, Cookie length or
    None)]: each variant's paths; httpd alone's cookie paths once per length, shortest
    first."""
    out = []
    for v in variants:
        for p in ALL_PATHS:
            if v.key == "baseline":
                rows = [(v.key, p)] + sorted(r for r in set(cg) | set(wr)
                                             if len(r) == 3 and r[:2] == (v.key, p))
            else:
                rows = [(v.key, p)]
            for row in rows:
                if row in cg or row in wr:
                    out.append((v, row, p, row[2] if len(row) == 3 else sent.get(row)))
    return out


def extra_of(cg, sent, row):
    """A variant's instr/req minus that of httpd alone on the same path with a Cookie of
    the same length (None when either is missing, and for httpd alone's own rows)."""
    if row[0] == "baseline" or row not in cg:
        return None
    base = cg.get(base_row(row[1], sent.get(row)))
    return None if base is None else cg[row] - base


def table(variants, cg, wr, sent):
    head = ("variant", "path", "instr/req", "extra vs httpd alone", "req/s (median)", "ratio")
    rows = []
    for v, row, p, length in report_rows(variants, cg, wr, sent):
        w = wr.get(row)
        rows.append((v.title, path_label(p, length),
                     fmt_int(cg.get(row)),
                     "-" if v.key == "baseline" else fmt_extra(extra_of(cg, sent, row)),
                     "-" if w is None else "{:,.0f}".format(w["median"]),
                     "-" if w is None else "%.3f" % w["ratio"]))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    align = ["<", "<", ">", ">", ">", ">"]

    def line(r):
        return "| " + " | ".join("{:{}{}}".format(c, a, w) for c, a, w in zip(r, align, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) if a == "<" else "-" * (w + 1) + ":"
                         for w, a in zip(widths, align)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


# Budgets: extra instructions per request over httpd alone on the hot paths, HTTP/1.1
# keep-alive and h2 + TLS; and the throughput ratio on every path.
TARGETS = {("ids-unsigned", "hot"): 1000, ("ids-signed", "hot"): 1200,
           ("ids-timeouts", "hot"): 1300,
           ("ids-unsigned", "h2 hot"): 1500, ("ids-signed", "h2 hot"): 1500}
# The mint paths (HTTP/1.1): within 1,000 of the floor, which is the two-fixed-headers
# row plus the SHA-256 blocks that the token needs, 2,040 instructions each under
# valgrind: the store key's one, the tag's two and the longer store key's one more when
# signed, the stamp's three with timeouts.
MINT_BLOCKS = {"ids-unsigned": 1, "ids-signed": 4, "ids-timeouts": 7}
SHA256_BLOCK_INSTR = 2040
MINT_MARGIN = 1000
RATIO_TARGET = 0.97


def budget_of(v, p, cg, sent):
    """(limit, how it is made up) for v's extra on path p, or None without a budget
    (or without the rows it is made of): TARGETS; the mint floor; a renewal costs no
    more than the signed mint."""
    if (v.key, p) in TARGETS:
        limit = TARGETS[(v.key, p)]
        return limit, "{:,}".format(limit)
    floor = extra_of(cg, sent, ("floor", "mint"))
    if p == "mint" and v.key in MINT_BLOCKS and floor is not None:
        blocks = MINT_BLOCKS[v.key]
        limit = floor + blocks * SHA256_BLOCK_INSTR + MINT_MARGIN
        return limit, "floor {:,.0f} + {} x {:,} + {:,} = {:,.0f}".format(
            floor, blocks, SHA256_BLOCK_INSTR, MINT_MARGIN, limit)
    signed_mint = extra_of(cg, sent, ("ids-signed", "mint"))
    if v.key == "ids-renew" and p == "hot" and signed_mint is not None:
        return signed_mint, "the signed mint path's {:,.0f}".format(signed_mint)
    return None


def target_lines(variants, cg, wr, sent):
    out = []
    for v in variants:
        for p in PATHS + H2_PATHS:
            budget = budget_of(v, p, cg, sent)
            extra = extra_of(cg, sent, (v.key, p))
            if budget is not None and extra is not None:
                floor = (extra_of(cg, sent, (FLOORS[v.key], p))
                         if v.key in FLOORS else None)
                if floor is not None and p in MINT_PATHS:
                    floor += MINT_BLOCKS[v.key] * SHA256_BLOCK_INSTR
                out.append("%s %s: extra %s, target <= %s: %s%s" % (
                    v.title, p, fmt_extra(extra), budget[1],
                    "met" if extra <= budget[0] else "MISSED",
                    "" if floor is None else " (the contract's floor there%s: %s%s)"
                    % (", with the SHA-256 blocks" if p in MINT_PATHS else "",
                       fmt_extra(floor), ", naive about mod_http2's copy of the notes"
                       if p in H2_PATHS else "")))
            if v.key == "floor" and wr.get((v.key, p)) is not None:
                out.append("%s %s: %s ratio %.3f: the most that a module sending "
                           "those two headers can reach there" % (
                               v.title, p, Http2.tool if p in H2_PATHS else Http1.tool,
                               wr[(v.key, p)]["ratio"]))
            if (v.needs_module and v.key != "ids-unsigned-twin"
                    and wr.get((v.key, p)) is not None):
                r = wr[(v.key, p)]["ratio"]
                out.append("%s %s: %s ratio %.3f, target >= %.2f: %s" % (
                    v.title, p, Http2.tool if p in H2_PATHS else Http1.tool, r,
                    RATIO_TARGET, "met" if r >= RATIO_TARGET else "MISSED"))
    return out


def per_byte_notes(cg):
    """What httpd alone spends per byte of Cookie, from its shortest and longest cookie on
    each path."""
    out = []
    for p in COOKIE_PATHS:
        rows = sorted(r for r in cg if r[0] == "baseline" and len(r) == 3 and r[1] == p)
        if len(rows) > 1 and rows[-1][2] > rows[0][2]:
            out.append("httpd alone, %s: %+.1f instr/req per byte of Cookie (%d B to %d B)"
                       % (p, (cg[rows[-1]] - cg[rows[0]]) / (rows[-1][2] - rows[0][2]),
                          rows[0][2], rows[-1][2]))
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
    # cg, cg_runs, wr: {row: instr/req, [h2 measurements], {"median", "ratio", "runs"}};
    # a row is (variant key, path), or (baseline, path, Cookie length) on httpd alone's
    # cookie paths. sent: {(variant key, path): the length of the Cookie it sends}.
    cg, wr, cg_runs, sent = {}, {}, {}, {}
    protos = [Http1, Http2] if H2 else [Http1]
    try:
        if "callgrind" in MEASURES:
            log("callgrind: apache2 -X (prefork), %d warm-up + %d measured requests per path, "
                "one keep-alive connection, each request sent once httpd waits for it"
                % (WARMUP, N))
            if H2:
                log("  h2: apache2 -X (event), TLS, %d warm-up + %d measured requests per "
                    "path, h2load -c 1 -m %d, median of %d" % (WARMUP, H2_N, H2_STREAMS,
                                                               H2_REPEAT))
            for proto in protos:
                # The variants first: httpd alone's cookie paths are measured with each
                # length of Cookie that they send.
                base, *others = proto.variants(variants, "callgrind")
                headers = {}
                for v in others:
                    if not proto.cg_paths(v):
                        continue
                    r, runs, hdrs = measure_callgrind(v, proto, problems)
                    cg.update(r)
                    cg_runs.update(runs)
                    for p, h in hdrs.items():
                        headers[(v.key, p)] = h
                        note_sent(sent, v.key, p, h, problems)
                r, runs, _ = measure_callgrind(base, proto, problems, baseline_headers(
                    proto, proto.cg_paths(base), headers))
                cg.update(r)
                cg_runs.update(runs)
        for proto in protos:
            tp_variants = proto.variants(variants, "throughput")
            if proto.tool not in MEASURES:
                continue
            log("%s: event MPM%s, %d rounds x %d s, %d connections, B V1 B V2 B ..."
                % (proto.tool, ", TLS" if proto.tls else "", ROUNDS, SECONDS, CONNECTIONS))
            wr.update(measure_throughput(tp_variants, proto, problems, sent))
    finally:
        stop_errors = httpdrun.stop_all(keep=KEEP)
    problems += stop_errors
    elapsed = time.monotonic() - started

    tbl = table(variants, cg, wr, sent)
    notes = ["instr/req: callgrind Ir per request on apache2 -X (prefork), N=%d after %d "
             "warm-up requests per path, one keep-alive connection, each request sent "
             "once httpd waits for it; "
             "extra = instr/req - httpd alone's on the same path, and on hot, hot/conn and "
             "h2 hot httpd alone's sent a Cookie header of the same length as the "
             "variant's (the length in bytes of the header's value is in the path "
             "column)." % (N, WARMUP),
             "req/s: wrk -t1 -c%d%s; event MPM, one child with 32 threads per variant%s, "
             "%d rounds of %d s runs, each variant's run between two runs of httpd alone "
             "(B V1 B V2 B ...), which on hot and h2 hot send a Cookie of the variant's "
             "length; ratio = median over rounds of (variant / mean of its two "
             "neighbouring httpd-alone runs)." % (
                 CONNECTIONS, " (HTTP/1.1 rows), h2load -t 1 -c %d -m %d over TLS (h2 rows)"
                 % (CONNECTIONS, H2_STREAMS) if H2 else "",
                 ", httpd on CPU %s and the load tool on CPU %s" % (HTTPD_CPUS, WRK_CPUS)
                 if PIN else "", ROUNDS, SECONDS),
             "mint = no cookie sent; hot = the cookie the variant issued is sent back; "
             "hot/conn = the same, one request per connection (ab without -k; callgrind "
             "only): nothing can be carried over from a previous request on the connection "
             "(mod_idsession skips the HMAC and log id for the token the connection's "
             "previous request already verified, so its keep-alive hot row shows that memo "
             "hit). The targets are for mint and hot."]
    if H2:
        notes.append(
            "h2 mint, h2 hot: HTTP/2 over TLS 1.3 (mod_ssl + mod_http2, self-signed EC P-256 "
            "cert); instr/req on apache2 -X with the event MPM (mod_http2 refuses h2 under "
            "prefork), N=%d after %d warm-up requests per path, h2load -n N -c 1 -m %d: one "
            "TLS connection, whose handshake is in the count. The hot request sends "
            "`cookie: other=1; <the variant's cookie>`. The count includes every thread's "
            "(the listener's, mod_http2's workers'); it holds N calls of ap_process_request, "
            "one per stream. Each figure is the median of %d measurements on one server: "
            "h2 counts move by a few hundred from run to run, as the batching of streams "
            "into TLS records depends on timing (HTTP/1.1's by under 10)."
            % (H2_N, WARMUP, H2_STREAMS, H2_REPEAT))
    notes += ["%s: %s" % (v.title, v.note) for v in variants if v.note]
    notes += per_byte_notes(cg)
    if QUICK:
        notes.append("BENCH_QUICK=1: a smoke run, the numbers are not meaningful.")
    if skipped:
        notes.append("skipped (module not built at %s): %s" % (MODULE, ", ".join(
            v.title for v in skipped)))
    header = "mod_idsession bench, %s, %s, %d cores, %s (%.0f s)" % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), httpdrun.apache_version(),
        os.cpu_count(), os.uname().release, elapsed)
    text = header + "\n\n" + tbl + "\n\n" + "\n".join("- " + n for n in notes) + "\n"
    targets = target_lines(variants, cg, wr, sent) + store_target_lines(cg, wr)
    if targets:
        text += "\ntargets (informational):\n" + "\n".join("- " + t for t in targets) + "\n"
    if problems:
        text += "\nPROBLEMS:\n" + "\n".join("- " + p for p in problems) + "\n"
    print()
    print(text, end="")
    (OUT / "results.txt").write_text(text)
    (OUT / "results.json").write_text(json.dumps({
        "n": N, "h2_n": H2_N if H2 else None, "h2_streams": H2_STREAMS, "warmup": WARMUP,
        "rounds": ROUNDS, "seconds": SECONDS,
        "connections": CONNECTIONS, "apache": httpdrun.apache_version(),
        # One row per table row: variant (key), path, cookie_bytes (the length of the
        # Cookie header's value sent on that path, null for none; httpd alone has a row
        # per length), instr_per_req (callgrind, null if not measured),
        # instr_per_req_runs (h2: the measurements of which it is the median), extra
        # (instr_per_req minus httpd alone's with the same path and cookie_bytes), and
        # wrk (HTTP/1.1) or h2load (h2): {median req/s, ratio to httpd alone, runs}.
        "rows": [{"variant": v.key, "path": p, "cookie_bytes": length,
                  "instr_per_req": cg.get(row), "instr_per_req_runs": cg_runs.get(row),
                  "extra": extra_of(cg, sent, row),
                  (Http2.tool if p in H2_PATHS else Http1.tool): wr.get(row)}
                 for v, row, p, length in report_rows(variants, cg, wr, sent)],
        "problems": problems}, indent=1) + "\n")
    print("\nwritten: %s, %s" % (OUT / "results.txt", OUT / "results.json"))
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except httpdrun.Interrupted as e:
        sys.exit("bench: interrupted (%s); servers stopped" % e)
