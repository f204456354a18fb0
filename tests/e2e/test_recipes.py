"""docs/recipes.md, run as it is printed, on a Debian-shaped apache2 in a scratch directory.

The markers
-----------
An HTML comment on the line just before a code fence tells this file what to do with it:

    <!-- test: setup -->        a ```sh block every recipe starts from (install, a2enmod
                                idsession); its commands run first for every recipe
    <!-- test: shell -->        a ```sh block of a recipe: its commands run, in order
    <!-- test: vhost -->        a complete ```apache block that goes inside the site's
                                <VirtualHost> (Debian's sites-available/000-default.conf),
                                after what earlier recipes put there ("vhost above":
                                before it, where the guide says to put it above)
    <!-- test: file PATH -->    the block is the whole content of the file PATH (a relative
                                PATH is relative to the directory the commands run in)
    <!-- test: on N -->         on a line of its own under a heading: this recipe is
                                tested on top of recipe N

A recipe is the text under one heading (of any level) down to the next heading; its blocks
are the marked blocks in that text.  It is tested after the recipes it names with `on`
and after its parents' introductions (for "3.2", the text of "3" before "3.1").  Every
other "<!-- test: ... -->" comment fails test_markers.

What a recipe's test does
-------------------------
1. It builds a Debian apache2 configuration below a scratch ServerRoot: a copy of
   /etc/apache2/apache2.conf, of every mods-available and conf-available file, and of
   sites-available/000-default.conf, an envvars of its own, and the modules and
   configurations that a fresh install of the apache2 package enables (read from the
   package's postinst), enabled with Debian's own a2enmod/a2enconf/a2ensite.
   mods-available/idsession.load loads the module of this worktree (.libs/).
2. It writes the recipe's `file` blocks and puts its `vhost` blocks into the site.
3. It runs the `setup` commands, then the recipe's `shell` commands, with the real tools:
   a2enmod, a2dismod, a2enconf, a2disconf, a2ensite and apache2ctl run with
   APACHE_CONFDIR (and APACHE_STATE_DIRECTORY) pointing at the scratch tree, so a
   module the recipe forgets to enable is not there; `apt-get install P` checks that P
   is installed (`make test` installs them: scripts/deps.sh); `systemctl reload|restart
   apache2` is left to the test; `apxs -c -i F` compiles F (with this worktree's
   mod_idsession.h) and installs it into the scratch /usr/lib/apache2/modules;
   head, chmod, chown, mkdir run through sh.  Any other command fails the test.
4. `apache2ctl configtest` must print exactly "Syntax OK".
5. The end-to-end tests then start apache2 (`apache2 -d <confdir> -DFOREGROUND` with
   the envvars) on a free port and request it with curl; after each test its error log
   must hold no unexpected [warn] or [error] line (idshttpd's rule).

Paths a recipe uses are moved below the scratch root, in every file the test writes and
every command it runs (PATH_MAP below): /etc/apache2, /var/www, /usr/lib/cgi-bin,
/var/lib/apache2, /run/apache2, /run/php, /var/log/apache2, and a module
/usr/lib/apache2/modules/X that the system does not have.  `*:80` becomes the test's
port, and a backend address 127.0.0.1:8080 the test's own backend.  The generated
ports.conf (Listen, ServerName) also keeps mod_wsgi's daemon sockets below the root.  The scratch
/usr/lib/cgi-bin links to everything in the real one (php8.2 of php8.2-cgi).

Other checks: every a2enmod/a2dismod/a2enconf name anywhere in the guide exists in
/etc/apache2/*-available, from the apache2 packages or from a package the same recipe
installs; every python, php, sh and C block parses.
"""

import hashlib
import http.server
import os
import re
import shlex
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

import idshttpd
from idshttpd import REPO, log_id

DOC = REPO / "docs" / "recipes.md"
ETC = Path("/etc/apache2")
POSTINST = Path("/var/lib/dpkg/info/apache2.postinst")
APACHE_PACKAGES = {"apache2", "apache2-bin", "apache2-data"}

# ---- the guide -------------------------------------------------------------------------

MARKER = re.compile(r"<!-- test: (.*?) -->")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
HEADING = re.compile(r"^(#{1,6}) (.*)$", re.M)


class Block:
    def __init__(self, kind, arg, lang, text, line):
        self.kind, self.arg, self.lang, self.text, self.line = kind, arg, lang, text, line

    def __repr__(self):
        return "Block(%s %s, line %d)" % (self.kind, self.arg or "", self.line)


FENCED_KINDS = ("setup", "shell", "vhost", "file")


