"""`flask --app wsgi ...` commands. They parse arguments, call services and print."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .database import database_unavailable, remove_session
from .extensions import db
from .models import ROLES, WEBHOOK_EVENTS
from .reports.export import CSV_PARTS, FORMATS, write_export
from .reports.filters import parse_filters
from .reports.queries import response_count
from .reports.report import build_report
from .services.accounts import AccountError, check_timezone, create_api_key, create_user
from .services.anonymity import rebuild_anonymous_cells
from .services.audit import record_report_export
from .services.demo import demo_logins, seed_demo
from .services.errors import DomainError
from .services.imports import ImportFileError, import_interviews
from .services.invitations import send_due
from .services.question_sets import (
    QuestionSetError,
    export_document,
    import_document,
    latest_published,
    list_sets,
    parse_file,
    stage_list,
)
from .services.retention import erase_candidate, purge_expired
from .services.tallies import rebuild_cells
from .services.webhooks import create_endpoint, delete_endpoint, endpoint_summaries, list_endpoints
from .stopping import StopRequest

users_cli = AppGroup("users", help="Staff accounts.")
api_keys_cli = AppGroup("api-keys", help="API keys for the ATS integration.")
interviews_cli = AppGroup("interviews", help="Interviews.")
surveys_cli = AppGroup("surveys", help="Survey sending.")
demo_cli = AppGroup("demo", help="Demo data.")
reports_cli = AppGroup("reports", help="HR reports.")
dev_cli = AppGroup("dev", help="Development helpers.")
webhooks_cli = AppGroup("webhooks", help="Signed webhooks out to the ATS.")
data_cli = AppGroup("data", help="Retention and erasure of candidates' personal data.")
question_sets_cli = AppGroup("question-sets", help="Question sets: import, export, list.")
secrets_cli = AppGroup("secrets", help="Secret keys.")


@contextmanager
def domain_refusals() -> Iterator[None]:
    """A service's refusal (a DomainError) becomes the command's error message and exit status 1."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True)
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Berlin (else DEFAULT_TIMEZONE).")
def create_user_command(email: str, role: str, name: str, timezone: str | None) -> None:
    """Create a staff user; the password comes from SURVEY_PASSWORD or a prompt."""
    try:
        check_timezone(timezone)  # before asking for a password
    except AccountError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from exc
    password = os.environ.get("SURVEY_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with domain_refusals():
        user = create_user(email, name, role, password, timezone)
    click.echo(f"Created {user.role} {user.email}.")


@api_keys_cli.command("create")
@click.argument("name")
@click.option(
    "--scopes",
    default="interviews:write,interviews:read",
    show_default=True,
    help="Comma-separated: interviews:write, interviews:read, interviews:read-all.",
)
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Refuse the key from this date on (YYYY-MM-DD, midnight UTC).",
)
def create_api_key_command(name: str, scopes: str, expires: datetime | None) -> None:
    """Create an API key and print it once; only its hash is kept."""
    expires_at = expires.replace(tzinfo=UTC) if expires else None
    with domain_refusals():
        api_key, plain = create_api_key(name, scopes, expires_at=expires_at)
    until = f", valid until {expires_at:%Y-%m-%d}" if expires_at else ""
    scopes_text = api_key.scopes.replace(" ", ", ")
    click.echo(f"API key {api_key.name!r}, scopes {scopes_text}{until} (shown once, store it now):")
    click.echo(plain)


@webhooks_cli.command("create")
@click.argument("url")
@click.option("--events", required=True, help=f"Comma-separated: {', '.join(WEBHOOK_EVENTS)}.")
def create_webhook_command(url: str, events: str) -> None:
    """Register a webhook endpoint; prints its id and its signing secret once."""
    with domain_refusals():
        endpoint, secret = create_endpoint(url, events)
    click.echo(f"Webhook {endpoint.id} -> {endpoint.url} for {', '.join(endpoint.events)}")
    click.echo("Signing secret (shown once, store it now):")
    click.echo(secret)


@webhooks_cli.command("list")
def list_webhooks_command() -> None:
    """List webhook endpoints with their events and delivery counts."""
    endpoints = list_endpoints()
    if not endpoints:
        click.echo("No webhooks.")
    for endpoint, counts in endpoint_summaries(endpoints):
        tally = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no deliveries"
        click.echo(f"{endpoint.id}\t{endpoint.url}\t{','.join(endpoint.events)}\t{tally}")


