"""`make soak`: the whole service under load for a few minutes, with faults, then an integrity audit.

Starts (all on loopback, all thrown away afterwards) a PostgreSQL server, an SMTP sink that
takes 20 ms a message, gunicorn (2 processes x 4 threads), one sending worker and a locust
load (candidates, an ATS, recruiters, HR, exports). With faults on (the default) it SIGKILLs
the sending worker while it holds a batch (a supervisor restarts it at once) and stops
PostgreSQL for a while before starting it again. Then it lets the outbox drain, checks that
nothing was lost or doubled, and prints tables. Exits 1 if a check failed.

Settings (environment): SOAK_SECONDS (300), SOAK_USERS (40), SOAK_FAULTS (1),
SOAK_OUTAGE_SECONDS (10).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import ROOT, free_port

SECONDS = int(os.environ.get("SOAK_SECONDS", "300"))
USERS = int(os.environ.get("SOAK_USERS", "40"))
FAULTS = os.environ.get("SOAK_FAULTS", "1") not in ("0", "false", "no")
OUTAGE_SECONDS = int(os.environ.get("SOAK_OUTAGE_SECONDS", "10"))
SAMPLE_EVERY = 10
PG_TEMP = str(ROOT / "scripts" / "pg-temp")
ACCESS_FORMAT = '%(t)s "%(r)s" %(s)s %(M)sms'
ACCESS_LINE = re.compile(
    r'^\[(?P<t>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<ms>\d+)ms'
)


# --- The SMTP sink ------------------------------------------------------------------------------


class SlowSink:
    """Accepts every message after 20 ms (a real server is not instant) and notes its Message-ID."""

    def __init__(self):
        self.message_ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(0.02)
        header = envelope.content.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        found = re.search(r"^Message-ID:\s*(\S+)", header, re.IGNORECASE | re.MULTILINE)
        with self.lock:
            self.message_ids[found.group(1) if found else "?"] += 1
        return "250 OK"


# --- Processes -----------------------------------------------------------------------------------


@dataclass
class Soak:
    """Everything started for one run, and what was measured."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    pg_dir: str = ""
    pg_port: int = 0
    web_port: int = 0
    gunicorn: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    worker_log: object = None
    started: float = 0.0
    samples: list[dict] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    outages: list[tuple[datetime, datetime]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def flask(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start_postgres(self) -> None:
        subprocess.run([PG_TEMP, "start", self.pg_dir, str(self.pg_port)], check=True, capture_output=True)

    def stop_postgres(self) -> None:
        subprocess.run([PG_TEMP, "stop", self.pg_dir], check=False, capture_output=True)

    def start_gunicorn(self) -> None:
        log = (self.folder / "gunicorn.log").open("w")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--access-logformat",
            ACCESS_FORMAT,
        ]
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.web_port}", "WEB_CONCURRENCY": "2"}
        env["GUNICORN_THREADS"] = "4"
        self.gunicorn = subprocess.Popen([*command, "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
        wait_until(lambda: http_status(self.web_port, "/healthz") == 200, 60, "gunicorn to answer")

    def start_worker(self) -> None:
        if self.worker_log is None:
            self.worker_log = (self.folder / "worker.log").open("a")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--interval", "2"],
            cwd=ROOT,
            env=self.env,
            stdout=self.worker_log,
            stderr=self.worker_log,
        )

    def stop(self) -> None:
        for process in (self.worker, self.gunicorn):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.stop_postgres()


def wait_until(condition, timeout: float, what: str):
    """Poll until `condition()` is true (bounded); returns its value."""
    deadline = time.monotonic() + timeout
    error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:  # noqa: BLE001  (the database may be down while we poll)
            value, error = None, exc
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what} (last error: {error!r})")


def http_status(port: int, path: str) -> int:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# --- Data ----------------------------------------------------------------------------------------


_APP = []


def app_context(soak: Soak):
    """A context of the app (same settings as the processes) for setup, sampling and the audit."""
    if not _APP:
        os.environ.update(soak.env)  # read by config.py when it is first imported, just below
        from survey import create_app

        _APP.append(create_app())
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # the sink's per-command chatter
    return _APP[0].app_context()


