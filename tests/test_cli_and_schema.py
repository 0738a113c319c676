"""Commands, migrations, demo data and the development mail page."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select

from helpers import make_app
from survey.extensions import db
from survey.models import AnonymousAnswer, ApiKey, Interview, Response, User
from survey.services.accounts import authenticate_api_key, find_user

ROOT = Path(__file__).resolve().parent.parent


def test_users_create_takes_the_password_from_the_environment(runner):
    result = runner.invoke(
        args=["users", "create", "Hana@Example.com", "--role", "hr", "--name", "Hana"],
        env={"SURVEY_PASSWORD": "a-long-password"},
    )
    assert result.exit_code == 0, result.output
    user = find_user("hana@example.com")
    assert user.role == "hr" and user.check_password("a-long-password")
    assert "a-long-password" not in user.password_hash


def test_users_create_refuses_a_duplicate_and_a_bad_role(runner):
    env = {"SURVEY_PASSWORD": "a-long-password"}
    runner.invoke(args=["users", "create", "a@example.com", "--role", "hr", "--name", "A"], env=env)
    again = runner.invoke(args=["users", "create", "A@example.com", "--role", "hr", "--name", "A"], env=env)
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(args=["users", "create", "b@example.com", "--role", "boss", "--name", "B"], env=env)
    assert bad.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_api_keys_create_prints_a_working_key_once(runner):
    result = runner.invoke(args=["api-keys", "create", "Greenhouse"])
    assert result.exit_code == 0
    plain = result.output.strip().splitlines()[-1]
    assert plain.startswith("dbk_")
    assert authenticate_api_key(plain).name == "Greenhouse"
    assert db.session.scalar(select(ApiKey.key_hash)) != plain


def test_migrations_have_one_head_and_build_the_models_schema(tmp_path):
    config = AlembicConfig()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1

    url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    env = {"DATABASE_URL": url, "SURVEY_CONFIG": "development", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    with create_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


# Loaded only by the commands and pages that use them (`flask db`, reports, demo data, single
# sign-on): a web worker or `surveys send-due` starts without them.
NOT_AT_START = (
    "alembic",
    "flask_migrate",
    "numpy",
    "scipy",
    "faker",
    "authlib",
    "requests",
    "openpyxl",
    "email_validator",
)


def test_starting_the_app_imports_none_of_the_libraries_only_some_commands_need(tmp_path):
    code = f"import sys, wsgi; print(*[name for name in {NOT_AT_START!r} if name in sys.modules])"
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite'}", "SURVEY_CONFIG": "development"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


def test_flask_db_attaches_flask_migrate_when_first_run(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "SURVEY_CONFIG": "development"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    run = {"cwd": ROOT, "env": env | {"PATH": "/usr/bin:/bin"}, "capture_output": True, "text": True}
    listed = subprocess.run([*flask, "--help"], **run)
    assert "Perform database migrations." in listed.stdout
    commands = subprocess.run([*flask, "db", "--help"], **run)
    assert {"upgrade", "downgrade", "heads", "current"} <= set(commands.stdout.split())
    upgraded = subprocess.run([*flask, "db", "upgrade"], **run)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "setup plugin" not in upgraded.stdout + upgraded.stderr  # no import-time noise
    current = subprocess.run([*flask, "db", "current"], **run)
    heads = subprocess.run([*flask, "db", "heads"], **run)
    assert current.stdout.split()[-2:] == heads.stdout.split()[-2:] and "(head)" in current.stdout


def test_demo_seed_runs_once_with_realistic_data(runner):
    first = runner.invoke(args=["demo", "seed", "--interviews", "300"])
    assert first.exit_code == 0 and "Seeded 300 interviews" in first.output
    assert "already present" in runner.invoke(args=["demo", "seed"]).output
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 300
    responses = list(db.session.scalars(select(Response)))
    assert 60 < len(responses) < 250
    assert {r.consent for r in responses} == {"named"}
    # Anonymous answers were held back and released in cohorts of at least k, never as responses.
    released = db.session.execute(
        select(AnonymousAnswer.month, AnonymousAnswer.department, func.count()).group_by(
            AnonymousAnswer.month, AnonymousAnswer.department
        )
    ).all()
    assert released and all(n >= 5 for _, _, n in released)
    assert len({r.month for r in responses}) >= 6
    assert len({r.answers.get("nps") for r in responses}) >= 8
    assert any("improve" in r.answers for r in responses)
    logins = runner.invoke(args=["demo", "logins"]).output
    assert "hana.kim@example.com" in logins and "debrief-demo" in logins


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_dev_mail_page_exists_only_in_development(app, tmp_path):
    from config import DevelopmentConfig

    assert app.test_client().get("/dev/mail").status_code == 404

    class Dev(DevelopmentConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'dev.sqlite'}"
        DEV_MAIL_DIR = str(tmp_path / "mail")

    dev_app = make_app(Dev)
    with dev_app.app_context():
        page = dev_app.test_client().get("/dev/mail")
    assert page.status_code == 200
    assert "Caught mail" in page.get_data(as_text=True)
