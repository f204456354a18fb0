"""Packaging: `make deb`, `make html`, `make install`/`uninstall` with DESTDIR, the
a2enmod files.

Nothing here changes the machine: the packages are built in temporary directories and
only inspected and unpacked, and `make install` goes to a DESTDIR.  What the installed
files must do is checked with `apache2 -t` on a generated minimal config.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import idshttpd

REPO = idshttpd.REPO
APACHE2 = idshttpd.APACHE2
MODDIR = idshttpd.MODDIR
PKG = "libapache2-mod-idsession"
DEV = PKG + "-dev"
DBGSYM = PKG + "-dbgsym"
DOC = Path("/usr/share/doc") / PKG
RECORD = Path("/var/lib/mod_idsession/conffiles")
INCLUDEDIR = Path("/usr/include/apache2")
MODS_AVAILABLE = Path("/etc/apache2/mods-available")
INSTALLED_SO = MODDIR / "mod_idsession.so"


def run(args, env=None, cwd=REPO, timeout=600):
    """Run a command; fail the test with its output unless it exits 0."""
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ, **(env or {})))
    assert p.returncode == 0, "%s -> %d\n%s\n%s" % (
        " ".join(map(str, args)), p.returncode, p.stdout[-4000:], p.stderr[-4000:])
    return p.stdout


def header_version():
    text = (REPO / "mod_idsession.h").read_text()
    m = re.search(r'^#define IDSESSION_VERSION "([^"]+)"$', text, re.M)
    assert m, "mod_idsession.h defines no IDSESSION_VERSION"
    return m.group(1)


def module_directives():
    """The directive names in the module's command table."""
    names = re.findall(r'AP_INIT_[A-Z0-9_]+\(\s*"([A-Za-z]+)"', (REPO / "mod_idsession.c").read_text())
    assert names, "no AP_INIT_* directives found in mod_idsession.c"
    return names


def uncomment(conf_text):
    """The .conf with every example line switched on.  Prose comments are `# text`
    (one space after the hash); example lines are `#Directive ...`, or `#    Directive`
    inside an example section."""
    return re.sub(r"^(\s*)#(?!( \S|$))", r"\1", conf_text, flags=re.M)


def configtest(root, load_text, conf_text, so_path, mpm="event", modules=(), body=""):
    """`apache2 -t` and `apache2 -t -D DUMP_MODULES` on a minimal config that includes
    the given .load (its module path replaced by so_path) and .conf, as Debian's
    apache2.conf does, then `body`."""
    root = Path(root)
    (root / "run").mkdir(exist_ok=True)
    load = root / "idsession.load"
    conf = root / "idsession.conf"
    load.write_text(load_text.replace(str(INSTALLED_SO), str(so_path)))
    conf.write_text(conf_text)
    httpd_conf = root / "httpd.conf"
    httpd_conf.write_text(
        'ServerRoot "%s"\n' % root
        + 'DefaultRuntimeDir "%s/run"\nPidFile "%s/run/httpd.pid"\n' % (root, root)
        + "ServerName 127.0.0.1\nListen 127.0.0.1:%d\n" % idshttpd.free_port()
        + 'ErrorLog "%s/error_log"\n' % root
        + "".join("LoadModule %s_module %s\n" % (m, MODDIR / ("mod_%s.so" % m))
                  for m in ["mpm_" + mpm, "authz_core"] + list(modules))
        + 'Include "%s"\nInclude "%s"\n' % (load, conf)
        + body)
    rc, out = 0, ""
    for extra in ([], ["-D", "DUMP_MODULES"]):
        p = subprocess.run([APACHE2, "-t"] + extra + ["-f", str(httpd_conf)],
                           capture_output=True, text=True, timeout=60)
        rc, out = rc or p.returncode, out + p.stdout + p.stderr
    return rc, out


def assert_configtest_ok(*args, **kw):
    rc, out = configtest(*args, **kw)
    assert rc == 0 and "Syntax OK" in out, out
    assert "idsession_module (shared)" in out, out


# ---- the version, defined once -------------------------------------------------------


