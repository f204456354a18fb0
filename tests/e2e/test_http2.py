"""HTTP/2 over TLS: many streams of one connection, each with its own cookie, run on
mod_http2's worker threads at once (each stream on a secondary connection of the one
client connection). Whatever the module keeps per connection to skip a verification, no
stream may ever see another stream's token, store key or stamp times.

One curl process per batch of requests (Httpd.curl_many: a transfer per request, each
with its own Cookie header, --parallel over one HTTP/2 connection per host name). That
each host name had one connection is checked on both sides (curl's num_connects and
local port, the server's %{remote}p); that the streams ran at once on several threads,
from the thread ids and times of the fixups hook (mod_log_debug's LogMessage in the
error log), the hook where mod_idsession reads and writes what it keeps. Every response
echoes its own query string and Cookie header, so a response is tied to the request it
answers, and SESSION_STORE_KEY / SESSION_LOG_ID are recomputed from the echoed token (a
store key from another stream is caught even when the token is right). Under
IDS_VALGRIND the server is the event MPM in one process (`-X`) under memcheck, with the
same streams."""

import base64
import datetime
import hashlib
import re
import random
import struct
import time

import pytest

from idshttpd import UNSET, VALGRIND, log_id, signed, signed_by, stamp, tag, token, token_re

NAME = "_session"
SECRET = "h2-file-secret-0123456789-abcdefghijklmnopqrstuv"
OTHER = "a-secret-this-server-never-saw-0123456789-wxyzAB"
IDLE = 1800

# Streams of one connection: mod_http2 allows 100 at once (H2MaxSessionStreams), as does
# curl, which opens a second connection past that: --parallel-max stays at 100.
STREAMS = 200
PARALLEL = 100

CONF = r"""
H2MinWorkers 4
H2MaxWorkers 8
LogFormat "%q %{remote}p %H" h2log
CustomLog "@ROOT@/logs/h2_log" h2log
CustomLog "@ROOT@/logs/h2_notes" "%q %{SESSION_LOG_ID}n %{SESSION_STORE_KEY}n %{SESSION_KEY_INDEX}n"
LogLevel log_debug:info
LogMessage "h2-fixups %{QUERY_STRING}" hook=fixups
<Directory "@DOCROOT@">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
<Location /plain>
    IDSession On
    Header always set X-Log-Id "expr=%{note:SESSION_LOG_ID}"
</Location>
<Location /signed>
    IDSession On
    IDSessionSecret file:conf/h2-secret
</Location>
<Location /timed>
    IDSession On
    IDSessionSecret file:conf/h2-secret
    IDSessionIdleTimeout 1800
</Location>
"""

VARS = ["QUERY_STRING", "SERVER_PROTOCOL", "HTTP_COOKIE", "SESSION_TOKEN", "SESSION_TOKEN_NEW",
        "SESSION_STORE_KEY", "SESSION_LOG_ID", "SESSION_CREATED", "SESSION_EXPIRES"]

ECHO_SHTML = '<!--#config echomsg="%s" -->' % UNSET + "".join(
    '%s=<!--#echo var="%s" encoding="none" -->\n' % (v, v) for v in VARS)

ECHO_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in %s; do
    eval "printf '%%s=%%s\\n' $v \\"\\${$v-<unset>}\\""