class Section:
    """The text under one heading: its fenced blocks, marked or not, and the recipes it
    is tested on top of (`<!-- test: on N -->`)."""

    def __init__(self, title, text, first_line):
        self.title = title
        self.text = text
        self.blocks = []            # marked blocks, in order
        self.fences = []            # (lang, text, line) of every fenced block
        self.on = [m.group(1) for m in re.finditer(r"^<!-- test: on (\S+) -->$", text, re.M)]
        for m in FENCE.finditer(text):
            line = first_line + text.count("\n", 0, m.start())
            self.fences.append((m.group(1), m.group(2), line))
            before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mk = MARKER.fullmatch(before.strip())
            if mk:
                kind, _, arg = mk.group(1).partition(" ")
                self.blocks.append(Block(kind, arg.strip(), m.group(1), m.group(2), line))

    @property
    def key(self):
        """How tests name it: its number ("3.2"), or its title when it has none."""
        return self.number or self.title

    @property
    def number(self):
        m = re.match(r"([\d.]+?)\.? ", self.title)
        return m.group(1) if m else None

    def marked(self, *kinds):
        return [b for b in self.blocks if b.kind in kinds]

    def is_recipe(self):
        return bool(self.marked("vhost", "file"))


def sections(text=None):
    text = DOC.read_text() if text is None else text
    fences = [m.span() for m in FENCE.finditer(text)]
    heads = [h for h in HEADING.finditer(text)
             if not any(a <= h.start() < b for a, b in fences)]
    out = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out.append(Section(h.group(2).strip(), text[h.end():end],
                           text.count("\n", 0, h.end()) + 1))
    return out


def section(key):
    """The section numbered key ("3.2") or titled key."""
    for s in sections():
        if s.key == key:
            return s
    raise AssertionError("docs/recipes.md has no section %r" % key)


def lineage(key):
    """The sections a recipe is tested with, in order: those it is tested on (`on`),
    its parents' introductions ("3" for "3.2"), itself."""
    out = []
    sec = section(key)
    for dep in sec.on:
        out += [k for k in lineage(dep) if k not in out]
    if sec.number:
        parts = sec.number.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in out:
                out.append(parent)
    out.append(key)
    return out


def setup_blocks():
    return [b for s in sections() for b in s.marked("setup")]


def recipes():
    return [s for s in sections() if s.is_recipe()]


# ---- paths -----------------------------------------------------------------------------

PATH_MAP = ["/etc/apache2", "/var/www", "/usr/lib/cgi-bin", "/var/lib/apache2",
            "/run/apache2", "/var/run/apache2", "/run/php", "/var/log/apache2"]
_PATH_RE = re.compile(r"(?<![\w./-])(%s)(?=[/\"'\s)|:;]|$)"
                      % "|".join(re.escape(p) for p in PATH_MAP), re.M)
_MODULE_RE = re.compile(r"(?<![\w./-])/usr/lib/apache2/modules/([\w.-]+)")


class Paths:
    """Moves a recipe's absolute paths below the scratch root (see the module docstring)."""

    def __init__(self, root):
        self.root = root
        self.extra = {}             # literal text -> replacement (ports)

    def __call__(self, text):
        text = _PATH_RE.sub(lambda m: str(self.root) + m.group(1), text)
        text = _MODULE_RE.sub(self._module, text)
        for old, new in self.extra.items():
            text = text.replace(old, new)
        return text

    def _module(self, m):
        if (Path("/usr/lib/apache2/modules") / m.group(1)).exists():
            return m.group(0)
        return "%s/usr/lib/apache2/modules/%s" % (self.root, m.group(1))


def stock_defaults():
    """What a fresh install of Debian's apache2 enables: (mpm, modules, confs)."""
    text = POSTINST.read_text()
    mpm = re.search(r"enable_default_mpm\(\)\s*\{.*?a2enmod -m -q (\S+)", text, re.S)
    mods = re.search(r"for module in (.*?); do", text, re.S)
    confs = re.search(r"for conf in (.*?); do", text, re.S)
    assert mpm and mods and confs, "cannot read the defaults from %s" % POSTINST
    split = lambda s: s.replace("\\", " ").split()
    return mpm.group(1), split(mods.group(1)), split(confs.group(1))


# ---- a Debian apache2 in a directory ---------------------------------------------------

