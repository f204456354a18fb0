"""docs/mod_idsession.md against the code: one section per directive of ids_cmds[] in
mod_idsession.c, each opening with httpd's table (Description, Syntax, Default, Context,
Override, Status, Module, Compatibility) whose rows say what the code does.

- Syntax starts with the name; its arguments fit the AP_INIT kind (FLAG: On|Off).
- Context comes from req_override, narrowed by ap_check_cmd_context() in the set
  function; apache2 -t and a real .htaccess confirm it for every directive.
- Override: FileInfo for OR_FILEINFO; no Override row where .htaccess is not allowed,
  as in httpd's own manual.
- Default: every help string ends with "(default X)" or "(default X: words)"; the
  manual's Default is `Name X`, or starts with "none" where X is none.
- Compatibility: "V and later", V the oldest CHANGES section that names the directive.
"""

import re

import pytest

import manual
import idshttpd     # after manual, which puts tests/e2e on the path

DIRECTIVES = manual.directives()
SECTIONS = manual.directive_sections()
ROW_ORDER = ["Description", "Syntax", "Default", "Context", "Override", "Status", "Module",
             "Compatibility"]


def rows_of(name):
    [body] = [b for n, _, b in SECTIONS if n == name]
    return dict(manual.table_rows(body))


def syntax_args(syntax):
    """The argument words after the directive name, split on spaces outside [...]."""
    words, depth, cur = [], 0, ""
    for ch in syntax:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == " " and depth == 0:
            words.append(cur)
            cur = ""
        else:
            cur += ch
    return words + [cur]


def test_table_parsed():
    assert len(DIRECTIVES) >= 27, sorted(DIRECTIVES)
    assert all(d["kind"] in manual.ARGS or d["kind"] in ("RAW_ARGS", "TAKE_ARGV")
               for d in DIRECTIVES.values()), DIRECTIVES


def test_every_help_string_states_its_default():
    missing = [n for n, d in DIRECTIVES.items() if d["default"] is None]
    assert not missing, ("help strings in ids_cmds[] must end with \"(default X)\": %s"
                         % missing)


def test_one_section_per_directive_and_no_other():
    names = [n for n, _, _ in SECTIONS]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, "directives with more than one section: %s" % dup
    assert sorted(set(DIRECTIVES) - set(names)) == [], "directives without a section"
    assert sorted(set(names) - set(DIRECTIVES)) == [], "sections for no directive"


def test_sections_in_alphabetical_order_with_anchor():
    names = [n for n, _, _ in SECTIONS]
    assert names == sorted(names, key=str.lower)
    for name, before, _ in SECTIONS:
        assert before == '<a id="%s"></a>' % name.lower(), name


def test_directive_index_lists_each_once():
    index = manual.section("Directives")
    links = re.findall(r"^- \[(\w+)\]\(#(\w+)\)$", index, re.M)
    assert [n for n, _ in links] == sorted(DIRECTIVES, key=str.lower)
    assert all(anchor == n.lower() for n, anchor in links)


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_rows_in_httpd_order(name):
    keys = [k for k, _ in manual.table_rows(
        [b for n, _, b in SECTIONS if n == name][0])]
    want = [k for k in ROW_ORDER
            if k != "Override" or manual.override_of(DIRECTIVES[name])]
    assert keys == want
    rows = rows_of(name)
    assert rows["Description"].strip()
    assert rows["Status"] == "External"
    assert rows["Module"] == "mod_idsession"


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_syntax(name):
    d = DIRECTIVES[name]
    m = re.fullmatch(r"`([^`]*)`", rows_of(name)["Syntax"])
    assert m, "Syntax is one `code` span"
    syntax = m.group(1)
    assert syntax.split(" ")[0] == name
    args = syntax_args(syntax)[1:]
    if d["kind"] == "FLAG":
        assert args == ["On|Off"]
        return
    if d["kind"] in ("RAW_ARGS", "TAKE_ARGV"):
        return
    required, optional, repeats = manual.ARGS[d["kind"]]
    if repeats:
        assert args and args[-1].endswith("..."), "an ITERATE directive ends with ..."
        args = args[:-1] if args[-1] == "..." else args
    opt = [a for a in args if a.startswith("[") and a.endswith("]")]
    assert len(args) - len(opt) == required and len(opt) <= optional, args


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_context_and_override(name):
    d = DIRECTIVES[name]
    rows = rows_of(name)
    assert rows["Context"] == manual.context_of(d)
    assert rows.get("Override") == manual.override_of(d)


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_default(name):
    default = DIRECTIVES[name]["default"]
    text = rows_of(name)["Default"]
    if default == "none":
        assert text.startswith("none"), text
    else:
        assert text.startswith("`%s %s`" % (name, default)), text


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_compatibility(name):
    version = manual.first_release_naming(name)
    assert version, "CHANGES never names %s" % name
    assert rows_of(name)["Compatibility"] == "%s and later" % version


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_section_has_an_example(name):
    [body] = [b for n, _, b in SECTIONS if n == name]
    assert any(re.search(r"^\s*%s\b" % name, code, re.M)
               for _, code in manual.code_blocks(body, "apache")), \
        "no ```apache example with %s" % name


