"""Open-redirect payloads for `next` on the reset handler, sent byte for byte.

Each payload goes to an unsigned reset location by GET and to a signed one by POST.  For
every one:
  - the status is below 500 (302/303, or 400 when httpd refuses the request line itself);
  - there is at most one session Set-Cookie (exactly one on a redirect);
  - SESSION_TOKEN, read from the access log (%{SESSION_TOKEN}n), is a well-formed token
    and is the one in the Set-Cookie;
  - the Location never leaves the site: it starts with one '/' (not '//' nor '/\\'), holds
    no control characters, spaces, backslashes or non-ASCII bytes, resolves to this host
    with urljoin, and also with the rules a browser adds (WHATWG URL: leading/trailing C0
    and spaces stripped, tab/CR/LF removed, '\\' read as '/');
  - the Location is either `next` decoded once (honoured) or the configured default,
    and for payloads marked REFUSE it is the default;
and at the end the server still answers and no child crashed.

On `/.//evil`: a browser resolves the Location `/.//evil` against http://host/... as a
path-absolute reference -- RFC 3986 5.2.2 keeps the base authority, but 5.2.4 turns the
path into `//evil`, which anything that reuses the path as a reference reads as another
host.  So `next` with a "." or ".." segment, raw or percent-encoded, is refused.
`/@evil` stays on this origin and may be honoured; the test only insists that the host is
kept."""

import re
import uuid
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import pytest

from idshttpd import signed_by, token_re, wait_file_line

NAME = "_session"
S1 = "hostile-redirect-suite-signing-secret-012345"
DEFAULT = "/home"
REFUSE, HONOUR, EITHER = "refuse", "honour", "either"

CRASH = re.compile(r"Segmentation fault|exit signal|AH00052|AH00060|AH00059|"
                   r"double free|stack smashing|Aborted|core dump", re.I)

CONF = r"""
LogFormat "%%{X-Req}i %%>s %%{SESSION_TOKEN}n %%{SESSION_TOKEN_NEW}n" idsreq
CustomLog "@ROOT@/logs/req_log" idsreq
IDSession On
<Location /reset>
    SetHandler idsession-reset
    IDSessionResetRedirect %(default)s
</Location>
<Location /sreset>
    SetHandler idsession-reset
    IDSessionResetRedirect %(default)s
    IDSessionSecret %(secret)s
</Location>
""" % {"default": DEFAULT, "secret": S1}