def seed(soak: Soak, candidates: int) -> dict:
    """Demo staff and history, plus `candidates` sent invitations whose links the load answers."""
    soak.flask("db", "upgrade")
    soak.flask("demo", "seed", "--interviews", "600")
    key = soak.flask("api-keys", "create", "soak ATS").strip().splitlines()[-1]
    with app_context(soak):
        from sqlalchemy import select

        from survey.extensions import db
        from survey.models import Interview, User
        from survey.services.demo import DEMO_PASSWORD

        invitation_ids = add_interviews(candidates, status="sent")
        recruiters = []
        for user in db.session.scalars(select(User).where(User.role == "recruiter")):
            own = list(
                db.session.scalars(select(Interview.id).where(Interview.recruiter_id == user.id).limit(200))
            )
            if own:
                recruiters.append((user.email, DEMO_PASSWORD, own))
        hr = db.session.scalar(select(User.email).where(User.role == "hr"))
        from survey.tokens import make_survey_token

        surveys = [f"/s/{make_survey_token(i, 1)}" for i in invitation_ids]
    data = {"surveys": surveys, "api_key": key, "recruiters": recruiters, "hr": [hr, DEMO_PASSWORD]}
    path = soak.folder / "soak-data.json"
    path.write_text(json.dumps(data))
    return data


def add_interviews(count: int, status: str) -> list[int]:
    """Interviews that ended three hours ago, with invitations `status` ("sent": links to answer,
    "scheduled": due now, for the worker); returns the invitation ids. Bulk inserts: a burst
    of hundreds arrives at once, as from an import."""
    from sqlalchemy import insert, select

    from survey.extensions import db
    from survey.models import Candidate, Interview, Invitation, Position, User, utcnow

    now = utcnow()
    recruiter_id = db.session.scalar(select(User.id).where(User.role == "recruiter"))
    position_id = db.session.scalar(select(Position.id))
    stamp = now.strftime("%H%M%S%f")
    people = [{"name": f"Soak {stamp} {n}", "email": f"soak-{stamp}-{n}@example.org"} for n in range(count)]
    candidate_ids = db.session.scalars(
        insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True), people
    )
    interviews = [
        {
            "candidate_id": candidate_id,
            "position_id": position_id,
            "recruiter_id": recruiter_id,
            "stage": "Technical",
            "ends_at": now - timedelta(hours=3),
        }
        for candidate_id in candidate_ids.all()
    ]
    interview_ids = db.session.scalars(
        insert(Interview).returning(Interview.id, sort_by_parameter_order=True), interviews
    )
    sent = status == "sent"
    invitations = [
        {
            "interview_id": interview_id,
            "status": status,
            "send_after": now - timedelta(hours=1),
            "issued_at": now if sent else None,
            "sent_at": now if sent else None,
            "expires_at": now + timedelta(days=14) if sent else None,
        }
        for interview_id in interview_ids.all()
    ]
    ids = db.session.scalars(
        insert(Invitation).returning(Invitation.id, sort_by_parameter_order=True), invitations
    )
    ids = ids.all()
    db.session.commit()
    return ids


def outbox_backlog() -> int:
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.models import OutboxMessage

    try:
        return db.session.scalar(select(func.count()).where(OutboxMessage.status.in_(("pending", "failed"))))
    finally:
        db.session.remove()


def held_by_a_worker() -> list[int]:
    """Outbox rows under a live lease (a worker is delivering them right now)."""
    from sqlalchemy import select

    from survey.extensions import db
    from survey.models import OutboxMessage, utcnow

    try:
        stmt = select(OutboxMessage.id).where(
            OutboxMessage.status.in_(("pending", "failed")), OutboxMessage.claimed_until > utcnow()
        )
        return list(db.session.scalars(stmt))
    finally:
        db.session.remove()


# --- The run -------------------------------------------------------------------------------------


def sampler(soak: Soak, stop: threading.Event) -> None:
    """Every SAMPLE_EVERY seconds: memory of each process and the outbox backlog."""
    while not stop.wait(SAMPLE_EVERY if soak.samples else 0):
        web = [rss_mib(pid) for pid in children(soak.gunicorn.pid)]
        try:
            with app_context(soak):
                backlog = outbox_backlog()
        except Exception:  # noqa: BLE001  (the database is down: say so)
            backlog = None
        soak.samples.append(
            {"t": soak.elapsed(), "web": web, "worker": rss_mib(soak.worker.pid), "backlog": backlog}
        )


