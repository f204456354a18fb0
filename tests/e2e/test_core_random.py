"""If the random source fails, the answer is a 500 with a logged error, never a
weaker token. An LD_PRELOAD shim makes getrandom(2) (what APR uses) fail while a flag file
exists, so the server starts normally and the failure is switched on per request."""

import re
import subprocess

import pytest

from idshttpd import ENV_CGI, token

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    static ssize_t (*real)(void *, size_t, unsigned int);
    const char *flag = getenv("IDS_FAIL_RANDOM_FLAG");

    if (flag && access(flag, F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    if (!real) {
        real = (ssize_t (*)(void *, size_t, unsigned int))dlsym(RTLD_NEXT, "getrandom");
    }
    return real(buf, len, flags);
}
"""

CONF = """
<Location /r>
    IDSession On
</Location>
<Location /r/reset>
    SetHandler idsession-reset
</Location>
<Location /server-status>
    SetHandler server-status
    IDSession Off
</Location>
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    d = tmp_path_factory.mktemp("shim")
    (d / "shim.c").write_text(SHIM)
    so = d / "failrandom.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(so), str(d / "shim.c"), "-ldl"],
                   check=True, capture_output=True)
    # the .so must be readable by www-data: copy it next to the server root later
    return so.read_bytes()


@pytest.fixture(scope="module")
def httpd(httpd_module_factory, shim):
    h = httpd_module_factory(conf=CONF, cgi=True, start=False, modules=["status"])
    lib = h.write("failrandom.so", shim, mode=0o755, under="run")
    h.flag = h.root / "run" / "fail-random"
    h.env = {"LD_PRELOAD": str(lib), "IDS_FAIL_RANDOM_FLAG": str(h.flag)}
    h.write_cgi("r/env.cgi", ENV_CGI)
    h.write("r/index.html", "ok\n")
    return h.start()


@pytest.fixture
def failing(httpd):
    httpd.flag.write_text("")
    yield httpd
    httpd.flag.unlink()


def test_mint_fails_with_500(failing):
    r = failing.curl("/r/env.cgi")
    assert r.status == 500
    assert r.headers_named("set-cookie") == []
    assert "SESSION_TOKEN=" not in r.body
    failing.expect_log(r"\[idsession:error\].*random")
    failing.wait_log(r"\[idsession:error\] .*IDS00003: cannot mint a session token: the "
                     r"random source failed")


def test_malformed_cookie_fails_with_500(failing):
    r = failing.curl("/r/index.html", cookie_header="_session=short")
    assert r.status == 500
    assert r.headers_named("set-cookie") == []
    failing.expect_log(r"\[idsession:error\].*random")


def test_kept_token_needs_no_randomness(failing):
    t = token()
    r = failing.curl("/r/env.cgi", cookie_header="_session=" + t)
    assert r.status == 200
    assert r.env()["SESSION_TOKEN"] == t


def test_reset_fails_with_500(failing):
    r = failing.curl("/r/reset", cookie_header="_session=" + token())
    assert r.status == 500
    assert r.headers_named("set-cookie") == []
    assert r.header("location") is None
    failing.expect_log(r"\[idsession:error\].*random")


def test_recovers(httpd):
    r = httpd.curl("/r/env.cgi")
    assert r.status == 200
    assert len(r.headers_named("set-cookie")) == 1


def random_failures(h):
    body = h.curl("/server-status?auto").body
    return int(re.search(r"^IDSessionRandomFailures: (\d+)$", body, re.M).group(1))


def test_failures_are_counted(failing):
    before = random_failures(failing)
    for path, cookie in (("/r/index.html", None), ("/r/index.html", "_session=short"),
                         ("/r/reset", "_session=" + token())):
        assert failing.curl(path, cookie_header=cookie).status == 500
    assert random_failures(failing) == before + 3
    failing.expect_log(r"\[idsession:error\].*random")