done
""" % " ".join(VARS)

# A LogMessage line: time, thread id, the request's query string.
FIXUPS_LINE = re.compile(r"^\[([^\]]+)\] \[log_debug:info\] \[pid \d+:tid (\d+)\]"
                         r".* h2-fixups (\S+)$")

LOCS = ["plain", "signed", "timed"]
PAGES = ["echo.shtml", "echo.cgi"]


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, h2=True, cgi=True,
                             modules=["include", "log_debug", "headers"],
                             start=False)
    h.write("plain/f.txt", "x" * 100)
    for loc in LOCS:
        h.write(loc + "/echo.shtml", ECHO_SHTML)
        h.write_cgi(loc + "/echo.cgi", ECHO_CGI)
    h.write("conf/h2-secret", SECRET + "\n", under=".", mode=0o600)
    return h.start()


# ---- cookie values ---------------------------------------------------------------------------

def stamped(tok, created, renewed):
    return tok + "." + stamp(SECRET, tok, created, renewed)


def valid(loc, created=None, renewed=None):
    """A cookie value the location accepts as it is (timed: a fresh stamp by default)."""
    if loc == "plain":
        return token()
    if loc == "signed":
        return signed(SECRET)
    now = int(time.time())
    return stamped(signed(SECRET), now if created is None else created,
                   now if renewed is None else renewed)


def token_of(loc, value):
    """SESSION_TOKEN for a cookie value of the location (the value less any stamp)."""
    return value.rpartition(".")[0] if loc == "timed" else value


def stamp_times(value):
    """(created, renewed) written in a stamp, unverified."""
    raw = base64.urlsafe_b64decode(value.rpartition(".")[2] + "=")
    return struct.unpack(">QQ", raw[:16])


# ---- requests and checks ---------------------------------------------------------------------

class Batch:
    """Requests for one curl process; each gets a query naming its batch and index."""

    seq = 0

    def __init__(self):
        Batch.seq += 1
        self.name = "b%d-%d" % (Batch.seq, random.getrandbits(32))
        self.reqs = []      # (path, cookie header or None, host name)
        self.queries = []

    def add(self, path, value=None, host="127.0.0.1"):
        """A request for path sending _session=value; curl opens a connection per host
        name (each resolved to 127.0.0.1)."""
        q = "id=%s-%d" % (self.name, len(self.reqs))
        cookie = None if value is None else NAME + "=" + value
        self.reqs.append(("%s?%s" % (path, q), cookie, host))
        self.queries.append(q)

    def run(self, httpd, parallel=True, parallel_max=PARALLEL):
        return self.check_transport(httpd.curl_many(self.reqs, parallel, parallel_max))

    def check_transport(self, res):
        """All over HTTP/2, on one connection of curl's per host name, each answering its
        own request."""
        assert len(res) == len(self.reqs)
        assert [r.http_version for r in res] == ["2"] * len(res)
        hosts = {host for _, _, host in self.reqs}
        assert sum(r.num_connects for r in res) == len(hosts), [r.num_connects for r in res]
        for host in hosts:
            assert len({r.local_port for r, req in zip(res, self.reqs) if req[2] == host}) == 1
        assert len({r.local_port for r in res}) == len(hosts)
        for r, q, (_, cookie, _) in zip(res, self.queries, self.reqs):
            env = r.env()
            assert r.status == 200, r
            assert env["QUERY_STRING"] == q, (q, r)
            assert env["SERVER_PROTOCOL"] == "HTTP/2.0"
            assert env["HTTP_COOKIE"] == (UNSET if cookie is None else cookie), (q, r)
        return res

    def server_view(self, httpd):
        """What the server saw of this batch: {index: (remote port, protocol, thread id
        of its fixups hook, time of its fixups hook)}. The fixups lines are in the error
        log before the response; the access log is written after it, so it is polled."""
        log = httpd.root / "logs" / "h2_log"
        prefix = "id=%s-" % self.name
        want = len(self.reqs)
        deadline = time.monotonic() + (60 if VALGRIND else 10)
        while True:
            lines = [l for l in log.read_text().splitlines() if l.startswith("?" + prefix)]
            if len(lines) >= want or time.monotonic() > deadline:
                break
            time.sleep(0.05)    # polling interval, not synchronisation
        access = {}
        for line in lines:
            q, port, proto = line.split()
            access[int(q[len(prefix) + 1:])] = (port, proto)
        fixups = {}
        for line in httpd.log_lines():
            m = FIXUPS_LINE.match(line)
            if m and m.group(3).startswith(prefix):
                when = datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S.%f %Y")
                fixups[int(m.group(3)[len(prefix):])] = (m.group(2), when.timestamp())
        assert sorted(access) == sorted(fixups) == list(range(want))
        return {i: access[i] + fixups[i] for i in access}


def set_cookie_lines(r):
    """Every Set-Cookie line of the response head as received (duplicates kept)."""
    return [l for l in r.raw_head.split(b"\r\n") if l.lower().startswith(b"set-cookie:")]


def check_kept(loc, r, value):
    """The stream's own cookie value was accepted: its token, its store key, its stamp's
    times, nothing new, no Set-Cookie."""
    env = r.env()
    tok = token_of(loc, value)
    assert env["SESSION_TOKEN"] == tok, (value, r.body)
    assert env["SESSION_STORE_KEY"] == hashlib.sha256(tok.encode()).hexdigest(), r.body
    assert env["SESSION_LOG_ID"] == log_id(tok), r.body
    assert env["SESSION_TOKEN_NEW"] == UNSET, r.body
    assert set_cookie_lines(r) == [], r.raw_head
    if loc == "timed":
        created, renewed = stamp_times(value)
        assert env["SESSION_CREATED"] == str(created), r.body
        assert env["SESSION_EXPIRES"] == str(renewed + IDLE), r.body
    else:
        assert env["SESSION_CREATED"] == UNSET and env["SESSION_EXPIRES"] == UNSET


def check_minted(loc, r, sent, t0):
    """The stream got a fresh token (not what it sent), in exactly one Set-Cookie;
    returns the new cookie value. t0: a time before the request (timed: created)."""
    env = r.env()
    lines = set_cookie_lines(r)
    assert len(lines) == 1, r.raw_head
    [c] = r.set_cookies(NAME)
    assert c.value != sent
    tok = token_of(loc, c.value)
    assert env["SESSION_TOKEN"] == tok, (c.value, r.body)
    assert env["SESSION_TOKEN_NEW"] == "1", r.body
    assert env["SESSION_STORE_KEY"] == hashlib.sha256(tok.encode()).hexdigest(), r.body
    assert env["SESSION_LOG_ID"] == log_id(tok), r.body
    if loc == "plain":
        assert token_re(32).match(tok)
    else:
        assert signed_by(tok, SECRET)
    if loc == "timed":
        created, renewed = stamp_times(c.value)
        assert c.value == stamped(tok, created, renewed)      # signed with the secret
        assert t0 <= created == renewed <= int(time.time())
        assert env["SESSION_CREATED"] == str(created)
        assert env["SESSION_EXPIRES"] == str(created + IDLE)
    return c.value


def interleaved(values, n, seed):
    """n picks of values, each about as often, in a shuffled (seeded) order."""
    order = [values[i % len(values)] for i in range(n)]
    random.Random(seed).shuffle(order)
    return order


def spans(view, key):
    """{key: (first, last) fixups time} of the requests grouped by key(port, tid)."""
    out = {}
    for port, _, tid, when in view.values():
        k = key(port, tid)
        first, last = out.get(k, (when, when))
        out[k] = (min(first, when), max(last, when))
    return out


def check_one_connection_many_threads(view):
    """The server saw the batch on one client connection over HTTP/2, its streams'
    fixups run by several threads, two of them at work in the same stretch of time (one
    thread ran fixups both before and after another thread did)."""
    assert len({port for port, _, _, _ in view.values()}) == 1
    assert {proto for _, proto, _, _ in view.values()} == {"HTTP/2.0"}
    by_thread = sorted(spans(view, lambda port, tid: tid).values())
    assert len(by_thread) >= 2, by_thread
    assert any(a[1] > b[0] for a, b in zip(by_thread, by_thread[1:])), by_thread


# ---- 1. the echo endpoint over h2 ------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("loc", LOCS)
def test_echo_over_h2_mint_then_keep(httpd, loc, page):
    path = "/%s/%s" % (loc, page)
    t0 = int(time.time())
    b = Batch()
    b.add(path)
    [r] = b.run(httpd)
    v = check_minted(loc, r, None, t0)
    b = Batch()
    b.add(path, v)
    b.add(path, v)
    for r in b.run(httpd, parallel=False):
        check_kept(loc, r, v)


def test_protocol_check_tells_http11_from_h2(httpd):
    """The transport check would notice a server that fell back to HTTP/1.1: curl forced
    to http/1.1 on the same port gets 1.1 and SERVER_PROTOCOL HTTP/1.1."""
    b = Batch()
    b.add("/plain/echo.shtml", valid("plain"))
    [r] = httpd.curl_many(b.reqs, http2=False)
    assert r.http_version == "1.1"
    assert r.env()["SERVER_PROTOCOL"] == "HTTP/1.1"
    with pytest.raises(AssertionError):
        b.check_transport([r])


# ---- 2 and 8. many tokens interleaved on one connection, streams in parallel --------------------

@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("loc", LOCS)
def test_interleaved_tokens_one_connection(httpd, loc, page):
    """8 valid values, each sent by about STREAMS/8 streams in a shuffled order, up to
    PARALLEL streams at once on one connection: each echoes its own."""
    values = [valid(loc) for _ in range(8)]
    order = interleaved(values, STREAMS, seed=loc + page)
    b = Batch()
    for v in order:
        b.add("/%s/%s" % (loc, page), v)
    res = b.run(httpd)
    for r, v in zip(res, order):
        check_kept(loc, r, v)
    check_one_connection_many_threads(b.server_view(httpd))


# ---- 3. a token change in the middle of a connection -----------------------------------------

CHANGES = "AABABBAABBBABAAB"


@pytest.mark.parametrize("parallel", [False, True], ids=["sequential", "parallel"])
@pytest.mark.parametrize("loc", LOCS)
def test_token_change_mid_connection(httpd, loc, parallel):
    """A, A, B, A, B, B, ... on one connection, one stream after the other (the value
    verified last is the other one each time it changes) and all at once."""
    ab = {"A": valid(loc), "B": valid(loc)}
    pattern = CHANGES * (1 if not parallel else max(1, STREAMS // len(CHANGES)))
    b = Batch()
    for k in pattern:
        b.add("/%s/echo.shtml" % loc, ab[k])
    res = b.run(httpd, parallel=parallel)
    for r, k in zip(res, pattern):
        check_kept(loc, r, ab[k])


# ---- 4. different tokens on different connections at once ----------------------------------

CONN_HOSTS = ["127.0.0.1", "localhost", "h2-c.test", "h2-d.test"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("loc", LOCS)
def test_different_connections_concurrently(httpd, loc, page):
    """4 connections at once (one curl, one host name a connection, the transfers of all
    four interleaved so that each connection has streams from the first transfer to the
    last), each with 4 tokens of its own: every stream echoes its own; the server saw
    4 connections, each one's streams on its own, served in the same stretch of time."""
    per = STREAMS // 2
    b = Batch()
    plan = []
    for c, host in enumerate(CONN_HOSTS):
        values = [valid(loc) for _ in range(4)]
        plan.append([(host, v) for v in interleaved(values, per, seed=c)])
    plan = [req for reqs in zip(*plan) for req in reqs]
    for host, v in plan:
        b.add("/%s/%s" % (loc, page), v, host=host)
    res = b.run(httpd, parallel_max=2 * PARALLEL)
    for r, (_, v) in zip(res, plan):
        check_kept(loc, r, v)
    view = b.server_view(httpd)
    port_of = {}
    for i, (host, _) in enumerate(plan):
        port_of.setdefault(host, set()).add(view[i][0])
    assert all(len(ports) == 1 for ports in port_of.values()), port_of
    assert len({p for ports in port_of.values() for p in ports}) == len(CONN_HOSTS)
    # Served at once: each connection's first fixups came before any one's last.
    by_conn = spans(view, lambda port, tid: port).values()
    assert max(first for first, _ in by_conn) < min(last for _, last in by_conn)