@webhooks_cli.command("delete")
@click.argument("endpoint_id", type=int)
def delete_webhook_command(endpoint_id: int) -> None:
    """Remove a webhook endpoint and its deliveries."""
    with domain_refusals():
        endpoint = delete_endpoint(endpoint_id)
    click.echo(f"Deleted webhook {endpoint_id} ({endpoint.url}).")


@secrets_cli.command("generate")
def generate_secret_command() -> None:
    """Print a new random SECRET_KEY (384 bits) that passes the production checks."""
    click.echo(secrets.token_urlsafe(48))


@interviews_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_interviews_command(csv_file: Path) -> None:
    """Import interviews from a CSV file (columns in docs/operations.md); bad rows are listed."""
    # surrogateescape: a row with bytes that are not UTF-8 is reported, not fatal to the file.
    with csv_file.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    with (
        csv_file.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle,
        click.progressbar(length=total, label="Importing", file=sys.stderr) as bar,
    ):
        try:
            report = import_interviews(handle, on_row=lambda: bar.update(1))
        except ImportFileError as exc:
            raise click.ClickException(f"{csv_file}: {exc}") from exc
    for line, reason in report.errors:
        click.echo(f"line {line}: {reason}", err=True)
    click.echo(report.line())
    if report.errors:
        raise SystemExit(1)


@surveys_cli.command("send-due")
def send_due_command() -> None:
    """Issue due invitations, queue reminders, expire old links and deliver the outbox."""
    summary = send_due()
    click.echo(summary.line())
    if summary.delivery.smtp_error:
        raise SystemExit(1)


@click.command("worker")
@click.option("--interval", type=int, default=None, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker_command(interval: int | None, once: bool) -> None:
    """Run `surveys send-due` in a loop until stopped (SIGTERM or Ctrl-C)."""
    interval = interval or current_app.config["WORKER_INTERVAL_SECONDS"]
    stop = StopRequest()
    click.echo(f"worker: running every {interval}s")
    while not stop.requested:
        try:
            summary = send_due()
            if summary.did_something or once:  # quiet passes stay quiet
                click.echo(summary.line())
        except Exception as exc:  # a worker must survive a bad pass (database restart, …)
            if database_unavailable(exc):
                name = exc.__class__.__name__
                current_app.logger.error("worker pass stopped: database unavailable (%s)", name)
            else:
                current_app.logger.exception("worker pass failed")
        finally:
            remove_session(db.session)  # a lost connection is dropped here, not raised
        if once:
            break
        stop.wait(interval)
    click.echo("worker: stopped")


@data_cli.command("purge")
def data_purge_command() -> None:
    """De-identify candidates whose last interview ended over DATA_RETENTION_DAYS ago."""
    report = purge_expired()
    click.echo(
        f"Purged personal data older than {current_app.config['DATA_RETENTION_DAYS']} days: {report.line()}."
    )


@data_cli.command("erase")
@click.argument("email")
def data_erase_command(email: str) -> None:
    """Erase one candidate's personal data on request; answers stay, de-identified."""
    with domain_refusals():
        report = erase_candidate(email)
    click.echo(f"Erased: {report.line()}.")


@reports_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True)
@click.option("--from", "month_from", metavar="YYYY-MM", help="First month (inclusive).")
@click.option("--to", "month_to", metavar="YYYY-MM", help="Last month (inclusive).")
@click.option("--department")
@click.option("--position-id", type=int)
@click.option("--stage")
@click.option("--hiring-manager")
@click.option("--recruiter-id", type=int)
@click.option(
    "--part",
    type=click.Choice(CSV_PARTS),
    default="aggregates",
    show_default=True,
    help="Which table a CSV holds (XLSX and JSON hold all).",
)
def reports_export_command(fmt: str, out: str, part: str, **filters) -> None:
    """Export findings, aggregates and de-identified responses (same filters as /reports)."""
    try:
        report_filters = parse_filters(filters)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    report = build_report(report_filters)
    record_report_export(fmt, report_filters.active(), actor_label="cli")
    total = 0 if report.withheld else response_count(report_filters)
    with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
        write_export(fmt, report, out, on_row=lambda: bar.update(1), part=part)
    if report.withheld:
        click.echo(report.withheld, err=True)
    click.echo(f"Wrote {out} ({total} responses).")


