"""The deployment recipe: Debian's nginx with deploy/nginx.conf.template (self-signed
certificate made at test time) in front of a real app server, and the compose file parsed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
import yaml

from dashboard.serve import Server, free_port, start_server

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HOST = "outcomes.test"
NGINX = "/usr/sbin/nginx"
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the certificate is made here


def _nginx() -> str:
    if not Path(NGINX).exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False, capture_output=True,
                       timeout=600)
    if not Path(NGINX).exists():
        pytest.skip("Debian's nginx is not installed (make system-deps)")
    return NGINX


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst does: ${NAME} of the given variables, nginx's $vars kept."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    assert "${" not in template, "a template variable was left unset"
    return template


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server]]:
    nginx = _nginx()
    work = tmp_path_factory.mktemp("nginx")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    f"/CN={HOST}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    app = start_server(work / "server.log", env={
        "STREAMLIT_SERVER_ALLOWED_HOSTS": f"{HOST},localhost,127.0.0.1",
        "STREAMLIT_SERVER_TRUSTED_USER_HEADERS": '{"X-Infusion-Browser": "browser"}',
    })
    port = free_port()
    site = render((DEPLOY / "nginx.conf.template").read_text(), {
        "SERVER_NAME": HOST, "APP_UPSTREAM": app.url.removeprefix("http://"), "LISTEN_PORT": f"127.0.0.1:{port}",
        "TLS_CERT": str(cert), "TLS_KEY": str(key)})
    (work / "site.conf").write_text(site)
    (work / "nginx.conf").write_text(f"""
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/site.conf;
}}
""")
    proxy = subprocess.Popen([nginx, "-p", str(work), "-c", str(work / "nginx.conf")], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url, verify=False, timeout=2)
                break
            except requests.ConnectionError:
                if proxy.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {proxy.stdout.read().decode()}") from None
                time.sleep(0.2)
        yield url, app
    finally:
        proxy.terminate()
        proxy.wait(10)
        app.stop()


def _get(url: str, path: str, host: str = HOST, **kwargs) -> requests.Response:
    return requests.get(url + path, headers={"Host": host, **kwargs.pop("headers", {})}, verify=False,
                        timeout=10, **kwargs)


def test_security_headers_are_on_every_response(proxied):
    url, _ = proxied
    for path in ("/", "/_stcore/health", "/_stcore/host-config", "/no-such-page"):
        response = _get(url, path)
        headers = response.headers
        assert headers["Strict-Transport-Security"].startswith("max-age="), path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
        assert "nginx/" not in headers.get("Server", "")
    assert _get(url, "/_stcore/health").text == "ok"


def test_a_per_browser_httponly_cookie_is_issued_once(proxied):
    url, _ = proxied
    first = _get(url, "/_stcore/health")
    cookie = next(c for c in first.raw.headers.getlist("Set-Cookie") if c.startswith("infusion_browser="))
    assert cookie.startswith("infusion_browser=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 32
    again = _get(url, "/_stcore/health", cookies={"infusion_browser": value})
    assert not any(c.startswith("infusion_browser=") for c in again.raw.headers.getlist("Set-Cookie"))


def test_metrics_hidden_and_unknown_hosts_refused(proxied):
    url, app = proxied
    assert requests.get(app.url + "/_stcore/metrics", timeout=10).status_code == 200  # the app has them
    assert _get(url, "/_stcore/metrics").status_code == 404  # the proxy hides them
    assert _get(url, "/", host="evil.example").status_code == 421
    # media only with the browser's cookie
    assert _get(url, "/media/0123456789abcdef.csv").status_code == 403


def test_host_config_trusts_no_other_origin(proxied):
    url, _ = proxied
    assert _get(url, "/_stcore/host-config").json()["allowedOrigins"] == []


def test_the_compose_file_binds_the_app_to_loopback_behind_the_proxy():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    app, proxy = compose["services"]["app"], compose["services"]["proxy"]
    assert "--server.address=127.0.0.1" in app["command"]
    assert proxy["network_mode"] == "service:app"
    assert app["ports"] == ["443:443"]  # nothing else published, never 8501
    assert proxy["environment"]["APP_UPSTREAM"] == "127.0.0.1:8501"
    assert "X-Infusion-Browser" in app["environment"]["STREAMLIT_SERVER_TRUSTED_USER_HEADERS"]
    assert "/etc/nginx/templates/default.conf.template" in proxy["volumes"][0]