# ---- 5. timeouts: each stream its own stamp's times ------------------------------------------

def test_timed_own_stamp_times(httpd):
    """8 tokens with stamps made at distinct created and renewed times, and one token with
    4 stamps of its own (same token, different times): each stream echoes the
    SESSION_CREATED and SESSION_EXPIRES of the stamp it sent."""
    now = int(time.time())
    values = [valid("timed", created=now - 3600 * (i + 1) - i, renewed=now - i)
              for i in range(8)]
    same = signed(SECRET)
    values += [stamped(same, now - 86400 * (i + 1), now - 10 - i) for i in range(4)]
    assert len({stamp_times(v) for v in values}) == len(values)
    order = interleaved(values, STREAMS, seed=5)
    b = Batch()
    for v in order:
        b.add("/timed/echo.shtml", v)
    for r, v in zip(b.run(httpd), order):
        check_kept("timed", r, v)


# ---- 6. forged and tampered values among valid ones -----------------------------------------

def last_changed(value, canonical=None):
    """value with its last character replaced by another of the alphabet; with
    canonical=True/False one whose unused low bits are zero / not zero (2 for a 43-char
    value, 4 for a 22-char tag)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tail = value.rpartition(".")[2]
    unused = {43: 3, 22: 15}[len(tail)]
    old = alphabet.index(value[-1])
    for ch in alphabet:
        v = alphabet.index(ch)
        if v != old and (canonical is None or (v & unused == 0) == canonical):
            return value[:-1] + ch
    raise AssertionError(value)


def forged_cases(loc, v, w):
    """{label: (value, accepted)} for a location with valid values v and w."""
    r = token()
    cases = {
        "prefix": (v[:-1], False),
        "extension": (v + "A", False),
        "doubled": (v + v, False),
        "last-noncanonical": (last_changed(v, canonical=False), False),
    }
    if loc == "plain":
        # Any canonical 43-character value is a token here: accepted as itself.
        cases["last-canonical"] = (last_changed(v, canonical=True), True)
        cases["signed-form"] = (signed(SECRET), False)
        return cases
    cases["last-canonical"] = (last_changed(v, canonical=True), False)
    cases["bad-signature"] = (r + "." + tag(OTHER, r), False)
    cases["unsigned"] = (r, False)
    tv, tw = token_of(loc, v), token_of(loc, w)
    if loc == "signed":
        cases["other-tag"] = (tv.partition(".")[0] + "." + tw.partition(".")[2], False)
        cases["stamped"] = (stamped(tv, int(time.time()), int(time.time())), False)
        return cases
    now = int(time.time())
    created, renewed = stamp_times(v)
    cases["last-of-tag"] = (last_changed(tv) + "." + v.rpartition(".")[2], False)
    cases["stamp-of-other-token"] = (tv + "." + w.rpartition(".")[2], False)
    cases["stamp-other-secret"] = (tv + "." + stamp(OTHER, tv, created, renewed), False)
    cases["stamp-times-changed"] = (tv + "." + base64.urlsafe_b64encode(
        struct.pack(">QQ", created - 1, renewed) +
        base64.urlsafe_b64decode(v.rpartition(".")[2] + "=")[16:]).rstrip(b"=").decode(), False)
    cases["bad-signature-stamped"] = (stamped(r + "." + tag(OTHER, r), now, now), False)
    cases["bare-token"] = (tv, False)
    return cases


@pytest.mark.parametrize("parallel", [False, True], ids=["sequential", "parallel"])
@pytest.mark.parametrize("loc", LOCS)
def test_forged_among_valid_one_connection(httpd, loc, parallel):
    """Each forged or tampered value follows (and runs alongside) streams carrying the
    valid value it was made from, on one connection: it is never accepted as that value
    and, where not valid itself, gets a fresh token in exactly one Set-Cookie."""
    v, w = valid(loc), valid(loc)
    cases = forged_cases(loc, v, w)
    assert len({val for val, _ in cases.values()} | {v, w}) == len(cases) + 2
    plan = []
    for _ in range(3 if parallel else 1):
        for label, (val, ok) in sorted(cases.items()):
            plan += [("valid", v, True), ("valid", w, True), ("valid", v, True),
                     (label, val, ok)]
    t0 = int(time.time())
    b = Batch()
    for _, val, _ in plan:
        b.add("/%s/echo.shtml" % loc, val)
    minted = set()
    for r, (label, val, ok) in zip(b.run(httpd, parallel=parallel), plan):
        if ok:
            check_kept(loc, r, val)
        else:
            new = check_minted(loc, r, val, t0)
            assert token_of(loc, new) not in (token_of(loc, v), token_of(loc, w)), label
            minted.add(new)
    assert len(minted) == sum(1 for _, _, ok in plan if not ok)


def test_memo_not_shared_across_locations(httpd):
    """One connection, locations with other keys and formats: a value verified in one is
    verified afresh in the next, where it is not valid."""
    u, s, t = valid("plain"), valid("signed"), valid("timed")
    plan = [("plain", u, True), ("signed", u, False),
            ("signed", s, True), ("plain", s, False), ("timed", s, False),
            ("timed", t, True), ("signed", t, False), ("plain", t, False)] * 4
    t0 = int(time.time())
    for parallel in (False, True):
        b = Batch()
        for loc, val, _ in plan:
            b.add("/%s/echo.shtml" % loc, val)
        for r, (loc, val, ok) in zip(b.run(httpd, parallel=parallel), plan):
            if ok:
                check_kept(loc, r, val)
            else:
                check_minted(loc, r, val, t0)


# ---- 7. minting over h2 ----------------------------------------------------------------------

@pytest.mark.parametrize("loc", LOCS)
def test_mint_over_h2_one_set_cookie_each(httpd, loc):
    """Streams without a cookie among streams with a valid one, all at once on one
    connection: each cookie-less stream gets exactly one Set-Cookie with a token of its
    own (all distinct), echoed as its SESSION_TOKEN; the others get none."""
    v = valid(loc)
    plan = interleaved([None, None, v], STREAMS, seed=7)
    t0 = int(time.time())
    b = Batch()
    for val in plan:
        b.add("/%s/echo.shtml" % loc, val)
    minted = []
    for r, val in zip(b.run(httpd), plan):
        if val is None:
            minted.append(check_minted(loc, r, None, t0))
        else:
            check_kept(loc, r, val)
    assert len(set(minted)) == len(minted) == plan.count(None)


# ---- the notes after the response ---------------------------------------------------------

def test_notes_logged_after_h2_response(httpd):
    """mod_http2 copies r->notes into its record of the response headers; the module
    leaves its SESSION_* notes out of that copy, and mod_log_config, after the response,
    must still find each stream's own in r->notes."""
    values = [(loc, valid(loc)) for loc in LOCS for _ in range(3)]
    order = interleaved(values, 60, seed="notes")
    b = Batch()
    for loc, v in order:
        b.add("/%s/echo.shtml" % loc, v)
    res = b.run(httpd)
    for r, (loc, v) in zip(res, order):
        check_kept(loc, r, v)
    log = httpd.root / "logs" / "h2_notes"
    prefix = "?id=%s-" % b.name
    deadline = time.monotonic() + (60 if VALGRIND else 10)
    while True:
        lines = [l.split() for l in log.read_text().splitlines() if l.startswith(prefix)]
        if len(lines) >= len(order) or time.monotonic() > deadline:
            break
        time.sleep(0.05)    # polling interval, not synchronisation
    got = {int(q[len(prefix):]): rest for q, *rest in lines}
    assert sorted(got) == list(range(len(order)))
    for i, (loc, v) in enumerate(order):
        tok = token_of(loc, v)
        want = [log_id(tok), hashlib.sha256(tok.encode()).hexdigest(),
                "-" if loc == "plain" else "0"]
        assert got[i] == want, (loc, v, got[i])


def test_error_response_on_h2_sees_the_notes(httpd):
    """A 416 (a Range past the end) is made by mod_http2 inside the filter pass that
    sends the headers (ap_die): its headers are built with the request's whole notes,
    so mod_headers' %{note:SESSION_LOG_ID} has the log id there, as over HTTP/1.1."""
    tok = valid("plain")
    for extra in (["--http2"], ["--http1.1"]):
        r = httpd.curl("/plain/f.txt", tls=True, cookie_header=NAME + "=" + tok,
                       headers=["Range: bytes=500-600"], extra_args=extra)
        assert r.status == 416, r
        assert r.header("X-Log-Id") == log_id(tok), (extra, r.headers)
    r = httpd.curl("/plain/f.txt", tls=True, cookie_header=NAME + "=" + tok,
                   extra_args=["--http2"])
    assert r.status == 200 and r.header("X-Log-Id") == log_id(tok), r.headers
