"""The hostile corpus through a running server: each file uploaded on the Data page over the
protocol, as a browser does, is answered in words, while /_stcore/health and a second session keep
answering within 1 s and the server's memory stays under SERVER_RSS_CAP_MB."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from dashboard.serve import memory_mb
from tests.security.corpus import HOSTILE
from tests.security.protocol import Client

SERVER_RSS_CAP_MB = 1500
UPLOAD_LINK = "dataset=upload-00000000000000aa"
BYSTANDER_LINK = "dataset=sample"


class _Watch:
    """Polls health (latency), reruns a second session's page (time to the end of its run) and
    samples the server's RSS until stopped."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.health_s: list[float] = []
        self.bystander_run_s: list[float] = []
        self.rss_mb: list[float] = []
        self._stop = threading.Event()
        self.bystander = Client(url)
        self.bystander.open()
        self.bystander.run(BYSTANDER_LINK)  # warm: its page is computed once
        self._threads = [threading.Thread(target=self._health, daemon=True),
                         threading.Thread(target=self._second_session, daemon=True)]

    def _health(self) -> None:
        while not self._stop.wait(0.2):
            start = time.perf_counter()
            try:
                ok = requests.get(f"{self.url}/_stcore/health", timeout=5).text == "ok"
            except requests.RequestException:
                ok = False
            self.health_s.append(time.perf_counter() - start if ok else 99.0)
            self.rss_mb.append(memory_mb(self.pid))

    def _second_session(self) -> None:
        while not self._stop.wait(0.3):
            start = time.perf_counter()
            run = self.bystander.run(BYSTANDER_LINK, timeout_s=60)
            if run.messages:
                self.bystander_run_s.append(time.perf_counter() - start)

    def __enter__(self) -> _Watch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(70)
        self.bystander.close()


@pytest.mark.parametrize("name", ["bomb.zip", "huge_cell.xlsx", "huge_cell.parquet", "columns.csv",
                                  "million_rows.xlsx", "junk.csv", "overflow.csv"])
def test_hostile_upload_is_answered_while_others_are_served(server, name):
    make, _ = HOSTILE[name]
    content = make()
    uploader = Client(server.url)
    uploader.open()
    first = uploader.run(UPLOAD_LINK)
    widgets = first.elements("file_uploader")
    assert widgets, "no file uploader on the Data page"
    with _Watch(server.url, server.process.pid) as watch:
        start = time.perf_counter()
        answered = uploader.upload(name, content, widgets[0].id, UPLOAD_LINK, timeout_s=120)
        elapsed = time.perf_counter() - start
        time.sleep(0.5)  # one more bystander round after the answer
    uploader.close()
    texts = " ".join(answered.texts())
    print(f"{name}: answered in {elapsed:.1f} s; health max {max(watch.health_s):.2f} s; second session's "
          f"page max {max(watch.bystander_run_s, default=0):.2f} s; server RSS max {max(watch.rss_mb):.0f} MB")
    assert elapsed < 60
    assert any(word in texts for word in ("too large", "cannot be read", "could not be read", "row",
                                          "not a table", "problem")), texts[:500]
    assert watch.health_s and max(watch.health_s) < 1.0
    assert watch.bystander_run_s and max(watch.bystander_run_s) < 1.0
    assert max(watch.rss_mb) < SERVER_RSS_CAP_MB
