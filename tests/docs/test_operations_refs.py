"""docs/operations.md lists every numbered log message of the module (IDS_LOGNO in the
sources) with what to do about it: every number in the code has its row, and every
number the guides mention exists in the code. Links inside the guides point at headings
that exist. Plain pytest, no httpd:

    /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/docs
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
GUIDES = [REPO / "docs" / "security.md", OPERATIONS, REPO / "docs" / "performance.md",
          REPO / "HACKING.md"]


def code_numbers():
    nums = []
    for f in sorted(REPO.glob("*.c")):
        nums += re.findall(r"IDS_LOGNO\((\d{5})\)", f.read_text())
    return nums


def table_numbers():
    """The numbers of the rows of the log message table: | `IDSnnnnn` | level | ..."""
    return re.findall(r"^\| `IDS(\d{5})` \| (?:notice|warn|error|crit|info) \|",
                      OPERATIONS.read_text(), re.M)


def test_code_numbers_are_unique():
    nums = code_numbers()
    assert len(nums) >= 20, "IDS_LOGNO not found in the sources"
    assert len(nums) == len(set(nums)), sorted(nums)


def test_every_code_number_has_one_row():
    rows = table_numbers()
    assert len(rows) == len(set(rows)), "a number has two rows: %s" % sorted(rows)
    assert sorted(rows) == sorted(set(code_numbers()))


@pytest.mark.parametrize("doc", GUIDES, ids=lambda p: p.name)
def test_every_number_mentioned_exists(doc):
    if not doc.exists():
        pytest.skip("%s not written yet" % doc.name)
    known = set(code_numbers())
    mentioned = set(re.findall(r"\bIDS(\d{5})\b", doc.read_text()))
    assert mentioned <= known, "%s mentions unknown numbers: %s" % (
        doc.name, sorted(mentioned - known))


def slug(heading):
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


@pytest.mark.parametrize("doc", GUIDES, ids=lambda p: p.name)
def test_links_within_a_page_find_their_heading(doc):
    if not doc.exists():
        pytest.skip("%s not written yet" % doc.name)
    text = doc.read_text()
    text_no_code = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    anchors = {slug(h) for h in re.findall(r"^#{1,6} (.*)$", text_no_code, re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, "%s: no heading for #%s" % (doc.name, target)


@pytest.mark.parametrize("doc", GUIDES, ids=lambda p: p.name)
def test_links_between_guides_find_their_heading(doc):
    """A link to another of these guides, with an anchor, lands on a heading there.
    Links into the reference manual and the recipes are checked where those live."""
    if not doc.exists():
        pytest.skip("%s not written yet" % doc.name)
    names = {p.name: p for p in GUIDES}
    for target, anchor in re.findall(r"\]\((?:\.\./|docs/)?([\w.]+\.md)#([^)]+)\)",
                                     doc.read_text()):
        if target not in names:
            continue
        other = re.sub(r"^```.*?^```", "", names[target].read_text(), flags=re.M | re.S)
        anchors = {slug(h) for h in re.findall(r"^#{1,6} (.*)$", other, re.M)}
        assert anchor in anchors, "%s: no heading for %s#%s" % (doc.name, target, anchor)