class Site(idshttpd.Httpd):
    """A scratch copy of Debian's /etc/apache2 layout, configured by a recipe.

    The harness (idshttpd.Httpd) starts, stops, requests and checks the error log; this
    class only changes what it runs: Debian's apache2.conf with -d <confdir>."""

    def __init__(self, name):
        super().__init__(name="recipe-" + name, debug=False)
        self.map = Paths(self.root)
        self.confdir = self.root / "etc" / "apache2"
        self.error_log = self.root / "var" / "log" / "apache2" / "error.log"
        self.conf_file = self.confdir / "apache2.conf"
        self.workdir = self.root / "work"
        self.vhost_blocks = []
        self.packages = set()
        self.env = {
            "APACHE_RUN_USER": "www-data", "APACHE_RUN_GROUP": "www-data",
            "APACHE_PID_FILE": "%s/run/apache2/apache2.pid" % self.root,
            "APACHE_RUN_DIR": "%s/run/apache2" % self.root,
            "APACHE_LOCK_DIR": "%s/run/lock/apache2" % self.root,
            "APACHE_LOG_DIR": "%s/var/log/apache2" % self.root,
            "LANG": "C",
        }
        self._build()

    # -- the tree

    def _copy_tree(self, sub):
        (self.confdir / sub).mkdir(parents=True)
        for f in sorted((ETC / sub).iterdir()):
            if f.is_file():
                (self.confdir / sub / f.name).write_text(self.map(f.read_text()))

    def _build(self):
        for d in ("etc/apache2/mods-enabled", "etc/apache2/conf-enabled",
                  "etc/apache2/sites-available", "etc/apache2/sites-enabled",
                  "var/www/html", "var/lib/apache2", "var/log/apache2", "run/apache2/socks",
                  "run/lock/apache2", "run/php", "usr/lib/cgi-bin", "usr/lib/apache2/modules",
                  "work"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for d in ("run/apache2/socks", "run/lock/apache2"):
            shutil.chown(self.root / d, "www-data", "www-data")    # as apache2ctl makes them
        for root, dirs, _ in os.walk(self.root):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        os.chmod(self.root / "run" / "php", 0o755)
        self._copy_tree("mods-available")
        self._copy_tree("conf-available")
        (self.confdir / "mods-available" / "idsession.load").write_text(
            "LoadModule idsession_module %s\n" % idshttpd.MODULE)
        shutil.copy(REPO / "conf" / "idsession.conf",
                    self.confdir / "mods-available" / "idsession.conf")
        (self.confdir / "apache2.conf").write_text(self.map((ETC / "apache2.conf").read_text()))
        (self.confdir / "envvars").write_text(
            "".join("export %s=%s\n" % kv for kv in self.env.items()))
        self.render()
        (self.root / "var/www/html/index.html").write_text("It works\n")
        for f in Path("/usr/lib/cgi-bin").iterdir():     # what installed packages put there
            os.symlink(f, self.root / "usr/lib/cgi-bin" / f.name)
        mpm, mods, confs = stock_defaults()
        self.tool("a2enmod", "-q", mpm, *mods)
        self.tool("a2enconf", "-q", *confs)
        self.tool("a2ensite", "-q", "000-default")

    def tool_env(self):
        return dict(os.environ, APACHE_CONFDIR=str(self.confdir),
                    APACHE_STATE_DIRECTORY=str(self.root / "var/lib/apache2"))

    def tool(self, name, *args):
        """Run Debian's a2enmod & co. on this tree; any complaint fails the test."""
        p = subprocess.run(["/usr/sbin/" + name] + list(args), capture_output=True, text=True,
                           env=self.tool_env(), stdin=subprocess.DEVNULL, timeout=60)
        assert p.returncode == 0 and "ERROR" not in p.stderr and "WARNING" not in p.stderr, \
            "%s %s failed (%d):\n%s%s" % (name, " ".join(args), p.returncode, p.stdout, p.stderr)
        return p.stdout

    # -- what the harness calls

    def render(self, conf=None, idsession=None):
        """Writes ports.conf and the site for the current port; returns apache2.conf."""
        self.map.extra["*:80"] = "*:%d" % self.port
        (self.confdir / "ports.conf").write_text(
            "# generated by tests/e2e/test_recipes.py\n"
            "Listen 127.0.0.1:%d\nServerName localhost\n"
            # Debian's mod_wsgi puts its daemons' sockets in /var/run/apache2 otherwise
            "<IfModule mod_wsgi.c>\n  WSGISocketPrefix ${APACHE_RUN_DIR}/wsgi\n</IfModule>\n"
            % self.port)
        site = self.map((ETC / "sites-available" / "000-default.conf").read_text())
        blocks = "".join("\n# docs/recipes.md, line %d\n%s" % (b.line, self.map(b.text))
                         for b in self.vhost_blocks)
        head, sep, tail = site.rpartition("</VirtualHost>")
        assert sep, "000-default.conf has no </VirtualHost>"
        (self.confdir / "sites-available" / "000-default.conf").write_text(
            head + blocks + sep + tail)
        return self.conf_file.read_text() if self.conf_file.exists() else ""

    def _cmd(self):
        return [idshttpd.APACHE2, "-d", str(self.confdir), "-DFOREGROUND"]

    # -- recipes

    def write_file(self, path, text):
        p = Path(self.map(path))
        if not p.is_absolute():
            p = self.workdir / p
        assert str(p).startswith(str(self.root)), \
            "a recipe file outside the mapped paths: %s" % path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.map(text))
        os.chmod(p, 0o755 if text.startswith("#!") else 0o644)
        return p

    def apply(self, sec, run_shell=True):
        """Write a recipe's files, add its vhost blocks, run its commands."""
        for b in sec.marked("file"):
            self.write_file(b.arg, b.text)
        for b in sec.marked("vhost"):
            if b.arg == "above":
                self.vhost_blocks.insert(0, b)
            else:
                self.vhost_blocks.append(b)
        self.render()
        if run_shell:
            for b in sec.marked("shell"):
                for cmd in commands(b.text):
                    self.run(cmd)
        return self

    def configtest(self, extra_conf="", idsession=True):
        """`apache2ctl configtest`, as a Debian admin runs it: (rc, output)."""
        self.render()
        p = subprocess.run(["/usr/sbin/apache2ctl", "configtest"], capture_output=True,
                           text=True, env=self.tool_env(), timeout=60)
        return p.returncode, p.stdout + p.stderr

    def assert_configtest(self):
        rc, out = self.configtest()
        assert rc == 0 and out.strip() == "Syntax OK", out

    def run(self, cmd):
        """One command of a `shell` block (see the module docstring)."""
        words = shlex.split(cmd)
        name = words[0]
        if name in ("a2enmod", "a2dismod", "a2enconf", "a2disconf", "a2ensite", "a2dissite"):
            self.tool(name, *words[1:])
        elif name in ("apt-get", "apt"):
            assert words[1] == "install", cmd
            for pkg in (w for w in words[2:] if not w.startswith("-")):
                self.packages.add(pkg)
                assert installed(pkg), "%s is not installed (`make test` installs it)" % pkg
        elif name == "apache2ctl":
            assert words[1:] in (["configtest"], ["-t"]), cmd
            self.assert_configtest()
        elif name == "systemctl":
            assert words[1:] in (["reload", "apache2"], ["restart", "apache2"]), cmd
        elif name == "apxs":
            self.apxs(words[1:])
        elif name in ("head", "chmod", "chown", "mkdir"):
            p = subprocess.run(["sh", "-c", self.map(cmd)], cwd=self.workdir,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, "%s: %s" % (cmd, p.stderr)
        else:
            raise AssertionError("test_recipes.py does not know how to run %r" % cmd)

    def apxs(self, args):
        assert args[:2] == ["-c", "-i"] and len(args) == 3, args
        p = subprocess.run(["apxs", "-c", "-I", str(REPO), args[2]], cwd=self.workdir,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        so = self.workdir / ".libs" / (Path(args[2]).stem + ".so")
        shutil.copy(so, self.root / "usr/lib/apache2/modules" / so.name)


def commands(text):
    """The commands of a shell block: comments dropped, `&&` chains split."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out += [c.strip() for c in line.split("&&")]
    return out


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True,
                       text=True)
    return "ok installed" in p.stdout


@pytest.fixture
def site():
    """make(*numbers) -> a Site set up with docs/recipes.md's setup and those recipes,
    configtested; stopped after the test, its error log checked, then removed."""
    made = []

    def make(*keys, start=True):
        s = Site(re.sub(r"[^\w]+", "_", "-".join(keys)))
        made.append(s)
        s.begin_test()
        for b in setup_blocks():
            for cmd in commands(b.text):
                s.run(cmd)
        done = []
        for k in keys:
            for dep in lineage(k):
                if dep not in done:
                    s.apply(section(dep))
                    done.append(dep)
        s.assert_configtest()
        if start:
            s.start()
        return s

    yield make
    problems = []
    for s in made:
        try:
            s.stop()            # first: a child that will not stop logs AH00045 then
            bad = s.unexpected_log_lines()
            if bad:
                problems.append("%s:\n  %s" % (s.error_log, "\n  ".join(bad)))
        finally:
            s.cleanup()
    if problems:
        pytest.fail("unexpected warn/error lines in the error log:\n" + "\n".join(problems),
                    pytrace=False)


# ---- the tests -------------------------------------------------------------------------

@pytest.mark.parametrize("key", [s.key for s in recipes()])
def test_configtest(site, key):
    """Every recipe with a complete block passes `apache2ctl configtest` on a stock
    Debian layout, with exactly the modules its commands enable."""
    site(key, start=False)


# ---- end to end ------------------------------------------------------------------------

TOKEN_RE = idshttpd.token_re(32)


def first_and_second(s, path):
    """A request without a cookie, then one with the cookie it got: (token, first
    response, second response).  The first carries exactly one Set-Cookie (counted in
    the raw header dump), the second none."""
    r1 = s.curl(path)
    assert r1.status == 200, r1
    assert r1.raw_head.lower().count(b"\nset-cookie:") == 1, r1.raw_head
    [c] = r1.set_cookies("_session")
    assert TOKEN_RE.match(c.value), c
    r2 = s.curl(path, cookie_header="_session=" + c.value)
    assert r2.status == 200, r2
    assert b"set-cookie:" not in r2.raw_head.lower(), r2.raw_head
    return c.value, r1, r2


# recipe, page, what the page says for a session with log id L, and for a new one
PAGES = [
    ("1", "/cgi-bin/session", "session %s\n", "new visitor"),
    ("2.1", "/session.php", "session %s\n", "new visitor"),
    ("2.2", "/session.php", "session %s\n", "new visitor"),
    ("2.3", "/session.php", "session %s\n", "new visitor"),
    ("4", "/session.shtml", "<p>Your session: %s</p>", "Welcome, new visitor."),
    ("12", "/hello", "session %s\n", None),
]


@pytest.mark.parametrize("key,path,says,new", PAGES, ids=[p[0] for p in PAGES])
def test_session_page(site, key, path, says, new):
    """The recipe's page sees the cookie's session: its log id; "new" the first time."""
    fpm = None
    if key == "2.2":
        s = site(key, start=False)
        fpm = start_fpm(s)
        s.start()
    else:
        s = site(key)
    try:
        tok, r1, r2 = first_and_second(s, path)
        for r in (r1, r2):
            assert says % log_id(tok) in r.body, r.body
        if new is not None:
            assert new in r1.body and new not in r2.body, (r1.body, r2.body)
    finally:
        if fpm:
            fpm.stop()


def start_fpm(s):
    """php-fpm on the socket Debian's php8.2-fpm.conf names (moved below the root)."""
    from ecosystem import PHP_FPM, PhpFpm
    assert PHP_FPM.exists(), "php8.2-fpm is missing (`make test` installs it)"
    return PhpFpm(s.root, s.root / "run/php/php8.2-fpm.sock").start()


@pytest.mark.parametrize("key", ["3.1", "3.2"])
def test_wsgi_environ(site, key):
    """Embedded and daemon mode: the WSGI application's environ holds the cookie's
    token, its store key and log id; the same token on the next request."""
    s = site(key)
    sockets = list((s.root / "run/apache2").glob("wsgi.*.sock"))
    assert len(sockets) == (1 if key == "3.2" else 0), sockets     # the daemons' socket
    tok, r1, r2 = first_and_second(s, "/")
    e1, e2 = r1.env(), r2.env()
    assert e1 == {"SESSION_TOKEN": tok, "SESSION_TOKEN_NEW": "1",
                  "SESSION_STORE_KEY": hashlib.sha256(tok.encode()).hexdigest(),
                  "SESSION_LOG_ID": log_id(tok)}, r1.body
    del e1["SESSION_TOKEN_NEW"]
    assert e2 == e1, r2.body
    assert r1.header("Cache-Control") is not None and "no-store" in r1.header("Cache-Control")


def test_rewrite_sends_new_visitors_to_login(site):
    """Recipe 5: without a session cookie /account/ redirects, and the redirect carries
    the new cookie; with it the page is served."""
    s = site("5")
    s.write_file("/var/www/html/account/index.html", "your account\n")
    r1 = s.curl("/account/")
    assert r1.status == 302 and r1.header("Location").endswith("/login.html"), r1
    assert r1.raw_head.lower().count(b"\nset-cookie:") == 1, r1.raw_head
    [c] = r1.set_cookies("_session")
    r2 = s.curl("/account/", cookie_header="_session=" + c.value)
    assert (r2.status, r2.body) == (200, "your account\n"), r2


class _Echo(http.server.BaseHTTPRequestHandler):
    """A backend that answers with the request headers it got; under /login it also
    rotates the session (IDSession-Reset: 1)."""

    def do_GET(self):
        body = "".join("%s: %s\n" % kv for kv in self.headers.items()).encode()
        self.send_response(200)
        if self.path.startswith("/login"):
            self.send_header("IDSession-Reset", "1")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    """A real HTTP backend on a free loopback port, in a thread of this process."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_proxy_backend_gets_token_and_log_id(site, backend):
    """Recipe 6: the backend gets the cookie's token in X-Session-Token (never the
    client's own copy) and its log id in X-Session-Log-Id; Apache sends the cookie."""
    s = site("6", start=False)
    s.map.extra["127.0.0.1:8080"] = "127.0.0.1:%d" % backend
    s.start()
    r1 = s.curl("/app/x", headers=["X-Session-Token: chosen-by-the-client"])
    assert r1.status == 200 and r1.raw_head.lower().count(b"\nset-cookie:") == 1, r1
    [c] = r1.set_cookies("_session")
    got = [l for l in r1.body.splitlines() if l.lower().startswith("x-session-")]
    assert sorted(got) == sorted(["X-Session-Token: " + c.value,
                                  "X-Session-Log-Id: " + log_id(c.value)]), r1.body
    r2 = s.curl("/app/x", cookie_header="_session=" + c.value)
    assert "X-Session-Token: %s\n" % c.value in r2.body
    assert b"set-cookie:" not in r2.raw_head.lower()


def test_proxied_login_rotates(site, backend):
    """Recipe 8.3: the backend gets the next token in X-Session-Next on /login only; its
    IDSession-Reset makes that token the cookie, in the only Set-Cookie."""
    s = site("8.3", start=False)
    s.map.extra["127.0.0.1:8080"] = "127.0.0.1:%d" % backend
    s.start()
    old, r, _ = first_and_second(s, "/x")
    assert "X-Session-Token: %s\n" % old in r.body and "X-Session-Next" not in r.body
    r = s.curl("/login", cookie_header="_session=" + old,
               headers=["X-Session-Next: chosen-by-the-client"])
    assert r.status == 200 and r.raw_head.lower().count(b"\nset-cookie:") == 1, r
    assert r.header("IDSession-Reset") is None
    [c] = r.set_cookies("_session")
    assert "X-Session-Next: %s\n" % c.value in r.body and c.value != old, r.body
    assert "X-Session-Token: %s\n" % old in r.body


# Fetch Metadata of a form that another site posts, and of the redirect that follows it
CROSS_SITE_POST = ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate",
                   "Sec-Fetch-Dest: document", "Origin: https://idp.example"]
CROSS_SITE_NAV = ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate",
                  "Sec-Fetch-Dest: document"]


