"""Benchmark: 1,000 survey invitations issued and delivered to a local SMTP server.

    python -m bench.mail sqlite|postgresql

First the whole command an operator runs, `flask --app wsgi surveys send-due`, timed end to
end (process start included) for 1,000 due invitations with one worker, over
MAIL_CONNECTIONS=1 and =4 parallel SMTP connections (target: under 5 s). Then delivery alone
of 1,000 outbox emails: one SMTP connection per batch (the outbox's way) against one per
message. The SMTP server (counting and discarding) runs in its own process on the same machine:
by default bench/smtp_sink.py's lean server (about 0.3 ms of its own CPU per message);
BENCH_SMTP_SINK=aiosmtpd runs the test suite's aiosmtpd instead (about 1.3 ms per message, taken
from the same two cores and waited for on every message). The tables give the server's CPU.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .common import ROOT, children_cpu_seconds, database_url, free_port, production_env

EMAILS = int(os.environ.get("BENCH_EMAILS", "1000"))
SINK = os.environ.get("BENCH_SMTP_SINK", "lean")
CONNECTIONS = (1, 4)


class SmtpSink:
    """bench/smtp_sink.py in its own process, so it does not share this one's CPU time."""

    def __init__(self, port: int):
        self.port = port

    def __enter__(self) -> SmtpSink:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(self.port), SINK],
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
    from survey.services.outbox import enqueue

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
    from survey.services.outbox import deliver_outbox

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


def seed_due_invitations(count: int) -> None:
    """`count` interviews that ended three hours ago: their invitations are due now."""
    sys.path.insert(0, str(ROOT / "tests"))
    from processes import seed_invitations

    from survey.services.accounts import create_user

    recruiter = create_user("bench@example.com", "Bench Recruiter", "recruiter", "bench-password-1")
    seed_invitations(count, recruiter, status="scheduled")


def unsend_invitations() -> None:
    """Back to due and never issued, with an empty outbox, for the next timed run."""
    from sqlalchemy import delete, update

    from survey.extensions import db
    from survey.models import Invitation, OutboxMessage

    db.session.execute(delete(OutboxMessage))
    db.session.execute(
        update(Invitation).values(status="scheduled", issued_at=None, sent_at=None, expires_at=None)
    )
    db.session.commit()


SEND_DUE = [sys.executable, "-m", "flask", "--app", "wsgi", "surveys", "send-due"]


def command_env(**extra: str) -> dict[str, str]:
    """The command's environment, with Python's bytecode cached as an installed app has it.

    An operator's install has compiled bytecode (pip compiles it, or the first run writes it).
    With PYTHONDONTWRITEBYTECODE set, as some shells and containers have it, every start would
    compile the app's sources again (about 0.3 s): the command keeps its bytecode in a folder of
    the benchmark's own instead (PYTHONPYCACHEPREFIX), filled by one untimed run (`warm_up`).
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": BYTECODE} | extra


BYTECODE = tempfile.mkdtemp(prefix="debrief-bench-bytecode-")
atexit.register(shutil.rmtree, BYTECODE, ignore_errors=True)


def warm_up() -> None:
    """One untimed run with nothing due: bytecode written, files in the page cache."""
    subprocess.run(SEND_DUE, cwd=ROOT, env=command_env(MAIL_PORT="1"), capture_output=True, check=True)


def time_send_due(port: int, connections: int) -> tuple[float, float, str, dict]:
    """Run `flask --app wsgi surveys send-due` once: (seconds, CPU seconds, output, server counts)."""
    command = SEND_DUE
    env = command_env(MAIL_CONNECTIONS=str(connections))
    with SmtpSink(port) as sink:
        began, cpu = time.perf_counter(), children_cpu_seconds()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds, cpu = time.perf_counter() - began, children_cpu_seconds() - cpu
        counts = sink.counts()
    if result.returncode != 0:
        raise RuntimeError(f"send-due failed: {result.stdout}{result.stderr}")
    return seconds, cpu, result.stdout.strip().splitlines()[-1], counts


def send_due_runs(app) -> bool:
    """Time the command at each MAIL_CONNECTIONS on the same due invitations; print a table."""
    print(f"`surveys send-due` issuing and delivering {EMAILS} due invitations, one worker, end to end")
    print("(bytecode compiled by an untimed first run, as an installed app has it):")
    print(f"SMTP server: {SINK} (bench/smtp_sink.py; BENCH_SMTP_SINK=lean|aiosmtpd), its own process")
    header = f"{'MAIL_CONNECTIONS':>18} {'seconds':>8} {'CPU s':>6} {'emails/s':>9} {'received':>9}"
    header += f" {'server CPU s':>12}"
    print(f"{header}  target < 5 s")
    ok = True
    for connections in CONNECTIONS:
        seconds, cpu, line, counts = time_send_due(app.config["MAIL_PORT"], connections)
        received = counts["messages"]
        ok = ok and received == EMAILS and f"delivered {EMAILS} email(s)" in line
        verdict = "ok" if seconds < 5 else "MISSED"
        server = counts["cpu_seconds"]
        row = f"{connections:>18} {seconds:8.2f} {cpu:6.2f} {EMAILS / seconds:9.0f} {received:>9}"
        print(f"{row} {server:12.2f}  {verdict}")
        unsend_invitations()
    return ok


def main(kind: str) -> int:
    """Run the send-due command and both delivery modes on one database and print their figures."""
    os.environ.update(production_env(database_url(kind), MAIL_PORT=str(free_port())))
    from flask_migrate import upgrade

    from survey import create_app

    app = create_app()
    print(f"\n== {EMAILS} emails to a local SMTP server, {kind}")
    with app.app_context():
        upgrade()
        warm_up()
        seed_due_invitations(EMAILS)
        ok = send_due_runs(app)
        print("delivery alone, from a full outbox:")
        fill_outbox(EMAILS)
        for label, size in (("one connection per batch", 100), ("one connection per message", 1)):
            seconds, cpu, sent, counts = deliver_all(app, size)
            print(
                f"{label:<28} {seconds:6.2f} s ({cpu:5.2f} s CPU)   {sent / seconds:7.0f} emails/s   "
                f"{counts['connections']} connection(s), {counts['messages']} received, "
                f"server {counts['cpu_seconds']:.2f} s CPU"
            )
            ok = ok and sent == counts["messages"] == EMAILS
            reset_outbox()
    print(f"load average (1, 5, 15 min): {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
