"""Scale-out: one front httpd (no mod_idsession) with mod_proxy_balancer in
round-robin (lbmethod_byrequests) over two node httpds.

- /app/: both nodes read the same secret file, so a token minted through either node stays
  the session across requests that both nodes serve.
- /rot/: a rolling key rotation -- one node already signs with the new secret, the other
  still signs with the old one; each verifies both, so no session is lost.
- /split/: each node has its own secret: whenever the other node serves a request, the
  token is replaced (that is what a missing shared secret costs).

Three servers come from the factory, each on its own port; the front is configured once the
nodes' ports are known."""

import pytest

from ecosystem import ECHO_CGI, SIGNED_RE
from idshttpd import UNSET

NODE_CONF = """
SetEnv NODE @NAME@
<Directory "@DOCROOT@/app">
    IDSession On
    IDSessionSecret file:@SHARED@
</Directory>
<Directory "@DOCROOT@/rot">
    IDSession On
    IDSessionSecret file:@ROT_FIRST@
    IDSessionSecret file:@ROT_SECOND@
</Directory>
<Directory "@DOCROOT@/split">
    IDSession On
    IDSessionSecret file:@OWN@
</Directory>
"""

FRONT_CONF = """
<Proxy "balancer://nodes">
    BalancerMember "http://127.0.0.1:@N1@"
    BalancerMember "http://127.0.0.1:@N2@"
    ProxySet lbmethod=byrequests
</Proxy>
ProxyPass        "/app/"   "balancer://nodes/app/"
ProxyPassReverse "/app/"   "balancer://nodes/app/"
ProxyPass        "/rot/"   "balancer://nodes/rot/"
ProxyPassReverse "/rot/"   "balancer://nodes/rot/"
ProxyPass        "/split/" "balancer://nodes/split/"
ProxyPassReverse "/split/" "balancer://nodes/split/"
"""

FRONT_MODULES = ["proxy", "proxy_http", "proxy_balancer", "lbmethod_byrequests",
                 "slotmem_shm"]

ROUNDS = 8      # requests per session: at least 6, served by both nodes


@pytest.fixture(scope="module")
def front(httpd_module_factory, tmp_path_factory):
    secrets = tmp_path_factory.mktemp("secrets")
    files = {}
    for name in ("shared", "old", "new", "own-n1", "own-n2"):
        f = secrets / name
        f.write_text("%s-secret-%s\n" % (name, "x" * 40))
        f.chmod(0o600)
        files[name] = str(f)
    nodes = []
    for name, rot in (("n1", ("new", "old")), ("n2", ("old", "new"))):
        conf = (NODE_CONF.replace("@NAME@", name).replace("@SHARED@", files["shared"])
                .replace("@ROT_FIRST@", files[rot[0]])
                .replace("@ROT_SECOND@", files[rot[1]])
                .replace("@OWN@", files["own-" + name]))
        h = httpd_module_factory(conf=conf, cgi=True, start=False, name="node-" + name)
        for d in ("app", "rot", "split"):
            h.write_cgi(d + "/node.cgi", ECHO_CGI)
        nodes.append(h.start())
    f = httpd_module_factory(conf=FRONT_CONF.replace("@N1@", str(nodes[0].port))
                             .replace("@N2@", str(nodes[1].port)),
                             modules=FRONT_MODULES, idsession=False, start=False,
                             name="front")
    return f.start()


class Browser:
    """Keeps the one session cookie as a browser would."""

    def __init__(self, front):
        self.front = front
        self.token = None

    def get(self, path):
        r = self.front.curl(path, cookie_header=("_session=" + self.token)
                            if self.token else None)
        assert r.status == 200, r
        e = r.env()
        cs = r.set_cookies("_session")
        assert len(cs) <= 1, r.headers
        if cs:
            self.token = cs[0].value
        return e, bool(cs)


def minted_session(front, path):
    """A new session: (browser, node that minted its token)."""
    b = Browser(front)
    e, set_cookie = b.get(path)
    assert set_cookie and e["SESSION_TOKEN_NEW"] == "1"
    assert SIGNED_RE.match(b.token) and e["SESSION_TOKEN"] == b.token
    return b, e["NODE"]


def test_front_has_no_idsession(front):
    assert "idsession" not in front.conf_file.read_text()


@pytest.mark.parametrize("path", ["/app/node.cgi", "/rot/node.cgi"])
def test_shared_secret_token_survives_both_nodes(front, path):
    minted_by = {}
    for _ in range(4):              # round-robin: new sessions land on both nodes
        b, node = minted_session(front, path)
        minted_by.setdefault(node, b)
        if len(minted_by) == 2:
            break
    assert set(minted_by) == {"n1", "n2"}
    for minter, b in sorted(minted_by.items()):
        tok = b.token
        served = []
        for _ in range(ROUNDS):
            e, set_cookie = b.get(path)
            served.append(e["NODE"])
            assert e["SESSION_TOKEN"] == tok, (minter, served)
            assert e["SESSION_TOKEN_NEW"] == UNSET
            assert not set_cookie
        assert set(served) == {"n1", "n2"}, served
        assert b.token == tok


def test_separate_secrets_replace_tokens(front):
    b, minter = minted_session(front, "/split/node.cgi")
    owner = {b.token: minter}
    replaced = kept = 0
    served = []
    for _ in range(ROUNDS):
        before = b.token
        e, set_cookie = b.get("/split/node.cgi")
        node = e["NODE"]
        served.append(node)
        if node == owner[before]:
            # The node that signed it accepts it.
            assert not set_cookie and e["SESSION_TOKEN"] == before
            kept += 1
        else:
            # The other node can't verify it: a new token, signed by that node.
            assert set_cookie and e["SESSION_TOKEN_NEW"] == "1"
            assert e["SESSION_TOKEN"] == b.token != before
            assert SIGNED_RE.match(b.token)
            owner[b.token] = node
            replaced += 1
    assert set(served) == {"n1", "n2"}, served
    assert replaced >= 1
    assert len(owner) == replaced + 1
