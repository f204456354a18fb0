"""browser -- headless Chromium for the end-to-end suite, driven through chromedriver.

Debian's `chromium`, `chromium-driver` and `python3-selenium` (scripts/deps.sh test).
The browser talks to 127.0.0.x and to nothing else (see "Why these flags").

How to write a test
-------------------
    # tests/e2e/test_something_browser.py
    import pytest

    import browser as br
    from idshttpd import ENV_CGI

    CONF = '''
    <Location /s>
        IDSession On
    </Location>
    '''

    @pytest.fixture(scope="module")
    def httpd(httpd_module_factory):
        # site 1: https://127.0.0.1:P (the server as usual); site 2: https://127.0.0.2:P
        h = br.two_site_server(httpd_module_factory, conf=CONF, cgi=True, start=False)
        h.write_cgi("s/env.cgi", ENV_CGI)
        h.write("x.html", "<p>site 2</p>", under=br.SITE2_DIR)    # site 2's docroot
        return h.start()

    def test_cookie(httpd, browser):                  # `browser`: fixture in conftest.py
        browser.open(br.url(httpd, "/s/env.cgi"))
        tok = browser.env()["SESSION_TOKEN"]
        c = browser.cookie("_session")                # as stored, with its attributes
        assert c["value"] == tok and c["httpOnly"] and c["sameSite"] == "Lax"
        browser.open(br.url(httpd, "/x.html", site=2))
        assert browser.text() == "site 2"

The `browser` fixture (conftest.py) gives every test a new Chromium with a new, empty
profile (so an empty cookie jar), and quits it afterwards. If Chromium or chromedriver
cannot start, Browser() raises BrowserError with the reason and the tail of chromedriver's
log (which holds Chromium's stderr): the test errors out, it is never skipped.

Pieces:
- `Browser(timeout=10, extra_flags=())`:
  `.driver` (the selenium Chrome WebDriver, for anything not wrapped here),
  `.open(url)` (navigate, wait for the load event), `.reload()`, `.url()`,
  `.text()` (`document.body.innerText`; a text/plain answer reads as its text),
  `.env()` (the text's KEY=VALUE lines as a dict, like idshttpd.Response.env()),
  `.wait_for(pred, timeout=None, message="")` (WebDriverWait until pred(browser) is
  truthy; returns that value; on timeout raises selenium's TimeoutException -- not an
  AssertionError, so an xfail(raises=AssertionError) does not swallow it -- with the URL
  and page text),
  `.wait_url(part)` (URL holds part and that document has loaded), `.wait_text(part)`,
  `.get_cookies(url=None, name=None)` (what the browser stores: CDP
  `Network.getAllCookies`, a list of dicts with name, value, domain (host-only cookies:
  the host; Domain= cookies: ".domain"), path, expires (-1 for session cookies), size,
  httpOnly, secure, session, sameSite ("Strict"/"Lax"/"None"; absent when the cookie
  has none), priority, sourceScheme, sourcePort, and partitionKey only for partitioned
  cookies; with url only the cookies whose domain and path match the URL's host and
  path -- Secure and SameSite are not applied -- with name only that name),
  `.cookie(name, url=None)` (that one cookie dict, or None; asserts at most one),
  `.clear_cookies()` (CDP `Network.clearBrowserCookies`), `.cdp(cmd, **params)` (any
  DevTools command), `.quit()` (also removes the profile); a context manager too.
- Two sites on one Httpd: `two_site_server(factory, conf="", start=True, **kw)` calls
  factory (httpd_factory or httpd_module_factory) with tls=True and adds SITE2_CONF: a
  `Listen 127.0.0.2:<tls_port>` and a TLS <VirtualHost> there (ServerName 127.0.0.2,
  docroot `@ROOT@/site2` -- write with `h.write(rel, text, under=SITE2_DIR)` -- and its own
  throwaway certificate for IP:127.0.0.2, so mod_ssl logs no AH01909 name-mismatch
  warning). The main server's configuration (the test's <Location> sections) applies to
  site 2 as well. `url(h, path, site=1)` gives `https://127.0.0.<site>:<tls_port><path>`.
  127.0.0.1 and 127.0.0.2 are different hosts, hence different origins and different
  sites (for an IP address the site is the address itself), so a request from a page of
  one to the other is cross-site (Sec-Fetch-Site: cross-site; SameSite=Lax cookies stay
  home on a POST). Both are loopback (Linux routes all of 127/8 to lo), so no
  private-network rule gets in the way. Site 2 uses the same port number as the TLS port:
  a port race that makes the harness pick a new tls_port moves both.
- `autopost_page(action, fields=None)`: HTML whose form POSTs fields (a dict) to action
  (a URL) as soon as it is parsed -- a cross-site form post when served by the other site.
- `BrowserError`, `FLAGS`, `PREFS`, `CHROMIUM` and `CHROMEDRIVER` (environment
  IDS_CHROMIUM, IDS_CHROMEDRIVER; default /usr/bin/chromium -- Debian's launcher script,
  which adds /etc/chromium.d's flags -- and /usr/bin/chromedriver).

Why these flags
---------------
- `--headless=new`; `--no-sandbox` (the suite runs as root and Chromium refuses to start
  its sandbox as root); a fresh `--user-data-dir` per Browser; `--disable-dev-shm-usage`
  (Debian's /etc/chromium.d/dev-shm is meant to decide this, but its test trips over a
  two-line findmnt answer).
- `--ignore-certificate-errors`: the servers use throwaway self-signed certificates.
  Chromium 156 still stores cookies from such https responses normally -- Secure,
  `__Host-` and SameSite cookies included (CDP shows sourceScheme "Secure") -- so no trust
  store (NSS db, certutil) is needed. The same flag accepts site 2's certificate.
- Offline: the usual switches (`--disable-background-networking --disable-component-update
  --disable-sync --disable-default-apps --disable-extensions --disable-domain-reliability
  --disable-client-side-phishing-detection --disable-breakpad --no-first-run
  --no-default-browser-check --no-pings --metrics-recording-only
  --safebrowsing-disable-auto-update --password-store=basic --disable-quic`,
  `--disable-features=` translation, optimization hints, media router, DNS over HTTPS,
  ...), and PREFS: `session.startup_urls` about:blank (otherwise the first tab is
  chrome://new-tab-page-third-party/, and with Debian's default search engine,
  DuckDuckGo, that fetches start.duckduckgo.com), no network prediction, sign-in,
  suggestions and Safe Browsing off.
  Chromium 156 still tries a few things anyway (Gaia `ListAccounts` retries and a
  component-updater check for the on-device-model manifest), so two guards make sure
  nothing leaves the machine: `--proxy-server=http://127.0.0.1:9` (Chromium never proxies
  loopback addresses, so 127.0.0.x goes direct and every other request goes to a closed
  local port and fails with ERR_PROXY_CONNECTION_FAILED) and `--host-resolver-rules=MAP *
  ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2, EXCLUDE localhost` (name lookups fail).
  Checked with strace -f (socket, connect, sendto, sendmsg): the only non-loopback system
  call is net's IPv6 reachability probe, a connect() of a UDP socket to
  2001:4860:4860::8888 that sends no datagram.
"""

