"""Shared benchmark plumbing: a database to run against, a gunicorn server, a load generator."""

from __future__ import annotations

import atexit
import http.client
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Production refuses weak keys: one random key per benchmark run, shared by its processes.
BENCH_SECRET_KEY = secrets.token_urlsafe(48)


def free_port() -> int:
    """A loopback port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(kind: str) -> str:
    """A fresh empty database: a SQLite file, or a throwaway PostgreSQL (BENCH_DATABASE_URL to reuse one)."""
    folder = tempfile.mkdtemp(prefix="debrief-bench-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.sqlite"
    if os.environ.get("BENCH_DATABASE_URL"):
        return _fresh_postgres_database(os.environ["BENCH_DATABASE_URL"])
    pg_temp = [str(ROOT / "scripts" / "pg-temp")]
    # The empty temporary folder becomes the server's data folder (handed to its owner by pg-temp).
    url = subprocess.check_output([*pg_temp, "start", folder, str(free_port())], text=True).strip()
    atexit.register(subprocess.run, [*pg_temp, "stop", folder], check=False)
    return _fresh_postgres_database(url)


def _fresh_postgres_database(url: str) -> str:
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('DROP DATABASE IF EXISTS "debrief_bench" WITH (FORCE)'))
        connection.execute(text('CREATE DATABASE "debrief_bench"'))
    admin.dispose()
    return make_url(url).set(database="debrief_bench").render_as_string(hide_password=False)


def production_env(database: str, **extra: str) -> dict[str, str]:
    """Production settings for the app under test, throttling off (one client address)."""
    env = dict(os.environ)
    env.update(
        SURVEY_CONFIG="production",
        SECRET_KEY=BENCH_SECRET_KEY,
        DATABASE_URL=database,
        RATELIMIT_ENABLED="false",
        PUBLIC_BASE_URL="http://127.0.0.1",
    )
    env.update(extra)
    return env


class GunicornServer:
    """`gunicorn -c gunicorn.conf.py APP` with 2 workers on a loopback port, logs discarded."""

    def __init__(self, app_path: str, env: dict[str, str], workers: int = 2):
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)}
        self.app_path = app_path

    def __enter__(self) -> GunicornServer:
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.app_path]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gunicorn ({self.app_path}) did not start")

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the gunicorn master and its workers (Linux /proc)."""
        master = self.process.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            children = []
        return sum(_process_cpu_seconds(int(pid)) for pid in (master, *children))

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class LoadResult:
    """Throughput and latency of one load run, and the CPU time each side spent on it."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator_cpu: float = 0.0  # CPU seconds of the load generator
    server_cpu: float = 0.0  # CPU seconds of the gunicorn master and workers

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def cpu_us(self, seconds: float) -> float:
        """CPU microseconds per request."""
        return seconds / max(self.requests, 1) * 1e6

    @property
    def server_us(self) -> float:
        """The server's CPU microseconds per request."""
        return self.cpu_us(self.server_cpu)

    def line(self, label: str) -> str:
        return (
            f"{label:<24} {self.rps:7.0f} req/s   p50 {self.p50_ms:6.1f} ms   p99 {self.p99_ms:6.1f} ms   "
            f"CPU/request: server {self.cpu_us(self.server_cpu):5.0f} us, "
            f"client {self.cpu_us(self.generator_cpu):4.0f} us   errors {self.errors}"
        )


def _percentile(latencies: list[float], share: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished (waited-for) children: the load generator's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


Request = tuple[str, str, str | None, dict[str, str]]  # method, path, body, headers


def run_load(port: int, requests: list[Request], concurrency: int = 16) -> LoadResult:
    """Send the requests from `concurrency` Python threads, one connection per request; time them.

    The fallback generator when wrk is not installed: it tops out near 2,500 requests/s, so
    it cannot saturate a bare Flask route and understates the ratios (the output says so).
    """
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    queue = iter(requests)

    def client() -> None:
        nonlocal errors
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            method, path, body, headers = item
            began = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            took = time.perf_counter() - began
            with lock:
                latencies.append(took)
                errors += response.status >= 400

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return LoadResult(
        len(requests), seconds, _percentile(latencies, 0.5), _percentile(latencies, 0.99), errors, cpu
    )


WRK = shutil.which("wrk")
WRK_SCRIPT = ROOT / "bench" / "survey.lua"


class OutOfLinks(RuntimeError):
    """A POST run answered every survey link and started on answered ones: seed more."""


def run_wrk(
    port: int,
    path: str,
    seconds: int,
    concurrency: int = 16,
    threads: int = 2,
    post: tuple[Path, Path] | None = None,
    reuse_paths: bool = False,
) -> LoadResult:
    """Load one path with wrk for `seconds`.

    POST: (paths file, body file) posts the body to each line of the paths file once
    (see survey.lua), unless `reuse_paths` lets it go round them again (a route that keeps no state).
    """
    # A 10 s timeout: on a busy machine a slow answer is slow, not an error.
    command = [WRK, f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(WRK_SCRIPT)]
    command.append(f"http://127.0.0.1:{port}{path}")
    if post:
        paths_file, body_file = post
        command += ["--", str(paths_file), str(body_file), str(threads)]
    cpu = children_cpu_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = children_cpu_seconds() - cpu
    line = next(line for line in output.splitlines() if line.startswith("wrk-json "))
    figures = json.loads(line.removeprefix("wrk-json "))
    if figures["wrapped"] and not reuse_paths:
        raise OutOfLinks("the POST run used up its survey links; raise BENCH_POST_LINKS")
    errors = sum(figures[key] for key in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        figures["requests"],
        figures["duration_us"] / 1e6,
        figures["p50_us"] / 1000,
        figures["p99_us"] / 1000,
        errors,
        cpu,
    )
