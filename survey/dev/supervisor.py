"""`make run`'s three processes (mail catcher, worker, web server), started and stopped together.

One Ctrl-C stops all three: the terminal sends SIGINT to every process of its group, and this
supervisor also asks each child to stop with SIGTERM, once, then waits for it (SIGKILL only
for a child still running after the grace period). If one child dies on its own (a port in
use, say) the others are stopped too, so nothing is left behind holding a port.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import click

from ..stopping import StopRequest

GRACE_SECONDS = 10


@dataclass
class Child:
    """A named child process."""

    name: str
    process: subprocess.Popen

    @property
    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None


def flask_command(*args: str) -> list[str]:
    """`flask --app wsgi ARGS` with this interpreter."""
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def supervise(commands: Sequence[tuple[str, list[str]]]) -> int:
    """Run the commands until a signal or until one of them exits; then stop them all."""
    stop = StopRequest(also_wake_on=(signal.SIGCHLD,))
    children = [Child(name, subprocess.Popen(command)) for name, command in commands]
    while not stop.requested and all(child.running for child in children):
        stop.wait(None)
    for child in children:
        if not child.running and not stop.requested:
            code = child.process.returncode
            click.echo(f"dev serve: {child.name} exited ({code}); stopping the rest", err=True)
    return shut_down(children)


def shut_down(children: list[Child]) -> int:
    """SIGTERM each running child once, wait, then SIGKILL any still running; the worst exit code."""
    for child in children:
        if child.running:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            click.echo(f"dev serve: {child.name} did not stop in {GRACE_SECONDS}s; killing it", err=True)
            child.process.kill()
            child.process.wait()
    click.echo("dev serve: all stopped")
    # A child stopped by our own SIGTERM/SIGINT exits cleanly; anything else is reported.
    codes = [child.process.returncode for child in children]
    return max((code for code in codes if code not in (0, -signal.SIGTERM, -signal.SIGINT)), default=0)
