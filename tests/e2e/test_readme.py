"""README.md as a newcomer uses it: short, and its virtual host and curl checks work as printed.

The minimal virtual host is taken from README.md, given a certificate for www.example.com
and a loopback port, and served by a real apache2.  The README's curl commands then run
unchanged in a shell: a curl config file (CURL_HOME/.curlrc) sends www.example.com:443 to
that port and trusts the throwaway certificate, so what the reader types is what is tested.
"""

import os
import re
import subprocess

import pytest

import idshttpd

README = idshttpd.REPO / "README.md"


def text():
    return README.read_text()


def block(lang, needle):
    """The first ```lang block of README.md that holds needle."""
    for body in re.findall(r"^```%s\n(.*?)^```" % lang, text(), re.M | re.S):
        if needle in body:
            return body
    raise AssertionError("README.md has no ```%s block with %r" % (lang, needle))


def test_readme_is_short():
    n = len(text().splitlines())
    assert n <= 250, "README.md has %d lines; the manual belongs in docs/" % n


def test_readme_links_exist():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text()):
        if "://" in target:
            continue
        assert (idshttpd.REPO / target).exists(), "README.md links to missing %s" % target


def make_example_cert(directory):
    key, cert = directory / "example.key", directory / "example.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=www.example.com",
         "-addext", "subjectAltName=DNS:www.example.com",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def site(httpd_module_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    cert, key = make_example_cert(d)
    vhost = block("apache", "<VirtualHost *:443>")
    vhost = (vhost.replace("<VirtualHost *:443>", "<VirtualHost 127.0.0.1:@TLS_PORT@>")
             .replace("/etc/ssl/certs/www.example.com.pem", str(cert))
             .replace("/etc/ssl/private/www.example.com.key", str(key))
             .replace("/var/www/example", "@DOCROOT@"))
    assert "@TLS_PORT@" in vhost and str(cert) in vhost and "@DOCROOT@" in vhost, \
        "the README's virtual host changed shape; update this test's substitutions"
    h = httpd_module_factory(conf=vhost, tls=True)
    h.write("index.html", "hello\n")
    curl_home = d / "curlhome"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text(
        "connect-to = www.example.com:443:127.0.0.1:%d\ncacert = %s\n" % (h.tls_port, cert))
    h.readme_env = dict(os.environ, CURL_HOME=str(curl_home), HOME=str(curl_home))
    h.readme_dir = d
    return h


def run_sh(site, script):
    p = subprocess.run(["sh", "-c", script], cwd=site.readme_dir, env=site.readme_env,
                       capture_output=True, text=True, timeout=60)
    return p.stdout


def curl_lines():
    """The README's curl block: [(command, expected output comment lines)]."""
    out, cmd, expect = [], [], []
    for line in block("sh", "curl -si https://www.example.com/").splitlines():
        if line.startswith("# "):
            expect.append(line[2:])
            continue
        if cmd and not cmd[-1].endswith("\\"):
            out.append(("\n".join(cmd), expect))
            cmd, expect = [], []
        if line.strip():
            cmd.append(line)
    if cmd:
        out.append(("\n".join(cmd), expect))
    return out


def test_readme_curl_checks_as_printed(site):
    steps = curl_lines()
    assert len(steps) == 4, steps
    first, expect = steps[0]
    got = run_sh(site, first)
    # The Set-Cookie the README shows, with the token elided.
    want = re.escape(expect[0]).replace(r"k3J\.\.\.", r"[A-Za-z0-9_-]{43}")
    assert re.fullmatch(want + r"\r?\n", got), (got, expect[0])
    # a jar: one Set-Cookie, then none
    counts = [run_sh(site, steps[1][0]).strip(), run_sh(site, steps[2][0]).strip()]
    assert counts == ["1", "0"], counts
    assert steps[2][1] and steps[2][1][0].startswith("1, then 0")
    jar = (site.readme_dir / "jar").read_text()
    before = re.search(r"__Host-session\t(\S+)", jar).group(1)
    got = run_sh(site, steps[3][0]).strip()
    assert got == steps[3][1][0].split("  ")[0].strip(), (got, steps[3][1])
    after = re.search(r"__Host-session\t(\S+)", (site.readme_dir / "jar").read_text()).group(1)
    assert after != before, "the reset left the token in the jar unchanged"