def test_context_checks_are_only_in_set_functions():
    """The Context rule reads ap_check_cmd_context() in each directive's set function:
    a call anywhere else would escape it."""
    funcs = {d["func"] for d in DIRECTIVES.values()}
    for f in manual.SOURCES:
        src = (manual.REPO / f).read_text()
        for m in re.finditer(r"ap_check_cmd_context\(", src):
            owner = re.findall(r"^[a-z][^;{}]*?\b(\w+)\([^)]*\)\s*\{", src[:m.start()],
                               re.M)[-1]
            assert owner in funcs, "%s calls ap_check_cmd_context in %s" % (f, owner)


def test_variables_and_handlers():
    """The Variables table has a row for each SESSION_* the code sets, and the Handlers
    section a row and a section for each handler name."""
    rows = set(re.findall(r"^\| `(SESSION_\w+)` \|", manual.section("Variables"), re.M))
    assert rows == manual.code_variables()
    text = manual.section("Handlers")
    table = set(re.findall(r"^\| `(idsession-[a-z]+)` \|", text, re.M))
    heads = set(re.findall(r"^### The (idsession-[a-z]+) handler$", text, re.M))
    assert table == heads == manual.code_handlers()


# ---- Context, by trying it -------------------------------------------------------------

def sample_args(d):
    """Arguments that get past httpd's argument count, for the context checks."""
    if d["kind"] == "FLAG":
        return "On"
    required, optional, _ = manual.ARGS.get(d["kind"], (1, 0, False))
    return " ".join(["1"] * max(required, 1))


REFUSED = re.compile(r"not allowed here|cannot occur within|not allowed in")


@pytest.fixture(scope="module")
def server():
    h = idshttpd.Httpd(name="docs-context", modules=["rewrite"])
    yield h
    h.cleanup()


@pytest.mark.parametrize("where", ["virtual host", "directory"])
def test_context_by_configtest(server, where):
    """Each directive in a <VirtualHost> and a <Location>, under apache2 -t: refused
    exactly where its Context says it does not belong."""
    wrap = {"virtual host": "<VirtualHost 127.0.0.1:%d>\n%%s\n</VirtualHost>\n" % server.port,
            "directory": '<Location "/ctx">\n%s\n</Location>\n'}[where]
    wrong = []
    for name, d in sorted(DIRECTIVES.items()):
        rc, out = server.configtest(wrap % ("    %s %s" % (name, sample_args(d))))
        refused = rc != 0 and REFUSED.search(out) is not None
        if refused == (where in manual.context_of(d).split(", ")):
            wrong.append((name, rc, out.strip().splitlines()[-1:]))
    assert not wrong


def test_context_by_htaccess(server):
    """Each directive in a real .htaccess with AllowOverride All: refused exactly where
    its Context has no .htaccess."""
    names = sorted(DIRECTIVES)
    for i, name in enumerate(names):
        server.write("ht%d/.htaccess" % i, "%s %s\n" % (name, sample_args(DIRECTIVES[name])))
        server.write("ht%d/index.html" % i, "x\n")
    server.conf = '<Directory "@DOCROOT@">\n    AllowOverride All\n</Directory>\n'
    server.start()
    try:
        wrong = []
        for i, name in enumerate(names):
            server.begin_test()
            r = server.curl("/ht%d/index.html" % i)
            log = "\n".join(server.log_lines())
            refused = r.status == 500 and re.search(
                r"ht%d/\.htaccess: %s (not allowed here|cannot occur)" % (i, name), log)
            if bool(refused) == (".htaccess" in manual.context_of(DIRECTIVES[name])):
                wrong.append((name, r.status, log[-300:]))
        assert not wrong
    finally:
        server.stop()
