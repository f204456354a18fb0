"""Requests in a chain: subrequests (SSI, mod_dir's
DirectoryIndex lookup), mod_dir's fast redirect and internal redirects (ErrorDocument).

A. A client's copy of the IDSessionHeader header (any case, '-' or '_') is removed in every
   request of a chain, before any handler or proxy sees it -- not only in the main request,
   as header_parser (main requests only) did.  Where IDSession is On, the backend sees the
   module's own token and nothing else under that name.
B. An application's `IDSession-Reset` response header never reaches the client wherever a
   session exists, also where IDSessionAppReset is not On; there `IDSession-Reset: 1` logs
   one rate-limited warning (at most once a minute per child process) naming the URL.
C. A token crossing into other rules.  The rule: a request of a chain (an ErrorDocument's
   internal redirect, an SSI subrequest) that reaches a location where IDSession is On and
   whose rules are stricter than those the chain's token was read under gets no token: no
   SESSION_* variables, no REDIRECT_SESSION_* copies, no IDSessionHeader (its own or the
   chain's).  Stricter: it has IDSessionSecrets none of which verifies the token, or a larger
   IDSessionTokenBytes.  Weaker or equal rules keep the chain's token.  Each test of C pairs
   a refused crossing with the kept one in the other direction (the kept half alone behaves
   the same in the old module).

Paths the first fix missed, found while writing these tests: mod_dir's fast redirect keeps
the main request's headers_in and overlays the subrequest's environment on its own, and
mod_include and a CGI's local redirect carry the HTTP_* image of a header in the
environment they copy.  The module re-checks the answering request just before its handler
and strips the HTTP_* image with the header.  Not covered: a nested .shtml page, which
mod_include runs with the including page's own environment (README, Variables).

(Cookie plants, store keys and configuration warnings are in test_review_fixes.py.)"""

import os
import re
import uuid

import pytest

from ecosystem import ECHO_CGI
import idshttpd
from idshttpd import UNSET, log_id, signed, token, wait_file_line

SA = "review-chain-secret-A-0123456789-abcdefghijkl"
SB = "review-chain-secret-B-9876543210-zyxwvutsrqpo"

# The client's copies of the header, one per spelling the strip must catch.
EVIL = ["X-Session-Token: EVIL1", "X_Session_Token: EVIL2", "x-SESSION_token: EVIL3",
        "X_session-TOKEN: EVIL4"]
EVIL_VALUES = ("EVIL1", "EVIL2", "EVIL3", "EVIL4")

# ---- A: backends behind subrequests and mod_dir's fast redirect ------------------------

# The backend: any path runs the echo CGI; its access log records each spelling of the
# header it received (a CGI never sees names with '_': httpd drops them from its env).
BACKEND_CONF = """
ScriptAliasMatch "^/.*$" "@ROOT@/cgi-bin/echo.cgi"
LogFormat "%{X-Req}i %U [%{X-Session-Token}i] [%{X_Session_Token}i] \
[%{X-Session_Token}i] [%{X_Session-Token}i]" hdrs
CustomLog "@ROOT@/logs/hdr_log" hdrs
"""

# The front: no IDSessionHeader at server level, so neither post_read_request nor the main
# request's own settings strip anything; only the chain's other requests have the header.
FRONT_CONF = """
<Directory "@DOCROOT@/ssi">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>

# The reported case: an SSI page includes a proxied location with IDSession Off ...
<Location /app2/>
    IDSession Off
    IDSessionHeader X-Session-Token
    ProxyPass http://127.0.0.1:@BACKEND@/app2/
</Location>
# ... and one with IDSession On
<Location /app2on/>
    IDSession On
    IDSessionHeader X-Session-Token
    ProxyPass http://127.0.0.1:@BACKEND@/app2on/
</Location>

# An SSI page includes a local CGI in a location with IDSessionHeader (IDSession Off)
<Location /app2cgi/>
    IDSessionHeader X-Session-Token
</Location>

# mod_dir: only the DirectoryIndex subrequest has the header (<Files> does not match the
# directory itself); ap_internal_fast_redirect gives the main request the subrequest's
# per_dir_config and handler, but keeps the main request's headers_in.
<Directory "@DOCROOT@/app3">
    DirectoryIndex index.cgi
    <Files "index.cgi">
        IDSessionHeader X-Session-Token
    </Files>
</Directory>

# mod_dir again, the index served by mod_proxy (fast redirect of a proxy-server subrequest)
<Directory "@DOCROOT@/app3p">
    DirectoryIndex index.x
</Directory>
<Location /app3p/index.x>
    IDSession On
    IDSessionHeader X-Session-Token
    ProxyPass http://127.0.0.1:@BACKEND@/app3p/index.x
</Location>
"""