def test_callback_bounces_a_withheld_post(site):
    """Recipe 9 on PHP-FPM: an identity provider's form_post arrives without the cookie
    (SameSite=Lax withheld it): no Set-Cookie overwrites the browser's, and the
    callback redirects to itself with the code; that GET brings the cookie and is
    not bounced again; a second withheld arrival is refused, not bounced."""
    s = site("9", start=False)
    fpm = start_fpm(s)
    try:
        s.start()
        r = s.curl("/callback.php", method="POST", data="code=C1&state=S1",
                   headers=CROSS_SITE_POST)
        assert r.status == 303 and b"set-cookie:" not in r.raw_head.lower(), r
        assert r.header("Location") == "/callback.php?code=C1&state=S1&bounced=1"
        mine = idshttpd.token()
        r = s.curl(r.header("Location"), headers=CROSS_SITE_NAV,
                   cookie_header="_session=" + mine)
        assert r.status == 200 and b"set-cookie:" not in r.raw_head.lower(), r
        r = s.curl("/callback.php?code=C1&state=S1&bounced=1", method="POST", data="",
                   headers=CROSS_SITE_POST)
        assert r.status == 400 and b"set-cookie:" not in r.raw_head.lower(), r
    finally:
        fpm.stop()


def test_reset_endpoint_login(site):
    """Recipe 7: the "Log in" form's POST gets a new token and comes back to /login;
    a GET is refused."""
    s = site("7")
    s.expect_log(r"AH01630: client denied by server configuration: .*/session$")
    old = idshttpd.token()
    r = s.curl("/session/reset?next=/login", method="POST", data="",
               cookie_header="_session=" + old)
    assert r.status == 303 and r.header("Location").endswith("/login"), r
    assert r.raw_head.lower().count(b"\nset-cookie:") == 1, r.raw_head
    [c] = r.set_cookies("_session")
    assert TOKEN_RE.match(c.value) and c.value != old
    r = s.curl("/session/reset?next=/login", cookie_header="_session=" + old)
    assert r.status == 403 and b"set-cookie:" not in r.raw_head.lower(), r


