"""`make run`'s processes: one Ctrl-C (SIGINT to the whole process group) stops all three, ports freed."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from processes import ROOT

from helpers import free_port

pytestmark = pytest.mark.slow


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition, what: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"dev serve exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)  # polling a port, not timing behaviour


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_to_the_group_stops_web_worker_and_mail_catcher(tmp_path, signum):
    web, mail = free_port(), free_port()
    env = dict(
        os.environ,
        SURVEY_CONFIG="development",
        DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite'}",
        DEV_MAIL_DIR=str(tmp_path / "mail"),
        MAIL_PORT=str(mail),
        PYTHONUNBUFFERED="1",
    )
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [*flask, "dev", "serve", "--port", str(web)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        wait_for(lambda: healthy(web) and listening(mail), "the web server and mail catcher", process)
        wait_for(lambda: "worker: running" in (tmp_path / "serve.log").read_text(), "the worker", process)
        os.killpg(process.pid, signum)  # what Ctrl-C (or a process manager) does
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 30
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(process.pid), "a process of the group is still running"
        assert not listening(web) and not listening(mail)
        output = (tmp_path / "serve.log").read_text()
        assert "worker: stopped" in output and "dev serve: all stopped" in output
        assert "Traceback" not in output and "RecursionError" not in output
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
