"""Concurrent sessions: N protocol-level sessions open the Overview on the sample, then change one
setting, against 1 and 2 app processes behind nginx with sticky sessions.

Every session is a browser of its own (tests/security/protocol.py: a websocket client speaking the
Streamlit protocol, with its own cookies) that goes through Debian's nginx running
deploy/nginx.conf.template (TLS, the per-browser cookie, ``hash $infusion_browser consistent``),
so the proxy, not this client, spreads the sessions over the processes. The processes share one
workspace (SQLite in a temporary directory). Before the timed rounds, one session per process
opens the Overview and makes the same change (warm caches: what is timed is each session's own
script runs, not the analyses). Then, for each N, N sessions start together (a barrier) and each

1. opens the Overview (``dataset=sample``, page ``overview``): time to its finished run;
2. moves the response threshold from 50% to 60% (the sidebar slider's widget state, as a browser
   sends it): time to the finished rerun.

Reported per N: p50/p95/max of both times, errors (exceptions, timeouts, a page without its
figures), throughput (sessions done, open and change, per second of the round's wall time), the
servers' resident memory (sum over processes, sampled every 0.25 s: peak in the round) and the
1-minute load average before and after, and the CPU seconds per session of the servers, this client
and nginx (what a session costs, whatever else the machine does). Both configurations run side by
side and their rounds alternate, ``--repeats`` times per N (a shared machine's load drifts); a row
pools the repeats' sessions and gives the median round's throughput. The client runs on the same
machine as the servers.

Targets (issue 11, 2 cores): no errors at 50; warm-cache p95 under 3 s at 25 sessions; 2 processes
at least 1.6x the throughput of one.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_sessions.py [--sessions 1 10 25 50]
[--processes 1 2] [--repeats 3]``; ``--server-env STREAMLIT_RUNNER_POST_SCRIPT_GC=true`` shows what
the forced collection after every run cost (.streamlit/config.toml turns it off).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.serve import Server, memory_mb, start_server  # noqa: E402


def _load(name: str) -> object:
    """tests/security/<name>.py loaded by path (a site-packages "tests" package may shadow ours)."""
    module_name = f"tests.security.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / f"tests/security/{name}.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules[module_name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


protocol = _load("protocol")
proxy_recipe = _load("proxy")
Client = protocol.Client  # type: ignore[attr-defined]

QUERY = "dataset=sample"
PAGE = "overview"
SLIDER_LABEL = "Response: reduction from baseline (%)"
CHANGED_RESPONSE = 60.0  # percent; the default is 50
TIMEOUT_S = 600.0


@dataclass
class SessionTimes:
    open_s: float | None = None
    change_s: float | None = None
    error: str | None = None


@dataclass
class Round:
    processes: int
    sessions: int
    wall_s: float
    times: list[SessionTimes]
    rss_peak_mb: float
    rss_end_mb: float
    load_start: float
    load_end: float
    server_cpu_s: float
    client_cpu_s: float
    proxy_cpu_s: float
    per_process: dict[str, int] = field(default_factory=dict)
    median_throughput: float | None = None  # set on a row merged from repeats
    repeats: int = 1

    @property
    def errors(self) -> int:
        return sum(t.error is not None for t in self.times)

    @property
    def throughput(self) -> float:
        """Sessions done (open and change) per second of wall time."""
        if self.median_throughput is not None:
            return self.median_throughput
        done = sum(t.error is None for t in self.times)
        return done / self.wall_s if self.wall_s > 0 else float("nan")


def _check(run: object, what: str) -> None:
    """A page that raised, or drew no headline figures, is an error."""
    if run.elements("exception"):  # type: ignore[attr-defined]
        raise RuntimeError(f"{what}: the page raised an exception")
    if not run.elements("metric"):  # type: ignore[attr-defined]
        raise RuntimeError(f"{what}: no headline figures drawn ({run.texts()[:3]})")  # type: ignore[attr-defined]


def _slider_change(run: object) -> list:
    from streamlit.proto.Common_pb2 import DoubleArray
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    sliders = [s for s in run.elements("slider") if s.label == SLIDER_LABEL]  # type: ignore[attr-defined]
    if not sliders:
        raise RuntimeError("the response slider is not in the sidebar")
    return [WidgetState(id=sliders[0].id, double_array_value=DoubleArray(data=[CHANGED_RESPONSE]))]


def one_session(url: str, start: threading.Barrier | None = None) -> SessionTimes:
    """One browser: open the Overview, change the response threshold; times to finished runs."""
    times = SessionTimes()
    browser = None
    try:
        browser = Client(url, verify_tls=False)
        if start is not None:
            start.wait(TIMEOUT_S)
        browser.open()
        began = time.perf_counter()
        opened = browser.run(QUERY, page_name=PAGE, timeout_s=TIMEOUT_S)
        times.open_s = time.perf_counter() - began
        _check(opened, "open")
        change = _slider_change(opened)
        began = time.perf_counter()
        changed = browser.run(QUERY, widget_states=change, page_name=PAGE, timeout_s=TIMEOUT_S)
        times.change_s = time.perf_counter() - began
        _check(changed, "change")
        if not changed.contains(f"{CHANGED_RESPONSE:.0f}%"):
            raise RuntimeError("the rerun does not show the changed threshold")
    except Exception as error:  # counted and reported, never hidden
        times.error = f"{type(error).__name__}: {error}"[:200]
    finally:
        if browser is not None:
            browser.close()
    return times


def _processes(groups: set[int] = frozenset(), parents: set[int] = frozenset()) -> list[tuple[str, list[str]]]:
    """(pid, fields of /proc/<pid>/stat after the name) of every process in one of the process
    ``groups`` or with one of the ``parents`` as parent or pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups or int(fields[1]) in parents or int(entry) in parents:
                found.append((entry, fields))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _group_processes(servers: list[Server]) -> list[tuple[str, list[str]]]:
    """Every process of the servers (each is started in a session of its own: workers included)."""
    return _processes(groups={server.process.pid for server in servers})