import os
import re
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

try:
    from selenium import webdriver
    from selenium.common.exceptions import JavascriptException, TimeoutException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:   # an error with the reason, never a skip
    raise ImportError("python3-selenium is missing (scripts/deps.sh test): %s" % e) from e

CHROMIUM = os.environ.get("IDS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("IDS_CHROMEDRIVER", "/usr/bin/chromedriver")
TIMEOUT = 10.0                 # page loads and waits, seconds

SITE2_HOST = "127.0.0.2"
SITE2_DIR = "site2"            # site 2's docroot, relative to the ServerRoot

# Features that talk to the network (or would change what a test sees).
_DISABLED_FEATURES = [
    "Translate", "OptimizationHints", "OptimizationHintsFetching",
    "OptimizationGuideModelDownloading", "MediaRouter", "DialMediaRouteProvider",
    "GlobalMediaControls", "DnsOverHttps", "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater", "NetworkTimeServiceQuerying",
    "HttpsUpgrades",
]

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--ignore-certificate-errors",
    "--disable-dev-shm-usage",
    # offline
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--safebrowsing-disable-auto-update",
    "--password-store=basic",
    "--disable-quic",
    "--disable-features=" + ",".join(_DISABLED_FEATURES),
    # guards: loopback is never proxied; everything else goes to a closed local port
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2, "
    "EXCLUDE localhost",
]

