"""A local SMTP server for development that stores every message in a Maildir."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def ensure_maildir(mail_dir: str) -> None:
    """Create the Maildir and its three folders (mailbox.Maildir skips them for an existing path)."""
    for sub in ("tmp", "new", "cur"):
        (Path(mail_dir) / sub).mkdir(parents=True, exist_ok=True)


def serve(mail_dir: str, host: str, port: int) -> None:
    """Accept mail on host:port until SIGINT/SIGTERM."""
    ensure_maildir(mail_dir)
    controller = Controller(Mailbox(mail_dir), hostname=host, port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
