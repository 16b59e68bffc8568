"""deploy/nginx.conf.template run by Debian's nginx in front of real app processes (a self-signed
certificate made on the spot): used by tests/security/test_proxy.py and benchmarks/bench_sessions.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from dashboard.serve import Server, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HOST = "localhost"  # resolves to 127.0.0.1 without /etc/hosts, so the websocket client can use the name
NGINX = "/usr/sbin/nginx"
# the access log names the browser key nginx hashed on and the replica that answered
LOG_FORMAT = "log_format sticky '$infusion_browser $upstream_addr $status $request_uri';"


class NginxMissing(RuntimeError):
    """Debian's nginx is not installed (make system-deps installs it)."""


def nginx_path() -> str:
    """Debian's nginx, installed when missing and we are root with apt-get; else NginxMissing."""
    if not Path(NGINX).exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False, capture_output=True,
                       timeout=600)
    if not Path(NGINX).exists():
        raise NginxMissing("Debian's nginx is not installed (make system-deps)")
    return NGINX


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst does: ${NAME} of the given variables, nginx's $vars kept."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    assert "${" not in template, "a template variable was left unset"
    return template


@dataclass
class Proxy:
    """nginx (the deploy template) in front of the app processes."""

    url: str
    apps: list[Server]
    access_log: Path

    @property
    def upstreams(self) -> set[str]:
        return {app.url.removeprefix("http://") for app in self.apps}

    def replicas_by_browser(self) -> dict[str, set[str]]:
        """Browser key -> the replicas that answered its proxied requests (from the access log)."""
        seen: dict[str, set[str]] = {}
        for line in self.access_log.read_text().splitlines():
            browser, upstream, *_ = line.split(" ")
            if upstream != "-":
                seen.setdefault(browser, set()).add(upstream)
        return seen


def start_proxy(work: Path, apps: list[Server], port: int | None = None) -> tuple[subprocess.Popen, Proxy]:
    """Debian's nginx with deploy/nginx.conf.template rendered for ``apps`` (a self-signed
    certificate for HOST made in ``work``); returns once it answers. Used by the tests below and
    by benchmarks/bench_sessions.py."""
    nginx = nginx_path()
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj",
                    f"/CN={HOST}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    port = port or free_port()
    servers = " ".join(f"server {app.url.removeprefix('http://')} max_fails=1 fail_timeout=10s;" for app in apps)
    site = render((DEPLOY / "nginx.conf.template").read_text(), {
        "SERVER_NAME": HOST, "APP_SERVERS": servers, "RESOLVER": "127.0.0.1",
        "LISTEN_PORT": f"127.0.0.1:{port}", "TLS_CERT": str(cert), "TLS_KEY": str(key)})
    (work / "site.conf").write_text(site)
    access_log = work / "access.log"
    # started as root (a CI container), nginx's workers would run as nobody, who cannot write the
    # request-body files of uploads into this root-only temporary directory
    user = "user root;" if os.geteuid() == 0 else ""
    (work / "nginx.conf").write_text(f"""
daemon off;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    {LOG_FORMAT}
    access_log {access_log} sticky;
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
    url = f"https://{HOST}:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"https://127.0.0.1:{port}/_stcore/health", headers={"Host": HOST}, verify=False, timeout=2)
            break
        except requests.ConnectionError:
            if proxy.poll() is not None or time.monotonic() > deadline:
                proxy.kill()
                raise RuntimeError(f"nginx did not start: {proxy.stdout.read().decode()}") from None
            time.sleep(0.2)
    return proxy, Proxy(url, apps, access_log)


def app_env(workspace_dir: Path) -> dict[str, str]:
    """What the compose file gives every replica, with the shared workspace in ``workspace_dir``
    (SQLite here; the compose file's PostgreSQL is the same code path)."""
    return {
        "STREAMLIT_SERVER_ALLOWED_HOSTS": f"{HOST} 127.0.0.1",  # spaces: streamlit run splits on them, not commas
        "STREAMLIT_SERVER_TRUSTED_USER_HEADERS": '{"X-Infusion-Browser": "browser"}',
        "INFUSION_OUTCOMES_DB": str(workspace_dir / "workspace.db"),
        # the local-mode result-cache key lives under XDG_DATA_HOME: one for both processes
        "XDG_DATA_HOME": str(workspace_dir),
    }