# What recipe 8.2 leaves to the application, for the test.
LOGIN_PRELUDE = '''
import os

def check_credentials(user, password):
    return user if (user, password) == ("demo", "demo") else None

def store_session(key, user):
    with open(os.path.join(%r, key), "w") as f:
        f.write(user)
'''


def test_python_login_rotates(site):
    """Recipe 8.2 on 3.2 (daemon mode): a good login answers with the new token in the
    only Set-Cookie, the application stored the user under its store key, and the
    IDSession-Reset header does not reach the client; the application itself gets no
    SESSION_TOKEN_NEXT (IDSessionAppReset is on for /login only); a bad login keeps
    the session."""
    s = site("8.2", start=False)
    store = s.root / "var/lib/app-sessions"
    store.mkdir()
    shutil.chown(store, "www-data", "www-data")
    login = s.root / "var/www/app/login.wsgi"
    login.write_text(LOGIN_PRELUDE % str(store) + login.read_text())
    s.start()
    old, r, _ = first_and_second(s, "/")
    assert "SESSION_TOKEN_NEXT" not in r.body
    cookie = "_session=" + old
    r = s.curl("/login", method="POST", data="user=demo&pass=wrong", cookie_header=cookie)
    assert r.status == 403 and b"set-cookie:" not in r.raw_head.lower(), r
    r = s.curl("/login", method="POST", data="user=demo&pass=demo", cookie_header=cookie)
    assert r.status == 303 and r.header("Location").endswith("/"), r
    assert r.raw_head.lower().count(b"\nset-cookie:") == 1, r.raw_head
    assert r.header("IDSession-Reset") is None
    [c] = r.set_cookies("_session")
    assert TOKEN_RE.match(c.value) and c.value != old
    key = hashlib.sha256(c.value.encode()).hexdigest()
    assert sorted(p.name for p in store.iterdir()) == [key]
    assert (store / key).read_text() == "demo"
    r = s.curl("/", cookie_header="_session=" + c.value)
    assert r.env()["SESSION_STORE_KEY"] == key and "SESSION_TOKEN_NEW" not in r.env()
    assert b"set-cookie:" not in r.raw_head.lower()