# Profile preferences (chromedriver writes them into the new profile).
PREFS = {
    "session": {"restore_on_startup": 4, "startup_urls": ["about:blank"]},
    "net": {"network_prediction_options": 2},
    "signin": {"allowed": False, "allowed_on_next_startup": False},
    "search": {"suggest_enabled": False},
    "safebrowsing": {"enabled": False},
    "alternate_error_pages": {"enabled": False},
    "translate": {"enabled": False},
    "credentials_enable_service": False,
    "autofill": {"profile_enabled": False, "credit_card_enabled": False},
}


class BrowserError(RuntimeError):
    """Chromium or chromedriver could not start (the message says why)."""


class Browser:
    """One headless Chromium with its own temporary profile. See the module docstring."""

    def __init__(self, timeout=TIMEOUT, extra_flags=()):
        self.timeout = timeout
        self.driver = None
        self.dir = Path(tempfile.mkdtemp(prefix="ids-browser-"))
        self.profile = self.dir / "profile"
        self.log = self.dir / "chromedriver.log"
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                self._cleanup()
                raise BrowserError("%s is missing: install chromium and chromium-driver "
                                   "(scripts/deps.sh test)" % path)
        opts = Options()
        opts.binary_location = CHROMIUM
        for f in FLAGS + ["--user-data-dir=%s" % self.profile] + list(extra_flags):
            opts.add_argument(f)
        opts.add_experimental_option("prefs", PREFS)
        # --enable-chrome-logs: Chromium's stderr goes to the log too (for BrowserError)
        service = Service(CHROMEDRIVER, log_path=str(self.log),
                          service_args=["--enable-chrome-logs"])
        try:
            self.driver = webdriver.Chrome(service=service, options=opts)
            self.driver.set_page_load_timeout(timeout)
            self.driver.set_script_timeout(timeout)
        except Exception as e:
            tail = self._log_tail()
            self.quit()
            msg = getattr(e, "msg", None) or str(e)      # selenium's, without the stack
            raise BrowserError("Chromium did not start (%s via %s): %s: %s\n"
                               "--- chromedriver log (tail) ---\n%s"
                               % (CHROMIUM, CHROMEDRIVER, type(e).__name__, msg, tail)) from e

    def _log_tail(self, n=25):
        """The log's last n lines, without the JSON it dumps (capabilities, prefs)."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log at %s)" % self.log
        lines = [l[:500] for l in lines if l and not l[0].isspace() and l not in ("}", "]")]
        return "\n".join(lines[-n:])

    def _cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def quit(self):
        """End Chromium and chromedriver, remove the profile."""
        try:
            if self.driver is not None:
                self.driver.quit()
        finally:
            self.driver = None
            self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.quit()

    # ---- pages -------------------------------------------------------------------------

    def cdp(self, cmd, **params):
        """A Chrome DevTools Protocol command; returns its result dict."""
        return self.driver.execute_cdp_cmd(cmd, params)

    def open(self, url):
        """Navigate to url and wait for its load event."""
        self.driver.get(url)
        return self

    def reload(self):
        """Reload the current page (as F5 would: a GET of a GET) and wait for it."""
        self.driver.refresh()
        return self

    def url(self):
        return self.driver.current_url

    def text(self):
        """The page's visible text (body.innerText)."""
        return self.driver.execute_script(
            "return document.body ? document.body.innerText : '';")

    def env(self):
        """The page text's KEY=VALUE lines (what the test CGI scripts print) as a dict."""
        out = {}
        for line in self.text().splitlines():
            k, eq, v = line.partition("=")
            if eq:
                out[k] = v
        return out

    def wait_for(self, pred, timeout=None, message=""):
        """Wait until pred(self) is truthy (WebDriverWait); returns that value."""
        try:
            # JavascriptException: a script that ran while the page was being replaced
            return WebDriverWait(self.driver, self.timeout if timeout is None else timeout,
                                 poll_frequency=0.05, ignored_exceptions=[JavascriptException]
                                 ).until(lambda _d: pred(self))
        except TimeoutException as e:
            # not an AssertionError: an xfail(raises=AssertionError) must not hide it
            raise TimeoutException("waited %ss for %s; at %s, page text:\n%s"
                                   % (self.timeout if timeout is None else timeout,
                                      message or pred, self.url(), self.text()[:2000])) from e

    def _loaded(self):
        return self.driver.execute_script("return document.readyState") == "complete"

    def wait_url(self, part, timeout=None):
        """Wait until the current URL holds part and its document has loaded."""
        return self.wait_for(lambda b: part in b.url() and b._loaded(), timeout,
                             "a loaded page whose URL holds %r" % part)

    def wait_text(self, part, timeout=None):
        """Wait until the page text holds part; returns the text."""
        def has(b):
            t = b.text()
            return t if part in t else None
        return self.wait_for(has, timeout, "page text holding %r" % part)

    # ---- cookies -----------------------------------------------------------------------

    def get_cookies(self, url=None, name=None):
        """Stored cookies as CDP Network.getAllCookies gives them (all attributes); with
        url only those whose domain and path match it; with name only that name."""
        cookies = self.cdp("Network.getAllCookies")["cookies"]
        if url is not None:
            u = urlsplit(url)
            cookies = [c for c in cookies
                       if _domain_match(u.hostname or "", c["domain"])
                       and _path_match(u.path or "/", c["path"])]
        if name is not None:
            cookies = [c for c in cookies if c["name"] == name]
        return cookies

    def cookie(self, name, url=None):
        """The stored cookie called name (for url, if given), or None; at most one."""
        cs = self.get_cookies(url, name)
        assert len(cs) <= 1, cs
        return cs[0] if cs else None

    def clear_cookies(self):
        self.cdp("Network.clearBrowserCookies")


