"""Revocation through IDSessionStore, with each provider (shmcb, dbm, redis).

A reset or an application rotation revokes the old token after IDSessionRevokeGrace; the
application revokes sessions with IDSession-Revoke; an administrator through SetHandler
idsession-revoke.  The grace window is tested without sleeping: IDSessionRevokeGrace 0 for
"after the window", 3600 for "inside it".
"""

import http.client
import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import idshttpd
from idshttpd import log_id, wait_until
from stores import ENDPOINTS, REDIS, RedisServer, graceful

APP_CGI = r"""#!/bin/sh
[ "$REQUEST_METHOD" = POST ] && cat >/dev/null
printf 'Content-Type: text/plain\r\n'
case "$QUERY_STRING" in
    revoke=*) printf 'IDSession-Revoke: %s\r\n' "${QUERY_STRING#revoke=}" ;;
    reset=1) printf 'IDSession-Reset: 1\r\n' ;;
    both=*) printf 'IDSession-Revoke: %s\r\nIDSession-Reset: 1\r\n' "${QUERY_STRING#both=}" ;;
esac
printf '\r\n'
for v in SESSION_TOKEN SESSION_LOG_ID SESSION_TOKEN_NEW SESSION_EXPIRED; do
    eval "printf '%s=%s\n' $v \"\${$v-<unset>}\""
done
"""

CONF = """
IDSessionStore @STORE@
IDSessionRevokeGrace @GRACE@
IDSessionStoreBreaker 3 1
<Location /s>
    IDSession On
</Location>
<Location /app>
    IDSession On
    IDSessionAppReset On
    IDSessionAppRevoke On
</Location>
<Location /admin-denied>
    SetHandler idsession-revoke
    Require all denied
</Location>
""" + ENDPOINTS

PROVIDERS = ["shmcb", "dbm", "redis"]


def store_arg(kind, h, redis=None):
    if kind == "shmcb":
        return '"shmcb:%s/run/revoked(512000)"' % h.root
    if kind == "dbm":
        return '"dbm:%s/run/revoked"' % h.root
    return "redis:" + redis.address


def make_server(factory, kind, grace, name, redis=None, conf=CONF, **kw):
    """A harness server with IDSessionStore of kind (and the RedisServer for redis)."""
    h = factory(conf="", modules=["socache_shmcb", "socache_dbm", "authz_host"], cgi=True, start=False,
                name=name, **kw)
    if kind == "redis" and redis is None:
        if not REDIS.exists():
            pytest.skip("redis-server is missing; `make test` installs it")
        redis = RedisServer(h.root).start()
        h.redis = redis
    h.conf = conf.replace("@STORE@", store_arg(kind, h, redis)).replace("@GRACE@", str(grace))
    for d in ("s", "app"):
        h.write_cgi(d + "/env.cgi", APP_CGI)
    h.write("s/f.txt", "x\n")
    h.start()
    return h


@pytest.fixture(scope="module", params=PROVIDERS)
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def servers(request, httpd_module_factory, kind):
    """The provider's server with no grace window, and one with an hour's."""
    made = []
    redis = None
    if kind == "redis":
        if not REDIS.exists():
            pytest.skip("redis-server is missing; `make test` installs it")
        tmp = Path(tempfile.mkdtemp(prefix="ids-redis-"))
        redis = RedisServer(tmp).start()
        request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
        request.addfinalizer(redis.stop)
    for grace in (0, 3600):
        made.append(make_server(httpd_module_factory, kind, grace, "%s-g%d" % (kind, grace),
                                redis=redis))
    return made


def new_session(h, path="/s/env.cgi"):
    r = h.curl(path)
    assert r.status == 200, r
    [c] = r.set_cookies("_session")
    return c.value


def env_with(h, tok, path="/s/env.cgi"):
    r = h.curl(path, cookie_header="_session=" + tok)
    assert r.status == 200, r
    return r, r.env()


def reset(h, tok):
    r = h.curl("/reset", cookie_header="_session=" + tok)
    assert r.status == 302, r
    [c] = r.set_cookies("_session")
    assert c.value != tok
    return c.value