def test_admin_revokes_a_session(site):
    """Recipe 10.1 (on 10's DBM store): a POST from the machine itself revokes a log id;
    the token then gets a new session."""
    s = site("10.1")
    tok, _, _ = first_and_second(s, "/")
    r = s.curl("/session/revoke", method="POST", data="log_id=" + log_id(tok))
    assert (r.status, r.body) == (200, '{"revoked": 1}\n'), r
    r = s.curl("/", cookie_header="_session=" + tok)
    assert r.raw_head.lower().count(b"\nset-cookie:") == 1, r.raw_head
    [c] = r.set_cookies("_session")
    assert TOKEN_RE.match(c.value) and c.value != tok


def test_access_log_shows_log_id(site):
    """Before you start, logging: the access log line carries session=<log id>."""
    s = site("Before you start", "1")
    tok, _, _ = first_and_second(s, "/cgi-bin/session")
    idshttpd.wait_file_line(s.root / "var/log/apache2/access.log",
                            '"GET /cgi-bin/session HTTP/1.1" 200 ')
    text = (s.root / "var/log/apache2/access.log").read_text()
    # the stock site's own `combined` line logs each request too
    ours = [l.rsplit(" ", 1)[-1] for l in text.splitlines()
            if "/cgi-bin/session" in l and " session=" in l]
    assert ours == ["session=" + log_id(tok)] * 2, text
    assert tok not in text


