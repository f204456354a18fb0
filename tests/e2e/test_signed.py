"""Signed tokens (IDSessionSecret): the R.T format checked with Python's own
hmac/hashlib, the first secret signs and every secret verifies, everything else is replaced
by a freshly signed token, file: secrets, configuration errors that never show the secret,
no IDSessionSecret in .htaccess, secrets per <Location>/<Directory>, two servers sharing a
secret, and an error log at idsession:debug that never holds a token or a secret."""

import base64
import hashlib
import hmac
import re

import pytest

from idshttpd import (ENV_CGI, UNSET, b64url, log_id, signed, signed_by, tag, token, token_re,
                      two_on_one_connection, wait_file_line)

NAME = "_session"

S1 = "first-signing-secret-0123456789-abcdefghijkl"       # signs in /s
S2 = "second-secret-verifies-only-0123456789-mnopqr"      # verifies in /s
S3 = "third-secret-verifies-only-too-0123456789-stuv"     # verifies in /s
SA = "secret-of-location-a-0123456789-ABCDEFGHIJKLMN"
SB = "secret-of-location-b-0123456789-OPQRSTUVWXYZab"
SD = "secret-of-a-directory-section-0123456789-cdefgh"
SX = "a-secret-this-server-never-saw-0123456789-ijklm"
# file: secrets -- inner spaces belong to the secret, trailing whitespace does not.
SF = "file secret with inner spaces\tand a tab 0123456789"
SF_RAW = SF + "  \t\r\n\n \n"
SR = "relative-file-secret-resolved-against-ServerRoot-42"
SR_RAW = SR + "\n"
ALL_SECRETS = [S1, S2, S3, SA, SB, SD, SX, SF, SR]

CONF = r"""
LogFormat "%U %{SESSION_TOKEN}n" idstok
CustomLog "@ROOT@/logs/token_log" idstok

<Location /s>
    IDSession On
    IDSessionSecret S1X
    IDSessionSecret S2X
    IDSessionSecret S3X
</Location>
<Location /s16>
    IDSession On
    IDSessionTokenBytes 16
    IDSessionSecret S1X
</Location>
<Location /s-reset>
    IDSession On
    IDSessionSecret S1X
    IDSessionSecret S2X
    SetHandler idsession-reset
</Location>
<Location /s-app>
    IDSession On
    IDSessionAppReset On
    IDSessionSecret S1X
</Location>
<Location /u>
    IDSession On
</Location>
<Location /a>
    IDSession On
    IDSessionSecret SAX
</Location>
<Location /b>
    IDSession On
    IDSessionSecret SBX
</Location>
<Directory "@DOCROOT@/d">
    IDSession On
    IDSessionSecret SDX
</Directory>
<Location /f>
    IDSession On
    IDSessionSecret file:@ROOT@/conf/secret-abs
</Location>
<Location /rel>
    IDSession On
    IDSessionSecret file:conf/secret-rel
</Location>
<Location /rot>
    IDSession On
    IDSessionSecret file:conf/secret-rel
    IDSessionSecret SAX
</Location>
<Directory "@DOCROOT@/ht">
    IDSession On
    AllowOverride All
</Directory>
""".replace("S1X", S1).replace("S2X", S2).replace("S3X", S3).replace("SAX", SA) \
   .replace("SBX", SB).replace("SDX", SD)

LOCATIONS = ["s", "s16", "s-app", "u", "a", "a/sub", "b", "d", "f", "rel", "rot", "ht"]

SEEN = set()     # every token this module saw, for the log check at the end


def split(tok):
    r, sep, t = tok.partition(".")
    assert sep == "." and len(t) == 22, tok
    return r, t


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    h = httpd_module_factory(conf=CONF, cgi=True, start=False)
    for loc in LOCATIONS:
        h.write_cgi(loc + "/env.cgi", ENV_CGI)
    h.write("conf/secret-abs", SF_RAW, under=".", mode=0o600)
    h.write("conf/secret-rel", SR_RAW, under=".", mode=0o600)
    h.write("ht/.htaccess", "IDSessionSecret %s\n" % SX)
    h.write("ht/index.html", "never served\n")
    return h.start()


