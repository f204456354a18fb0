"""Fixtures for the end-to-end suite; see idshttpd.py for how to write a test.

- httpd_factory(**kw)         a server for one test (stopped after it)
- httpd_module_factory(**kw)  a server shared by the tests of one module
- configtest(extra_conf)      -> (rc, output) of `apache2 -t` with mod_idsession loaded
- an autouse fixture fails a test whose servers logged an unexpected warn/error line
"""

import shutil

import pytest

import idshttpd

_ALL = []          # every Httpd created in this session (checked after each test)


def pytest_report_header(config):
    return ["mod_idsession: %s (%s)" % (idshttpd.MODULE,
                                         "present" if idshttpd.MODULE.exists() else "MISSING"),
            "valgrind: %s" % ("on" if idshttpd.VALGRIND else "off")]


def _factory(request_finalizers):
    made = []

    def make(start=True, **kw):
        h = idshttpd.Httpd(**kw)
        _ALL.append(h)
        made.append(h)
        if start:
            h.start()
        return h

    def stop_all():
        errors = []
        for h in made:
            try:
                h.stop()
            except Exception as e:   # report every server, not just the first
                errors.append(e)
        if errors:
            raise errors[0]

    request_finalizers(stop_all)
    return make


@pytest.fixture
def httpd_factory(request):
    """make(conf=, modules=, mpm=, tls=, cgi=, php=, idsession=, start=True) -> Httpd."""
    return _factory(request.addfinalizer)


@pytest.fixture(scope="module")
def httpd_module_factory(request):
    """Like httpd_factory, but the servers live until the end of the test module."""
    return _factory(request.addfinalizer)


@pytest.fixture(scope="session")
def _configtest_server():
    h = idshttpd.Httpd(name="configtest")
    _ALL.append(h)      # so that its directory is removed at the end
    return h


@pytest.fixture
def configtest(_configtest_server):
    """configtest(extra_conf, idsession=True) -> (rc, output) of `apache2 -t`."""
    _configtest_server._check_module()
    return _configtest_server.configtest


@pytest.fixture(autouse=True)
def _error_log_check(request):
    for h in _ALL:
        h.begin_test()
    yield
    problems = []
    for h in _ALL:
        bad = h.unexpected_log_lines()
        if bad:
            problems.append("%s:\n  %s" % (h.error_log, "\n  ".join(bad)))
    if problems:
        pytest.fail("unexpected warn/error lines in the error log "
                    "(declare with httpd.expect_log(regex)):\n" + "\n".join(problems),
                    pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    for h in _ALL:
        try:
            h.stop()
        except Exception:
            pass
        if not idshttpd.KEEP:
            shutil.rmtree(h.root, ignore_errors=True)
    _ALL.clear()


@pytest.fixture
def browser():
    """A new headless Chromium with an empty profile (browser.py's Browser), quit after
    the test; Chromium failing to start is an error, not a skip."""
    import browser as browser_mod      # selenium is needed by the browser tests only
    b = browser_mod.Browser()
    try:
        yield b
    finally:
        b.quit()