@reports_cli.command("rebuild-cells")
def reports_rebuild_cells_command() -> None:
    """Recount the report tallies from the stored responses."""
    click.echo(f"Rebuilt {rebuild_cells()} report cells.")
    click.echo(f"Recounted {rebuild_anonymous_cells()} released anonymous cohorts.")


@demo_cli.command("seed")
@click.option("--interviews", type=int, default=400, show_default=True)
def demo_seed_command(interviews: int) -> None:
    """Fill an empty database with demo staff, interviews and responses."""
    report = seed_demo(interviews=interviews)
    if report.skipped:
        click.echo("Demo data already present; nothing added.")
    else:
        click.echo(
            f"Seeded {report.interviews} interviews, {report.responses} responses, "
            f"{report.due_now} surveys due now."
        )


@demo_cli.command("logins")
def demo_logins_command() -> None:
    """Print the demo accounts."""
    click.echo("Demo logins (password for all: shown beside each):")
    for email, password, role in demo_logins():
        click.echo(f"  {role:<10} {email:<28} {password}")


@dev_cli.command("mailcatcher")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Defaults to MAIL_PORT.")
def mailcatcher_command(host: str, port: int | None) -> None:
    """Run a local SMTP server that keeps every message for the /dev/mail page."""
    from .dev.mailcatcher import serve

    mail_dir = current_app.config.get("DEV_MAIL_DIR")
    if not mail_dir:
        raise click.ClickException("DEV_MAIL_DIR is not set (use SURVEY_CONFIG=development).")
    port = port or current_app.config["MAIL_PORT"]
    click.echo(f"mailcatcher: SMTP on {host}:{port}, messages in {mail_dir}")
    try:
        serve(mail_dir, host, port)
    except OSError as exc:
        message = f"cannot listen on {host}:{port} ({exc.strerror}); is another one running?"
        raise click.ClickException(message) from exc


@question_sets_cli.command("import")
@click.argument("json_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_question_set_command(json_file: Path) -> None:
    """Create and publish a set from FILE.json, or publish it as the next version of the set with
    that name; every problem of a bad file is listed with its path and nothing is stored."""
    try:
        text = json_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{json_file}: not UTF-8 text; nothing was stored.") from exc
    try:
        result = import_document(parse_file(text), actor_label="cli")
    except QuestionSetError as exc:
        for path, message in exc.problems:
            click.echo(f"{path}: {message}", err=True)
        raise click.ClickException(
            f"{json_file}: {len(exc.problems)} problem(s); nothing was stored."
        ) from exc
    click.echo(f"{result.name} version {result.number}" + (" (unchanged)" if result.unchanged else ""))
    for stage in result.stages_taken:
        click.echo(f"note: {stage} now uses {result.name}", err=True)


@question_sets_cli.command("export")
@click.argument("name")
@click.option("--version", "number", type=click.IntRange(min=1), help="Version number (default: newest).")
def export_question_set_command(name: str, number: int | None) -> None:
    """Print a set's version as the JSON file `import` reads."""
    try:
        document = export_document(name, number)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@question_sets_cli.command("list")
def list_question_sets_command() -> None:
    """Every set: its newest published version, a draft if any, stages and languages."""
    for question_set in list_sets():
        version = latest_published(question_set)
        drafts = [v.number for v in question_set.versions if v.status == "draft"]
        stages = ", ".join(stage_list(question_set)) or "(no stage)"
        languages = ", ".join(version.languages) if version else ""
        line = f"{question_set.name}: version {version.number if version else '-'}"
        if drafts:
            line += f" (draft {drafts[0]})"
        click.echo(f"{line}; stages: {stages}; languages: {languages}")


@dev_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
def dev_serve_command(host: str, port: int) -> None:
    """Run the mail catcher, the worker and the web server until Ctrl-C, which stops all three."""
    from .dev.supervisor import flask_command, supervise

    code = supervise(
        [
            ("mailcatcher", flask_command("dev", "mailcatcher")),
            ("worker", flask_command("worker")),
            ("web", flask_command("run", "--host", host, "--port", str(port))),
        ]
    )
    raise SystemExit(code)


def init_cli(app: Flask) -> None:
    """Register the command groups."""
    groups = (
        users_cli,
        api_keys_cli,
        interviews_cli,
        surveys_cli,
        webhooks_cli,
        data_cli,
        reports_cli,
        demo_cli,
        dev_cli,
        question_sets_cli,
        secrets_cli,
    )
    for group in groups:
        app.cli.add_command(group)
    app.cli.add_command(worker_command)