def test_version_agrees_everywhere():
    version = header_version()
    changelog = run(["dpkg-parsechangelog", "-l", REPO / "debian" / "changelog",
                     "-S", "Version"]).strip()
    assert changelog == version, "debian/changelog %s != mod_idsession.h %s" % (
        changelog, version)
    first = re.search(r"^Changes with mod_idsession (\S+)$",
                      (REPO / "CHANGES").read_text(), re.M)
    assert first and first.group(1) == version


def test_build_deb_refuses_a_version_mismatch(tmp_path):
    # A tree whose header says another version than debian/changelog.
    for rel in ("scripts/build-deb.sh", "debian/changelog", "CHANGES"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, tmp_path / rel)
    (tmp_path / "mod_idsession.h").write_text('#define IDSESSION_VERSION "9.9.9"\n')
    p = subprocess.run([tmp_path / "scripts" / "build-deb.sh"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, IDS_DEB_OUTDIR=str(tmp_path)))
    assert p.returncode != 0
    assert "debian/changelog is at %s" % header_version() in p.stderr
    assert "9.9.9" in p.stderr
    assert not list(tmp_path.glob("*.deb"))


def test_license_is_apache_2():
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    common = Path("/usr/share/common-licenses/Apache-2.0")
    if common.exists():
        assert text == common.read_text()


# ---- conf/: the a2enmod files ---------------------------------------------------------


