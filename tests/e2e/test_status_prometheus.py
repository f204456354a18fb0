"""The Prometheus recipe of docs/operations.md, run as printed. The httpd snippet and the
scrape configuration are taken from it; Debian's prometheus scrapes the
idsession-metrics handler and its HTTP API must answer with the counts of known traffic.
promtool lints the exposition, and the text is parsed here line by line."""

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from idshttpd import REPO, free_port, signed

SECRET = "prometheus-test-secret-0123456789-abcdefghijk"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def doc_block(lang, needle):
    """The first ```lang block of docs/operations.md that holds needle."""
    text = (REPO / "docs" / "operations.md").read_text()
    for m in re.finditer(r"^```%s\n(.*?)^```" % lang, text, re.M | re.S):
        if needle in m.group(1):
            return m.group(1)
    raise AssertionError("docs/operations.md has no ```%s block with %r" % (lang, needle))


@pytest.fixture(scope="module")
def httpd(httpd_module_factory):
    recipe = doc_block("apache", "SetHandler idsession-metrics")
    conf = recipe + """
<Location /s>
    IDSession On
    IDSessionSecret file:@ROOT@/secret
</Location>
"""
    h = httpd_module_factory(conf=conf, modules=["authz_host"], start=False)
    h.write("secret", SECRET, mode=0o600, under=".")
    h.write("s/index.html", "ok\n")
    h.start()
    h.path_metrics = re.search(r'<Location "([^"]+)">', recipe).group(1)
    # known traffic: 2 first visits, 3 kept, 1 malformed, 1 forged
    for cookie in [None, None] + [signed(SECRET)] * 3 + ["abc", signed("x" * 40)]:
        h.curl("/s/index.html", cookie_header=None if cookie is None else "_session=" + cookie)
    return h


WANT = {"idsession_kept_total": 3, "idsession_minted_total": 4,
        "idsession_refused_malformed_total": 1, "idsession_refused_signature_total": 1,
        'idsession_verified_key_total{key="0"}': 3, "idsession_store_breaker_open": 0}


def samples(text):
    """name{labels} -> value of every sample line; HELP and TYPE checked on the way."""
    out, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
        elif line and not line.startswith("#"):
            m = re.fullmatch(r'([a-z_]+)(\{[a-z_]+="[^"]*"\})? (\d+)', line)
            assert m, "not a sample line: %r" % line
            assert m.group(1) in typed, "sample before its TYPE: %r" % line
            out[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return out


def test_exposition_format(httpd):
    r = httpd.curl(httpd.path_metrics)
    assert r.status == 200 and r.set_cookies() == []
    got = samples(r.body)
    for k, v in WANT.items():
        assert got[k] == v, (k, got)
    assert got['idsession_info{version="%s"}' % re.search(
        r'IDSESSION_VERSION "([^"]+)"', (REPO / "mod_idsession.h").read_text()).group(1)] == 1
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_refused_from_other_addresses(httpd):
    """The recipe's Require lets only the listed addresses in: 127.0.0.2 is not one."""
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "--interface", "127.0.0.2", httpd.url(httpd.path_metrics)],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout == "403", p
    httpd.expect_log(r"AH01630")


def _get_json(url):
    with urllib.request.urlopen(url, timeout=10) as f:
        return json.load(f)


def test_prometheus_scrapes_the_recipe(httpd, tmp_path):
    scrape = doc_block("yaml", "metrics_path: /idsession-metrics")
    scrape = re.sub(r'"[^"]*:80"', '"127.0.0.1:%d"' % httpd.port, scrape)
    assert str(httpd.port) in scrape
    # the documented scrape configuration, with a short interval so that the test is quick
    (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 1s\n" + scrape)
    p = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([PROMETHEUS, "--config.file=%s" % (tmp_path / "prometheus.yml"),
                             "--storage.tsdb.path=%s" % (tmp_path / "data"),
                             "--web.listen-address=127.0.0.1:%d" % port],
                            stdout=log, stderr=subprocess.STDOUT)
    api = "http://127.0.0.1:%d/api/v1/" % port
    try:
        deadline = time.monotonic() + 60
        got = {}
        while time.monotonic() < deadline:
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                for k in WANT:
                    res = _get_json(api + "query?" + urllib.parse.urlencode({"query": k}))
                    got[k] = [int(float(x["value"][1])) for x in res["data"]["result"]]
            except OSError:
                pass                      # not listening yet
            if all(got.get(k) == [v] for k, v in WANT.items()):
                break
            time.sleep(0.2)               # polling interval, not synchronisation
        assert all(got.get(k) == [v] for k, v in WANT.items()), got
        targets = _get_json(api + "targets")["data"]["activeTargets"]
        assert [(t["labels"]["job"], t["health"], t["lastError"]) for t in targets] == [
            ("idsession", "up", "")]
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        log.close()
