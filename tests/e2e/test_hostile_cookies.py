"""Hostile Cookie headers, sent byte for byte over a socket.

Every case is one request (exact header lines) to an unsigned server, a signed server
(IDSessionSecret) or a server with very large request limits, and says what must happen:
the client's token is KEPT, a fresh one is MINTED, or httpd itself answers 400 before any
module runs.  For every case, whatever it says:
  - the status is below 500;
  - there is at most one session Set-Cookie;
  - SESSION_TOKEN (printed by a CGI) is a well-formed token -- for the signed server one
    whose tag verifies, checked here with hmac/hashlib;
and at the end every server still answers and no child crashed."""

import base64
import re

import pytest

from idshttpd import ENV_CGI, UNSET, signed, signed_by, token, token_re

NAME = "_session"
S1 = "hostile-cookie-suite-signing-secret-0123456789"
S2 = "hostile-cookie-suite-older-secret-9876543210zz"
SX = "hostile-cookie-suite-unknown-secret-abcdefghij"

KEEP, MINT, BAD = "keep", "mint", 400

CRASH = re.compile(r"Segmentation fault|exit signal|AH00052|AH00060|AH00059|"
                   r"double free|stack smashing|Aborted|core dump", re.I)

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def noncanonical(r):
    """Same length and alphabet as r, nonzero unused bits in the last character."""
    v = ALPHABET.index(r[-1])
    return r[:-1] + ALPHABET[v | 1]


def with_chars(chars, nbytes=32):
    while True:
        t = token(nbytes)
        if any(c in t for c in chars):
            return t


def std_alphabet(t):
    return t.replace("-", "+").replace("_", "/")


# ---- servers ---------------------------------------------------------------------------------

UNSIGNED = r"""
IDSession On
<Location /b16>
    IDSessionTokenBytes 16
</Location>
<Location /named>
    IDSessionCookieName sid
</Location>
"""

SIGNED = r"""
IDSession On
IDSessionSecret %s
IDSessionSecret %s
""" % (S1, S2)

BIG = r"""
LimitRequestFieldSize 131072
LimitRequestFields 3000
IDSession On
<Location /s>
    IDSessionSecret %s
</Location>
""" % S1


@pytest.fixture(scope="module")
def servers(httpd_module_factory):
    out = {}
    for key, conf in (("u", UNSIGNED), ("s", SIGNED), ("big", BIG)):
        h = httpd_module_factory(conf=conf, cgi=True, start=False, name="hostile-" + key)
        for d in ("", "b16/", "named/", "s/"):
            h.write_cgi(d + "env.cgi", ENV_CGI)
        out[key] = h.start()
    return out


# ---- the cases -------------------------------------------------------------------------------

class Case:
    def __init__(self, cid, lines, expect, keep=None, server="u", path="/env.cgi",
                 name=NAME, nbytes=32, secrets=None, http10=False):
        self.id = cid
        self.lines = [l if isinstance(l, bytes) else l.encode() for l in lines]
        self.expect = expect
        self.keep = keep
        self.server = server
        self.path = path
        self.name = name
        self.nbytes = nbytes
        self.http10 = http10
        if secrets is None:
            secrets = [S1, S2] if server == "s" else ([S1] if path.startswith("/s/") else [])
        self.secrets = secrets


def C(s):
    return b"Cookie: " + (s if isinstance(s, bytes) else s.encode())