def get(httpd, path, cookie=None, **kw):
    """GET path; returns (response, env, the session Set-Cookie or None)."""
    r = httpd.curl(path, cookie_header=cookie, **kw)
    cs = r.set_cookies(NAME)
    assert len(cs) <= 1, r.headers
    env = r.env()
    for c in cs:
        SEEN.add(c.value)
    if env.get("SESSION_TOKEN") not in (None, UNSET):
        SEEN.add(env["SESSION_TOKEN"])
    return r, env, (cs[0] if cs else None)


def assert_kept(httpd, path, value):
    r, env, c = get(httpd, path, "%s=%s" % (NAME, value))
    assert r.status == 200, r
    assert c is None, "a valid token was replaced: %r" % r.headers
    assert env["SESSION_TOKEN"] == value
    assert env["SESSION_TOKEN_NEW"] == UNSET
    assert env["SESSION_LOG_ID"] == log_id(value)


def assert_replaced(httpd, path, value, secret, nbytes=32):
    r, env, c = get(httpd, path, None if value is None else "%s=%s" % (NAME, value))
    assert r.status == 200, r
    assert c is not None, "not replaced: %r sent, headers %r" % (value, r.headers)
    assert c.value != value
    assert signed_by(c.value, secret, nbytes), c.value
    assert env["SESSION_TOKEN"] == c.value
    assert env["SESSION_TOKEN_NEW"] == "1"
    assert env["SESSION_LOG_ID"] == log_id(c.value)
    return c.value


# ---- format of minted tokens ---------------------------------------------------------------

def test_minted_token_is_signed_by_first_secret(httpd):
    seen = set()
    for _ in range(20):
        tok = assert_replaced(httpd, "/s/env.cgi", None, S1)
        r, t = split(tok)
        assert len(r) == 43 and len(t) == 22
        assert t != tag(S2, r) and t != tag(S3, r)
        seen.add(tok)
    assert len(seen) == 20


def test_minted_tag_is_hmac_sha256_truncated(httpd):
    """Spelled out once without helpers: T = b64url(HMAC-SHA256(S1, R)[:16]), unpadded."""
    _, _, c = get(httpd, "/s/env.cgi")
    r, t = c.value.split(".")
    mac = hmac.new(S1.encode(), r.encode("ascii"), hashlib.sha256).digest()
    assert t == base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}", c.value)


def test_token_bytes_16_signed(httpd):
    tok = assert_replaced(httpd, "/s16/env.cgi", None, S1, nbytes=16)
    assert len(tok) == 22 + 1 + 22
    assert_kept(httpd, "/s16/env.cgi", tok)
    # A 32-byte token with a good tag is the wrong length here.
    assert_replaced(httpd, "/s16/env.cgi", signed(S1, 32), S1, nbytes=16)


def test_minted_token_then_accepted(httpd):
    tok = assert_replaced(httpd, "/s/env.cgi", None, S1)
    assert_kept(httpd, "/s/env.cgi", tok)


def test_set_cookie_value_is_whole_token(httpd):
    _, env, c = get(httpd, "/s/env.cgi")
    assert c.raw.startswith("%s=%s; " % (NAME, env["SESSION_TOKEN"]))
    assert c.attr("Path") == "/"


def test_access_log_note_is_whole_token(httpd):
    _, env, c = get(httpd, "/s/env.cgi")
    assert wait_file_line(httpd.root / "logs" / "token_log", c.value) == \
        "/s/env.cgi " + c.value


# ---- what verification accepts ----------------------------------------------------------------

@pytest.mark.parametrize("secret", [S1, S2, S3], ids=["first", "second", "third"])
def test_every_secret_verifies(httpd, secret):
    tok = signed(secret)
    assert_kept(httpd, "/s/env.cgi", tok)


def test_reset_signs_with_first_secret(httpd):
    """The reset handler always mints with the first secret, whatever the client had."""
    old = signed(S2)
    r, _, c = get(httpd, "/s-reset", "%s=%s" % (NAME, old))
    assert r.status == 302
    assert c is not None and c.value != old and signed_by(c.value, S1)