def test_c_api_rotates(site):
    """Recipe 12: /hello?rotate answers with a new token, in the only Set-Cookie."""
    s = site("12")
    old = idshttpd.token()
    r = s.curl("/hello?rotate", cookie_header="_session=" + old)
    assert r.status == 200 and r.raw_head.lower().count(b"\nset-cookie:") == 1, r
    [c] = r.set_cookies("_session")
    assert c.value != old and r.body == "session %s (new)\n" % log_id(c.value)


# ---- the guide itself ------------------------------------------------------------------

def test_markers():
    """Every "test:" comment is one this file knows, where it is known: a typo must not
    quietly leave a block untested."""
    text = DOC.read_text()
    found = MARKER.findall(text)
    known = [b for s in sections() for b in s.blocks]
    ons = [o for s in sections() for o in s.on]
    assert len(found) == len(known) + len(ons), \
        "a test: comment that is not just before a code block, or not on its own line"
    keys = [s.key for s in sections()]
    for o in ons:
        assert o in keys, "test: on %s names no section" % o
    for b in known:
        assert b.kind in FENCED_KINDS, b
        if b.kind in ("setup", "shell"):
            assert b.lang == "sh" and not b.arg, b
        elif b.kind == "vhost":
            assert b.lang == "apache" and b.arg in ("", "above"), b
        else:
            assert b.arg, "test: file needs a path (%r)" % b
    assert setup_blocks(), "no setup block"
    # Every numbered recipe, 1 to 12, has a test.
    numbers = {s.number.split(".")[0] for s in sections() if s.number}
    assert numbers == {str(i) for i in range(1, 13)}, numbers
    tested = {k.split(".")[0] for s in recipes() for k in lineage(s.key)}
    assert numbers <= tested, numbers - tested


