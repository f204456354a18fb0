"""docs/security.md's threat model names, for each threat, the tests that show it
(`tests/<file>::<function>`). Every one of them must exist, so that the table cannot
drift from the suite. Plain pytest, no httpd:

    /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/docs
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "security.md"
REF = re.compile(r"`(tests/[\w./-]+\.(?:py|c))::(\w+)`")
COLUMNS = ["Threat", "What stops it", "What the operator must do", "The test that shows it"]


def threat_rows():
    """The cells of each row of the threat model table, the header row checked."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("## Threat model"))
    header = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    cells = [c.strip() for c in lines[header].strip("|").split("|")]
    assert cells == COLUMNS, cells
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        row = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(row) == len(COLUMNS), line
        rows.append(row)
    return rows


def defines(path, name):
    """1 if the test file defines the function name: a pytest function, or a C test."""
    text = path.read_text()
    if path.suffix == ".py":
        return re.search(r"^\s*def %s\(" % re.escape(name), text, re.M) is not None
    return re.search(r"^(static\s+)?void\s+%s\(" % re.escape(name), text, re.M) is not None


def test_every_threat_names_a_test():
    rows = threat_rows()
    assert len(rows) >= 15, "the threat model lost rows"
    for row in rows:
        assert REF.findall(row[-1]), "no test named for: %s" % row[0]
        assert row[1] and row[2], "an empty cell in: %s" % row[0]


def test_every_named_test_exists():
    missing = []
    for row in threat_rows():
        for rel, name in REF.findall(row[-1]):
            path = REPO / rel
            if not path.is_file():
                missing.append("%s (no such file)" % rel)
            elif not defines(path, name):
                missing.append("%s::%s" % (rel, name))
    assert missing == [], "docs/security.md names tests that do not exist: %s" % missing


def test_every_reference_elsewhere_in_the_page_exists():
    """Tests named in the prose below the table are checked too."""
    for rel, name in REF.findall(DOC.read_text()):
        assert (REPO / rel).is_file() and defines(REPO / rel, name), "%s::%s" % (rel, name)
