"""Readers for the drift tests: the directive table of mod_idsession.c, the manual page
docs/mod_idsession.md, and CHANGES.

The code is the source of truth: ids_cmds[] gives each directive's name, argument kind,
req_override, set function and help string, and every help string ends with
"(default X)" or "(default X: words)", X being the value as it would be written in a
configuration, or "none" where the directive is unset by default.
"""

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SOURCES = ["mod_idsession.c", "mod_idsession_status.c", "mod_idsession_store.c",
           "idsession_core.c"]
MANUAL = REPO / "docs" / "mod_idsession.md"

sys.path.insert(0, str(REPO / "tests" / "e2e"))      # idshttpd, the e2e harness

# httpd's req_override bits (http_config.h) and the manual's names for them.
OVERRIDES = {"OR_LIMIT": "Limit", "OR_OPTIONS": "Options", "OR_FILEINFO": "FileInfo",
             "OR_AUTHCFG": "AuthConfig", "OR_INDEXES": "Indexes"}
OR_ALL = ["OR_LIMIT", "OR_OPTIONS", "OR_FILEINFO", "OR_AUTHCFG", "OR_INDEXES"]

# Arguments per AP_INIT kind: (required, optional, repeats).
ARGS = {"NO_ARGS": (0, 0, False), "FLAG": (1, 0, False), "TAKE1": (1, 0, False),
        "TAKE2": (2, 0, False), "TAKE3": (3, 0, False), "TAKE12": (1, 1, False),
        "TAKE13": (1, 2, False), "TAKE23": (2, 1, False), "TAKE123": (1, 2, False),
        "ITERATE": (1, 0, True), "ITERATE2": (2, 0, True)}   # RAW_ARGS, TAKE_ARGV: any

# ap_check_cmd_context flags (http_config.h): which contexts each one takes away.
CONTEXT_ORDER = ["server config", "virtual host", "directory", ".htaccess"]
NOT_IN = {"NOT_IN_VIRTUALHOST": {"virtual host"}, "NOT_IN_HTACCESS": {".htaccess"},
          "NOT_IN_DIR_LOC_FILE": {"directory"},
          "NOT_IN_DIR_CONTEXT": {"directory", ".htaccess"},
          "GLOBAL_ONLY": {"virtual host", "directory", ".htaccess"}}

DEFAULT_RE = re.compile(r"\(default ([^()]*)\)$")


def _c_args(text, i):
    """The top-level, comma-separated arguments of the call whose "(" is at text[i]."""
    args, depth, cur, j = [], 0, [], i
    while True:
        ch = text[j]
        if ch == '"':
            end = j + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            cur.append(text[j:end + 1])
            j = end + 1
            continue
        if ch == "(":
            depth += 1
            if depth == 1:
                j += 1
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
        elif ch == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            j += 1
            continue
        cur.append(ch)
        j += 1


def _c_string(expr):
    """The value of adjacent C string literals."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    return "".join(parts).encode().decode("unicode_escape")


def c_function(name):
    """(file, body) of the function `name` defined in one of the module's sources."""
    for f in SOURCES:
        src = (REPO / f).read_text()
        m = re.search(r"^[a-z][^;{}]*\b%s\(([^)]*)\)\s*\{(.*?)^\}" % re.escape(name), src,
                      re.M | re.S)
        if m:
            return f, m.group(2)
    return None, None


def directives():
    """{name: dict(kind, func, override, help, default)} from ids_cmds[], in table order."""
    src = (REPO / "mod_idsession.c").read_text()
    start = src.index("static const command_rec ids_cmds[] = {")
    end = src.index("{ NULL }", start)
    out = {}
    for m in re.finditer(r"AP_INIT_(\w+)\(", src[start:end]):
        name, func, _data, override, help_expr = _c_args(src, start + m.end() - 1)
        help_text = _c_string(help_expr)
        d = DEFAULT_RE.search(help_text)
        out[_c_string(name)] = dict(
            kind=m.group(1), func=func, help=help_text,
            override={t.strip() for t in override.split("|")},
            default=d.group(1).split(": ")[0] if d else None)
    return out


def context_of(d):
    """The manual's Context for directive d: its req_override, narrowed by any
    ap_check_cmd_context() in its set function."""
    ctx = set()
    if "RSRC_CONF" in d["override"]:
        ctx |= {"server config", "virtual host"}
    if "ACCESS_CONF" in d["override"]:
        ctx.add("directory")
    if d["override"] & set(OR_ALL + ["OR_ALL"]):
        ctx |= {"directory", ".htaccess"}
    # httpd reads the server's own sections with (RSRC_CONF | OR_ALL) & ~(OR_AUTHCFG |
    # OR_LIMIT) (ap_process_config_tree): the other .htaccess overrides work there too.
    if d["override"] & {"OR_ALL", "OR_OPTIONS", "OR_FILEINFO", "OR_INDEXES"}:
        ctx |= {"server config", "virtual host"}
    for flags in check_cmd_context_flags(d["func"]):
        for flag in flags:
            ctx -= NOT_IN[flag]
    return ", ".join(c for c in CONTEXT_ORDER if c in ctx)