A2_RE = re.compile(r"\ba2(en|dis)(mod|conf)((?:[ \t]+[\w.-]+)+)")


def a2_names():
    """(section, kind, name) for every name given to a2enmod, a2dismod, a2enconf or
    a2disconf anywhere in the guide: in shell blocks and in the prose."""
    out = []
    for s in sections():
        for m in A2_RE.finditer(s.text):
            for name in m.group(3).split():
                if not name.startswith("-"):
                    out.append((s, m.group(2), name))
    return out


def depends(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", pkg], capture_output=True,
                       text=True)
    return {d.split()[0] for d in re.split(r"[,|]", p.stdout) if d.strip()}


def test_a2_names_exist():
    """Every module and configuration the guide enables exists in Debian's
    /etc/apache2/*-available, shipped by apache2 itself or by a package the recipe
    installs; or the recipe writes it; idsession comes from this project."""
    names = a2_names()
    assert len(names) > 10, names
    for sec, kind, name in names:
        sub, ext = ("mods-available", ".load") if kind == "mod" else ("conf-available", ".conf")
        path = "/etc/apache2/%s/%s%s" % (sub, name, ext)
        lineage_secs = [section(k) for k in lineage(sec.key)]
        if name == "idsession" and kind == "mod":
            assert (REPO / "conf" / "idsession.load").exists()
            continue
        if any(b.arg == path for s in lineage_secs for b in s.marked("file")):
            continue
        assert Path(path).exists(), "%s: a2en%s %s: no %s" % (sec.title, kind, name, path)
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        assert owner.returncode == 0, owner.stderr
        pkg = owner.stdout.split(":")[0]
        installs = set()
        for s in lineage_secs:
            for b in s.marked("shell"):
                for cmd in commands(b.text):
                    words = cmd.split()
                    if words[:2] in (["apt-get", "install"], ["apt", "install"]):
                        installs |= {w for w in words[2:] if not w.startswith("-")}
        allowed = APACHE_PACKAGES | installs | {d for p in installs for d in depends(p)}
        assert pkg in allowed, "%s: %s comes from %s, which the recipe does not install" \
            % (sec.title, path, pkg)


def test_code_blocks_parse(tmp_path):
    """Every python, php and sh block of the guide parses (the C one is built by
    test_session_page[12])."""
    counts = {}
    for s in sections():
        for lang, text, line in s.fences:
            where = "docs/recipes.md, line %d" % line
            counts[lang] = counts.get(lang, 0) + 1
            if lang == "python":
                compile(text, where, "exec")
            elif lang == "php":
                f = tmp_path / "block.php"
                f.write_text(text)
                p = subprocess.run(["/usr/bin/php-cgi", "-l", str(f)], capture_output=True,
                                   text=True)
                assert p.returncode == 0, "%s: %s" % (where, p.stdout + p.stderr)
            elif lang == "sh":
                p = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
                assert p.returncode == 0, "%s: %s" % (where, p.stderr)
            else:
                assert lang in ("apache", "c", "html"), "%s: a ```%s block" % (where, lang)
    assert all(counts.get(lang) for lang in ("python", "php", "sh", "apache", "c")), counts


def test_user_facing_commands():
    """The guide tells Debian admins what works on Debian: `apache2ctl`, never
    `apache2 -t` (which needs Debian's envvars)."""
    text = DOC.read_text()
    assert not re.search(r"\bapache2 -[tk]", text)
    assert "apache2ctl configtest" in text


def slugs(text):
    """The anchors of a Markdown text's headings, as GitHub spells them."""
    return {re.sub(r"[^\w\- ]", "", s.title.lower()).replace(" ", "-")
            for s in sections(text)}


def test_anchors_resolve():
    """Every link to a heading, of this guide (#...) or of another in docs/
    (manual.md#...), names one."""
    text = DOC.read_text()
    links = re.findall(r"\]\(([\w.]*)#([^)]+)\)", text)
    assert links
    for page, anchor in links:
        other = (DOC.parent / page).read_text() if page else text
        assert anchor in slugs(other), "no heading for %s#%s" % (page, anchor)