def kill_the_worker_mid_batch(soak: Soak) -> None:
    """Queue a burst of due invitations, wait for the worker to hold a batch, SIGKILL it, restart it."""
    add_interviews(50, status="scheduled")
    held = wait_until(held_by_a_worker, 300, "the worker to claim a batch")
    soak.worker.send_signal(signal.SIGKILL)
    soak.worker.wait()
    killed_at = datetime.now(UTC)
    held = held_by_a_worker() or held  # what the dead worker still held at its death
    soak.start_worker()  # what a process supervisor does
    lease_end = lease_ends(held)
    soak.faults.append(
        {
            "kind": "worker SIGKILLed",
            "at": soak.elapsed(),
            "held": held,
            "when": killed_at,
            "lease_end": lease_end,
        }
    )


def lease_ends(held: list[int]) -> datetime:
    """When the last lease on these messages runs out."""
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.models import OutboxMessage

    try:
        return db.session.scalar(
            select(func.max(OutboxMessage.claimed_until)).where(OutboxMessage.id.in_(held))
        )
    finally:
        db.session.remove()


def held_delivered(soak: Soak, held: list[int]) -> bool:
    """Whether every message a killed worker held has been sent by now."""
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.models import OutboxMessage

    with app_context(soak):
        try:
            unsent = select(func.count()).where(OutboxMessage.id.in_(held), OutboxMessage.status != "sent")
            return db.session.scalar(unsent) == 0
        finally:
            db.session.remove()


def restart_postgres(soak: Soak) -> None:
    """Stop PostgreSQL (open connections cut), wait, start it again; time how long the app needs."""
    stopped_at = datetime.now(UTC)
    at = soak.elapsed()
    soak.stop_postgres()
    time.sleep(OUTAGE_SECONDS)  # the length of the outage is the fault itself
    soak.start_postgres()
    started = time.monotonic()
    wait_until(lambda: http_status(soak.web_port, "/healthz") == 200, 120, "the app to see the database")
    recovery = time.monotonic() - started
    back_at = datetime.now(UTC)
    soak.outages.append((stopped_at, back_at))
    soak.faults.append({"kind": f"PostgreSQL stopped {OUTAGE_SECONDS} s", "at": at, "recovery": recovery})


