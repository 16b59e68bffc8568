"""Faults with the real app (a server process, Chromium): a server killed (SIGKILL) in the middle of
a fit and started again loses no stored dataset and no saved view (SQLite workspace); the workspace
database unreachable at start or in the middle of a session gives a page in words, no traceback, and
the app recovers when the database returns (the suite's PostgreSQL cluster stopped and started)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
from pathlib import Path

import pytest

import analysis
from dashboard.serve import APP_IDLE_JS, Server, start_server
from dashboard.workspace import Principal, Workspace

pytestmark = pytest.mark.e2e

LOCAL = Principal("local", admin=True)
TIMEOUT_MS = 120_000
KEPT = re.compile(r"([\d,]+) of ([\d,]+) patients kept")
AWAY = "database cannot be reached right now"


def _idle(page) -> None:
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT_MS)
    page.wait_for_function(APP_IDLE_JS, timeout=TIMEOUT_MS, polling=100)


def _text(page, where: str = "stMain") -> str:
    return page.locator(f'[data-testid="{where}"]').inner_text()


def _no_traceback(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in _text(page) and "Error:" not in _text(page)


def _kept(page) -> tuple[int, int]:
    _no_traceback(page)
    match = KEPT.search(_text(page, "stSidebar"))
    assert match, f"no data in the sidebar: {_text(page, 'stSidebar')[:400]}"
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def _store(url: str, n_patients: int) -> tuple[str, str]:
    """A stored simulated dataset and a saved view of its Durability page grouped by sex (ids)."""
    ws = Workspace(url)
    try:
        data = analysis.simulate(n_patients=n_patients, seed=11)
        dataset_id = ws.save_dataset(LOCAL, data, f"simulated {n_patients}").id
        view_id = ws.save_view(LOCAL, dataset_id, "durability by sex",
                               {"page": ["durability"], "dataset": [f"ws-{dataset_id}"], "group": ["sex"]})
    finally:
        ws.close()
    return dataset_id, view_id


def _kill(server: Server) -> None:
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)


def test_a_server_killed_mid_fit_loses_no_dataset_and_no_view(tmp_path: Path, browser) -> None:
    database = tmp_path / "workspace.db"
    url = f"sqlite:///{database}"
    dataset_id, view_id = _store(url, 3000)
    env = {"INFUSION_OUTCOMES_DB": str(database)}
    server = start_server(tmp_path / "server-1.log", env=env)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/durability?dataset=ws-{dataset_id}&group=sex")
        # a fit in progress: a computation's spinner in the page's run (shown after 0.5 s), or, on
        # a large dataset such as this one, the background job's "...: computing" note
        # (dashboard.background: the page draws at once and the fit runs in the server)
        busy = page.locator('[data-testid="stSpinner"]').or_(page.get_by_text(": computing")).first
        busy.wait_for(timeout=3 * TIMEOUT_MS)
        _kill(server)  # in the middle of the fit: no shutdown, no chance to flush or close anything

        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ws = Workspace(url)
        try:
            assert [d.id for d in ws.list_datasets(LOCAL)] == [dataset_id]
            assert [v.id for v in ws.views(LOCAL, dataset_id)] == [view_id]
            assert ws.open_dataset(LOCAL, dataset_id, audit=False)[0].n_patients == 3000
        finally:
            ws.close()

        server = start_server(tmp_path / "server-2.log", env=env)
        page = context.new_page()
        page.goto(f"{server.url}/?view={view_id}")
        page.wait_for_url(re.compile(r".*/durability\?.*group=sex"), timeout=TIMEOUT_MS)
        _idle(page)
        assert _kept(page) == (3000, 3000)
        page.get_by_text(": computing").first.wait_for(state="detached", timeout=3 * TIMEOUT_MS)  # the fit redone
        assert "Fitting" not in _text(page) and page.get_by_role("heading", name="Durability", exact=True).count()
    finally:
        context.close()
        server.stop()


def test_database_away_at_start_and_mid_session_gives_words_and_recovers(tmp_path: Path, browser,
                                                                         postgres) -> None:
    url = postgres.create_database("ws_faults_away")
    dataset_id, _ = _store(url, 100)
    link = f"overview?dataset=ws-{dataset_id}"
    env = {"INFUSION_OUTCOMES_DB": url}
    server = start_server(tmp_path / "server-1.log", env=env)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/{link}")
        _idle(page)
        assert _kept(page) == (100, 100)

        # mid-session: the database goes away, the next run of the same session says so in words
        postgres.stop("immediate")
        try:
            page.get_by_role("link", name="Durability").click()
            page.wait_for_url(re.compile(r".*/durability\?"))  # the click's run has begun, not the last one idle
            page.get_by_text(AWAY).first.wait_for()
            _idle(page)
            _no_traceback(page)
            assert AWAY in _text(page) and "Nothing stored is lost" in _text(page)
        finally:
            postgres.start()
        page.get_by_role("link", name="Overview").click()  # the same session, the database back
        page.wait_for_url(re.compile(r".*/overview\?"))
        _idle(page)
        assert _kept(page) == (100, 100)

        # at start: a new server process while the database is away
        server.stop()
        postgres.stop("immediate")
        try:
            server = start_server(tmp_path / "server-2.log", env=env)
            page = context.new_page()
            page.goto(f"{server.url}/{link}")
            _idle(page)
            _no_traceback(page)
            assert AWAY in _text(page)
        finally:
            postgres.start()
        page.reload()
        _idle(page)
        assert _kept(page) == (100, 100)
        assert "Traceback" not in server.log()
    finally:
        context.close()
        server.stop()