def admin(h, body, path="/admin", method="POST"):
    return h.curl(path, method=method, data=body,
                  headers=["Content-Type: application/x-www-form-urlencoded"])


def assert_revoked(h, tok):
    r, env = env_with(h, tok)
    assert env["SESSION_EXPIRED"] == "revoked", env
    assert env["SESSION_TOKEN_NEW"] == "1"
    [c] = r.set_cookies("_session")
    assert c.value != tok and env["SESSION_TOKEN"] == c.value
    return c.value


def assert_kept(h, tok):
    r, env = env_with(h, tok)
    assert env["SESSION_TOKEN"] == tok and env["SESSION_EXPIRED"] == "<unset>", env
    assert env["SESSION_TOKEN_NEW"] == "<unset>"
    assert r.set_cookies() == []


# ---- reset and rotation ----------------------------------------------------------------

def test_reset_revokes_old_token_after_grace(servers):
    h = servers[0]
    old = new_session(h)
    new = reset(h, old)
    assert_revoked(h, old)
    assert_kept(h, new)


def test_inside_grace_old_token_kept_without_set_cookie(servers):
    h = servers[1]
    old = new_session(h)
    new = reset(h, old)
    assert_kept(h, old)
    assert_kept(h, new)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_second_rotation_does_not_move_the_window_on(httpd_factory, tmp_path, provider):
    """IDSessionRevokeGrace 2: the old token of a reset in second t0 is refused from
    t0 + 2.  A second reset with it at t0 + 1 (a login form sent twice) must not move
    that on to t0 + 3: an entry already on the list keeps its earlier start.  Real time:
    the server's times are whole seconds of the same clock."""
    redis = None
    if provider == "redis":
        if not REDIS.exists():
            pytest.skip("redis-server is missing; `make test` installs it")
        redis = RedisServer(tmp_path).start()
    try:
        h = make_server(httpd_factory, provider, 2, "window-" + provider, redis=redis)
        for _ in range(3):          # the first reset must fall in one known second
            old = new_session(h)
            t0 = int(time.time()) + 1
            wait_until(t0)
            reset(h, old)
            if int(time.time()) == t0:
                break
        else:
            pytest.fail("a reset never completed within the second it began")
        wait_until(t0 + 1)
        assert_kept(h, old)
        reset(h, old)
        wait_until(t0 + 2)
        assert_revoked(h, old)
    finally:
        if redis:
            redis.stop()


def test_app_rotation_revokes_old_token(servers):
    h = servers[0]
    old = new_session(h)
    r, env = env_with(h, old, "/app/env.cgi?reset=1")
    assert "idsession-reset" not in str(r.headers).lower()
    [c] = r.set_cookies("_session")
    assert_revoked(h, old)
    assert_kept(h, c.value)


def test_minted_token_asks_nothing_and_stays(servers):
    h = servers[0]
    tok = new_session(h)
    assert_kept(h, tok)


# ---- the application's IDSession-Revoke ----------------------------------------------

def test_app_revokes_current(servers):
    h = servers[1]         # immediate, whatever the grace window
    tok = new_session(h)
    r, env = env_with(h, tok, "/app/env.cgi?revoke=current")
    assert r.header("IDSession-Revoke") is None
    assert env["SESSION_TOKEN"] == tok
    assert_revoked(h, tok)


def test_app_revokes_another_session(servers):
    h = servers[1]
    mine, other, third = new_session(h), new_session(h), new_session(h)
    r, _ = env_with(h, mine, "/app/env.cgi?revoke=%s,%s" % (log_id(other),
                                                              log_id(third).upper()))
    assert r.header("IDSession-Revoke") is None
    assert_kept(h, mine)
    assert_revoked(h, other)
    assert_revoked(h, third)


def test_app_revoke_current_then_reset_is_immediate(servers):
    h = servers[1]
    old = new_session(h)
    r, _ = env_with(h, old, "/app/env.cgi?both=current")
    [c] = r.set_cookies("_session")
    assert_revoked(h, old)       # not kept for the grace window of the reset
    assert_kept(h, c.value)