# A front CGI showing which request runs it and the header it got.
FRONT_ECHO = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in HTTP_X_SESSION_TOKEN SESSION_TOKEN REQUEST_URI SCRIPT_NAME; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
"""


@pytest.fixture(scope="module")
def chain(httpd_module_factory):
    backend = httpd_module_factory(conf=BACKEND_CONF, cgi=True, idsession=False,
                                   start=False, name="chain-backend")
    backend.write_cgi("cgi-bin/echo.cgi", ECHO_CGI, under=".")
    backend.start()
    front = httpd_module_factory(modules=["proxy", "proxy_http", "include"], cgi=True,
                                 start=False, name="chain-front")
    front.conf = FRONT_CONF.replace("@BACKEND@", str(backend.port))
    front.write("ssi/inc2.shtml", 'BEGIN\n<!--#include virtual="/app2/frag" -->END\n')
    front.write("ssi/inc2on.shtml", 'BEGIN\n<!--#include virtual="/app2on/frag" -->END\n')
    front.write("ssi/inc2cgi.shtml", '<!--#include virtual="/app2cgi/echo.cgi" -->')
    front.write("ssi/inc3.shtml", '<!--#include virtual="/app3/" -->')
    front.write_cgi("app2cgi/echo.cgi", FRONT_ECHO)
    front.write_cgi("app3/index.cgi", FRONT_ECHO)
    front.write("app3p/index.x", "never served from here\n")
    front.start()
    return front, backend


def backend_saw(backend, req_id):
    """What the backend's access log recorded for the request tagged req_id: the values
    of X-Session-Token, X_Session_Token, X-Session_Token, X_Session-Token ('-' = none)."""
    line = wait_file_line(backend.root / "logs" / "hdr_log", lambda l: l.startswith(req_id))
    return re.findall(r"\[([^\]]*)\]", line)


def req_id():
    return "req-" + uuid.uuid4().hex


def test_ssi_include_into_proxy_strips_client_header(chain):
    """The reported case: an SSI page (no IDSessionHeader of its own) includes a proxied
    location that has IDSessionHeader and IDSession Off.  The include's subrequest never
    ran header_parser; the backend must see none of the client's spellings."""
    front, backend = chain
    rid = req_id()
    r = front.curl("/ssi/inc2.shtml", headers=["X-Req: " + rid] + EVIL)
    assert r.status == 200, r
    assert r.body.startswith("BEGIN\n") and r.body.endswith("END\n"), r.body
    assert r.env()["HTTP_X_SESSION_TOKEN"] == UNSET
    assert backend_saw(backend, rid) == ["-", "-", "-", "-"]
    assert not any(v in r.body for v in EVIL_VALUES), r.body


def test_ssi_include_into_proxy_on_sees_only_module_token(chain):
    """The same with IDSession On in the included location: the backend gets the session
    token (the client's cookie) under the header's name, and no client spelling survives
    beside it (the old module replaced X-Session-Token only)."""
    front, backend = chain
    t = token()
    rid = req_id()
    r = front.curl("/ssi/inc2on.shtml", headers=["X-Req: " + rid] + EVIL,
                   cookie_header="_session=" + t)
    assert r.status == 200, r
    assert r.env()["HTTP_X_SESSION_TOKEN"] == t
    assert backend_saw(backend, rid) == [t, "-", "-", "-"]
    assert r.headers_named("set-cookie") == []


# -- A, mod_dir's fast redirect and SSI's copied environment --

def test_dir_fast_redirect_cgi_strips_client_header(chain):
    """mod_dir: /app3/ is answered by index.cgi through ap_internal_fast_redirect.  Only
    the DirectoryIndex subrequest has IDSessionHeader (a <Files> section); the CGI that
    answers runs under it and must not see the client's value."""
    front, _ = chain
    r = front.curl("/app3/", headers=EVIL)
    assert r.status == 200, r
    e = r.env()
    # the path under test: the main request for the directory runs the index CGI
    assert e["REQUEST_URI"] == "/app3/" and e["SCRIPT_NAME"] == "/app3/index.cgi", e
    assert e["SESSION_TOKEN"] == UNSET          # IDSession is Off there
    assert e["HTTP_X_SESSION_TOKEN"] == UNSET