def _domain_match(host, domain):
    """RFC 6265 5.1.3; CDP writes a Domain= cookie's domain with a leading dot and a
    host-only cookie's domain as the bare host."""
    host, domain = host.lower(), domain.lower()
    if domain.startswith("."):
        d = domain[1:]
        return host == d or (host.endswith("." + d) and not re.match(r"^[\d.]+$", host))
    return host == domain


def _path_match(path, cpath):
    """RFC 6265 5.1.4."""
    return path == cpath or (path.startswith(cpath)
                             and (cpath.endswith("/") or path[len(cpath)] == "/"))


# ---- two sites on one Httpd ----------------------------------------------------------

SITE2_CONF = """
# ---- site 2 (tests/e2e/browser.py): https://127.0.0.2:@TLS_PORT@ ----
Listen 127.0.0.2:@TLS_PORT@
<VirtualHost 127.0.0.2:@TLS_PORT@>
    ServerName 127.0.0.2
    DocumentRoot "@ROOT@/site2"
    SSLEngine on
    SSLCertificateFile "@ROOT@/conf/site2.crt"
    SSLCertificateKeyFile "@ROOT@/conf/site2.key"
</VirtualHost>
"""


def make_site2_cert(directory):
    """A throwaway self-signed cert/key for IP:127.0.0.2: directory/site2.crt, site2.key."""
    directory = Path(directory)
    key, cert = directory / "site2.key", directory / "site2.crt"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.2", "-addext", "subjectAltName=IP:127.0.0.2",
             "-addext", "basicConstraints=critical,CA:FALSE",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True)
    return cert, key


def two_site_server(factory, conf="", start=True, **kw):
    """factory(conf=conf + SITE2_CONF, tls=True, **kw) plus site 2's docroot and
    certificate; started unless start=False. Returns the Httpd."""
    kw["tls"] = True
    h = factory(conf=conf + SITE2_CONF, start=False, **kw)
    make_site2_cert(h.root / "conf")
    (h.root / SITE2_DIR).mkdir(exist_ok=True)
    os.chmod(h.root / SITE2_DIR, 0o755)     # children run as www-data
    if start:
        h.start()
    return h


def url(h, path, site=1):
    """https://127.0.0.1:<tls_port><path> for site 1, https://127.0.0.2:... for site 2."""
    if site not in (1, 2):
        raise ValueError("site is 1 or 2")
    return "https://127.0.0.%d:%d%s" % (site, h.tls_port, path)


def autopost_page(action, fields=None):
    """HTML that POSTs fields (a dict) to action as soon as it is parsed."""
    inputs = "".join('<input type="hidden" name="%s" value="%s">' % (escape(k), escape(v))
                     for k, v in (fields or {}).items())
    return ("<!doctype html><html><head><title>autopost</title></head><body>"
            '<form id="f" method="POST" action="%s">%s</form>'
            "<script>document.getElementById('f').submit();</script>"
            "</body></html>\n" % (escape(action), inputs))