# (id, raw query bytes after "next=", expectation)
PAYLOADS = [
    # scheme-relative and extra slashes
    ("scheme-relative", b"//evil.example", REFUSE),
    ("triple-slash", b"///evil.example", REFUSE),
    ("quad-slash", b"////evil.example/x", REFUSE),
    ("scheme-relative-path", b"//evil.example/%2F..", REFUSE),
    # backslashes, raw and encoded
    ("slash-backslash-raw", b"/\\evil.example", REFUSE),
    ("backslash-slash-raw", b"\\/evil.example", REFUSE),
    ("backslashes-raw", b"\\\\evil.example", REFUSE),
    ("slash-backslash-enc", b"/%5Cevil.example", REFUSE),
    ("slash-backslash-enc-lower", b"/%5cevil.example", REFUSE),
    ("backslashes-enc", b"%5C%5Cevil.example", REFUSE),
    ("slash-backslash-slash", b"/%5C/evil.example", REFUSE),
    ("slash-enc-backslash", b"%2F%5Cevil.example", REFUSE),
    # encoded slashes, single, double and triple encoding
    ("enc-slashes", b"%2F%2Fevil.example", REFUSE),
    ("enc-slashes-lower", b"%2f%2fevil.example", REFUSE),
    ("slash-enc-slash", b"/%2Fevil.example", REFUSE),
    ("slash-enc-slash-lower", b"/%2fevil.example", REFUSE),
    ("double-enc-slash", b"/%252Fevil.example", REFUSE),
    ("double-enc-slashes", b"%252F%252Fevil.example", REFUSE),
    ("mixed-enc-slashes", b"%2F%252Fevil.example", REFUSE),
    ("triple-enc-slash", b"/%25252Fevil.example", REFUSE),
    ("double-enc-backslash", b"/%255Cevil.example", REFUSE),
    ("enc-slashes-three", b"%2F%2F%2Fevil.example", REFUSE),
    # tabs, CR/LF, header injection
    ("tab-then-slashes", b"%09//evil.example", REFUSE),
    ("slash-tab-slash", b"/%09/evil.example", REFUSE),
    ("slashes-tab", b"//%09evil.example", REFUSE),
    ("slash-enc-tab-enc-slash", b"/%09%2Fevil.example", REFUSE),
    ("crlf-then-slashes", b"%0D%0A//evil.example", REFUSE),
    ("slash-crlf-slash", b"/%0D%0A/evil.example", REFUSE),
    ("slash-cr-slash", b"/%0D/evil.example", REFUSE),
    ("slash-lf-slash", b"/%0A/evil.example", REFUSE),
    ("crlf-location", b"/x%0D%0ALocation:%20http://evil.example/", REFUSE),
    ("crlf-set-cookie", b"/x%0D%0ASet-Cookie:%20_session=fixated", REFUSE),
    ("lf-set-cookie", b"/x%0ASet-Cookie:%20_session=fixated", REFUSE),
    ("double-enc-crlf", b"/x%250D%250ASet-Cookie:%20_session=fixated", REFUSE),
    ("nul", b"/%00//evil.example", REFUSE),
    ("double-enc-nul", b"/%2500//evil.example", REFUSE),
    ("del", b"/%7F/evil.example", REFUSE),
    # schemes
    ("javascript", b"javascript:alert(1)", REFUSE),
    ("javascript-case", b"JaVaScRiPt:alert(document.domain)", REFUSE),
    ("javascript-enc-colon", b"javascript%3Aalert(1)", REFUSE),
    ("javascript-enc-j", b"%6Aavascript:alert(1)", REFUSE),
    ("javascript-leading-space", b"%20javascript:alert(1)", REFUSE),
    ("javascript-tab-inside", b"java%09script:alert(1)", REFUSE),
    ("data-base64", b"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", REFUSE),
    ("data-enc", b"data%3Atext/html,%3Cscript%3Ealert(1)%3C/script%3E", REFUSE),
    ("vbscript", b"vbscript:msgbox(1)", REFUSE),
    ("http", b"http://evil.example/", REFUSE),
    ("https", b"https://evil.example/", REFUSE),
    ("https-upper", b"HTTPS://EVIL.EXAMPLE", REFUSE),
    ("https-no-slashes", b"https:evil.example", REFUSE),
    ("https-one-slash", b"https:/evil.example", REFUSE),
    ("http-enc-slashes", b"http:%2F%2Fevil.example", REFUSE),
    ("https-all-enc", b"https%3A%2F%2Fevil.example", REFUSE),
    ("http-backslashes", b"http:%5C%5Cevil.example", REFUSE),
    ("slash-then-url", b"/http://evil.example", EITHER),
    ("slash-enc-colon-slashes", b"/%3A//evil.example", EITHER),
    # userinfo tricks
    ("userinfo", b"//user@evil.example", REFUSE),
    ("userinfo-own-host", b"//127.0.0.1@evil.example", REFUSE),
    ("userinfo-enc-at", b"//evil.example%40127.0.0.1", REFUSE),
    ("slash-enc-slash-at", b"/%2F@evil.example", REFUSE),
    ("slash-at", b"/@evil.example", EITHER),
    ("http-userinfo", b"http://127.0.0.1@evil.example/", REFUSE),
    # overlong UTF-8 and Unicode slashes
    ("overlong-2", b"/%C0%AFevil.example", REFUSE),
    ("overlong-2-twice", b"%C0%AF%C0%AFevil.example", REFUSE),
    ("overlong-2-slash", b"/%C0%AF/evil.example", REFUSE),
    ("overlong-3", b"/%E0%80%AFevil.example", REFUSE),
    ("overlong-3-twice", b"/%E0%80%AF%E0%80%AFevil.example", REFUSE),
    ("overlong-backslash", b"/%C1%9Cevil.example", REFUSE),
    ("double-enc-overlong", b"/%25C0%25AFevil.example", REFUSE),
    ("division-slash", b"/%E2%88%95evil.example", REFUSE),
    ("division-slashes", b"%E2%88%95%E2%88%95evil.example", REFUSE),
    ("fullwidth-solidus", b"/%EF%BC%8F%EF%BC%8Fevil.example", REFUSE),
    ("fraction-slash", b"/%E2%81%84evil.example", REFUSE),
    ("ideographic-full-stop", b"/%E3%80%82evil.example", REFUSE),
    ("lone-surrogate", b"/%ED%A0%80evil", REFUSE),
    ("invalid-utf8", b"/%FF%FEevil", REFUSE),
    # spaces and plus signs
    ("leading-space", b"%20//evil.example", REFUSE),
    ("leading-space-path", b"%20/evil.example", REFUSE),
    ("leading-plus", b"+//evil.example", REFUSE),
    ("leading-enc-plus", b"%2B//evil.example", REFUSE),
    ("slash-space-slash", b"/%20/evil.example", REFUSE),
    ("no-leading-slash", b"evil.example", REFUSE),
    ("dot-slashes", b".//evil.example", REFUSE),
    ("empty", b"", REFUSE),
    ("bad-escape", b"/%zz", REFUSE),
    ("truncated-escape", b"/%2", REFUSE),
    # local paths that stay on this origin (see the module docstring)
    # dot segments, which browsers remove (RFC 3986 5.2.4): refused raw and encoded
    ("dot-slash-slash", b"/.//evil.example", REFUSE),
    ("dotdot-slash-slash", b"/..//evil.example", REFUSE),
    ("enc-dotdot-slash-slash", b"/%2e%2e//evil.example", REFUSE),
    ("a-dotdot-slash-slash", b"/a/..//evil.example", REFUSE),
    ("a-enc-dotdot-slash-slash", b"/a/%2E%2E//evil.example", REFUSE),
    ("dot-enc-dot-slash-slash", b"/.%2e//evil.example", REFUSE),
    ("double-enc-dot-slash-slash", b"/%252e//evil.example", REFUSE),
    ("dot-enc-slash", b"/.%2F%2Fevil.example", REFUSE),
    ("trailing-dotdot", b"/a/..", REFUSE),
    ("trailing-dot", b"/a/.", REFUSE),
    ("dot-before-query", b"/a/.?x=1", REFUSE),
    ("fragment-slashes", b"/ok%23//evil.example", EITHER),
    ("query-slashes", b"/ok?u=//evil.example", EITHER),
    ("slash-javascript", b"/javascript:alert(1)", EITHER),
    ("quad-enc-slash", b"/%2525252Fevil.example", EITHER),
    ("plain-local", b"/account/settings", HONOUR),
    ("local-with-query", b"/a/b?c=d%26e", HONOUR),
    ("local-enc-slash-inside", b"/a%2Fb", HONOUR),
    ("local-enc-leading-slash", b"%2Fa", HONOUR),
    ("dot-slash", b"/./ok", REFUSE),
    ("dots-inside-names", b"/a.b/..c/d../.e", HONOUR),
    ("dots-in-query", b"/a?x=/../..", HONOUR),
]

