"""HACKING.md and the guides in docs/ tell readers to run make targets and describe the
repository's layout: every `make <target>` they show must exist in the Makefile, and
HACKING.md's layout must name every top-level file and directory git tracks. Plain
pytest, no httpd:

    /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/docs
"""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HACKING = REPO / "HACKING.md"
GUIDES = [HACKING, REPO / "docs" / "security.md", REPO / "docs" / "operations.md",
          REPO / "docs" / "performance.md"]


def makefile_targets():
    """The targets of the top-level Makefile, with $(VAR) expanded from its :=, ?= and =
    definitions."""
    text = (REPO / "Makefile").read_text()
    var = dict(re.findall(r"^([A-Z_]+)\s*[:?]?=\s*(.*?)\s*$", text, re.M))
    targets = set()
    for line in re.findall(r"^([^\s#=:][^=:]*?):(?!=)", text, re.M):
        for t in line.split():
            targets.add(re.sub(r"\$\((\w+)\)", lambda m: var.get(m.group(1), ""), t))
    return targets


def code_of(text):
    """The fenced code blocks and inline code spans of a Markdown text."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    return blocks + re.findall(r"`([^`\n]+)`", rest)


def make_targets_shown(text):
    """The targets of every make command in the code of text: a shell command whose first
    word, after any VAR=value, is make; its options and variable assignments aside."""
    shown = set()
    for code in code_of(text):
        for line in code.splitlines():
            line = line.split("#", 1)[0]
            for command in re.split(r"&&|\|\||;|\|", line):
                try:
                    words = shlex.split(command)
                except ValueError:
                    words = command.split()
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                    words.pop(0)
                if not words or words[0] != "make":
                    continue
                for word in words[1:]:
                    if word.startswith("-") or "=" in word:
                        continue
                    if not re.fullmatch(r"[\w./-]+", word):
                        break
                    shown.add(word)
    return shown


def test_the_parser_sees_the_targets():
    targets = makefile_targets()
    for t in ("all", "test", "unit", "e2e", "fuzz", "bench", "loadtest", "test-tsan",
              "test-valgrind", ".libs/mod_idsession.so",
              "tests/mod/.libs/mod_idsession_test.so"):
        assert t in targets, (t, sorted(targets))
    assert make_targets_shown("```sh\nIDS_X=1 make e2e PYTEST_ARGS='-k x' && make fuzz\n```\n"
                              "and `make test`, not make sure") == {"e2e", "fuzz", "test"}


@pytest.mark.parametrize("doc", GUIDES, ids=lambda p: p.name)
def test_every_make_target_shown_exists(doc):
    if not doc.exists():
        pytest.skip("%s not written yet" % doc.name)
    missing = make_targets_shown(doc.read_text()) - makefile_targets()
    assert not missing, "%s shows make targets the Makefile lacks: %s" % (
        doc.name, sorted(missing))


def test_hacking_names_every_top_level_entry():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True,
                           text=True, check=True).stdout.split("\n")
    top = {f.split("/")[0] + ("/" if "/" in f else "") for f in files if f}
    layout = HACKING.read_text().split("## Repository layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([^`]+)`", layout))
    missing = sorted(t for t in top
                     if t not in named and t.rstrip("/") not in named
                     and not any(n.startswith(t) for n in named))
    assert not missing, "HACKING.md's layout does not name: %s" % missing