def cases():
    T, T2 = token(32), token(32)
    T16 = token(16)
    ST1, ST2, STX = signed(S1), signed(S2), signed(SX)
    r = token(32)
    out = []

    def add(*a, **kw):
        out.append(Case(*a, **kw))

    # -- unsigned: what a well-behaved client sends, with every spacing
    add("plain", [C("_session=" + T)], KEEP, T)
    add("trailing-semicolon", [C("_session=%s;" % T)], KEEP, T)
    add("spaces-around-value", [C("_session=   %s   " % T)], KEEP, T)
    add("tabs-around-value", [C(b"_session=\t" + T.encode() + b"\t")], KEEP, T)
    add("spaces-before-name", [C("    _session=" + T)], KEEP, T)
    add("space-before-equals", [C("_session =" + T)], KEEP, T)
    add("among-others", [C("a=1; _session=%s; b=2" % T)], KEEP, T)
    # ',' is part of a value (RFC 6265 4.2.1), never a separator
    add("comma-separated", [C("a=1, _session=%s, b=2" % T)], MINT)
    add("comma-planted-before-real", [C("pref=x,_session=%s; _session=%s" % (T2, T))], KEEP, T)
    add("comma-planted-only", [C("pref=x,_session=%s" % T)], MINT)
    add("no-space-separators", [C("a=1;_session=%s;b=2" % T)], KEEP, T)
    add("empty-pairs", [C(";;; ;; _session=%s;;" % T)], KEEP, T)
    add("empty-pairs-comma", [C(";;; ;,, _session=%s;;" % T)], MINT)
    add("echoed-set-cookie", [C("_session=%s; Path=/; HttpOnly; SameSite=Lax" % T)], KEEP, T)
    add("header-name-lowercase", [b"cookie: _session=" + T.encode()], KEEP, T)
    add("header-name-uppercase", [b"COOKIE: _session=" + T.encode()], KEEP, T)
    add("http-1.0", [C("_session=" + T)], KEEP, T, http10=True)

    # -- quotes, padding, alphabets, lengths
    add("quoted", [C('_session="%s"' % T)], MINT)
    add("open-quote", [C('_session="%s' % T)], MINT)
    add("close-quote", [C('_session=%s"' % T)], MINT)
    add("quoted-name", [C('"_session"=%s' % T)], MINT)
    add("single-quoted", [C("_session='%s'" % T)], MINT)
    add("pad-1", [C("_session=%s=" % T)], MINT)
    add("pad-2", [C("_session=%s==" % T)], MINT)
    t = with_chars("-_")
    add("std-alphabet-same-length", [C("_session=" + std_alphabet(t))], MINT)
    add("std-base64-padded", [C("_session=" + base64.b64encode(b"\xfb" * 32).decode())], MINT)
    add("right-length-bangs", [C("_session=" + "!" * 43)], MINT)
    for ch in ".~%*$:@\\'":
        add("right-length-with-%02x" % ord(ch), [C("_session=" + T[:20] + ch + T[21:])], MINT)
    add("right-length-inner-space", [C("_session=" + T[:20] + " " + T[21:])], MINT)
    add("noncanonical-last-char", [C("_session=" + noncanonical(T))], MINT)
    add("one-short", [C("_session=" + T[:-1])], MINT)
    add("one-long", [C("_session=" + T + "A")], MINT)
    add("double-token", [C("_session=" + T + T)], MINT)
    add("percent-encoded", [C("_session=" + "".join("%%%02X" % ord(c) for c in T))], MINT)
    add("percent-encoded-one-char", [C("_session=%%%02X" % ord(T[0]) + T[1:])], MINT)
    add("empty-value", [C("_session=")], MINT)
    add("name-only", [C("_session")], MINT)
    add("equals-only", [C("=")], MINT)
    add("nameless-token", [C("=" + T)], MINT)
    add("double-equals", [C("_session==" + T)], MINT)
    add("value-with-equals", [C("_session=%s=%s" % (T, T2))], MINT)
    add("empty-header", [b"Cookie: "], MINT)
    add("separators-only", [C(";;;,,, ;")], MINT)

    # -- other names
    add("name-case", [C("_Session=" + T)], MINT)
    add("name-upper", [C("_SESSION=" + T)], MINT)
    for n in ("x_session", "_sessionx", "__session", "session", "%5Fsession"):
        add("name-" + n, [C("%s=%s" % (n, T))], MINT)
    add("cookie2-header", [b"Cookie2: _session=" + T.encode()], MINT)
    add("named-sid", [C("sid=" + T)], KEEP, T, path="/named/env.cgi", name="sid")
    add("named-default-name-ignored", [C("_session=" + T)], MINT, path="/named/env.cgi",
        name="sid")

    # -- the name repeated, both orders, one header or several
    add("invalid-then-valid", [C("_session=bad; _session=" + T)], KEEP, T)
    add("valid-then-invalid", [C("_session=%s; _session=bad" % T)], KEEP, T)
    add("valid-then-valid", [C("_session=%s; _session=%s" % (T, T2))], KEEP, T)
    add("valid-then-valid-swapped", [C("_session=%s; _session=%s" % (T2, T))], KEEP, T2)
    add("empty-then-valid", [C("_session=; _session=" + T)], KEEP, T)
    add("quoted-then-valid", [C('_session="%s"; _session=%s' % (T, T))], KEEP, T)
    add("300-invalid-then-valid", [C("_session=x; " * 300 + "_session=" + T)], KEEP, T)
    add("400-invalid", [C("; ".join(["_session=AAAA"] * 400))], MINT)
    add("300-others-then-valid",
        [C("; ".join("c%d=v%d" % (i, i) for i in range(300)) + "; _session=" + T)], KEEP, T)
    add("valid-then-300-others",
        [C("_session=%s; " % T + "; ".join("c%d=v%d" % (i, i) for i in range(300)))],
        KEEP, T)
    # several Cookie lines are read as httpd merges them: joined by ", "
    add("split-other-then-valid", [C("a=1"), C("_session=" + T)], MINT)
    add("split-invalid-then-valid", [C("_session=bad"), C("_session=" + T)], MINT)
    add("split-valid-then-invalid", [C("_session=" + T), C("_session=bad")], MINT)
    add("split-valid-then-valid", [C("_session=" + T2), C("_session=" + T)], MINT)
    add("split-valid-semicolon-then-other", [C("_session=%s;" % T), C("a=1")], KEEP, T)
    add("split-value-across-headers", [C("_session=" + T[:20]), C(T[20:])], MINT)
    add("split-name-across-headers", [C("_ses"), C("sion=" + T)], MINT)
    add("90-headers-valid-last", [C("c%d=1" % i) for i in range(89)] + [C("_session=" + T)],
        MINT)
    add("90-headers-valid-first", [C("_session=%s;" % T)] + [C("c%d=1" % i) for i in range(89)],
        KEEP, T)
    add("obs-fold", [C("a=1"), b" _session=" + T.encode()], MINT)

    # -- bytes outside ASCII
    add("utf8-last-char", [C(("_session=" + T[:-1] + "\u00e9").encode())], MINT)
    add("latin1-last-char", [C(b"_session=" + T[:-1].encode() + b"\xe9")], MINT)
    add("latin1-trailing-nbsp", [C(b"_session=" + T.encode() + b"\xa0")], MINT)
    add("utf8-trailing-nbsp", [C(b"_session=" + T.encode() + b"\xc2\xa0")], MINT)
    add("byte-ff-inside", [C(b"_session=" + T[:10].encode() + b"\xff" + T[11:].encode())],
        MINT)
    add("byte-80-inside", [C(b"_session=" + T[:10].encode() + b"\x80" + T[11:].encode())],
        MINT)
    add("utf8-bom-before-name", [C(b"\xef\xbb\xbf_session=" + T.encode())], MINT)
    add("utf8-name", [C("_s\u00e9ssion=%s" % T)], MINT)
    add("fullwidth-letters", [C(("_session=" + T[:-2] + "\uff21\uff21").encode())], MINT)
    add("overlong-utf8", [C(b"_session=" + T[:-2].encode() + b"\xc0\xaf")], MINT)
    add("non-ascii-other-cookie-then-valid",
        [C(("n\u00e4me=w\u00e9rt; _session=" + T).encode())], KEEP, T)
    add("latin1-other-cookie-then-valid", [C(b"k=\xe9\xff\x80; _session=" + T.encode())],
        KEEP, T)

    # -- control characters: httpd answers 400 itself, before any module
    for cc in (b"\x00", b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1b", b"\x1f", b"\x7f", b"\r"):
        add("control-%02x" % cc[0], [C(b"_session=" + T[:10].encode() + cc + T[10:].encode())],
            BAD)
    add("control-in-other-cookie", [C(b"a=\x01; _session=" + T.encode())], BAD)

    # -- sizes against the default limits (LimitRequestFieldSize 8190)
    filler = 8190 - len("Cookie: x=; _session=") - len(T)
    add("near-field-limit-valid-last", [C("x=" + "y" * filler + "; _session=" + T)], KEEP, T)
    add("near-field-limit-invalid", [C("_session=" + "A" * (8190 - len("Cookie: _session=")))],
        MINT)
    add("8k-value-over-limit", [C("_session=" + "A" * 8192)], BAD)
    add("field-far-over-limit", [C("_session=" + T + "; x=" + "y" * 9000)], BAD)
    add("too-many-header-lines", [C("c%d=1" % i) for i in range(120)], BAD)

    # -- IDSessionTokenBytes 16
    add("16-valid", [C("_session=" + T16)], KEEP, T16, path="/b16/env.cgi", nbytes=16)
    add("16-got-32", [C("_session=" + T)], MINT, path="/b16/env.cgi", nbytes=16)
    add("16-noncanonical", [C("_session=" + noncanonical(T16))], MINT, path="/b16/env.cgi",
        nbytes=16)

    # -- signed server (S1 signs, S2 verifies)
    add("s-first-secret", [C("_session=" + ST1)], KEEP, ST1, server="s")
    add("s-second-secret", [C("_session=" + ST2)], KEEP, ST2, server="s")
    add("s-unsigned", [C("_session=" + T)], MINT, server="s")
    add("s-unknown-secret", [C("_session=" + STX)], MINT, server="s")
    add("s-forged-tag", [C("_session=%s.%s" % (r, token(16)))], MINT, server="s")
    add("s-tag-std-alphabet", [C("_session=" + std_alphabet(signed(S1, r=with_chars("-_"))))],
        MINT, server="s")
    add("s-trailing-dot", [C("_session=%s." % ST1)], MINT, server="s")
    add("s-quoted", [C('_session="%s"' % ST1)], MINT, server="s")
    add("s-tag-padded", [C("_session=%s==" % ST1)], MINT, server="s")
    add("s-noncanonical-r-right-tag",
        [C("_session=" + signed(S1, r=noncanonical(token(32))))], MINT, server="s")
    add("s-non-ascii-in-tag", [C(b"_session=" + ST1[:-1].encode() + b"\xc3\xa9")], MINT,
        server="s")
    add("s-invalid-then-valid", [C("_session=%s; _session=%s" % (T, ST2))], KEEP, ST2,
        server="s")
    add("s-valid-then-invalid", [C("_session=%s; _session=%s" % (ST1, STX))], KEEP, ST1,
        server="s")
    add("s-forged-then-valid-split", [C("_session=" + STX), C("_session=" + ST1)], MINT,
        server="s")
    add("s-comma-planted-before-real",
        [C("pref=x,_session=%s; _session=%s" % (ST2, ST1))], KEEP, ST1, server="s")
    add("s-valid-then-valid", [C("_session=%s; _session=%s" % (ST2, ST1))], KEEP, ST2,
        server="s")
    add("s-split-at-dot", [C("_session=" + ST1.split(".")[0]), C("." + ST1.split(".")[1])],
        MINT, server="s")
    add("s-200-forged-then-valid",
        [C("; ".join("_session=" + signed(SX) for _ in range(100)) + "; _session=" + ST1)],
        KEEP, ST1, server="s")
    add("s-control", [C(b"_session=" + ST1.encode() + b"\x01")], BAD, server="s")

    # -- far beyond the default limits (server with LimitRequestFieldSize 131072)
    add("big-8k-value", [C("_session=" + "A" * 8192)], MINT, server="big")
    add("big-64k-value", [C("_session=" + "A" * 65536)], MINT, server="big")
    add("big-64k-others-then-valid", [C("x=" + "y" * 65536 + "; _session=" + T)], KEEP, T,
        server="big")
    add("big-3000-cookies-then-valid",
        [C("; ".join("c%d=%d" % (i, i) for i in range(3000)) + "; _session=" + T)], KEEP, T,
        server="big")
    add("big-5000-invalid-then-valid", [C("_session=A; " * 5000 + "_session=" + T)], KEEP, T,
        server="big")
    add("big-1000-headers-valid-last",
        [C("c%d=1" % i) for i in range(999)] + [C("_session=" + T)], MINT, server="big")
    add("big-1000-headers-all-invalid", [C("_session=%d" % i) for i in range(1000)], MINT,
        server="big")
    add("big-signed-500-forged-then-valid",
        [C("; ".join("_session=" + signed(SX) for _ in range(500)) + "; _session=" + ST1)],
        KEEP, ST1, server="big", path="/s/env.cgi")
    add("big-signed-64k-dots", [C("_session=" + "." * 65536)], MINT, server="big",
        path="/s/env.cgi")
    return out


CASES = cases()


def test_enough_cases():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def well_formed(tok, case, minted):
    if not case.secrets:
        return token_re(case.nbytes).match(tok) is not None
    secrets = case.secrets[:1] if minted else case.secrets
    return any(signed_by(tok, s, case.nbytes) for s in secrets)


def send(h, case):
    if not case.http10:
        return h.get_raw(case.path, case.lines)
    req = b"GET " + case.path.encode() + b" HTTP/1.0\r\n"
    for line in case.lines:
        req += line + b"\r\n"
    return h.raw_request(req + b"\r\n")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_cookie(servers, case):
    h = servers[case.server]
    r = send(h, case)
    assert r.status < 500, r
    cookies = [c for c in r.set_cookies() if c.name == case.name]
    assert len(cookies) <= 1, r.headers
    if case.expect == BAD:
        assert r.status == 400, r
        assert not cookies
        return
    assert r.status == 200, r
    env = r.env()
    tok = env["SESSION_TOKEN"]
    assert tok != UNSET, r.body
    if case.expect == KEEP:
        assert not cookies, "valid token replaced: %r" % r.headers
        assert tok == case.keep
        assert env["SESSION_TOKEN_NEW"] == UNSET
        assert well_formed(tok, case, minted=False)
    else:
        assert len(cookies) == 1, r.headers
        assert cookies[0].value == tok
        assert env["SESSION_TOKEN_NEW"] == "1"
        assert well_formed(tok, case, minted=True), tok
        assert tok.encode() not in b"".join(case.lines)


def test_zz_servers_still_up(servers):
    """Runs after the cases (name): every server answers, no child died."""
    for key, h in servers.items():
        r = h.curl("/env.cgi")
        assert r.status == 200
        assert h.proc is not None and h.proc.poll() is None
        crashes = [l for l in h.error_log.read_text(errors="replace").splitlines()
                   if CRASH.search(l)]
        assert not crashes, (key, crashes)
        # The module's lines never echo a client's value: no token-sized base64url run.
        # (The startup warning about a literal secret names the config file's path.)
        echoes = [l for l in h.error_log.read_text(errors="replace").splitlines()
                  if "[idsession:" in l and "a literal secret may stay" not in l
                  and re.search(r"[A-Za-z0-9_-]{22,}", l)]
        assert not echoes, (key, echoes[:5])