# Request-target bytes httpd refuses (400) or accepts as they are; not after "next=".
RAW_TARGETS = [
    ("raw-tab", b"/reset?next=/\t/evil.example"),
    ("raw-space", b"/reset?next=/ //evil.example"),
    ("raw-non-ascii", b"/reset?next=/\xe2\x88\x95evil.example"),
    ("raw-latin1", b"/reset?next=/\xe9vil"),
    ("raw-nul", b"/reset?next=/\x00//evil.example"),
    ("raw-bell", b"/reset?next=/\x07//evil.example"),
    ("next-twice-good-first", b"/reset?next=/ok&next=//evil.example"),
    ("next-twice-bad-first", b"/reset?next=//evil.example&next=/ok"),
    ("next-after-other-args", b"/reset?a=1&next=//evil.example&b=2"),
    ("next-named-prefix", b"/reset?xnext=//evil.example&next_=//evil.example"),
    ("next-no-value", b"/reset?next"),
    ("next-in-path-info", b"/reset/next=//evil.example"),
    ("next-fragment-in-target", b"/reset?next=/ok#//evil.example"),
]

ROUTES = [("GET", "/reset", False), ("POST", "/sreset", True)]


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    return httpd_module_factory(conf=CONF, name="redirects")


def well_formed(tok, is_signed):
    if not is_signed:
        return token_re(32).match(tok) is not None
    return signed_by(tok, S1)


def browser_view(loc):
    """What a WHATWG URL parser makes of a Location value before resolving it."""
    s = loc.strip("".join(chr(c) for c in range(0x21)))
    s = s.replace("\t", "").replace("\r", "").replace("\n", "")
    return s.replace("\\", "/")


