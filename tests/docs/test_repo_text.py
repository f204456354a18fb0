"""What the documentation promises about the repository itself.

- Every `make <target>` that a document shows exists in the Makefile.
- Nothing in the repository points a reader at issues, trackers or internal targets
  that they cannot see.
"""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", "--", *patterns], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
    return [REPO / p for p in out if (REPO / p).is_file()]


def documents():
    docs = tracked("*.md", "debian/README.Debian", "Makefile")
    assert any(p.name == "README.md" for p in docs)
    return docs


def makefile_targets():
    text = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))
    for phony in re.findall(r"^\.PHONY:((?:.*\\\n)*.*)$", text, re.M):
        targets.update(phony.replace("\\\n", " ").split())
    return targets


def code_text(path):
    """The parts of a document a reader would type: code blocks and `code spans`
    (all of it for files that are code or configuration)."""
    text = path.read_text(errors="replace")
    if path.name == "Makefile":     # its usage comment: "#   make demo   run httpd ..."
        return "\n".join(re.findall(r"^#\s+(make \S+)", text, re.M))
    if path.suffix != ".md":
        return text
    parts = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    parts += re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))
    return "\n".join(parts)


def mentioned_targets(text):
    """Targets of the make commands in text: each line is split into commands at
    && ; | and each command that is `make` (after sudo, VAR=value and flags) gives
    its first plain argument.  `make tests/mod/x.so` (a file) is not a target name."""
    found = set()
    for line in text.splitlines():
        line = line.split(" #", 1)[0]
        for cmd in re.split(r"&&|\|\||;|\|", line):
            words = cmd.split()
            while words and (words[0] in ("sudo", "$") or re.fullmatch(r"[A-Z_]+=\S*", words[0])):
                words.pop(0)
            if len(words) < 2 or words[0] != "make":
                continue
            args = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            if args and re.fullmatch(r"[a-z][a-z0-9-]*", args[0]):
                found.add(args[0])
    return found


def test_make_targets_in_docs_exist():
    targets = makefile_targets()
    missing = {}
    for doc in documents():
        for t in mentioned_targets(code_text(doc)) - targets:
            missing.setdefault(t, []).append(str(doc.relative_to(REPO)))
    assert not missing, "documents mention make targets the Makefile lacks: %s" % missing


def test_target_finder_finds_targets():
    """The finder itself: these must be seen, or the test above proves nothing."""
    seen = mentioned_targets("make demo    # runs httpd\nsudo make install\nIDS_X=1 make bench\n"
                             "make FUZZ_SECONDS=5 fuzz\ncd x && make test-tsan\n"
                             "cannot make the memory\nmake tests/mod/x.so\n")
    assert seen == {"demo", "install", "bench", "fuzz", "test-tsan"}, seen
    assert "demo" in mentioned_targets(code_text(REPO / "README.md"))


# "issue 12", "issues #3", "(issue 4)", "the issue's targets", "bug tracker"
INTERNAL = re.compile(r"\bissues?\s*#?\d+|\breview'?s? [A-Z]\d\b|\bthe issue'?s?\b|\btracker\b|\btargets? of the \w+ issue",
                      re.I)


def test_nothing_refers_to_unseen_issues():
    this = Path(__file__).resolve()
    hits = []
    for p in tracked():
        if p.resolve() == this or p.suffix in (".png", ".so", ".deb"):
            continue
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if INTERNAL.search(line):
                hits.append("%s:%d: %s" % (p.relative_to(REPO), n, line.strip()[:100]))
    assert not hits, "references a reader cannot follow:\n" + "\n".join(hits)