def test_dir_fast_redirect_proxy_on_sees_only_module_token(chain):
    """mod_dir's fast redirect of a proxied DirectoryIndex in a location with IDSession On
    and IDSessionHeader: the backend must see the session token, not the client's
    X-Session-Token (the previous module gave it EVIL1 as the token) nor any other spelling."""
    front, backend = chain
    t = token()
    rid = req_id()
    r = front.curl("/app3p/", headers=["X-Req: " + rid] + EVIL,
                   cookie_header="_session=" + t)
    assert r.status == 200, r
    assert r.headers_named("set-cookie") == []
    assert backend_saw(backend, rid) == [t, "-", "-", "-"]
    assert r.env()["HTTP_X_SESSION_TOKEN"] == t


def test_ssi_include_into_cgi_strips_client_header(chain):
    """An SSI page includes a local CGI in a location with IDSessionHeader (IDSession
    Off): the CGI must not see the client's value as HTTP_X_SESSION_TOKEN."""
    front, _ = chain
    r = front.curl("/ssi/inc2cgi.shtml", headers=EVIL)
    assert r.status == 200, r
    e = r.env()
    assert e["SCRIPT_NAME"] == "/app2cgi/echo.cgi", r.body
    assert e["HTTP_X_SESSION_TOKEN"] == UNSET


def test_ssi_include_of_fast_redirected_directory_strips_client_header(chain):
    """An SSI page includes the directory /app3/, which mod_dir
    fast-redirects (inside the subrequest) to index.cgi, the only place with
    IDSessionHeader: that CGI must not see the client's value either."""
    front, _ = chain
    r = front.curl("/ssi/inc3.shtml", headers=EVIL)
    assert r.status == 200, r
    e = r.env()
    assert e["SCRIPT_NAME"] == "/app3/index.cgi", r.body
    assert e["HTTP_X_SESSION_TOKEN"] == UNSET


# ---- B: IDSession-Reset where IDSessionAppReset is not On ------------------------------

# /login.cgi does not match <Location /login> (httpd 2.4 matches per path segment): the
# misconfiguration the warning names.
RESET_CONF = """
IDSession On
<Location /login>
    IDSessionAppReset On
</Location>
"""

RESET_CGI = """#!/bin/sh
printf 'IDSession-Reset: %s\\r\\nContent-Type: text/plain\\r\\n\\r\\n' "$1"
printf 'SESSION_TOKEN=%s\\nSESSION_TOKEN_NEXT=%s\\n' "${SESSION_TOKEN-<unset>}" \\
       "${SESSION_TOKEN_NEXT-<unset>}"
"""

WARN_RE = (r"\[idsession:warn\].*IDSession-Reset: 1 in the response to /login\.cgi "
           r".*IDSessionAppReset is not On")


def reset_server(factory):
    h = factory(conf=RESET_CONF, cgi=True, start=False, name="chain-reset")
    h.write_cgi("login.cgi", RESET_CGI.replace('"$1"', "1"))
    h.write_cgi("login0.cgi", RESET_CGI.replace('"$1"', "0"))
    return h.start()


def no_reset_header(r):
    assert b"idsession-reset" not in r.raw_head.lower(), r.raw_head
    assert r.headers_named("IDSession-Reset") == []


def child_pids(h):
    """The pids of the apache2 processes whose parent is h's master (under valgrind the
    master itself serves, as apache2 -X)."""
    if idshttpd.VALGRIND:
        return {h.proc.pid}
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == h.proc.pid:
                out.add(int(d))
    return out


def test_app_reset_zero_dropped_without_warning(httpd_factory):
    """IDSession-Reset: 0 where IDSessionAppReset is not On: dropped from the response,
    the session unchanged, and no warning (only a 1 asks for rotation)."""
    h = reset_server(httpd_factory)
    t = token()
    for _ in range(3):
        r = h.curl("/login0.cgi", cookie_header="_session=" + t)
        assert r.status == 200, r
        no_reset_header(r)
        assert r.headers_named("set-cookie") == []
        assert r.env()["SESSION_TOKEN"] == t
    r = h.curl("/login0.cgi")
    no_reset_header(r)
    assert len(r.set_cookies("_session")) == 1
    assert not [l for l in h.log_lines() if "IDSession-Reset" in l and ":warn]" in l]