def _cpu_s(processes: list[tuple[str, list[str]]]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f[11]) + int(f[12]) for _, f in processes) / ticks


def client_cpu_s() -> float:
    """CPU seconds of this client process (all its session threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def group_rss_mb(servers: list[Server]) -> float:
    """Resident memory of every process of the servers' process groups, MB."""
    total = 0.0
    for pid, _ in _group_processes(servers):
        try:
            total += memory_mb(pid)
        except OSError:
            continue
    return total


def group_cpu_s(servers: list[Server]) -> float:
    """CPU seconds (user + system) used so far by the servers' processes: what a session costs
    the server whatever else the machine is doing."""
    return _cpu_s(_group_processes(servers))


class Sampler:
    """The servers' summed RSS every 0.25 s while a round runs."""

    def __init__(self, servers: list[Server]):
        self.servers = servers
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        pids = [pid for pid, _ in _group_processes(self.servers)]  # listed once: /proc scans cost the client
        while not self._stop.is_set():
            total = 0.0
            for pid in pids:
                try:
                    total += memory_mb(pid)
                except OSError:  # a worker that ended
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(0.25)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


def run_round(url: str, servers: list[Server], n_sessions: int, front: object, proxy_pid: int) -> Round:
    before = {k: len(v) for k, v in _sessions_by_replica(front).items()}
    load_start = os.getloadavg()[0]
    cpu_start = group_cpu_s(servers)
    client_start = client_cpu_s()
    proxy_start = _cpu_s(_processes(parents={proxy_pid}))
    start = threading.Barrier(n_sessions)
    with Sampler(servers) as sampler, ThreadPoolExecutor(n_sessions) as pool:
        began = time.perf_counter()
        futures = [pool.submit(one_session, url, start) for _ in range(n_sessions)]
        times = [f.result() for f in futures]
        wall = time.perf_counter() - began
    after = _sessions_by_replica(front)
    per_process = {k: len(v) - before.get(k, 0) for k, v in after.items()}
    return Round(len(servers), n_sessions, wall, times, sampler.peak, group_rss_mb(servers), load_start,
                 os.getloadavg()[0], group_cpu_s(servers) - cpu_start, client_cpu_s() - client_start,
                 _cpu_s(_processes(parents={proxy_pid})) - proxy_start, per_process)


def _sessions_by_replica(front: object) -> dict[str, set[str]]:
    """Replica -> the browsers whose websocket it served (the proxy's access log)."""
    out: dict[str, set[str]] = {}
    for line in front.access_log.read_text().splitlines():  # type: ignore[attr-defined]
        browser, upstream, _status, uri = line.split(" ", 3)
        if uri.startswith("/_stcore/stream") and upstream != "-":
            out.setdefault(upstream, set()).add(browser)
    return out


def warm(url: str, front: object, servers: list[Server]) -> float:
    """Open and change once on every process (sessions until each replica has served one)."""
    began = time.perf_counter()
    for _ in range(40):
        result = one_session(url)
        if result.error:
            raise RuntimeError(f"warm-up failed: {result.error}")
        if len(_sessions_by_replica(front)) == len(servers):
            return time.perf_counter() - began
    raise RuntimeError("40 warm-up browsers did not reach every process")


def _quantiles(values: list[float]) -> str:
    if not values:
        return "    -      -      -"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, int(round(0.95 * len(ordered))) - 1))]
    return f"{statistics.median(ordered):5.2f}  {p95:5.2f}  {ordered[-1]:5.2f}"


