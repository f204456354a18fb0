"""The examples of docs/mod_idsession.md work as printed.

- Every ```apache block passes apache2 -t with mod_idsession loaded in a generated
  ServerRoot, with no warning. A secret file it names
  (/etc/apache2/*.secret) is replaced by a generated one, and ${APACHE_LOG_DIR} by the
  ServerRoot's logs. A block whose fence follows the line <!-- no-configtest --> is
  left out.
- The Python snippets that check a token's tag (<!-- verify-snippet -->) and a stamp
  (<!-- stamp-snippet -->) accept cookies the module minted, and refuse them altered.
"""

import base64
import hashlib
import re
import subprocess
import time

import pytest

import manual
import idshttpd     # after manual, which puts tests/e2e on the path

# Modules the examples may use beside the harness's own (mpm, authz_core, mime, dir,
# alias, env, headers).
MODULES = ["authz_host", "rewrite", "include", "status", "proxy", "proxy_http",
           "socache_shmcb", "socache_dbm"]
SECRET_FILE = re.compile(r"/etc/apache2/[\w.-]+\.secret")
SKIP = "no-configtest"


def examples():
    out = []
    for marker, code in manual.code_blocks(manual.manual_text(), "apache"):
        if marker != SKIP:
            out.append(code)
    return out


EXAMPLES = examples()


@pytest.fixture(scope="module")
def configtest_server():
    h = idshttpd.Httpd(name="docs-examples", modules=MODULES)
    h.write("conf/idsession.secret", base64.b64encode(b"k" * 48).decode() + "\n",
            mode=0o600, under=".")
    yield h
    h.cleanup()


def test_examples_found():
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize("code", EXAMPLES, ids=[c.splitlines()[0][:40] for c in EXAMPLES])
def test_example_passes_configtest(configtest_server, code):
    h = configtest_server
    conf = SECRET_FILE.sub(str(h.root / "conf" / "idsession.secret"), code)
    conf = conf.replace("${APACHE_LOG_DIR}", str(h.root / "logs"))
    rc, out = h.configtest(conf)
    assert rc == 0 and "Syntax OK" in out, out
    noise = [l for l in out.splitlines()
             if re.search(r"\[[\w.:]*(warn|error|crit|alert|emerg)\]|AH\d{5}", l)]
    assert not noise, out


# ---- the Python snippets, against cookies the module minted -----------------------------

SECRETS = [b"docs-old-secret-" + b"o" * 32, b"docs-new-secret-" + b"n" * 32]
CONF = """
<Location /plain>
    IDSession On
    IDSessionSecret file:@ROOT@/conf/new.secret
    IDSessionSecret file:@ROOT@/conf/old.secret
</Location>
<Location /timed>
    IDSession On
    IDSessionSecret file:@ROOT@/conf/new.secret
    IDSessionSecret file:@ROOT@/conf/old.secret
    IDSessionIdleTimeout 600
</Location>
"""


@pytest.fixture(scope="module")
def minting_server():
    h = idshttpd.Httpd(name="docs-snippets", conf=CONF)
    h.write("conf/old.secret", SECRETS[0], mode=0o600, under=".")
    h.write("conf/new.secret", SECRETS[1], mode=0o600, under=".")
    for d in ("plain", "timed"):
        h.write(d + "/index.html", "x\n")
    h.start()
    yield h
    try:
        assert h.unexpected_log_lines() == []
    finally:
        h.cleanup()


def minted(h, path):
    [c] = h.curl(path).set_cookies("_session")
    return c.value


def flip(s):
    """s with one base64url character changed (the first, so no padding bits move)."""
    return ("B" if s[0] == "A" else "A") + s[1:]


def test_verify_snippet(minting_server):
    verify = manual.load_snippet("verify-snippet", "idsession_verify")
    token = minted(minting_server, "/plain/index.html")
    r, t = token.split(".")
    assert verify(token, SECRETS) and verify(token, SECRETS[1:])
    assert not verify(token, SECRETS[:1])
    assert not verify(flip(r) + "." + t, SECRETS)
    assert not verify(r, SECRETS)
    assert not verify(token, SECRETS, nbytes=48)


def test_stamp_snippet(minting_server):
    stamp_times = manual.load_snippet("stamp-snippet", "stamp_times")
    before = int(time.time())
    value = minted(minting_server, "/timed/index.html")
    token, stamp = value.rsplit(".", 1)
    created, renewed = stamp_times(value, SECRETS)
    assert created == renewed and before <= created <= int(time.time())
    assert stamp_times(value, SECRETS[:1]) is None
    assert stamp_times(token + "." + flip(stamp), SECRETS) is None
    other = minted(minting_server, "/timed/index.html")
    assert stamp_times(other.rsplit(".", 1)[0] + "." + stamp, SECRETS) is None


def test_store_key_lines(minting_server):
    """The sha256sum lines give SESSION_STORE_KEY and SESSION_LOG_ID."""
    [sh] = [c for _, c in manual.code_blocks(manual.section("Token format"), "sh")
            if "sha256sum" in c]
    token = minted(minting_server, "/plain/index.html")
    out = subprocess.run(["/bin/sh", "-c", sh], env={"token": token, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout.split()
    store_key = hashlib.sha256(token.encode()).hexdigest()
    assert out == [store_key, store_key[:16]]