def _swapcase_one(s):
    for i, ch in enumerate(s):
        if ch.isalpha():
            return s[:i] + ch.swapcase() + s[i + 1:]
    raise AssertionError(s)


def _to_std_alphabet(r):
    """A random part that holds '-' or '_', written in the standard alphabet (+/)."""
    return r.replace("-", "+").replace("_", "/")


def _r_with(chars):
    while True:
        r = token(32)
        if any(c in r for c in chars):
            return r


def _r_whose_tag_has(chars):
    while True:
        r = token(32)
        if any(c in tag(S1, r) for c in chars):
            return r


def _noncanonical(r):
    """Same length and alphabet, but nonzero padding bits in the last character
    (32 bytes: the last of 43 characters carries 2 unused bits)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    v = alphabet.index(r[-1])
    return r[:-1] + alphabet[(v & ~3) | 1]


def _rejected_cases():
    r = token(32)
    good = tag(S1, r)
    rs = _r_with("-_")
    rt = _r_whose_tag_has("-_")
    rn = _noncanonical(token(32))
    full = b64url(hmac.new(S1.encode(), r.encode(), hashlib.sha256).digest())
    return [
        ("unsigned", r),
        ("unsigned-16", token(16)),
        ("forged-tag", r + "." + token(16)),
        ("zero-tag", r + "." + "A" * 22),
        ("unknown-secret", signed(SX, r=r)),
        ("secret-of-other-location", signed(SA, r=r)),
        ("tag-21", r + "." + good[:21]),
        ("tag-23", r + "." + good + "A"),
        ("tag-padded", r + "." + good + "=="),
        ("tag-full-hmac-43", r + "." + full),
        ("tag-swapcase", r + "." + _swapcase_one(good)),
        ("tag-std-alphabet", rt + "." + _to_std_alphabet(tag(S1, rt))),
        ("r-std-alphabet", _to_std_alphabet(rs) + "." + tag(S1, _to_std_alphabet(rs))),
        ("r-noncanonical-right-tag", rn + "." + tag(S1, rn)),
        ("tag-over-r-and-dot", r + "." + tag(S1, r + ".")),
        ("tag-of-other-r", r + "." + tag(S1, token(32))),
        ("sep-colon", r + ":" + good),
        ("sep-dash", r + "-" + good),
        ("sep-underscore", r + "_" + good),
        ("sep-tilde", r + "~" + good),
        ("sep-double-dot", r + ".." + good),
        ("sep-none", r + good),
        ("tag-first", good + "." + r),
        ("empty-tag", r + "."),
        ("empty-r", "." + good),
        ("dot-only", "."),
        ("r-short", r[:-1] + "." + tag(S1, r[:-1])),
        ("r-long", r + "A." + tag(S1, r + "A")),
        ("r-16-right-tag", signed(S1, 16)),
        ("trailing-dot", signed(S1) + "."),
        ("quoted", '"%s"' % signed(S1)),
    ]


@pytest.mark.parametrize("case", _rejected_cases(), ids=lambda c: c[0])
def test_rejected_and_replaced(httpd, case):
    _, value = case
    assert_replaced(httpd, "/s/env.cgi", value, S1)


def test_signed_token_not_accepted_unsigned_location(httpd):
    assert_replaced_unsigned(httpd, "/u/env.cgi", signed(S1))


def assert_replaced_unsigned(httpd, path, value):
    r, env, c = get(httpd, path, "%s=%s" % (NAME, value))
    assert c is not None and token_re(32).match(c.value), r.headers
    assert env["SESSION_TOKEN"] == c.value


def test_valid_after_invalid_same_name(httpd):
    good = signed(S2)
    r, env, c = get(httpd, "/s/env.cgi", "%s=%s; %s=%s" % (NAME, token(32), NAME, good))
    assert c is None and env["SESSION_TOKEN"] == good
    r, env, c = get(httpd, "/s/env.cgi", "%s=%s; %s=%s" % (NAME, signed(SX), NAME, good))
    assert c is None and env["SESSION_TOKEN"] == good


def test_reset_mints_signed(httpd):
    r, _, c = get(httpd, "/s-reset")
    assert r.status == 302
    assert signed_by(c.value, S1)


def test_app_reset_next_token_is_signed(httpd):
    r, env, c = get(httpd, "/s-app/env.cgi")
    assert signed_by(env["SESSION_TOKEN"], S1)
    assert signed_by(env["SESSION_TOKEN_NEXT"], S1)
    assert env["SESSION_TOKEN_NEXT"] != env["SESSION_TOKEN"]
    SEEN.add(env["SESSION_TOKEN_NEXT"])


# ---- file: secrets ---------------------------------------------------------------------------

def test_file_secret_trailing_whitespace_stripped(httpd):
    tok = assert_replaced(httpd, "/f/env.cgi", None, SF)
    r, t = split(tok)
    assert t != tag(SF_RAW, r)
    assert_kept(httpd, "/f/env.cgi", signed(SF))
    assert_replaced(httpd, "/f/env.cgi", signed(SF_RAW), SF)


def test_file_secret_relative_to_server_root(httpd):
    assert_replaced(httpd, "/rel/env.cgi", None, SR)
    assert_kept(httpd, "/rel/env.cgi", signed(SR))
    assert_replaced(httpd, "/rel/env.cgi", signed(SR_RAW), SR)


def test_file_and_literal_secrets_mixed(httpd):
    """file: first signs, the literal second verifies."""
    assert_replaced(httpd, "/rot/env.cgi", None, SR)
    assert_kept(httpd, "/rot/env.cgi", signed(SA))


# ---- secrets per section ----------------------------------------------------------------------

def test_secret_per_location(httpd):
    ta = assert_replaced(httpd, "/a/env.cgi", None, SA)
    tb = assert_replaced(httpd, "/b/env.cgi", None, SB)
    assert_kept(httpd, "/a/env.cgi", ta)
    assert_kept(httpd, "/b/env.cgi", tb)
    # A token signed for /a is not a token in /b, and the other way round.
    assert_replaced(httpd, "/b/env.cgi", ta, SB)
    assert_replaced(httpd, "/a/env.cgi", tb, SA)


def test_secret_inherited_by_sub_location(httpd):
    assert_replaced(httpd, "/a/sub/env.cgi", None, SA)
    assert_kept(httpd, "/a/sub/env.cgi", signed(SA))


def test_secret_in_directory_section(httpd):
    tok = assert_replaced(httpd, "/d/env.cgi", None, SD)
    assert_kept(httpd, "/d/env.cgi", tok)
    assert_replaced(httpd, "/d/env.cgi", signed(S1), SD)


def test_secret_in_htaccess_refused(httpd):
    httpd.expect_log(r"IDSessionSecret not allowed here")
    r = httpd.curl("/ht/index.html")
    assert r.status == 500
    assert not r.set_cookies(NAME)
    line = httpd.wait_log(r"IDSessionSecret not allowed here")
    assert ".htaccess" in line
    assert all(SX not in l for l in httpd.log_lines())


# ---- configuration errors --------------------------------------------------------------------

def _configtest_fails(h, line, secret_texts):
    rc, out = h.configtest(line + "\n")
    assert rc != 0, out
    assert "IDSessionSecret" in out, out
    for s in secret_texts:
        if s:
            assert s not in out, "the secret shows in: %s" % out
    return out


@pytest.fixture
def cfg(httpd_factory):
    """A server that is never started, for `apache2 -t` with files in its ServerRoot."""
    return httpd_factory(start=False, name="cfg")


@pytest.mark.parametrize("n", [0, 1, 16, 31])
@pytest.mark.parametrize("where", ["server", "location", "directory", "vhost"])
def test_literal_secret_too_short(cfg, n, where):
    secret = ("Zq9" * 20)[:n]
    line = 'IDSessionSecret "%s"' % secret
    if where == "location":
        line = "<Location /x>\n%s\n</Location>" % line
    elif where == "directory":
        line = "<Directory /tmp>\n%s\n</Directory>" % line
    elif where == "vhost":
        line = "<VirtualHost 127.0.0.1:1>\n%s\n</VirtualHost>" % line
    # (shorter ones could match any text by chance)
    _configtest_fails(cfg, line, [secret if n >= 16 else None])


@pytest.mark.parametrize("n", [32, 33, 200])
def test_literal_secret_long_enough(cfg, n):
    rc, out = cfg.configtest('IDSessionSecret "%s"\n' % ("k" * n))
    assert rc == 0, out


def test_file_secret_too_short_after_stripping(cfg):
    secret = "s" * 31
    cfg.write("conf/short", secret + "\n\n   \t\n", under=".")   # 38 bytes, 31 after strip
    out = _configtest_fails(cfg, "IDSessionSecret file:conf/short", [secret])
    assert "31" in out


def test_file_secret_empty(cfg):
    cfg.write("conf/empty", "", under=".")
    _configtest_fails(cfg, "IDSessionSecret file:conf/empty", [])


def test_file_secret_only_whitespace(cfg):
    cfg.write("conf/ws", " " * 40 + "\n", under=".")
    _configtest_fails(cfg, "IDSessionSecret file:conf/ws", [])


def test_file_secret_exactly_32_with_newline(cfg):
    cfg.write("conf/ok", "o" * 32 + "\n", under=".", mode=0o600)
    rc, out = cfg.configtest("IDSessionSecret file:conf/ok\n")
    assert rc == 0, out


def test_file_secret_missing_absolute(cfg):
    missing = str(cfg.root / "conf" / "no-such-secret")
    out = _configtest_fails(cfg, "IDSessionSecret file:%s" % missing, [])
    assert missing in out


def test_file_secret_missing_relative_names_resolved_path(cfg):
    out = _configtest_fails(cfg, "IDSessionSecret file:conf/not/there", [])
    assert str(cfg.root / "conf" / "not" / "there") in out


def test_file_secret_is_a_directory(cfg):
    (cfg.root / "conf" / "secret.d").mkdir()
    _configtest_fails(cfg, "IDSessionSecret file:conf/secret.d", [])


def test_file_secret_empty_path(cfg):
    _configtest_fails(cfg, "IDSessionSecret file:", [])


def test_file_secret_too_large(cfg):
    body = ("L" * 63 + "\n") * 1100         # 70 400 bytes
    cfg.write("conf/huge", body, under=".")
    _configtest_fails(cfg, "IDSessionSecret file:conf/huge", ["L" * 63])


def test_bad_secret_among_good_ones(cfg):
    secret = "short-secret"
    _configtest_fails(cfg, "IDSessionSecret %s\nIDSessionSecret %s" % (S1, secret),
                      [secret, S1])


def test_startup_with_short_secret_fails_and_hides_it(httpd_factory):
    """Not only -t: a real start fails too, and neither stdout nor the log shows it."""
    secret = "this-is-too-short-a-secret-31ch"
    assert len(secret) == 31
    h = httpd_factory(conf='IDSessionSecret "%s"\n' % secret, start=False, name="short")
    with pytest.raises(RuntimeError) as e:
        h.start()
    assert "IDSessionSecret" in str(e.value)
    assert secret not in str(e.value)
    assert secret not in h.error_log.read_text() if h.error_log.exists() else True


# ---- two servers -----------------------------------------------------------------------------

SHARED = """
IDSession On
IDSessionSecret %s
"""


def env_server(httpd_factory, conf, name):
    """A started server with conf and /env.cgi."""
    h = httpd_factory(conf=conf, cgi=True, start=False, name=name)
    h.write_cgi("env.cgi", ENV_CGI)
    return h.start()


def test_two_servers_same_secret(httpd_factory):
    h1 = env_server(httpd_factory, SHARED % S1, "lb1")
    h2 = env_server(httpd_factory, SHARED % S1, "lb2")
    t1 = assert_replaced(h1, "/env.cgi", None, S1)
    t2 = assert_replaced(h2, "/env.cgi", None, S1)
    assert_kept(h2, "/env.cgi", t1)
    assert_kept(h1, "/env.cgi", t2)


def test_two_servers_different_secrets(httpd_factory):
    h1 = env_server(httpd_factory, SHARED % S1, "lb1")
    h2 = env_server(httpd_factory, SHARED % S2, "lb2")
    t1 = assert_replaced(h1, "/env.cgi", None, S1)
    t2 = assert_replaced(h2, "/env.cgi", t1, S2)
    assert_replaced(h1, "/env.cgi", t2, S1)


def test_rotation_across_servers(httpd_factory):
    """Old servers know S1; a new one signs with S2 and still verifies S1: old tokens stay,
    new tokens only work where S2 is known."""
    old = env_server(httpd_factory, SHARED % S1, "old")
    new = env_server(httpd_factory, (SHARED % S2) + "IDSessionSecret %s\n" % S1, "new")
    t_old = assert_replaced(old, "/env.cgi", None, S1)
    assert_kept(new, "/env.cgi", t_old)               # accepted unchanged, not re-signed
    t_new = assert_replaced(new, "/env.cgi", None, S2)
    assert_replaced(old, "/env.cgi", t_new, S1)


# ---- the error log never holds a token or a secret ------------------------------------------

def test_zz_error_log_has_no_tokens_or_secrets(httpd):
    """Runs last in this module (name): drives the logging paths once more, then scans the
    whole error log at LogLevel idsession:debug for any token, random part, tag or secret."""
    kept = signed(S2)
    get(httpd, "/s/env.cgi", "%s=%s" % (NAME, kept))              # found
    get(httpd, "/s/env.cgi", "%s=%s" % (NAME, signed(SX)))        # rejected: tag
    get(httpd, "/s/env.cgi", "%s=%s" % (NAME, token(32)))         # rejected: length
    get(httpd, "/s/env.cgi", "%s=%s" % (NAME, _noncanonical(token(32)) + "." + "A" * 22))
    get(httpd, "/s-reset", "%s=%s" % (NAME, kept))                # reset
    get(httpd, "/s-app/env.cgi")
    SEEN.add(kept)
    text = httpd.error_log.read_text(errors="replace")
    assert "[idsession:debug]" in text
    assert re.search(r"session cookie _session rejected .*tag does not verify", text)
    assert "log id %s" % log_id(kept) in text
    leaks = []
    for tok in SEEN:
        parts = [tok] + [p for p in tok.split(".") if len(p) >= 16]
        leaks += [p for p in parts if p in text]
    leaks += [s for s in ALL_SECRETS if s in text]
    assert not leaks, "in %s: %r" % (httpd.error_log, leaks)
    assert len(SEEN) > 20


# ---- one keep-alive connection ------------------------------------------------------------
# The module remembers the last token it verified on a connection, keyed by the keyring
# and size, so a second request on the same connection skips the HMAC. A token good for
# /a must still be refused in /b (another secret) and in /u (unsigned) on that connection.

@pytest.mark.parametrize("second", ["/b/index.html", "/u/index.html", "/s16/index.html"])
def test_connection_memo_respects_keys(httpd, second):
    t = signed(SA)
    kept, replaced = two_on_one_connection(httpd, "/a/index.html", second, NAME + "=" + t)
    assert kept is None                        # /a accepts its own token
    assert replaced is not None and replaced != t


def test_connection_memo_same_location_kept(httpd):
    t = signed(SA)
    assert two_on_one_connection(httpd, "/a/index.html", "/a/index.html",
                                  NAME + "=" + t) == [None, None]


# The remembered token is compared in place in the next request's header: only a whole
# value equal to it counts.
@pytest.mark.parametrize("second, kept", [
    ("{n}={t}", True),
    ("a=1; {n}={t} ; b=2", True),
    ("{n}={t}x", False),
    ("{n}={t}.x", False),
    ("{n}=x{t}", False),
    ("{n}x={t}", False),
    ("x{n}={t}", False),
])
def test_connection_memo_whole_value_only(httpd, second, kept):
    t = signed(SA)
    first, then = two_on_one_connection(httpd, "/a/index.html", "/a/index.html",
                                         NAME + "=" + t, second.format(n=NAME, t=t))
    assert first is None
    if kept:
        assert then is None
    else:
        assert then is not None and then != t
