"""The deployment recipe: Debian's nginx with deploy/nginx.conf.template (self-signed
certificate made at test time) in front of TWO real app processes sharing one workspace database,
and the compose file parsed (Docker itself is not run here)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
import pytest
import requests
import urllib3
import yaml

from dashboard.serve import Server, start_server
from tests.security.protocol import Client
from tests.security.proxy import DEPLOY, HOST, NginxMissing, Proxy, app_env, nginx_path, start_proxy

ROOT = DEPLOY.parent
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the certificate is made here


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server, Proxy]]:
    try:
        nginx_path()
    except NginxMissing as missing:
        pytest.skip(str(missing))
    work = tmp_path_factory.mktemp("nginx")
    shared = tmp_path_factory.mktemp("workspace")
    apps: list[Server] = []
    proxy = None
    try:
        for name in ("replica-1", "replica-2"):
            apps.append(start_server(work / f"{name}.log", env=app_env(shared)))
        proxy, front = start_proxy(work, apps)
        yield front.url.replace(HOST, "127.0.0.1"), apps[0], front
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for app in apps:
            app.stop()


def _get(url: str, path: str, host: str = HOST, **kwargs) -> requests.Response:
    return requests.get(url + path, headers={"Host": host, **kwargs.pop("headers", {})}, verify=False,
                        timeout=10, **kwargs)


def test_security_headers_are_on_every_response(proxied):
    url, _, _ = proxied
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
    url, _, _ = proxied
    first = _get(url, "/_stcore/health")
    cookie = next(c for c in first.raw.headers.getlist("Set-Cookie") if c.startswith("infusion_browser="))
    assert cookie.startswith("infusion_browser=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 32
    again = _get(url, "/_stcore/health", cookies={"infusion_browser": value})
    assert not any(c.startswith("infusion_browser=") for c in again.raw.headers.getlist("Set-Cookie"))


def test_metrics_hidden_and_unknown_hosts_refused(proxied):
    url, app, _ = proxied
    assert requests.get(app.url + "/_stcore/metrics", timeout=10).status_code == 200  # the app has them
    assert _get(url, "/_stcore/metrics").status_code == 404  # the proxy hides them
    assert _get(url, "/", host="evil.example").status_code == 421
    # media only with the browser's cookie
    assert _get(url, "/media/0123456789abcdef.csv").status_code == 403


def test_host_config_trusts_no_other_origin(proxied):
    url, _, _ = proxied
    assert _get(url, "/_stcore/host-config").json()["allowedOrigins"] == []


def _browse(url: str, n_browsers: int) -> list[Client]:
    """``n_browsers`` fresh browsers, each making a few plain requests through the proxy."""
    browsers = []
    for _ in range(n_browsers):
        browser = Client(url, verify_tls=False)  # GET /_stcore/health: no cookie yet, one issued
        for path in ("/", "/_stcore/host-config", "/_stcore/health"):
            browser.http.get(url + path, timeout=10).raise_for_status()
        browsers.append(browser)
    return browsers


def _browser_key(browser: Client) -> str:
    return browser.http.cookies["infusion_browser"]


def test_each_browser_stays_on_one_replica_and_both_replicas_serve(proxied):
    _, _, front = proxied
    browsers = _browse(front.url, 16)
    seen = front.replicas_by_browser()
    keys = [_browser_key(b) for b in browsers]
    for key in keys:  # the first request (before the cookie existed) included: 4 requests each
        assert len(seen[key]) == 1, f"one browser's requests went to {seen[key]}"
    used = set().union(*(seen[k] for k in keys))
    assert used == front.upstreams, f"16 browsers all landed on {used}"  # chance 2 * 2^-16 if random


def test_a_reconnecting_session_resumes_on_its_replica(proxied):
    """What stickiness is for: a dropped websocket reconnects (a browser presents its session id)
    and only the process holding the session can resume it."""
    _, _, front = proxied
    for browser in _browse(front.url, 3):
        browser.open()
        first = browser.run("dataset=sample")
        assert first.contains("patients kept")
        session_id = browser.session_id
        browser.close()
        browser.open(resume_session_id=session_id)
        browser.run("dataset=sample")
        assert browser.session_id == session_id, "the reconnect reached a process without the session"
        browser.close()
        # the premise: the other replica, reached directly, cannot resume it (a new session instead)
        (replica,) = front.replicas_by_browser()[_browser_key(browser)]
        other = next(a for a in front.apps if a.url.removeprefix("http://") != replica)
        stranger = Client(other.url)
        stranger.open(resume_session_id=session_id)
        stranger.run("dataset=sample")
        assert stranger.session_id != session_id
        stranger.close()


def _small_export(tmp_path) -> tuple[str, bytes]:
    """The sample's single file cut to its first 60 patients (a dataset of its own)."""
    frame = pd.read_csv(ROOT / "data/sample/single_file.csv")
    kept = frame[frame["patient_id"].isin(frame["patient_id"].unique()[:60])]
    return "clinic_export.csv", kept.to_csv(index=False).encode()