def run_load(soak: Soak, data: dict) -> None:
    """Locust for SECONDS; the worker killed a quarter of the way in (its lease runs out well before
    the next fault), PostgreSQL restarted two thirds of the way in."""
    env = {**soak.env, "SOAK_DATA": str(soak.folder / "soak-data.json")}
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "soak_users.py"), "--headless",
        "-u", str(USERS), "-r", str(max(1, USERS // 10)), "-t", f"{SECONDS}s",
        "--host", f"http://127.0.0.1:{soak.web_port}", "--csv", str(soak.folder / "locust"), "--only-summary",
    ]  # fmt: skip
    log = (soak.folder / "locust.log").open("w")
    locust = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    if FAULTS:
        wait_or_end(locust, SECONDS / 4)
        with app_context(soak):
            kill_the_worker_mid_batch(soak)
        # The next fault waits for the dead worker's mail, so each recovery is measured alone.
        wait_until(lambda: held_delivered(soak, soak.faults[-1]["held"]), 240, "the dead worker's mail")
        wait_or_end(locust, SECONDS * 2 / 3 - soak.elapsed())
        if locust.poll() is None:
            restart_postgres(soak)
    locust.wait(timeout=SECONDS + 120)


def wait_or_end(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=max(0.0, seconds))
    except subprocess.TimeoutExpired:
        return


# --- The audit -----------------------------------------------------------------------------------


def drain(soak: Soak) -> float:
    """Wait (at most 3 minutes) for the outbox to empty; seconds it took."""
    began = time.monotonic()
    with app_context(soak):
        wait_until(lambda: outbox_backlog() == 0, 180, "the outbox to drain")
    return time.monotonic() - began


def audit(soak: Soak, sink: SlowSink, run_started: datetime) -> list[tuple[str, str, bool]]:
    """The integrity checks: (what, found, ok)."""
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.models import CELL_KEYS, Invitation, OutboxMessage, Response, report_cells
    from survey.services.tallies import rebuild_cells

    checks = []
    with app_context(soak):
        doubled = db.session.scalar(
            select(func.count()).select_from(
                select(Response.invitation_id)
                .where(Response.invitation_id.is_not(None))  # anonymous answers are unlinked
                .group_by(Response.invitation_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        checks.append(("invitations with more than one response", str(doubled), doubled == 0))
        responses = db.session.scalar(select(func.count()).select_from(Response))
        completed = db.session.scalar(select(func.count()).where(Invitation.status == "completed"))
        checks.append(
            ("responses = completed invitations", f"{responses} = {completed}", responses == completed)
        )
        columns = [column for column in report_cells.c if column.name != "id"]
        cells = select(*columns).order_by(*(report_cells.c[key] for key in CELL_KEYS))
        before = [tuple(row) for row in db.session.execute(cells)]
        rebuild_cells()
        after = [tuple(row) for row in db.session.execute(cells)]
        checks.append(("report tallies = a recount", f"{len(before)} cells", before == after))
        backlog = outbox_backlog()
        checks.append(("outbox drained (pending or failed)", str(backlog), backlog == 0))
        sent_ids = set(
            db.session.scalars(select(OutboxMessage.message_id).where(OutboxMessage.sent_at >= run_started))
        )
        lost = len(sent_ids - set(sink.message_ids))
        checks.append(("emails recorded as sent but never received", str(lost), lost == 0))
        early = db.session.scalar(
            select(func.count()).where(OutboxMessage.sent_at < OutboxMessage.created_at)
        )
        checks.append(("emails sent before they were written", str(early), early == 0))
    repeats = sum(count - 1 for count in sink.message_ids.values() if count > 1)
    kills = sum(1 for fault in soak.faults if fault["kind"].startswith("worker"))
    checks.append(
        (
            "emails received twice (at most the one in flight at each kill)",
            f"{repeats} of {sum(sink.message_ids.values())}",
            repeats <= kills,
        )
    )
    return checks


def killed_worker_delivery(soak: Soak) -> list[tuple[str, str]]:
    """For each kill: how long the dead worker's held mail waited."""
    from sqlalchemy import func, select

    from survey.extensions import db
    from survey.models import OutboxMessage

    rows = []
    with app_context(soak):
        for fault in soak.faults:
            if "held" not in fault:
                continue
            held = fault["held"]
            times = select(func.min(OutboxMessage.sent_at), func.max(OutboxMessage.sent_at))
            first, last = db.session.execute(times.where(OutboxMessage.id.in_(held))).one()
            unsent = db.session.scalar(
                select(func.count()).where(OutboxMessage.id.in_(held), OutboxMessage.status != "sent")
            )
            first, last, lease = (
                (m - fault["when"]).total_seconds() if m else float("nan")
                for m in (first, last, fault["lease_end"])
            )
            rows.append(
                (
                    f"{len(held)} held, {unsent} unsent",
                    f"lease ran out after {lease:.0f} s; first sent after {first:.0f} s, last {last:.0f} s",
                )
            )
    return rows


# --- Tables --------------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=False)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


def print_requests(soak: Soak) -> None:
    stats = list(csv.DictReader((soak.folder / "locust_stats.csv").open()))
    rows = [
        [
            s["Name"],
            s["Request Count"],
            s["Failure Count"],
            s["50%"],
            s["95%"],
            s["99%"],
            s["Max Response Time"],
        ]
        for s in stats
    ]
    table("Requests per kind (locust; ms)", ["kind", "requests", "failed", "p50", "p95", "p99", "max"], rows)


def access_log(soak: Soak) -> tuple[Counter, Counter, list[str]]:
    """Status counts, 503s outside the outages, and the log's error lines."""
    statuses: Counter = Counter()
    stray_503: Counter = Counter()
    errors = []
    windows = [(a - timedelta(seconds=2), b + timedelta(seconds=2)) for a, b in soak.outages]
    for line in (soak.folder / "gunicorn.log").read_text().splitlines():
        match = ACCESS_LINE.match(line)
        if not match:
            if "Error handling request" in line:
                errors.append(line)
            continue
        status = int(match["status"])
        statuses[status] += 1
        if status == 503:
            moment = datetime.strptime(match["t"], "%d/%b/%Y:%H:%M:%S %z")
            if not any(a <= moment <= b for a, b in windows):
                stray_503[match["path"].split("?")[0][:40]] += 1
    return statuses, stray_503, errors


def report(soak: Soak, sink: SlowSink, run_started: datetime, drained: float) -> bool:
    print_requests(soak)
    statuses, stray_503, errors = access_log(soak)
    rows = [[status, count] for status, count in sorted(statuses.items())]
    table("Responses by status (gunicorn access log)", ["status", "count"], rows)
    fives = sum(count for status, count in statuses.items() if status >= 500)
    stray = sum(stray_503.values())
    print(f"5xx: {fives} (500: {statuses[500]}, 503: {statuses[503]}, 503 outside an outage: {stray})")
    print(f'gunicorn "Error handling request": {len(errors)}')
    rows = []
    for sample in soak.samples:
        web = " + ".join(f"{mib:.0f}" for mib in sample["web"])
        backlog = "database down" if sample["backlog"] is None else sample["backlog"]
        rows.append([f"{sample['t']:.0f}", web, f"{sample['worker']:.0f}", backlog])
    table(
        "Memory (RSS, MiB) and outbox backlog over time",
        ["s", "gunicorn workers", "sending worker", "backlog"],
        rows,
    )
    fault_rows = []
    deliveries = iter(killed_worker_delivery(soak))
    for fault in soak.faults:
        if "held" in fault:
            held, waited = next(deliveries)
            fault_rows.append([f"{fault['at']:.0f}", fault["kind"], held, waited])
        else:
            fault_rows.append(
                [f"{fault['at']:.0f}", fault["kind"], "", f"first 200 {fault['recovery']:.1f} s after start"]
            )
    if fault_rows:
        table("Faults", ["s", "fault", "", "recovery"], fault_rows)
    print(f"\nOutbox drained {drained:.0f} s after the load stopped.")
    checks = audit(soak, sink, run_started)
    checks.append(("responses with status 500", str(statuses[500]), statuses[500] == 0))
    checks.append(("gunicorn errors (Error handling request)", str(len(errors)), not errors))
    table(
        "Integrity",
        ["check", "found", "ok"],
        [[what, found, "yes" if ok else "NO"] for what, found, ok in checks],
    )
    return all(ok for _, _, ok in checks)


def main() -> int:
    from aiosmtpd.controller import Controller

    folder = Path(tempfile.mkdtemp(prefix="debrief-soak-"))
    soak = Soak(folder=folder, pg_dir=tempfile.mkdtemp(prefix="debrief-soak-pg-"), pg_port=free_port())
    soak.web_port = free_port()
    sink = SlowSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    soak.start_postgres()
    soak.env = {
        **os.environ,
        "SURVEY_CONFIG": "development",  # plain-HTTP cookies; otherwise as production
        "SECRET_KEY": "soak-secret-key-0123456789abcdef",
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{soak.pg_port}/postgres",
        "MAIL_PORT": str(smtp_port),
        "RATELIMIT_ENABLED": "false",
        "SURVEY_SEND_DELAY_MINUTES": "0",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{soak.web_port}",
        "DEV_MAIL_DIR": str(folder / "mail"),
        "PYTHONUNBUFFERED": "1",
    }
    print(
        f"soak: {SECONDS} s, {USERS} users, faults {'on' if FAULTS else 'off'}; files in {folder}", flush=True
    )
    ok = False
    try:
        data = seed(soak, candidates=3000)
        run_started = datetime.now(UTC)
        soak.start_gunicorn()
        soak.start_worker()
        soak.started = time.monotonic()
        stop = threading.Event()
        threading.Thread(target=sampler, args=(soak, stop), daemon=True).start()
        run_load(soak, data)
        drained = drain(soak)
        stop.set()
        ok = report(soak, sink, run_started, drained)
    finally:
        soak.stop()
        controller.stop()
        shutil.rmtree(soak.pg_dir, ignore_errors=True)
    print("\nsoak: " + ("all checks passed" if ok else "CHECKS FAILED") + f" (logs in {folder})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