@pytest.mark.parametrize("case", [str.lower, str.upper], ids=["lower", "upper"])
def test_app_revoke_own_log_id_then_reset_is_immediate(servers, case):
    # The application names its own session by its log id, as the logout-everywhere
    # recipe does, not by "current": the rotation must not reopen a grace window.
    h = servers[1]
    old = new_session(h)
    r, _ = env_with(h, old, "/app/env.cgi?both=" + case(log_id(old)))
    [c] = r.set_cookies("_session")
    assert_revoked(h, old)
    assert_kept(h, c.value)


def test_app_revoke_needs_app_revoke_on(servers):
    h = servers[0]
    tok = new_session(h)
    h.expect_log(r"IDSession-Revoke in the response to /s/env.cgi was dropped.*"
                 r"IDSessionAppRevoke is not On")
    r, _ = env_with(h, tok, "/s/env.cgi?revoke=current")
    assert r.header("IDSession-Revoke") is None
    assert_kept(h, tok)


def test_app_revoke_malformed_revokes_nothing(servers):
    h = servers[0]
    tok, other = new_session(h), new_session(h)
    h.expect_log(r"IDSession-Revoke .* dropped .*neither a log id")
    r, _ = env_with(h, tok, "/app/env.cgi?revoke=%s,nothex" % log_id(other))
    assert r.header("IDSession-Revoke") is None
    assert_kept(h, other)
    assert_kept(h, tok)


# ---- the administrator's endpoint ------------------------------------------------------

def test_admin_revokes(servers):
    h = servers[1]
    a, b = new_session(h), new_session(h)
    r = admin(h, "log_id=%s&log_id=%s" % (log_id(a), log_id(b)))
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("application/json")
    assert json.loads(r.body) == {"revoked": 2}
    assert_revoked(h, a)
    assert_revoked(h, b)


def test_admin_counts_a_repeated_id_once(servers):
    # The same session named twice, once in capitals: one session revoked.
    h = servers[1]
    a, b = new_session(h), new_session(h)
    r = admin(h, "log_id=%s&log_id=%s&log_id=%s"
              % (log_id(a), log_id(b), log_id(a).upper()))
    assert r.status == 200, r
    assert json.loads(r.body) == {"revoked": 2}
    assert_revoked(h, a)
    assert_revoked(h, b)


@pytest.mark.parametrize("body", ["log_id=xyz", "log_id=0123", "other=1",
                                  "log_id=@OK@&log_id=zzzzzzzzzzzzzzzz", ""])
def test_admin_malformed_is_400_and_revokes_nothing(servers, body):
    h = servers[1]
    tok = new_session(h)
    r = admin(h, body.replace("@OK@", log_id(tok)))
    assert r.status == 400, r
    assert_kept(h, tok)


def test_admin_other_methods_405(servers):
    h = servers[1]
    r = h.curl("/admin")
    assert r.status == 405
    assert "POST" in r.header("Allow")


def test_admin_require_403(servers):
    h = servers[1]
    tok = new_session(h)
    h.expect_log(r"AH01630: client denied by server configuration")
    r = admin(h, "log_id=" + log_id(tok), path="/admin-denied")
    assert r.status == 403
    assert_kept(h, tok)


# ---- graceful restart -------------------------------------------------------------------

@pytest.mark.skipif(idshttpd.VALGRIND, reason="apache2 -X (valgrind) has no graceful restart")
def test_graceful_restart(servers, kind):
    """dbm and redis keep revocations across a graceful restart; shmcb loses them
    (README: what each provider keeps)."""
    h = servers[1]
    tok = new_session(h)
    assert admin(h, "log_id=" + log_id(tok)).status == 200
    graceful(h)
    r, env = env_with(h, tok)
    if kind == "shmcb":
        assert env["SESSION_TOKEN"] == tok and env["SESSION_EXPIRED"] == "<unset>"
    else:
        assert env["SESSION_EXPIRED"] == "revoked"


# ---- with timeouts ----------------------------------------------------------------------

TIMED_CONF = """
IDSessionSecret "0123456789abcdef0123456789abcdef-revocation"
IDSessionIdleTimeout 3600
IDSessionRenewInterval 0
""" + CONF


