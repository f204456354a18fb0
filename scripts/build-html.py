#!/usr/bin/python3
"""make html: the manual as HTML, from README.md and docs/*.md, with pandoc.

    scripts/build-html.py [--link FILE=URL]... [OUTDIR]    (default: build/html)

Each Markdown file becomes OUTDIR/<name>.html, side by side: README.html,
mod_idsession.html and so on; so does any other Markdown file of the source
tree that they link to (HACKING.md).  A relative link to one of them is
rewritten to its .html.  A relative link to any other file of the tree
(conf/idsession.conf, CHANGES) copies that file into OUTDIR under the same
path, so that the directory is complete by itself, wherever it is installed.

--link FILE=URL instead rewrites links to the tree's FILE to URL, relative to
OUTDIR, and copies nothing: the package build, which installs OUTDIR as
/usr/share/doc/libapache2-mod-idsession/html/, points CHANGES at the copy in
the directory above and LICENSE at the package's copyright file.

Then every relative link and #anchor in the result is checked: a link to a
file that is not there, to a directory, outside the tree, or to an anchor that
no heading of the target has, fails the build with a list of them.

pandoc reads GitHub's Markdown (gfm): tables, code blocks inside list items,
lists indented by two spaces, and heading ids made the way GitHub makes them,
so an anchor that works on GitHub works here.
"""

import html.parser
import json
import os
import posixpath
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def die(msg):
    sys.exit("build-html: " + msg)


def sources(repo):
    """The Markdown files of the manual, as paths relative to the tree."""
    docs = sorted(p.relative_to(repo).as_posix() for p in (repo / "docs").glob("*.md"))
    return ["README.md"] + docs


def html_name(md):
    return posixpath.splitext(posixpath.basename(md))[0] + ".html"


def walk(node, visit):
    """Call visit on every element (dict with "t") of a pandoc JSON AST."""
    if isinstance(node, dict):
        if "t" in node:
            visit(node)
        for v in node.values():
            walk(v, visit)
    elif isinstance(node, list):
        for v in node:
            walk(v, visit)


def plain_text(inlines):
    out = []

    def visit(el):
        if el["t"] in ("Str", "Code"):
            out.append(el["c"] if el["t"] == "Str" else el["c"][1])
        elif el["t"] in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
    walk(inlines, visit)
    return "".join(out)


class Build:
    def __init__(self, repo, outdir, links):
        self.repo, self.outdir, self.links = repo, outdir, links
        self.names = {}     # Markdown file -> its page, in the order they are found
        for md in sources(repo):
            self.add_page(md)
        self.copies = set()
        self.errors = []

    def add_page(self, md):
        name = html_name(md)
        if name in self.names.values():
            die("%s and %s would both make %s" % (
                [m for m, n in self.names.items() if n == name][0], md, name))
        self.names[md] = name

    def rewrite(self, src, url):
        """The link `url` of the Markdown file `src`, as it must be in OUTDIR."""
        u = urllib.parse.urlsplit(url)
        if u.scheme or u.netloc or not u.path or u.path.startswith("/"):
            return url
        target = posixpath.normpath(posixpath.join(posixpath.dirname(src),
                                                   urllib.parse.unquote(u.path)))
        frag = "#" + u.fragment if u.fragment else ""
        if target in self.links:
            return self.links[target] + frag
        path = self.repo / target
        if target.endswith(".md") and path.is_file() and target not in self.names:
            self.add_page(target)
        if target in self.names:
            return self.names[target] + frag
        if target.startswith("../") or target == "..":
            self.errors.append("%s: %s points outside the source tree" % (src, url))
        elif path.is_dir():
            self.errors.append("%s: %s is a directory; link to a file" % (src, url))
        elif not path.is_file():
            self.errors.append("%s: %s does not exist" % (src, url))
        else:
            self.copies.add(target)
        return urllib.parse.quote(target) + frag

    def convert(self, src):
        ast = json.loads(subprocess.run(
            ["pandoc", "-f", "gfm", "-t", "json", str(self.repo / src)],
            check=True, capture_output=True, text=True).stdout)
        titles = []

        def visit(el):
            if el["t"] in ("Link", "Image"):
                target = el["c"][2]
                target[0] = self.rewrite(src, target[0])
            elif el["t"] == "Header" and el["c"][0] == 1 and not titles:
                titles.append(plain_text(el["c"][2]))
        walk(ast["blocks"], visit)
        ast["meta"]["pagetitle"] = {"t": "MetaString", "c": titles[0] if titles else src}
        ast["meta"]["lang"] = {"t": "MetaString", "c": "en"}
        subprocess.run(["pandoc", "-f", "json", "-t", "html5", "--standalone",
                        "-o", str(self.outdir / self.names[src])],
                       input=json.dumps(ast), check=True, text=True)

    def run(self):
        if self.outdir.exists():
            shutil.rmtree(self.outdir)
        self.outdir.mkdir(parents=True)
        done = 0
        while done < len(self.names):       # convert() may find more pages
            self.convert(list(self.names)[done])
            done += 1
        for rel in sorted(self.copies):
            (self.outdir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.repo / rel, self.outdir / rel)
        # Then the anchors, and anything the rewriting let through.
        errors = list(dict.fromkeys(self.errors)) or \
            check_links(self.outdir, set(self.links.values()))
        if errors:
            die("broken links:\n  " + "\n  ".join(errors))


class Anchors(html.parser.HTMLParser):
    """The ids and the link targets (href, src) of an HTML page."""

    def __init__(self, text):
        super().__init__()
        self.ids, self.links = set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for attr in ("href", "src"):
            if a.get(attr) and tag in ("a", "img"):
                self.links.append(a[attr])


def check_links(outdir, outside=()):
    """Every relative link of every page under outdir, that leads nowhere.  Links to
    the URLs in `outside` lead to files that only the installed package has."""
    outdir = Path(outdir)
    pages = {p.relative_to(outdir).as_posix(): Anchors(p.read_text())
             for p in outdir.rglob("*.html")}
    errors = []
    for page, parsed in sorted(pages.items()):
        for link in parsed.links:
            u = urllib.parse.urlsplit(link)
            if u.scheme or u.netloc or u.path.startswith("/") or u.path in outside:
                continue
            target = posixpath.normpath(posixpath.join(
                posixpath.dirname(page), urllib.parse.unquote(u.path))) if u.path else page
            if target.startswith("..") or not (outdir / target).is_file():
                errors.append("%s: %s: no such file" % (page, link))
            elif u.fragment and target in pages and u.fragment not in pages[target].ids:
                errors.append("%s: %s: no such anchor" % (page, link))
    return errors


def main():
    args, links = sys.argv[1:], {}
    while len(args) >= 2 and args[0] == "--link" and "=" in args[1]:
        name, url = args[1].split("=", 1)
        links[posixpath.normpath(name)] = url
        args = args[2:]
    if len(args) > 1 or (args and args[0].startswith("-")):
        die("usage: build-html.py [--link FILE=URL]... [OUTDIR]")
    if not shutil.which("pandoc"):
        die("pandoc not found: apt-get install pandoc")
    outdir = Path(args[0] if args else REPO / "build" / "html").resolve()
    Build(REPO, outdir, links).run()
    print(outdir)


if __name__ == "__main__":
    main()
