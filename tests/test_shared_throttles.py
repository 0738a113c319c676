"""Throttles hold across processes: 2 real gunicorn workers together allow the limit once, with the
default SQLite-file storage and with a real Redis server; in-process memory would allow it per worker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from processes import STRONG_KEY, Gunicorn, run_to_the_end

from helpers import csrf_token, free_port

pytestmark = pytest.mark.slow

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A real Redis server on a free loopback port, for this test only."""
    if REDIS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "redis-server exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)  # not listening yet
    raise AssertionError("redis-server did not come up")


class HeldRequest:
    """A request sent but for its last byte: the sync worker that accepted it is busy until it is finished,
    so the next connection is served by the other worker."""

    def __init__(self, port: int, raw: bytes):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(raw[:-1])
        self.last = raw[-1:]

    def finish(self) -> int:
        """Send the last byte and read the response's status code."""
        self.release()
        return self.status()

    def release(self) -> None:
        """Send the last byte: the worker goes on with the request."""
        self.sock.sendall(self.last)

    def status(self) -> int:
        """Read the response's status code."""
        data = b""
        while b"\r\n" not in data:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed without a response"
            data += chunk
        self.sock.close()
        return int(data.split(b" ", 2)[1])


def raw_request(method: str, path: str, headers: dict[str, str], body: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def one_per_worker(server: Gunicorn, raw: bytes, rounds: int) -> list[int]:
    """Send `rounds` pairs of one request, each pair split across the two workers; the statuses in order."""
    statuses = []
    for _ in range(rounds):
        first, second = HeldRequest(server.port, raw), HeldRequest(server.port, raw)
        statuses += [first.finish(), second.finish()]
    return statuses


def sign_in_request(server: Gunicorn, email: str) -> bytes:
    """A wrong-password sign-in POST, with a valid session cookie and CSRF token."""
    _, headers, body = server.get("/login")
    form = urlencode({"csrf_token": csrf_token(body), "email": email, "password": "wrong-guess"})
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    content = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    return raw_request("POST", "/login", content, form)


def worker_pids(log: str, path: str) -> set[str]:
    """The process ids (last field of the access log line) that served requests for a path."""
    return {line.rsplit(" ", 1)[-1] for line in log.splitlines() if f" {path} HTTP/1.1" in line}


def wait_until_both_workers_serve(server: Gunicorn, timeout: float = 120) -> None:
    """Split pairs of health checks until each worker has answered one: on a loaded machine the second
    worker can still be starting when the server first answers, and then it would serve nothing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        one_per_worker(server, raw_request("GET", "/healthz", {}), 1)
        if len(worker_pids(server.output(), "/healthz")) == 2:
            return
    raise AssertionError("the second gunicorn worker never served a request")


def run_attacks(app, recruiter, storage_uri: str) -> dict[str, list[int]]:
    """Failed sign-ins, survey-link guesses and wrong API keys, 12 each, 6 through each of 2 workers."""
    limits = {"RATELIMIT_SURVEY": "5 per minute", "RATELIMIT_API": "4 per minute"}
    with Gunicorn(
        app, workers=2, threads=1, RATELIMIT_ENABLED="true", RATELIMIT_STORAGE_URI=storage_uri, **limits
    ) as server:
        wait_until_both_workers_serve(server)
        results = {
            "sign_in": one_per_worker(server, sign_in_request(server, recruiter.email), 6),
            "survey": one_per_worker(server, raw_request("GET", "/s/guess", {}), 6),
            "api": one_per_worker(
                server, raw_request("GET", "/api/v1/interviews/1", {"Authorization": "Bearer dbk_wrong"}), 6
            ),
        }
    log = server.output()
    for path in ("/login", "/s/[redacted]", "/api/v1/interviews/1"):
        assert len(worker_pids(log, path)) == 2, f"{path} was not served by both workers"
    return results


def assert_limits_held_once(results: dict[str, list[int]]) -> None:
    assert results["sign_in"] == [400] * 5 + [429] * 7  # exactly 5 failed sign-ins in total
    assert results["survey"] == [404] * 5 + [429] * 7
    assert results["api"] == [401] * 4 + [429] * 8


def test_two_gunicorn_workers_share_the_default_sqlite_throttle_storage(app, recruiter, tmp_path):
    default_uri = app.config["RATELIMIT_STORAGE_URI"]
    assert default_uri == "memory://"  # the test settings; production's default is the shared file below
    from config import Config

    assert Config.RATELIMIT_STORAGE_URI.startswith("sqlite:///")
    assert_limits_held_once(run_attacks(app, recruiter, f"sqlite:///{tmp_path / 'limits.sqlite'}"))


def test_two_gunicorn_workers_share_a_redis_throttle_storage(app, recruiter, redis_url):
    assert_limits_held_once(run_attacks(app, recruiter, redis_url))


def test_in_process_storage_lets_each_worker_allow_the_full_limit(app, recruiter):
    # The hole the shared storage closes: with memory:// two workers allow 5 failures each.
    results = run_attacks(app, recruiter, "memory://")
    assert results["sign_in"].count(400) == 10


def test_sign_in_attempts_sent_at_once_get_only_the_limit_of_password_checks(app, recruiter, tmp_path):
    """Guesses in parallel cannot slip past the check: each takes its slot before the password is read."""
    uri = f"sqlite:///{tmp_path / 'limits.sqlite'}"
    with Gunicorn(app, workers=2, threads=8, RATELIMIT_ENABLED="true", RATELIMIT_STORAGE_URI=uri) as server:
        raw = sign_in_request(server, recruiter.email)
        held = [HeldRequest(server.port, raw) for _ in range(16)]
        for request in held:
            request.release()  # all 16 go on together, over 2 workers x 8 threads
        statuses = [request.status() for request in held]
    assert statuses.count(400) == 5 and statuses.count(429) == 11


def test_production_refuses_several_workers_with_in_process_throttle_storage(app):
    env = dict(
        os.environ,
        SURVEY_CONFIG="production",
        SECRET_KEY=STRONG_KEY,
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_STORAGE_URI="memory://",
        WEB_CONCURRENCY="2",
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
    )
    result = run_to_the_end("gunicorn", "-c", "gunicorn.conf.py", "wsgi:app", env=env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Refusing to start: RATELIMIT_STORAGE_URI=memory:// keeps limits inside each process" in output
    assert "2 workers would each allow the full limit" in output