def _merge(rounds: list[Round]) -> Round:
    """The repeats of one configuration and N as one row: sessions pooled, the median round's
    throughput, the peak memory, the load before the first and after the last."""
    ordered = sorted(rounds, key=lambda r: r.throughput)
    middle = ordered[len(ordered) // 2]
    per_process: dict[str, int] = {}
    for r in rounds:
        for replica, count in r.per_process.items():
            per_process[replica] = per_process.get(replica, 0) + count
    return Round(rounds[0].processes, rounds[0].sessions, middle.wall_s, [t for r in rounds for t in r.times],
                 max(r.rss_peak_mb for r in rounds), rounds[-1].rss_end_mb, rounds[0].load_start, rounds[-1].load_end,
                 sum(r.server_cpu_s for r in rounds) / len(rounds), sum(r.client_cpu_s for r in rounds) / len(rounds),
                 sum(r.proxy_cpu_s for r in rounds) / len(rounds), per_process,
                 median_throughput=middle.throughput, repeats=len(rounds))


def report(rounds: list[Round]) -> None:
    groups: dict[tuple[int, int], list[Round]] = {}
    for r in rounds:
        groups.setdefault((r.processes, r.sessions), []).append(r)
    rows = [_merge(groups[key]) for key in sorted(groups)]
    print("\nproc  N  rep  open p50/p95/max s    change p50/p95/max s  errors  sessions/s  "
          "CPU s/session server/client/nginx  RSS peak/end MB  load 1-min start/end  sessions per process")
    for r in rows:
        opens = [t.open_s for t in r.times if t.open_s is not None and t.error is None]
        changes = [t.change_s for t in r.times if t.change_s is not None and t.error is None]
        spread = "/".join(str(v) for v in sorted(r.per_process.values(), reverse=True))
        print(f"{r.processes:4d} {r.sessions:3d} {r.repeats:3d}   {_quantiles(opens)}     {_quantiles(changes)}   "
              f"{r.errors:5d}  {r.throughput:9.2f}   {r.server_cpu_s / r.sessions:13.2f} / "
              f"{r.client_cpu_s / r.sessions:4.2f} / {r.proxy_cpu_s / r.sessions:4.2f}      "
              f"{r.rss_peak_mb:6.0f}/{r.rss_end_mb:6.0f}    {r.load_start:6.1f}/{r.load_end:5.1f}          {spread}")
        for t in r.times:
            if t.error:
                print(f"      error: {t.error}")
    by = {(r.processes, r.sessions): r for r in rows}
    for n in sorted({r.sessions for r in rows}):
        if (1, n) in by and (2, n) in by and by[(1, n)].throughput > 0:
            print(f"throughput at N={n}: 2 processes / 1 process = "
                  f"{by[(2, n)].throughput / by[(1, n)].throughput:.2f}x (median rounds; target >= 1.6x)")
    print(f"machine: {os.cpu_count()} cores, shared with other jobs (see the load averages); sessions/s is the "
          "median round's, times pooled over the repeats")


@dataclass
class Stack:
    """App processes behind nginx (the deploy template), sharing one workspace."""

    servers: list[Server]
    nginx: object
    front: object

    @property
    def url(self) -> str:
        return self.front.url  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.nginx.terminate()  # type: ignore[attr-defined]
        self.nginx.wait(10)  # type: ignore[attr-defined]
        for server in self.servers:
            server.stop()


def start_stack(n_processes: int, extra_env: dict[str, str] | None = None) -> Stack:
    work = Path(tempfile.mkdtemp(prefix=f"bench_sessions_{n_processes}_"))
    servers: list[Server] = []
    try:
        for i in range(n_processes):
            servers.append(start_server(work / f"app-{i + 1}.log",
                                        env={**proxy_recipe.app_env(work), **(extra_env or {})}))
        nginx, front = proxy_recipe.start_proxy(work, servers)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return Stack(servers, nginx, front)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 25, 50])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds per configuration and N, the configurations alternating (a shared machine's "
                             "load drifts: alternating spreads it evenly)")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between rounds")
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="extra environment of the app processes, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=true")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.server_env)

    stacks: list[Stack] = []
    try:
        for n_processes in args.processes:
            stacks.append(start_stack(n_processes, extra))
        for stack in stacks:
            print(f"{len(stack.servers)} process(es) behind nginx at {stack.url}: RSS idle "
                  f"{group_rss_mb(stack.servers):.0f} MB, warm-up {warm(stack.url, stack.front, stack.servers):.1f} s, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        rounds: list[Round] = []
        for n in args.sessions:
            for repeat in range(args.repeats):
                for stack in (stacks if repeat % 2 == 0 else stacks[::-1]):
                    time.sleep(args.pause)
                    result = run_round(stack.url, stack.servers, n, stack.front, stack.nginx.pid)
                    print(f"  {len(stack.servers)} process(es), N={n}: {result.wall_s:.1f} s wall, {result.errors} "
                          f"errors, {result.throughput:.2f} sessions/s, load {result.load_end:.1f}", flush=True)
                    rounds.append(result)
        report(rounds)
    finally:
        for stack in stacks:
            stack.stop()


if __name__ == "__main__":
    main()
