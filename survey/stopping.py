"""Stopping long-running commands (worker, mail catcher, `dev serve`) cleanly on SIGINT or SIGTERM.

The signal handler only sets a flag: it takes no lock and calls nothing, so a burst of signals
(Ctrl-C reaches every process of the terminal's group, then a supervisor adds SIGTERM) can
re-enter it any number of times without harm. Waiting is done on a self-pipe that Python's
wakeup fd writes to on every signal, so a wait ends at once when a signal arrives.
"""

from __future__ import annotations

import os
import select
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set once SIGINT or SIGTERM arrives; `wait` sleeps until then (or until a timeout)."""

    def __init__(self, also_wake_on: tuple[int, ...] = ()) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._stop)
        for signum in also_wake_on:
            # A handler (any) makes the signal write to the wakeup fd; the default would not.
            signal.signal(signum, self._wake)

    def _stop(self, signum, frame) -> None:
        self.requested = True
        self.signal_name = self.signal_name or signal.Signals(signum).name

    def _wake(self, signum, frame) -> None:
        """Nothing to do: the wakeup fd already woke the waiter."""

    def wait(self, seconds: float | None) -> bool:
        """Sleep until a signal arrives or `seconds` pass; True once a stop was requested."""
        if not self.requested:
            select.select([self._read], [], [], seconds)
            self._drain()
        return self.requested

    def _drain(self) -> None:
        try:
            while os.read(self._read, 512):
                pass
        except BlockingIOError:
            pass