def test_a_dataset_stored_through_one_replica_opens_through_the_other(proxied, tmp_path):
    _, _, front = proxied
    _store_through_one_open_through_the_other(front, tmp_path)


@pytest.fixture(scope="module")
def proxied_postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The same two replicas behind nginx, their workspace in a throwaway PostgreSQL cluster (the
    compose file's database)."""
    try:
        nginx_path()
    except NginxMissing as missing:
        pytest.skip(str(missing))
    from tests.workspace.conftest import PostgresCluster, _pg_bin

    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("Debian's postgresql is not installed (make system-deps installs it)")
    cluster = PostgresCluster(bin_dir)
    work = tmp_path_factory.mktemp("nginx-pg")
    apps: list[Server] = []
    proxy = None
    try:
        cluster.start()
        url = cluster.create_database("outcomes").replace("postgresql+psycopg://", "postgresql://")
        for name in ("replica-1", "replica-2"):
            apps.append(start_server(work / f"{name}.log", env={**app_env(work), "INFUSION_OUTCOMES_DB": url}))
        proxy, front = start_proxy(work, apps)
        yield front
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for app in apps:
            app.stop()
        cluster.remove()


def test_a_dataset_stored_through_one_replica_opens_through_the_other_on_postgresql(proxied_postgresql,
                                                                                   tmp_path):
    _store_through_one_open_through_the_other(proxied_postgresql, tmp_path)


def _store_through_one_open_through_the_other(front: Proxy, tmp_path) -> None:
    """Upload through the Data page on one replica (stored in the workspace: a ws- link), open the
    link's Overview from a browser the proxy sends to the other replica."""
    uploader, colleague = None, None
    for browser in _browse(front.url, 12):  # two browsers that the proxy sends to different replicas
        replica = front.replicas_by_browser()[_browser_key(browser)]
        if uploader is None:
            uploader, uploader_replica = browser, replica
        elif replica != uploader_replica:
            colleague = browser
            break
    assert uploader is not None and colleague is not None, "12 browsers all went to one replica"

    name, content = _small_export(tmp_path)
    query = "dataset=upload-0000000000000000"  # a link to some other upload: the Data page's uploader
    uploader.open()
    page = uploader.run(query)
    shown = uploader.upload(name, content, page.elements("file_uploader")[0].id, query)
    use = [b for b in shown.elements("button") if b.label == "Use this file instead"]
    assert use, shown.texts()
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    widgets = [WidgetState(id=use[0].id, trigger_value=True)]
    stored = uploader.run(query, widget_states=widgets)
    links = set(re.findall(rb"ws-[A-Za-z0-9_-]{22}", stored.raw))
    assert len(links) == 1, f"the stored dataset's link was not found: {stored.texts()}"
    link = links.pop().decode()
    assert stored.contains("60 of 60 patients kept") or stored.contains("60 patients"), stored.texts()
    uploader.close()

    colleague.open()
    opened = colleague.run(f"dataset={link}", page_name="overview")
    assert opened.contains("60 of 60 patients kept"), opened.texts()
    assert opened.elements("metric"), "the Overview drew no headline figures"
    colleague.close()
    by_browser = front.replicas_by_browser()
    assert by_browser[_browser_key(uploader)] != by_browser[_browser_key(colleague)]


def test_the_template_hashes_on_the_browser_cookie():
    site = (DEPLOY / "nginx.conf.template").read_text()
    upstream = re.search(r"^upstream app \{(.*?)^\}", site, flags=re.S | re.M)
    assert upstream, "no upstream block"
    directives = [line.split("#")[0].strip() for line in upstream.group(1).splitlines()]
    assert "hash $infusion_browser consistent;" in directives
    assert "${APP_SERVERS}" in directives
    assert site.count("proxy_pass http://app;") == 3  # stream, media, everything else


def _interpolate(value: object, env: dict[str, str]) -> object:
    """docker compose's variable rules on one value: ${V}, ${V:-default}, ${V:?error}, $$."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value.replace("$$", "\0")).replace("\0", "$")


def test_the_compose_file_runs_replicas_behind_the_proxy_with_postgresql():
    raw = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        _interpolate(raw, {"SERVER_NAME": "outcomes.hospital.example"})
    env = {"SERVER_NAME": "outcomes.hospital.example", "POSTGRES_PASSWORD": "s3cr3tw0rd"}
    compose = _interpolate(raw, env)
    services = compose["services"]
    assert set(services) == {"app", "db", "proxy"}
    app, db, proxy = services["app"], services["db"], services["proxy"]

    # N replicas (2 unless APP_REPLICAS says otherwise), each bound inside the networks only
    assert int(app["deploy"]["replicas"]) == 2
    assert int(_interpolate(raw, {**env, "APP_REPLICAS": "4"})["services"]["app"]["deploy"]["replicas"]) == 4
    assert "ports" not in app and "ports" not in db, "the app and the database publish no port"
    assert proxy["ports"] == ["443:443"]
    assert "--server.port=8501" in app["command"]
    assert "network_mode" not in proxy
    networks = compose["networks"]
    assert networks["backend"]["internal"] is True
    assert set(db["networks"]) == {"backend"}
    assert "backend" in app["networks"] and "backend" in proxy["networks"]
    assert not any(networks[n].get("internal") for n in proxy["networks"] if n != "backend")  # 443 reachable

    # the proxy reaches every replica through Docker's DNS, with the template and the certificate
    assert proxy["environment"]["APP_SERVERS"].startswith("server app:8501 resolve")
    assert proxy["environment"]["RESOLVER"] == "127.0.0.11"
    assert any("/etc/nginx/templates/default.conf.template" in v for v in proxy["volumes"])
    assert proxy["depends_on"]["app"]["condition"] == "service_healthy"

    # the workspace: PostgreSQL with a volume and a health check; its URL from the compose env
    url = app["environment"]["INFUSION_OUTCOMES_DB"]
    from dashboard.workspace.config import database_url

    assert database_url(url) == "postgresql+psycopg://outcomes:s3cr3tw0rd@db:5432/outcomes"
    assert db["environment"]["POSTGRES_PASSWORD"] == "s3cr3tw0rd"
    assert db["environment"]["POSTGRES_USER"] == "outcomes" and db["environment"]["POSTGRES_DB"] == "outcomes"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert db["volumes"][0].split(":")[0] in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "/_stcore/health" in " ".join(app["healthcheck"]["test"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"

    # the rest of the hardened app settings
    assert "X-Infusion-Browser" in app["environment"]["STREAMLIT_SERVER_TRUSTED_USER_HEADERS"]
    assert app["environment"]["STREAMLIT_SERVER_ALLOWED_HOSTS"] == "outcomes.hospital.example"
    assert app["read_only"] is True and app["cap_drop"] == ["ALL"]
    assert app["secrets"][0]["target"] == "/app/.streamlit/secrets.toml"
    assert compose["secrets"][app["secrets"][0]["source"]]["file"] == "./secrets.toml"


def test_the_identity_provider_example_is_team_mode():
    import tomllib

    from dashboard.workspace.config import load_config

    secrets = tomllib.loads((DEPLOY / "secrets.toml.example").read_text())
    assert {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"} <= set(
        secrets["auth"])
    assert secrets["auth"]["redirect_uri"].endswith("/oauth2callback")
    config = load_config(secrets, environ={"INFUSION_OUTCOMES_DB": "postgresql://outcomes:pw@db:5432/outcomes"})
    assert config.team and config.backend == "postgresql"
    assert config.retention_days == 365 and config.admins == frozenset({"it-lead@hospital.example"})