def assert_stays_on_site(httpd, loc):
    assert loc is not None
    assert loc.startswith("/") and loc[1:2] not in ("/", "\\"), loc
    assert re.fullmatch(r"[\x21-\x7e]+", loc) and "\\" not in loc, loc
    base = "http://127.0.0.1:%d/reset?next=x" % httpd.port
    for candidate in (loc, browser_view(loc)):
        u = urlsplit(urljoin(base, candidate))
        assert (u.scheme, u.netloc) == ("http", "127.0.0.1:%d" % httpd.port), (loc, u)
    b = browser_view(loc)
    assert b.startswith("/") and not b.startswith("//"), loc
    # Whoever decodes the Location once or twice more still sees a local path.
    once = unquote_to_bytes(loc)
    twice = unquote_to_bytes(once)
    for d in (once, twice):
        assert not d.startswith(b"//") and not d.startswith(b"/\\"), (loc, d)


def send(httpd, method, target):
    req_id = uuid.uuid4().hex
    req = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
        b"X-Req: " + req_id.encode() + b"\r\nConnection: close\r\n"
    if method == "POST":
        req += b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n"
    return httpd.raw_request(req + b"\r\n"), req_id


def check(httpd, method, target, is_signed):
    """The invariants every payload must keep; returns the Location (or None on 400)."""
    r, req_id = send(httpd, method, target)
    assert r.status < 500, r
    cookies = r.set_cookies(NAME)
    assert len(cookies) <= 1, r.headers
    if r.status == 400:
        assert not cookies
        return None
    assert r.status == (303 if method == "POST" else 302), r
    assert len(r.headers_named("location")) == 1, r.headers
    loc = r.header("location")
    assert_stays_on_site(httpd, loc)
    assert len(cookies) == 1, r.headers
    _, status, tok, new = wait_file_line(httpd.root / "logs" / "req_log",
                                          lambda l: l.startswith(req_id + " ")).split(" ")
    assert status == str(r.status)
    assert tok == cookies[0].value
    assert new == "1"
    assert well_formed(tok, is_signed), tok
    return loc


def test_enough_payloads():
    assert len(PAYLOADS) >= 30
    assert len({p[0] for p in PAYLOADS + RAW_TARGETS}) == len(PAYLOADS) + len(RAW_TARGETS)


@pytest.mark.parametrize("method,path,is_signed", ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize("pid,raw,expect", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_next_payload(httpd, pid, raw, expect, method, path, is_signed):
    loc = check(httpd, method, path.encode() + b"?next=" + raw, is_signed)
    assert loc is not None, "httpd refused a request line the payload list says is valid"
    decoded = unquote_to_bytes(raw)
    assert loc in (DEFAULT, decoded.decode("latin-1")), (raw, loc)
    if expect == REFUSE:
        assert loc == DEFAULT, (raw, loc)
    elif expect == HONOUR:
        assert loc == decoded.decode("latin-1"), (raw, loc)


@pytest.mark.parametrize("pid,target", RAW_TARGETS, ids=[t[0] for t in RAW_TARGETS])
def test_raw_request_target(httpd, pid, target):
    loc = check(httpd, "GET", target, False)
    if pid == "next-twice-good-first":
        assert loc == "/ok"
    elif pid == "next-fragment-in-target":
        assert loc in ("/ok", DEFAULT, None)
    elif loc is not None:
        assert loc == DEFAULT, (target, loc)


def test_raw_crlf_in_request_line(httpd):
    """A CR LF inside the target ends the request line: httpd reads an HTTP/0.9 request
    for /reset?next=/x (or refuses it) and the rest never becomes a response header."""
    import socket
    req = (b"GET /reset?next=/x\r\nLocation: //evil.example HTTP/1.1\r\n"
           b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", httpd.port), timeout=30) as s:
        s.sendall(req)
        data = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
    if data.startswith(b"HTTP/"):
        head = data.split(b"\r\n\r\n")[0]
        assert int(head[9:12]) < 500, data
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"location":
                assert_stays_on_site(httpd, value.strip().decode("latin-1"))
    assert b"evil.example" not in data, data


def test_zz_server_still_up(httpd):
    """Runs after the payloads (name): the server answers, no child died."""
    loc = check(httpd, "GET", b"/reset?next=/still-here", False)
    assert loc == "/still-here"
    assert httpd.proc is not None and httpd.proc.poll() is None
    crashes = [l for l in httpd.error_log.read_text(errors="replace").splitlines()
               if CRASH.search(l)]
    assert not crashes, crashes
    # Neither tokens nor the attacker's `next` values show in the module's log lines.
    # (The startup warning about a literal secret names the config file's path.)
    lines = [l for l in httpd.error_log.read_text(errors="replace").splitlines()
             if "[idsession:" in l and "a literal secret may stay" not in l]
    assert lines
    assert not [l for l in lines if re.search(r"[A-Za-z0-9_-]{22,}|evil", l)], lines[:5]