def test_app_reset_one_dropped_and_warned_once(httpd_factory):
    """IDSession-Reset: 1 from /login.cgi, which <Location /login> (IDSessionAppReset On)
    does not cover: the header never reaches the client, the session is not rotated (no
    Set-Cookie for a valid cookie; one for a new token), and each child process logs the
    warning naming the URL once, not once per request."""
    h = reset_server(httpd_factory)
    h.expect_log(WARN_RE)
    t = token()
    for _ in range(5):
        r = h.curl("/login.cgi", cookie_header="_session=" + t)
        assert r.status == 200, r
        no_reset_header(r)
        assert r.headers_named("set-cookie") == []
        e = r.env()
        assert e["SESSION_TOKEN"] == t and e["SESSION_TOKEN_NEXT"] == UNSET
    r = h.curl("/login.cgi")
    no_reset_header(r)
    [c] = r.set_cookies("_session")
    assert len(r.headers_named("set-cookie")) == 1
    assert r.env()["SESSION_TOKEN"] == c.value

    warned = [l for l in h.log_lines() if re.search(WARN_RE, l)]
    pids = [int(re.search(r"\[pid (\d+):tid \d+\]", l).group(1)) for l in warned]
    assert warned, h.log_lines()
    assert len(pids) == len(set(pids)), warned          # at most once per process
    assert set(pids) <= child_pids(h), (pids, child_pids(h))
    assert not [l for l in h.log_lines()
                if ":warn]" in l and "IDSession-Reset" in l and l not in warned]


# ---- C: a token crossing into stricter rules ------------------------------------------

RULES_CONF = """
<Directory "@DOCROOT@/u">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
<Location /u/>
    IDSession On
    IDSessionHeader X-U-Token
    ErrorDocument 404 /signed/err.cgi
</Location>
<Location /signed/>
    IDSession On
    IDSessionSecret "@SA@"
    IDSessionHeader X-Signed-Token
    ErrorDocument 404 /u/err.cgi
    # what the request's headers_in holds, as a variable (fixups after the module's)
    RewriteEngine On
    RewriteCond %{HTTP:X-U-Token} (.+)
    RewriteRule ^ - [E=SEEN_X_U_TOKEN:%1]
</Location>

# mod_dir: /ud/ (unsigned) is answered by env.cgi, whose <Files> has a secret
<Directory "@DOCROOT@/ud">
    IDSession On
    IDSessionHeader X-U-Token
    DirectoryIndex env.cgi
    <Files "env.cgi">
        IDSessionSecret "@SA@"
    </Files>
</Directory>

<Location /small/>
    IDSession On
    IDSessionTokenBytes 16
    ErrorDocument 404 /big/err.cgi
</Location>
<Location /big/>
    IDSession On
    IDSessionTokenBytes 48
    ErrorDocument 404 /small/err.cgi
</Location>

<Location /signedA/>
    IDSession On
    IDSessionSecret "@SA@"
    ErrorDocument 404 /signedB/err.cgi
</Location>
<Location /signedA/k/>
    ErrorDocument 404 /signedB2/err.cgi
</Location>
<Location /signedB/>
    IDSession On
    IDSessionSecret "@SB@"
</Location>
<Location /signedB2/>
    IDSession On
    IDSessionSecret "@SB@"
    IDSessionSecret "@SA@"
</Location>
""".replace("@SA@", SA).replace("@SB@", SB)

# ENV_CGI's list plus SESSION_STORE_KEY, the two token headers (and a CGI's REDIRECT_ copy)
# and SEEN_X_U_TOKEN, then every variable whose name holds SESSION_ (REDIRECT_ copies
# included) as "ANY <line>".
RULES_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
for v in SESSION_TOKEN SESSION_TOKEN_NEW SESSION_LOG_ID SESSION_STORE_KEY SESSION_TOKEN_NEXT \\
         REDIRECT_SESSION_TOKEN REDIRECT_SESSION_TOKEN_NEW HTTP_X_U_TOKEN \\
         HTTP_X_SIGNED_TOKEN REDIRECT_HTTP_X_U_TOKEN SEEN_X_U_TOKEN HTTP_COOKIE \\
         REQUEST_URI SCRIPT_NAME; do
    eval "printf '%s=%s\\n' $v \\"\\${$v-<unset>}\\""
