"""The valgrind mode checks itself (runs only under IDS_VALGRIND=1, i.e. `make
test-valgrind`): a copy of the module built outside the repository with a deliberate leak,
invalid read or uninitialised read in its fixups hook must make the harness fail, naming
the module's function; the real module under the same harness must not."""

import shutil
import subprocess
from pathlib import Path

import pytest

import idshttpd

pytestmark = pytest.mark.skipif(not idshttpd.VALGRIND,
                                reason="only under IDS_VALGRIND=1 (make test-valgrind)")

HOOK = "static int ids_fixups(request_rec *r)\n{\n"

BUGS = {
    # 64 bytes from malloc, pointer dropped: "definitely lost" at exit
    "leak": ("{ char *ids_bug = malloc(64); memset(ids_bug, 1, 64); ids_bug = NULL; }\n",
             r"definitely lost"),
    # one byte past an 8-byte malloc block
    "invalid-read": ("{ char *ids_bug = malloc(8); memset(ids_bug, 1, 8);"
                     " ids_bug_sink = ids_bug[8]; free(ids_bug); }\n",
                     r"Invalid read of size 1"),
    # a branch on malloc'ed memory nobody wrote
    "uninitialised": ("{ int *ids_bug = malloc(sizeof(int));"
                      " if (*ids_bug == 42) ids_bug_sink = 1; free(ids_bug); }\n",
                      r"Conditional jump or move depends on uninitialised value"),
}


def build_broken(tmp, bug):
    """apxs-build the module from the repository's sources plus one bug, in tmp."""
    sources = sorted(p.name for p in idshttpd.REPO.glob("*.[ch]"))
    for f in sources:
        shutil.copy(idshttpd.REPO / f, tmp / f)
    src = (tmp / "mod_idsession.c").read_text()
    assert HOOK in src, "the fixups hook moved; update test_valgrind.py"
    src = "#include <stdlib.h>\n#include <string.h>\nstatic volatile int ids_bug_sink;\n" + \
        src.replace(HOOK, HOOK + "    " + BUGS[bug][0], 1)
    (tmp / "mod_idsession.c").write_text(src)
    p = subprocess.run(["/usr/bin/apxs", "-c", "-o", "mod_idsession.la"]
                       + [f for f in sources if f.endswith(".c")] + ["-lcrypto", "-lhiredis"],
                       cwd=tmp, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    so = tmp / ".libs" / "mod_idsession.so"
    assert so.exists()
    return so


def run_one_request(monkeypatch, module):
    """Start a server on module under valgrind, send a minting request, stop it; returns
    the exception stop() raised, or None."""
    monkeypatch.setattr(idshttpd, "MODULE", Path(module))
    h = idshttpd.Httpd(conf="IDSession On\n", name="vgcheck")
    try:
        h.write("index.html", "x\n")
        h.start()
        r = h.curl("/index.html")
        assert r.status == 200 and r.set_cookies("_session")
        try:
            h.stop()
        except AssertionError as e:
            return e
        return None
    finally:
        h.cleanup()


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_harness_catches_module_bug(tmp_path, monkeypatch, bug):
    so = build_broken(tmp_path, bug)
    err = run_one_request(monkeypatch, so)
    assert err is not None, "valgrind mode let a module %s through" % bug
    text = str(err)
    assert "valgrind reported errors" in text
    assert BUGS[bug][1] in text, text[-3000:]
    assert "ids_fixups" in text, text[-3000:]


def test_harness_passes_real_module(monkeypatch):
    assert run_one_request(monkeypatch, idshttpd.MODULE) is None