def test_load_file_names_the_installed_module():
    lines = [l for l in (REPO / "conf" / "idsession.load").read_text().splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    assert lines == ["LoadModule idsession_module %s" % INSTALLED_SO]


def test_conf_shows_every_directive_commented():
    text = (REPO / "conf" / "idsession.conf").read_text()
    for name in module_directives():
        assert re.search(r"^\s*#%s\s" % name, text, re.M), \
            "conf/idsession.conf does not show %s" % name
    # Shown, not set: loading the module with this .conf changes nothing.
    assert not re.search(r"^\s*IDSession", text, re.M)


def test_conf_with_every_example_switched_on_passes_configtest(tmp_path):
    # The shown defaults and examples are valid as written (a secret file aside).
    secret = tmp_path / "idsession.secret"
    secret.write_text("s" * 48 + "\n")
    conf = uncomment((REPO / "conf" / "idsession.conf").read_text())
    conf = conf.replace("/etc/apache2/idsession.secret", str(secret))
    assert re.search(r"^\s*IDSessionSecret ", conf, re.M)
    # authz_host for the revocation endpoint's Require local (on in Debian's default).
    assert_configtest_ok(tmp_path, (REPO / "conf" / "idsession.load").read_text(), conf,
                         idshttpd.MODULE, modules=["authz_host"])


@pytest.mark.parametrize("example, mpm, modules, extra", [
    ("mod_php.conf", "prefork", ["mime"],
     "Include /etc/apache2/mods-available/php8.2.load\n"
     "Include /etc/apache2/mods-available/php8.2.conf\n"),
    ("php-fpm.conf", "event", ["proxy", "proxy_fcgi"], ""),
])
def test_php_examples_pass_configtest(tmp_path, example, mpm, modules, extra):
    if extra and not Path("/etc/apache2/mods-available/php8.2.load").exists():
        pytest.skip("libapache2-mod-php is not installed (scripts/deps.sh test installs it)")
    text = (REPO / "conf" / example).read_text().replace("/var/www/app", str(tmp_path))
    assert "IDSession On" in text
    assert_configtest_ok(tmp_path, (REPO / "conf" / "idsession.load").read_text(),
                         (REPO / "conf" / "idsession.conf").read_text(), idshttpd.MODULE,
                         mpm=mpm, modules=modules, body=extra + text)


# ---- make install / uninstall -----------------------------------------------------------


@pytest.fixture
def destdir():
    d = Path(tempfile.mkdtemp(prefix="ids-destdir-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_install(destdir, target="install", tree=REPO):
    """`make install` (or `uninstall`) into destdir, from the tree; stdout + stderr."""
    assert str(destdir).startswith(tempfile.gettempdir())
    env = dict(os.environ, DESTDIR=str(destdir), MODS_AVAILABLE=str(MODS_AVAILABLE))
    p = subprocess.run(["sh", tree / "scripts" / "install.sh", target], cwd=tree, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout, p.stderr


def installed(destdir):
    return {
        "so": destdir / INSTALLED_SO.relative_to("/"),
        "h": destdir / (INCLUDEDIR / "mod_idsession.h").relative_to("/"),
        "load": destdir / (MODS_AVAILABLE / "idsession.load").relative_to("/"),
        "conf": destdir / (MODS_AVAILABLE / "idsession.conf").relative_to("/"),
    }


def files_under(d):
    return sorted(p for p in Path(d).rglob("*") if p.is_file())


def test_make_install_destdir_puts_files_in_place(destdir):
    run(["make", "--no-print-directory", "install", "DESTDIR=%s" % destdir],
        env={"MODS_AVAILABLE": str(MODS_AVAILABLE)})
    f = installed(destdir)
    for p in f.values():
        assert p.is_file(), "%s not installed" % p
        assert p.stat().st_mode & 0o777 == 0o644, "%s: mode %o" % (p, p.stat().st_mode)
    assert f["so"].read_bytes() == idshttpd.MODULE.read_bytes()
    assert f["h"].read_text() == (REPO / "mod_idsession.h").read_text()
    assert f["conf"].read_text() == (REPO / "conf" / "idsession.conf").read_text()
    # The .load names the final location, not the staging directory.
    assert f["load"].read_text() == (REPO / "conf" / "idsession.load").read_text()
    assert str(destdir) not in f["load"].read_text()
    # The record of what was installed, as `sha256sum` would print it (one space).
    record = destdir / RECORD.relative_to("/")
    assert sorted(record.read_text().splitlines()) == sorted(
        "%s %s" % (run(["sha256sum", f[k]]).split()[0], MODS_AVAILABLE / ("idsession." + k))
        for k in ("conf", "load"))
    # Nothing else: no .la, no httpd.conf edit.
    assert files_under(destdir) == sorted(list(f.values()) + [record])


def test_installed_load_and_conf_pass_configtest(destdir, tmp_path):
    make_install(destdir)
    f = installed(destdir)
    assert_configtest_ok(tmp_path, f["load"].read_text(), f["conf"].read_text(), f["so"])


def test_make_uninstall_destdir_removes_them(destdir):
    make_install(destdir)
    out = run(["make", "--no-print-directory", "uninstall", "DESTDIR=%s" % destdir],
              env={"MODS_AVAILABLE": str(MODS_AVAILABLE)})
    for p in installed(destdir).values():
        assert not p.exists(), "%s left behind" % p
        assert "removed %s" % p in out
    assert not files_under(destdir)


# The conffiles: idsession.conf and idsession.load are the administrator's once installed.


@pytest.fixture
def old_tree(tmp_path):
    """A copy of what `make install` reads, as an older version with another .conf and
    .load: an install from it, then one from the repository, is an upgrade."""
    tree = tmp_path / "old"
    for rel in ("scripts/install.sh", "conf/idsession.conf", "conf/idsession.load",
                "mod_idsession.h", "mod_idsession.la", ".libs"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (REPO / rel).is_dir() else shutil.copy2
        copy(REPO / rel, tree / rel)
    for name in ("idsession.conf", "idsession.load"):
        with open(tree / "conf" / name, "a") as f:
            f.write("# as an older version shipped it\n")
    return tree


def shipped(name):
    return (REPO / "conf" / name).read_text()


def edit(path):
    path.write_text(path.read_text().replace("#IDSession Off", "IDSession On", 1)
                    + "# the administrator's line\n")
    return path.read_text()


def kept_message(err, path):
    """install.sh's message when it keeps a changed file and puts the new one beside it."""
    return re.search(r"%s has been changed since it was installed; kept it as it is, and "
                     r"installed the new version beside it as %s\.dist" % (
                         re.escape(str(path)), re.escape(str(path))), err)


def test_install_replaces_an_unchanged_conffile_silently(destdir, old_tree):
    make_install(destdir, tree=old_tree)
    f = installed(destdir)
    assert "older version" in f["conf"].read_text()
    out, err = make_install(destdir)
    assert f["conf"].read_text() == shipped("idsession.conf")
    assert f["load"].read_text() == shipped("idsession.load")
    assert not list(f["conf"].parent.glob("*.dist"))
    assert "changed" not in out + err
    assert "installed %s" % f["conf"] in out


def test_install_keeps_an_edited_conf_and_puts_the_new_one_beside_it(destdir, old_tree):
    make_install(destdir, tree=old_tree)
    f = installed(destdir)
    mine = edit(f["conf"])
    out, err = make_install(destdir)
    assert f["conf"].read_text() == mine
    dist = f["conf"].with_name("idsession.conf.dist")
    assert dist.read_text() == shipped("idsession.conf")
    assert dist.stat().st_mode & 0o777 == 0o644
    assert kept_message(err, f["conf"]), err
    assert "diff -u %s %s" % (f["conf"], dist) in err
    # The unedited .load was upgraded.
    assert f["load"].read_text() == shipped("idsession.load")
    assert not kept_message(err, f["load"])
    # The next install, with the file still edited, says so again; nothing is lost.
    out, err = make_install(destdir)
    assert f["conf"].read_text() == mine and kept_message(err, f["conf"])


def test_install_keeps_an_edited_conf_of_the_same_version(destdir):
    # install, edit, install again: the edit stays, the shipped file goes beside it.
    make_install(destdir)
    f = installed(destdir)
    mine = edit(f["conf"])
    out, err = make_install(destdir)
    assert f["conf"].read_text() == mine
    assert f["conf"].with_name("idsession.conf.dist").read_text() == shipped("idsession.conf")
    assert kept_message(err, f["conf"]), err


def test_install_keeps_an_edited_load(destdir):
    make_install(destdir)
    f = installed(destdir)
    f["load"].write_text("# mine\n" + f["load"].read_text())
    out, err = make_install(destdir)
    assert f["load"].read_text().startswith("# mine\n")
    assert f["load"].with_name("idsession.load.dist").read_text() == shipped("idsession.load")
    assert kept_message(err, f["load"]), err


def test_install_without_a_record_keeps_a_file_that_differs(destdir, old_tree):
    # An install by an older install.sh left no record: a file that differs from the
    # new version may be the administrator's, so it is kept; one that is the same is not.
    make_install(destdir, tree=old_tree)
    (destdir / RECORD.relative_to("/")).unlink()
    f = installed(destdir)
    before = f["conf"].read_text()
    f["load"].write_text(shipped("idsession.load"))
    out, err = make_install(destdir)
    assert f["conf"].read_text() == before
    assert f["conf"].with_name("idsession.conf.dist").read_text() == shipped("idsession.conf")
    assert kept_message(err, f["conf"]), err
    assert not kept_message(err, f["load"]), err


def test_adopting_the_dist_file_clears_it(destdir):
    make_install(destdir)
    f = installed(destdir)
    edit(f["conf"])
    make_install(destdir)
    dist = f["conf"].with_name("idsession.conf.dist")
    shutil.copy(dist, f["conf"])
    out, err = make_install(destdir)
    assert not dist.exists() and "changed" not in err
    assert f["conf"].read_text() == shipped("idsession.conf")
    edit(f["conf"])   # the record follows the adopted file: an edit shows again
    out, err = make_install(destdir)
    assert kept_message(err, f["conf"]), err


def test_uninstall_keeps_an_edited_conf_and_says_so(destdir):
    make_install(destdir)
    f = installed(destdir)
    mine = edit(f["conf"])
    make_install(destdir)
    out, err = make_install(destdir, "uninstall")
    assert f["conf"].read_text() == mine
    assert re.search(r"kept %s: it has been changed since it was installed" %
                     re.escape(str(f["conf"])), err), err
    # Everything else goes: the module, the header, the unedited .load, the .dist.
    assert files_under(destdir) == [f["conf"], destdir / RECORD.relative_to("/")]
    assert "removed %s.dist" % f["conf"] in out
    # Installed again later, it is still the administrator's file.
    out, err = make_install(destdir)
    assert f["conf"].read_text() == mine and kept_message(err, f["conf"])


# ---- make html ----------------------------------------------------------------------------


def tree_copy(dest):
    """The files of the tree that `make deb` would copy: tracked and untracked, less
    what .gitignore names."""
    names = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    for rel in filter(None, names.split("\0")):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest


SAMPLE_DOCS = {
    # Written the way docs/*.md are: GitHub's Markdown, links to each other's headings,
    # to README.md and to files of the tree.
    "packaging-sample-a.md": """# Sample A

See [the other page](packaging-sample-b.md#a-table-of-things), the
[README](../README.md#mod_idsession), the [example](../conf/idsession.conf),
[this page's second heading](#second-heading), the [changes](../CHANGES), the
[license](../LICENSE) and [a page outside docs/](../packaging-sample-top.md#top).

## Second heading

1. A step with a code block in it:

   ```apache
   IDSession On
   ```

2. Another step.
""",
    "packaging-sample-b.md": """# Sample B

## A table of things

| Directive | Default |
|---|---|
| `IDSession` | Off |

Back to [A](./packaging-sample-a.md).
""",
}


def add_sample_docs(tree):
    (tree / "docs").mkdir(exist_ok=True)
    for name, text in SAMPLE_DOCS.items():
        (tree / "docs" / name).write_text(text)
    # A Markdown file outside docs/ that only a link leads to, as HACKING.md.
    (tree / "packaging-sample-top.md").write_text(
        "# Top\n\nBack to [A](docs/packaging-sample-a.md#second-heading).\n")


def build_html(tree, out):
    return subprocess.run([tree / "scripts" / "build-html.py", out], cwd=tree,
                          capture_output=True, text=True, timeout=120)


LINK = re.compile(r'<(?:a|img)\b[^>]*?\b(?:href|src)="([^"]*)"')
ID = re.compile(r'\bid="([^"]*)"')


def broken_links(htmldir, root=None):
    """The relative links of the pages under htmldir that lead to no file under root
    (default: htmldir), or to no element of the target page; every link to a Markdown
    file (not rewritten)."""
    htmldir = Path(htmldir)
    root = Path(root or htmldir).resolve()
    pages = {p: p.read_text() for p in htmldir.rglob("*.html")}
    ids = {p: set(ID.findall(text)) for p, text in pages.items()}
    broken = []
    for page, text in pages.items():
        for link in LINK.findall(text):
            if re.match(r"[a-z]+:", link) or link.startswith("/"):
                continue
            path, _, frag = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if path.endswith(".md"):
                broken.append((page.name, link, "a Markdown link"))
            elif root not in target.parents or not target.is_file():
                broken.append((page.name, link, "no such file"))
            elif frag and target.suffix == ".html" and frag not in ids[target]:
                broken.append((page.name, link, "no such anchor"))
    return broken


def test_html_of_sample_docs_links_between_pages(tmp_path):
    tree = tree_copy(tmp_path / "tree")
    add_sample_docs(tree)
    p = build_html(tree, tmp_path / "html")
    assert p.returncode == 0, p.stderr
    html = tmp_path / "html"
    names = sorted(q.relative_to(html).as_posix() for q in html.rglob("*") if q.is_file())
    assert set(names) >= set(["README.html", "conf/idsession.conf", "CHANGES", "LICENSE",
                              "packaging-sample-a.html", "packaging-sample-b.html",
                              "packaging-sample-top.html"]
                             + ["%s.html" % Path(md).stem for md in REPO.glob("docs/*.md")])
    # The copies of what the pages link to are the tree's files.
    for name in names:
        if not name.endswith(".html"):
            assert (html / name).read_bytes() == (tree / name).read_bytes()
    a = (html / "packaging-sample-a.html").read_text()
    assert "<title>Sample A</title>" in a
    for link in ("packaging-sample-b.html#a-table-of-things", "README.html#mod_idsession",
                 "conf/idsession.conf", "#second-heading", "CHANGES", "LICENSE",
                 "packaging-sample-top.html#top"):
        assert 'href="%s"' % link in a
    # A code block inside a list item stays in it (GitHub's Markdown, not Markdown.pl's).
    assert re.search(r"<li>.*?<pre.*?IDSession On.*?</pre>.*?</li>", a, re.S)
    assert "<table>" in (html / "packaging-sample-b.html").read_text()
    assert 'href="packaging-sample-a.html#second-heading"' in \
        (html / "packaging-sample-top.html").read_text()
    assert broken_links(html) == []


def test_html_build_refuses_broken_links(tmp_path):
    tree = tree_copy(tmp_path / "tree")
    add_sample_docs(tree)
    b = tree / "docs" / "packaging-sample-b.md"
    text = b.read_text()
    b.write_text(text + "\n[gone](packaging-sample-c.md) [a directory](../conf/)"
                 " [outside](../../etc/passwd)\n")
    p = build_html(tree, tmp_path / "html")
    assert p.returncode != 0
    for what in ("packaging-sample-c.md does not exist", "../conf/ is a directory",
                 "../../etc/passwd points outside"):
        assert what in p.stderr, p.stderr
    # Once the files are there, the anchors.
    b.write_text(text + "\n[no heading](packaging-sample-a.md#nowhere)\n")
    p = build_html(tree, tmp_path / "html")
    assert p.returncode != 0
    assert "packaging-sample-b.html: packaging-sample-a.html#nowhere: no such anchor" in \
        p.stderr, p.stderr


# ---- make deb ---------------------------------------------------------------------------


def build_debs(tree, out):
    """Run the tree's build-deb.sh; {package: .deb} and the .changes."""
    stdout = run([tree / "scripts" / "build-deb.sh"], env={"IDS_DEB_OUTDIR": str(out)},
                 cwd=tree)
    made = [Path(line) for line in stdout.split()]
    # It prints what it made, and moved every file the build made to out: the build
    # happens in a copy, and nothing else is left behind.
    assert sorted(out.iterdir()) == sorted(made), stdout
    debs = {run(["dpkg-deb", "-f", p, "Package"]).strip(): p
            for p in made if p.suffix == ".deb"}
    assert sorted(debs) == [PKG, DBGSYM, DEV]
    changes = [p for p in made if p.suffix == ".changes"]
    assert len(changes) == 1 and len([p for p in made if p.suffix == ".buildinfo"]) == 1
    return debs, changes[0]


def _debs(setup=None):
    if not shutil.which("dpkg-buildpackage"):
        pytest.skip("dpkg-buildpackage is not installed (scripts/deps.sh deb installs it)")
    work = Path(tempfile.mkdtemp(prefix="ids-deb-"))
    try:
        tree = REPO
        if setup:
            tree = tree_copy(work / "tree")
            setup(tree)
        (work / "out").mkdir()
        debs, changes = build_debs(tree, work / "out")
        yield tree, debs, changes
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def built():
    """The packages that `make deb` makes from this tree."""
    yield from _debs()


@pytest.fixture(scope="module")
def built_with_sample_docs():
    """The packages made from a copy of the tree with two more docs/*.md."""
    yield from _debs(add_sample_docs)


@pytest.fixture(scope="module")
def deb(built):
    return built[1][PKG]


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", deb, field]).strip()


def deb_listing(deb):
    """{path: ls-style mode} of every entry of the package."""
    entries = {}
    for line in run(["dpkg-deb", "-c", deb]).splitlines():
        parts = line.split(None, 5)
        entries[parts[5].split(" -> ")[0].lstrip(".").rstrip("/") or "/"] = parts[0]
    return entries


def deb_files(deb):
    return {p for p, mode in deb_listing(deb).items() if mode.startswith("-")}


def test_debs_are_named_by_version_and_arch(built):
    arch = run(["dpkg-architecture", "-qDEB_HOST_ARCH"]).strip()
    for pkg, path in built[1].items():
        # The header is the same on every architecture.
        a = "all" if pkg == DEV else arch
        assert path.name == "%s_%s_%s.deb" % (pkg, header_version(), a)
        assert deb_field(path, "Version") == header_version()
        assert deb_field(path, "Architecture") == a
    # dh_apache2 ties the module to the httpd module ABI.
    assert re.search(r"\bapache2-api-\d+", deb_field(built[1][PKG], "Depends"))


def test_dev_package_depends_on_the_same_version_of_the_module(built):
    depends = deb_field(built[1][DEV], "Depends")
    v = header_version()
    assert "%s (>= %s)" % (PKG, v) in depends and "%s (<< %s.1~)" % (PKG, v) in depends
    assert re.search(r"\bapache2-dev\b", depends)
    # Up to 0.2.0 the module's package shipped the header: upgrading both at once
    # moves the file between them.
    for field in ("Breaks", "Replaces"):
        assert deb_field(built[1][DEV], field) == "%s (<< 0.3.0~)" % PKG
    assert deb_field(built[1][DEV], "Section") == "httpd"


def expected_runtime_files(tree):
    docs = sorted(p.name for p in tree.glob("docs/*.md"))
    # The lintian override says why the module has no __*_chk call (debian/).
    return ({str(INSTALLED_SO), str(MODS_AVAILABLE / "idsession.load"),
             str(MODS_AVAILABLE / "idsession.conf"), "/usr/share/doc-base/%s.%s" % (PKG, PKG),
             "/usr/share/lintian/overrides/%s" % PKG}
            | {str(DOC / f) for f in ("copyright", "changelog.gz", "README.md", "CHANGES",
                                      "README.Debian", "html/README.html")}
            | {str(DOC / "docs" / md) for md in docs}
            | {str(DOC / "html" / (Path(md).stem + ".html")) for md in docs})


@pytest.mark.parametrize("which", ["built", "built_with_sample_docs"])
def test_runtime_package_contents(request, which):
    tree, debs, _ = request.getfixturevalue(which)
    listing = deb_listing(debs[PKG])
    files = deb_files(debs[PKG])
    expected = expected_runtime_files(tree)
    assert expected <= files, sorted(expected - files)
    # Besides: only files the HTML pages link to, under html/ (conf/idsession.conf ...).
    assert all(f.startswith(str(DOC / "html") + "/") for f in files - expected), \
        sorted(files - expected)
    for f in files:
        assert listing[f] == "-rw-r--r--", "%s: %s" % (f, listing[f])
    # Not the header: that is the -dev package's.
    assert not [f for f in files if f.endswith(".h")]
    if which == "built_with_sample_docs":
        assert {str(DOC / "docs" / md) for md in SAMPLE_DOCS} <= files
        assert {str(DOC / "html" / (Path(md).stem + ".html"))
                for md in list(SAMPLE_DOCS) + ["packaging-sample-top.md"]} <= files
        assert str(DOC / "html/conf/idsession.conf") in files
        # CHANGES and the license are linked where the package has them, not copied.
        assert not {str(DOC / "html/CHANGES"), str(DOC / "html/LICENSE")} & files
    # The .conf and .load are conffiles, so local edits survive upgrades.
    assert sorted(conffiles(debs[PKG])) == [str(MODS_AVAILABLE / "idsession.conf"),
                                            str(MODS_AVAILABLE / "idsession.load")]


def conffiles(deb):
    return subprocess.run(["sh", "-c", 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles',
                           "sh", str(deb)], capture_output=True, text=True).stdout.split()


def test_dev_package_contents(built):
    dev = built[1][DEV]
    assert deb_files(dev) == {str(INCLUDEDIR / "mod_idsession.h"),
                              "/usr/share/doc/%s/copyright" % DEV,
                              "/usr/share/doc/%s/changelog.gz" % DEV}
    assert deb_listing(dev)[str(INCLUDEDIR / "mod_idsession.h")] == "-rw-r--r--"
    assert conffiles(dev) == []


def test_dbgsym_package_has_the_module_debug_symbols(built, tmp_path):
    dbg = built[1][DBGSYM]
    files = deb_files(dbg)
    assert len(files) == 1, files
    run(["dpkg-deb", "-x", built[1][PKG], tmp_path])
    notes = run(["readelf", "-n", tmp_path / INSTALLED_SO.relative_to("/")])
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    assert files == {"/usr/lib/debug/.build-id/%s/%s.debug" % (build_id[:2], build_id[2:])}
    assert deb_field(dbg, "Depends") == "%s (= %s)" % (PKG, header_version())


@pytest.mark.parametrize("which", ["built", "built_with_sample_docs"])
def test_deb_html_links_lead_to_files_in_the_package(request, which, tmp_path):
    tree, debs, _ = request.getfixturevalue(which)
    run(["dpkg-deb", "-x", debs[PKG], tmp_path])
    html = tmp_path / DOC.relative_to("/") / "html"
    pages = {p.name for p in html.glob("*.html")}
    assert pages >= {"README.html"} | {"%s.html" % p.stem for p in tree.glob("docs/*.md")}
    # Other pages are the tree's Markdown files that these link to (HACKING.md).
    for page in pages:
        assert list(tree.glob("**/%s.md" % Path(page).stem)), page
    # Every link leads to a file of the package's doc directory.
    assert broken_links(html, html.parent) == []
    if which == "built_with_sample_docs":
        a = (html / "packaging-sample-a.html").read_text()
        assert 'href="../CHANGES"' in a and 'href="../copyright"' in a
    # The Markdown sources beside them, as in the tree.
    for md in tree.glob("docs/*.md"):
        assert (tmp_path / DOC.relative_to("/") / "docs" / md.name).read_text() == md.read_text()
    # doc-base registers every page.
    docbase = (tmp_path / "usr/share/doc-base" / ("%s.%s" % (PKG, PKG))).read_text()
    assert "Index: %s/html/README.html" % DOC in docbase
    assert "Files: %s/html/*.html" % DOC in docbase


@pytest.mark.parametrize("which", ["built", "built_with_sample_docs"])
def test_lintian_is_clean(request, which):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (scripts/deps.sh deb and test install it)")
    _, debs, changes = request.getfixturevalue(which)
    # The .changes covers every .deb and the .buildinfo.
    p = subprocess.run(["lintian", "-I", "-E", "--pedantic", "--fail-on",
                        "error,warning,info,pedantic,experimental", changes],
                       capture_output=True, text=True, timeout=600)
    tags = [line for line in (p.stdout + p.stderr).splitlines()
            if re.match(r"[A-Z]: ", line)]
    assert tags == [] and p.returncode == 0, p.stdout + p.stderr


def test_readme_debian(deb, tmp_path):
    run(["dpkg-deb", "-x", deb, tmp_path / "root"])
    text = (tmp_path / "root" / DOC.relative_to("/") / "README.Debian").read_text()
    for command in ("a2enmod idsession", "apache2ctl configtest", "systemctl reload apache2",
                    "Invalid command 'IDSession'"):
        assert command in text
    assert "apache2 -t" not in text
    # Its grep finds every line that would stop apache2 without the module, in the
    # configuration and in .htaccess files, and not the commented examples of
    # idsession.conf.
    grep = re.search(r"^ +(grep .*\\\n.*/etc/apache2 /var/www)$", text, re.M).group(1)
    etc, www = tmp_path / "etc", tmp_path / "www"
    (etc / "mods-available").mkdir(parents=True)
    (etc / "sites-available").mkdir()
    (www / "app").mkdir(parents=True)
    for name in ("idsession.conf", "idsession.load"):
        shutil.copy(REPO / "conf" / name, etc / "mods-available" / name)
    site = (REPO / "conf" / "demo.conf").read_text() + \
        "Mutex file:/run/lock idsession-store\n  setHandler  \"idsession-revoke\"\n"
    (etc / "sites-available" / "site.conf").write_text(site)
    (www / "app" / ".htaccess").write_text("Options -Indexes\n  IDSession On\n")
    found = run(["sh", "-c", grep.replace("/etc/apache2", str(etc)).replace(
        "/var/www", str(www))]).splitlines()
    want = ["%s/sites-available/site.conf:%d:%s" % (etc, n, line)
            for n, line in enumerate(site.splitlines(), 1)
            if re.match(r"\s*(IDSession|SetHandler\s+\"?idsession-|Mutex .*idsession-store|"
                        r"LogLevel .*idsession:)", line, re.I)]
    want.append("%s/app/.htaccess:2:  IDSession On" % www)
    assert len(want) >= 9 and sorted(found) == sorted(want), "\n".join(found)


def test_deb_enables_the_module_on_install(deb, tmp_path):
    run(["dpkg-deb", "-e", deb, tmp_path / "control"])
    postinst = (tmp_path / "control" / "postinst").read_text()
    assert re.search(r"for conf in idsession\s*;.*apache2_invoke enmod", postinst, re.S)
    postrm = (tmp_path / "control" / "postrm").read_text()
    assert "idsession" in postrm


def test_deb_files_pass_configtest(built, tmp_path):
    root = tmp_path / "root"
    for d in (PKG, DEV):
        run(["dpkg-deb", "-x", built[1][d], root])
    so = root / INSTALLED_SO.relative_to("/")
    load = (root / (MODS_AVAILABLE / "idsession.load").relative_to("/")).read_text()
    conf = (root / (MODS_AVAILABLE / "idsession.conf").relative_to("/")).read_text()
    assert load == shipped("idsession.load")
    assert conf == shipped("idsession.conf")
    assert (root / (INCLUDEDIR / "mod_idsession.h").relative_to("/")).read_text() == \
        (REPO / "mod_idsession.h").read_text()
    (tmp_path / "t").mkdir()
    assert_configtest_ok(tmp_path / "t", load, conf, so)