def check_cmd_context_flags(func):
    """The flag lists of each ap_check_cmd_context() call in set function func."""
    _, body = c_function(func)
    if body is None:                       # one of httpd's own, e.g. ap_set_flag_slot
        return []
    calls = re.findall(r"ap_check_cmd_context\(\s*\w+\s*,([^)]*)\)", body)
    lists = [[f.strip() for f in c.split("|")] for c in calls]
    for flags in lists:
        unknown = [f for f in flags if f not in NOT_IN]
        assert not unknown, "teach tests/docs/manual.py the context flags %s" % unknown
    return lists


def override_of(d):
    """The manual's Override row for directive d, or None where .htaccess is not allowed
    (httpd's manual then writes no Override row)."""
    if "OR_ALL" in d["override"]:
        return "All"
    names = [OVERRIDES[o] for o in OR_ALL if o in d["override"]]
    return ", ".join(names) or None


# ---- the manual ------------------------------------------------------------------------

def manual_text():
    return MANUAL.read_text()


def directive_sections(text=None):
    """[(name, anchor_line, body)] for each "## NAME Directive" section, in order."""
    text = manual_text() if text is None else text
    out = []
    heads = list(re.finditer(r"^## (\S+) Directive\n", text, re.M))
    for i, m in enumerate(heads):
        nxt = re.compile(r"^## ", re.M).search(text, m.end())
        body = text[m.end():nxt.start() if nxt else len(text)]
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        out.append((m.group(1), before, body))
    return out


def table_rows(body):
    """[(key, value)] of the first table in body: | **Key:** | value |, with \\| as |."""
    rows = []
    for line in body.lstrip("\n").splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        m = re.match(r"^\| \*\*(.+?):\*\* \| (.*) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2).replace("\\|", "|")))
    return rows


def code_blocks(text, lang):
    """[(marker, code)] of each ```lang block; marker is the HTML comment on the line
    before the fence, if any (e.g. "no-configtest")."""
    out = []
    for m in re.finditer(r"(?:<!-- ([^>]*?) -->\n)?```%s\n(.*?)^```" % re.escape(lang),
                         text, re.M | re.S):
        out.append((m.group(1), m.group(2)))
    return out


def snippet(name, text=None):
    """The code between <!-- name --> and <!-- /name -->, without its fence."""
    text = manual_text() if text is None else text
    m = re.search(r"<!-- %s -->\n```\w*\n(.*?)```\n<!-- /%s -->" % (name, name), text, re.S)
    assert m, "%s lost its %s" % (MANUAL.name, name)
    return m.group(1)


def load_snippet(name, func):
    """Run a marked Python snippet of the manual and return the function it defines."""
    ns = {}
    exec(compile(snippet(name), "%s:%s" % (MANUAL.name, name), "exec"), ns)
    return ns[func]


# ---- CHANGES ---------------------------------------------------------------------------

def first_release_naming(name):
    """The oldest version in CHANGES whose entries name directive `name` (an entry's
    "IDSessionCookieName, -Path, -Domain" names IDSessionCookiePath too)."""
    text = (REPO / "CHANGES").read_text()
    found = None
    for m in re.finditer(r"^Changes with mod_idsession (\S+)\n(.*?)(?=^Changes with |\Z)",
                         text, re.M | re.S):
        version, body = m.groups()
        flat = " ".join(body.split())
        names = set(re.findall(r"\b(IDSession\w*)", flat))
        for lead, tail in re.findall(r"\b(IDSessionCookie)\w+((?:,? (?:and )?-[A-Z]\w*"
                                     r"(?: \([^)]*\))?)+)", flat):
            names |= {lead + t for t in re.findall(r"-([A-Z]\w*)", tail)}
        if name in names:
            found = version            # sections run newest first: the last hit is oldest
    return found


# ---- variables and handlers ------------------------------------------------------------

def code_variables():
    """The names in the initializer of the module's ids_env object."""
    src = (REPO / "mod_idsession.c").read_text()
    m = re.search(r"\}\s*ids_env\s*=\s*\{(.*?)\};", src, re.S)
    assert m, "mod_idsession.c has no ids_env initializer"
    return set(re.findall(r'"(SESSION_\w+)"', m.group(1)))


def code_handlers():
    names = set()
    for f in ("mod_idsession.c", "mod_idsession_status.h"):
        names |= set(re.findall(r'#define IDS_\w*HANDLER\s+"([a-z-]+)"',
                                (REPO / f).read_text()))
    return names


def section(title, text=None):
    """The text of the "## title" section, up to the next "## " heading."""
    text = manual_text() if text is None else text
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text, re.M | re.S)
    assert m, "%s has no section %r" % (MANUAL.name, title)
    return m.group(1)
