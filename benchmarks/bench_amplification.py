"""Work a URL alone can cause: does the server's memory plateau, and does a bystander stay served?

Replays the amplification case of issue 12 against a real server (dashboard.serve) with the
protocol client of tests/security (what a browser sends, without the browser):

1. 32 distinct names ``dataset=simulated-<n>-<seed>`` opened by fresh sessions, ``--concurrency``
   at a time;
2. 25 concurrent opens of one new name (single-flight: one simulation, 24 waiters).

Meanwhile a bystander session re-opens the Data page on the bundled sample (already warm) every
0.5 s, and the server's RSS is sampled every 0.25 s. Targets: memory plateaus under 2 GB, the
bystander's page under 3 s.

Run: .venv/bin/python benchmarks/bench_amplification.py [--patients 20000] [--names 32] [--same 25]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.serve import memory_mb, start_server  # noqa: E402


def _protocol_client() -> type:
    """tests/security/protocol.py's Client, loaded by path (a site-packages "tests" may shadow ours)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("security_protocol", ROOT / "tests/security/protocol.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules["security_protocol"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Client


Client = _protocol_client()


def _open(url: str, query: str) -> float:
    """Seconds for a fresh session to get the Data page for ``query``."""
    client = Client(url)
    try:
        client.open()
        start = time.perf_counter()
        client.run(query, timeout_s=600)
        return time.perf_counter() - start
    finally:
        client.close()


class Watch:
    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.rss: list[tuple[float, float]] = []
        self.bystander: list[float] = []
        self._stop = threading.Event()
        self.client = Client(url)
        self.client.open()
        self.client.run("dataset=sample")  # warm
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._browse, daemon=True)]
        self.t0 = time.perf_counter()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.rss.append((time.perf_counter() - self.t0, memory_mb(self.pid)))

    def _browse(self) -> None:
        while not self._stop.wait(0.5):
            start = time.perf_counter()
            self.client.run("dataset=sample", timeout_s=600)
            self.bystander.append(time.perf_counter() - start)

    def start(self) -> Watch:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(600)
        self.client.close()

    def window(self, since: int) -> tuple[list[float], list[float]]:
        return self.bystander[since:], [r for _, r in self.rss]


def _summary(times: list[float]) -> str:
    if not times:
        return "no samples"
    ordered = sorted(times)
    return (f"p50 {statistics.median(ordered):.2f} s, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.2f} s, "
            f"max {ordered[-1]:.2f} s over {len(ordered)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20_000, help="one of compute.SIMULATED_SIZES")
    parser.add_argument("--names", type=int, default=32)
    parser.add_argument("--same", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    log = Path(tempfile.mkdtemp(prefix="bench_amplification_")) / "server.log"
    server = start_server(log)
    try:
        pid = server.process.pid
        print(f"server RSS at start {memory_mb(pid):.0f} MB")
        watch = Watch(server.url, pid).start()
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            names = list(pool.map(lambda seed: _open(server.url, f"dataset=simulated-{args.patients}-{seed}"),
                                  range(args.names)))
        phase1 = time.perf_counter() - start
        seen = len(watch.bystander)
        rss1 = [r for _, r in watch.rss]
        print(f"1. {args.names} distinct simulated-{args.patients}-<seed> names, {args.concurrency} at a time: "
              f"{phase1:.0f} s; open {_summary(names)}")
        print(f"   server RSS max {max(rss1):.0f} MB, last {rss1[-1]:.0f} MB; "
              f"bystander page {_summary(watch.bystander)}")
        quarter = max(1, len(rss1) // 4)
        print("   RSS by quarter of the phase (MB): "
              + ", ".join(f"{max(rss1[i:i + quarter]):.0f}" for i in range(0, len(rss1), quarter)))

        start = time.perf_counter()
        with ThreadPoolExecutor(args.same) as pool:
            same = list(pool.map(lambda _: _open(server.url, f"dataset=simulated-{args.patients}-999"),
                                 range(args.same)))
        phase2 = time.perf_counter() - start
        time.sleep(1)
        watch.stop()
        rss2 = [r for t, r in watch.rss]
        print(f"2. {args.same} concurrent opens of simulated-{args.patients}-999: {phase2:.1f} s; open "
              f"{_summary(same)}")
        print(f"   server RSS max {max(rss2):.0f} MB; bystander page {_summary(watch.bystander[seen:])}")
        worst = max(watch.bystander, default=float("nan"))
        print(f"overall: server RSS max {max(rss2):.0f} MB (target plateau < 2048 MB); bystander worst "
              f"{worst:.2f} s (target < 3 s)")
        print("Measured on a shared 2-core machine; other jobs may be running.")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