def test_inside_grace_no_renewal_set_cookie(httpd_factory):
    """A renewal due inside the grace window would put the old token back over the new
    one: none is sent.  Outside any window the same request renews."""
    h = make_server(httpd_factory, "shmcb", 3600, "timed", conf=TIMED_CONF)
    h.expect_log(r"IDSessionSecret: a literal secret")
    old = new_session(h)
    r, env = env_with(h, old)
    assert [c.value.split(".")[:2] for c in r.set_cookies("_session")] == [old.split(".")[:2]]
    reset(h, old)
    r, env = env_with(h, old)
    assert r.set_cookies() == [] and env["SESSION_TOKEN"] == ".".join(old.split(".")[:2])


def test_revoked_timed_session(httpd_factory):
    h = make_server(httpd_factory, "shmcb", 0, "timed0", conf=TIMED_CONF)
    old = new_session(h)
    reset(h, old)
    r, env = env_with(h, old)
    assert env["SESSION_EXPIRED"] == "revoked" and env["SESSION_TOKEN_NEW"] == "1"


# vh.example uses the main server's store; own.example has a store of its own.
VHOSTS = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName 127.0.0.1
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vh.example
    DocumentRoot "@DOCROOT@"
    <Location /s>
        IDSession On
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName own.example
    DocumentRoot "@DOCROOT@"
    IDSessionStore "shmcb:@ROOT@/run/own(100000)"
    <Location /s>
        IDSession On
    </Location>
</VirtualHost>
"""


def test_virtual_host_without_store_uses_the_main_servers(httpd_factory):
    h = make_server(httpd_factory, "shmcb", 0, "vhost", conf=CONF + VHOSTS)
    tok = new_session(h)
    assert admin(h, "log_id=" + log_id(tok)).status == 200
    env = {}
    for host in ("vh.example", "own.example"):
        r = h.curl("/s/env.cgi", cookie_header="_session=" + tok, headers=["Host: " + host])
        assert r.status == 200
        env[host] = r.env()["SESSION_EXPIRED"]
    assert env == {"vh.example": "revoked", "own.example": "<unset>"}


def test_store_reuse_is_only_for_the_store_that_answered(httpd_factory):
    # One keep-alive connection reaches two virtual hosts with different stores.
    # own.example's store has never heard of the token; the main store (which
    # vh.example uses) has it revoked.  own.example's "not revoked", kept for
    # IDSessionStoreReuse, must not let the token through on vh.example.
    h = make_server(httpd_factory, "shmcb", 0, "vhost-reuse",
                    conf=CONF + "IDSessionStoreReuse 60\n" + VHOSTS)
    tok = new_session(h)
    assert admin(h, "log_id=" + log_id(tok)).status == 200
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    got = []
    try:
        for host in ("own.example", "vh.example", "own.example"):
            conn.request("GET", "/s/f.txt", headers={"Cookie": "_session=" + tok,
                                                     "Host": host})
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            got.append(len([k for k, _ in r.getheaders() if k.lower() == "set-cookie"]))
    finally:
        conn.close()
    assert got == [0, 1, 0]     # vh.example refuses it and mints a new token


def test_without_a_store_app_revoke_and_admin_do_nothing(httpd_factory):
    """IDSessionAppRevoke On where no IDSessionStore applies: the header is dropped and
    logged (IDS00017), nothing revoked; the admin endpoint answers 500 (IDS00018)."""
    conf = """
<Location /app>
    IDSession On
    IDSessionAppRevoke On
</Location>
<Location /admin>
    SetHandler idsession-revoke
</Location>
"""
    h = httpd_factory(conf=conf, cgi=True, start=False)
    h.write_cgi("app/env.cgi", APP_CGI)
    h.start()
    h.expect_log(r"IDS00017: IDSession-Revoke in the response to /app/env\.cgi was dropped "
                 r"and nothing was revoked: no IDSessionStore applies")
    h.expect_log(r"IDS00018: SetHandler idsession-revoke needs an IDSessionStore")
    tok = new_session(h, "/app/env.cgi")
    r, _ = env_with(h, tok, "/app/env.cgi?revoke=current")
    assert r.header("IDSession-Revoke") is None
    r, _ = env_with(h, tok, "/app/env.cgi")
    assert r.set_cookies("_session") == []             # still the session
    assert admin(h, "log_id=" + log_id(tok)).status == 500
