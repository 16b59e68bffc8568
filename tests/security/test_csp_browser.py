"""The deploy recipe's Content-Security-Policy in a real browser: the app opened through Debian's
nginx (deploy/nginx.conf.template, TLS with a certificate made here) in system Chromium renders its
pages and charts with no policy violation, and the policy does block what it should (an inline
handler from another origin's script)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.serve import APP_IDLE_JS, CHART_SELECTOR, CHARTS_DRAWN_JS, start_server
from tests.security.proxy import NginxMissing, app_env, nginx_path, start_proxy

# Recorded from the first byte of every document: the browser's own report of each violation.
RECORD_VIOLATIONS_JS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample}));
"""


@pytest.fixture(scope="module")
def proxied_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        nginx_path()
    except NginxMissing as missing:
        pytest.skip(str(missing))
    work = tmp_path_factory.mktemp("csp")
    app = start_server(work / "app.log", env=app_env(tmp_path_factory.mktemp("csp-workspace")))
    proxy = None
    try:
        proxy, front = start_proxy(work, [app])
        yield front.url  # https://localhost:<port>: the name the policy's connect-src allows
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        app.stop()


@pytest.fixture(scope="module")
def page(browser, proxied_url: str):
    """A page of the suite's one Chromium (tests/conftest.py) that records policy violations."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 1000})
    context.add_init_script(RECORD_VIOLATIONS_JS)
    try:
        yield context.new_page()
    finally:
        context.close()


SOME_CHART_DRAWN_JS = (f"() => Array.from(document.querySelectorAll({CHART_SELECTOR!r}))"
                       ".some(chart => chart.querySelector('.main-svg'))")


def _open(page, url: str, *, charts: bool = False) -> list[dict]:
    page.goto(url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_function(APP_IDLE_JS, timeout=120_000)
    if charts:  # plotly.js drew under the policy (charts draw once scrolled into view)
        page.locator(CHART_SELECTOR).first.scroll_into_view_if_needed(timeout=120_000)
        page.wait_for_function(SOME_CHART_DRAWN_JS, timeout=120_000)
        page.wait_for_function(CHARTS_DRAWN_JS, timeout=120_000)
    return page.evaluate("window.__violations")


def test_pages_and_charts_render_under_the_policy(page, proxied_url):
    header = page.request.get(proxied_url + "/").headers["content-security-policy"]
    assert "default-src 'self'" in header and "frame-ancestors 'none'" in header
    for path, charts in (("/", False), ("/overview?dataset=sample", False),
                          ("/durability?dataset=sample", True), ("/trajectories?dataset=sample", True)):
        violations = _open(page, proxied_url + path, charts=charts)
        assert violations == [], (path, violations)
        assert page.locator('[data-testid="stException"]').count() == 0, path


def test_the_policy_blocks_foreign_scripts(page, proxied_url):
    _open(page, proxied_url + "/")
    page.evaluate("""() => { const s = document.createElement('script');
        s.src = 'https://example.org/x.js'; document.head.appendChild(s); }""")
    page.wait_for_function("window.__violations.length > 0", timeout=10_000)
    violations = page.evaluate("window.__violations")
    assert any(v["directive"].startswith("script-src") and "example.org" in v["blocked"] for v in violations)
