"""Shared benchmark plumbing: a database to run against, a gunicorn server, a load generator."""

from __future__ import annotations

import atexit
import http.client
import os
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

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclass
class LoadResult:
    """Throughput and latency of one load run."""

    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<28} {self.rps:8.0f} req/s   p50 {self.percentile(0.5):6.1f} ms   "
            f"p99 {self.percentile(0.99):6.1f} ms   errors {self.errors}"
        )


Request = tuple[str, str, str | None, dict[str, str]]  # method, path, body, headers


def run_load(port: int, requests: list[Request], concurrency: int = 16) -> LoadResult:
    """Send the requests from `concurrency` threads, one connection per request; time them."""
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
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(requests), time.perf_counter() - began, latencies, errors)