done
env | grep -E '^[A-Z_]*SESSION_[A-Z_]*=' | sed 's/^/ANY /'
"""

SESSION_VARS = ("SESSION_TOKEN", "SESSION_TOKEN_NEW", "SESSION_LOG_ID", "SESSION_STORE_KEY",
                "SESSION_TOKEN_NEXT", "REDIRECT_SESSION_TOKEN", "REDIRECT_SESSION_TOKEN_NEW")


@pytest.fixture(scope="module")
def rules(httpd_module_factory):
    h = httpd_module_factory(conf=RULES_CONF, cgi=True, modules=["include", "rewrite"],
                             start=False, name="chain-rules")
    for d in ("u", "signed", "small", "big", "signedB", "signedB2"):
        h.write_cgi(d + "/err.cgi", RULES_CGI)
    h.write_cgi("signed/env.cgi", RULES_CGI)
    h.write("u/page.shtml", 'PAGE_TOKEN=<!--#echo var="SESSION_TOKEN" -->\n'
                            '<!--#include virtual="/signed/env.cgi" -->')
    h.write("u/nested.shtml", 'PAGE_TOKEN=<!--#echo var="SESSION_TOKEN" -->\n'
                              '<!--#include virtual="/signed/inner.shtml" -->')
    h.write("signed/inner.shtml", 'INNER_TOKEN=<!--#echo var="SESSION_TOKEN" -->\n')
    # a CGI's local redirect ("Location: /path", status 200): an internal redirect
    h.write_cgi("u/loc.cgi", "#!/bin/sh\nprintf 'Location: /signed/env.cgi\\r\\n\\r\\n'\n")
    h.write_cgi("ud/env.cgi", RULES_CGI)
    return h.start()


def env_of(body):
    """KEY=VALUE lines of body as a dict (Response.env() for a part of a body)."""
    return dict(l.split("=", 1) for l in body.splitlines() if "=" in l and " " not in
                l.split("=", 1)[0])


def assert_no_token(body, tok):
    """body (RULES_CGI's output) shows no session variable, not the token in the request
    headers (SEEN_X_U_TOKEN: mod_rewrite's view of headers_in, where probed) and not the
    log id."""
    e = env_of(body)
    for v in SESSION_VARS:
        assert e[v] == UNSET, (v, body)
    assert [l for l in body.splitlines() if l.startswith("ANY ")] == [], body
    assert e["SEEN_X_U_TOKEN"] == UNSET, body
    assert log_id(tok) not in body, body


def assert_no_header_image(body, tok):
    """... nor the token header's image in the environment (HTTP_*, REDIRECT_HTTP_*), nor
    the token anywhere but in the client's own Cookie header."""
    e = env_of(body)
    for v in ("HTTP_X_U_TOKEN", "HTTP_X_SIGNED_TOKEN", "REDIRECT_HTTP_X_U_TOKEN"):
        assert e[v] == UNSET, (v, body)
    assert tok not in body.replace(e["HTTP_COOKIE"], ""), body


def assert_kept(r, tok):
    e = r.env()
    assert e["SESSION_TOKEN"] == tok, r.body
    assert e["SESSION_LOG_ID"] == log_id(tok)
    assert e["SESSION_TOKEN_NEW"] == UNSET
    return e


def test_unsigned_into_signed_refused_signed_into_unsigned_kept(rules):
    """/u/ (unsigned) -> ErrorDocument /signed/err.cgi: the error CGI gets no SESSION_*,
    no REDIRECT_SESSION_* and neither location's IDSessionHeader; the client's cookie was
    valid at /u/, so no Set-Cookie.  /signed/ -> ErrorDocument /u/err.cgi (weaker rules)
    keeps the signed token, also in /u/'s header."""
    t = token()
    r = rules.curl("/u/missing", cookie_header="_session=" + t)
    assert r.status == 404, r
    assert r.env()["SCRIPT_NAME"] == "/signed/err.cgi", r.body
    assert_no_token(r.body, t)
    assert_no_header_image(r.body, t)
    assert r.headers_named("set-cookie") == []

    st = signed(SA)
    r = rules.curl("/signed/missing", cookie_header="_session=" + st)
    assert r.status == 404, r
    e = assert_kept(r, st)
    assert e["SCRIPT_NAME"] == "/u/err.cgi" and e["HTTP_X_U_TOKEN"] == st
    assert r.headers_named("set-cookie") == []


def test_fewer_bytes_into_more_refused_more_into_fewer_kept(rules):
    """/small/ (IDSessionTokenBytes 16) -> /big/ (48): no token at /big/.  /big/ ->
    /small/: the 48-byte token is kept."""
    t16 = token(16)
    r = rules.curl("/small/missing", cookie_header="_session=" + t16)
    assert r.status == 404, r
    assert r.env()["SCRIPT_NAME"] == "/big/err.cgi", r.body
    assert_no_token(r.body, t16)
    assert_no_header_image(r.body, t16)
    assert r.headers_named("set-cookie") == []

    t48 = token(48)
    r = rules.curl("/big/missing", cookie_header="_session=" + t48)
    assert r.status == 404, r
    assert assert_kept(r, t48)["SCRIPT_NAME"] == "/small/err.cgi"
    assert r.headers_named("set-cookie") == []


def test_other_secret_refused_secret_list_that_verifies_kept(rules):
    """/signedA/ (secret A) -> /signedB/ (secret B only): no token.  /signedA/k/ ->
    /signedB2/ (secrets B and A; A verifies the tag): kept."""
    st = signed(SA)
    r = rules.curl("/signedA/missing", cookie_header="_session=" + st)
    assert r.status == 404, r
    assert r.env()["SCRIPT_NAME"] == "/signedB/err.cgi", r.body
    assert_no_token(r.body, st)
    assert_no_header_image(r.body, st)
    assert r.headers_named("set-cookie") == []

    r = rules.curl("/signedA/k/missing", cookie_header="_session=" + st)
    assert r.status == 404, r
    assert assert_kept(r, st)["SCRIPT_NAME"] == "/signedB2/err.cgi"
    assert r.headers_named("set-cookie") == []


def test_ssi_include_into_stricter_rules_gets_no_token(rules):
    """An SSI page under /u/ includes /signed/env.cgi: the page has the unsigned token, the
    included CGI (a subrequest, whose env and headers are copies of the page's) has none:
    no SESSION_* and no X-U-Token in its headers_in.  (The HTTP_X_U_TOKEN image mod_include
    copies: test_ssi_include_into_stricter_rules_no_header_image.)"""
    t = token()
    r = rules.curl("/u/page.shtml", cookie_header="_session=" + t)
    assert r.status == 200, r
    page, _, included = r.body.partition("\n")
    assert page == "PAGE_TOKEN=" + t            # the page itself has its session
    assert env_of(included)["SCRIPT_NAME"] == "/signed/env.cgi", r.body
    assert_no_token(included, t)
    assert r.headers_named("set-cookie") == []


# -- C, mod_dir's fast redirect, SSI's copied environment, a CGI's local redirect --

def test_ssi_include_into_stricter_rules_no_header_image(rules):
    """The included CGI of test_ssi_include_into_stricter_rules_gets_no_token must not see
    the chain's IDSessionHeader in its environment either."""
    t = token()
    r = rules.curl("/u/page.shtml", cookie_header="_session=" + t)
    assert r.status == 200, r
    page, _, included = r.body.partition("\n")
    assert page == "PAGE_TOKEN=" + t
    assert_no_token(included, t)
    assert_no_header_image(included, t)


def test_cgi_local_redirect_into_stricter_rules_gets_no_token(rules):
    """/u/loc.cgi answers "Location: /signed/env.cgi": the internal redirect into stricter
    rules gets no SESSION_*, no REDIRECT_SESSION_*, and no image of /u/'s header."""
    t = token()
    r = rules.curl("/u/loc.cgi", cookie_header="_session=" + t)
    assert r.status == 200, r
    assert r.env()["SCRIPT_NAME"] == "/signed/env.cgi", r.body
    assert_no_token(r.body, t)
    assert_no_header_image(r.body, t)


def test_dir_fast_redirect_into_stricter_rules_gets_no_token(rules):
    """/ud/ (unsigned) is answered by /ud/env.cgi, whose <Files> adds a secret: the CGI
    that answers runs under the signed rules and must not get the unsigned token (asked
    for directly, /ud/env.cgi refuses that cookie and mints a signed token)."""
    t = token()
    r = rules.curl("/ud/", cookie_header="_session=" + t)
    assert r.status == 200, r
    e = r.env()
    assert e["REQUEST_URI"] == "/ud/" and e["SCRIPT_NAME"] == "/ud/env.cgi", r.body
    assert_no_token(r.body, t)
    assert_no_header_image(r.body, t)
