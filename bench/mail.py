"""Benchmark: 1,000 emails from the outbox to a local SMTP server (a separate process).

    python -m bench.mail sqlite|postgresql

One SMTP connection per batch (the outbox's way) against one connection per message, in
the same run. Target: 1,000 emails in under 5 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import ROOT, database_url, free_port, production_env

EMAILS = int(os.environ.get("BENCH_EMAILS", "1000"))


class SmtpSink:
    """bench/smtp_sink.py in its own process, so it does not share this one's CPU time."""

    def __init__(self, port: int):
        self.port = port

    def __enter__(self) -> SmtpSink:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def counts(self) -> dict:
        self.process.terminate()
        return json.loads(self.process.communicate(timeout=30)[0])

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()


def fill_outbox(count: int) -> None:
    """Render `count` emails into the outbox, as the invitation job would."""
    from survey.extensions import db
    from survey.outbox import enqueue

    for number in range(count):
        enqueue(
            "notice",
            f"candidate{number}@example.org",
            "How was your interview?",
            "survey_invitation",
            {
                "candidate_name": f"Candidate {number}",
                "position_title": "Backend Engineer",
                "stage": "Technical",
                "survey_url": f"http://127.0.0.1/s/bench-{number}",
                "opt_out_url": f"http://127.0.0.1/s/bench-{number}/opt-out",
                "is_reminder": False,
            },
        )
    db.session.commit()


def deliver_all(app, batch_size: int) -> tuple[float, float, int, dict]:
    """Deliver all pending mail in batches of `batch_size`: (seconds, CPU seconds, sent, server counts)."""
    from survey.outbox import deliver_outbox

    app.config["OUTBOX_BATCH_SIZE"] = batch_size
    with SmtpSink(app.config["MAIL_PORT"]) as sink:
        began, cpu = time.perf_counter(), time.process_time()
        report = deliver_outbox()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        return seconds, cpu, report.sent, sink.counts()


def reset_outbox() -> None:
    from sqlalchemy import update

    from survey.extensions import db
    from survey.models import OutboxMessage

    db.session.execute(update(OutboxMessage).values(status="pending", sent_at=None, claimed_until=None))
    db.session.commit()


def main(kind: str) -> int:
    """Run both delivery modes on one database and print their figures."""
    os.environ.update(production_env(database_url(kind), MAIL_PORT=str(free_port())))
    from flask_migrate import upgrade

    from survey import create_app

    app = create_app()
    print(f"\n== {EMAILS} emails to a local SMTP server, {kind}")
    ok = True
    with app.app_context():
        upgrade()
        fill_outbox(EMAILS)
        for label, size in (("one connection per batch", 100), ("one connection per message", 1)):
            seconds, cpu, sent, counts = deliver_all(app, size)
            print(
                f"{label:<28} {seconds:6.2f} s ({cpu:5.2f} s CPU)   {sent / seconds:7.0f} emails/s   "
                f"{counts['connections']} connection(s), {counts['messages']} received"
            )
            ok = ok and sent == counts["messages"] == EMAILS
            if size == 100:
                print(f"target < 5 s: {'ok' if seconds < 5 else 'MISSED'}")
            reset_outbox()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
