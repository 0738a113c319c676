"""Flask-Migrate, attached to the app the first time something needs it.

Importing Flask-Migrate imports Alembic (with its dialect modules and Mako), about half a second
of every process start, yet only `flask db …` and a migration run in code need it: a web worker
or `surveys send-due` never does. So the app's `flask db` command and its "migrate" extension
entry stand in for Flask-Migrate until first used, then attach it for real (Flask-Migrate's own
`init_app`, with the same settings) and behave exactly as it does.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

COMMAND = "db"
OPTIONS = {"render_as_batch": True}  # SQLite alters tables by copying them: Alembic's batch mode


class CommandsOnDemand(AppGroup):
    """The app's command group, where a command may be named before it is imported: its module is
    imported when the command is looked up (to run it, or to show it in `--help`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_demand: dict[str, Any] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.on_demand})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.on_demand:
            self.on_demand.pop(name)()  # adds the command
        return super().get_command(ctx, name)


class MigrateOnFirstUse:
    """The app's "migrate" extension entry until it is first read (by `flask_migrate.upgrade()`,
    the migrations' env.py, …): reading any attribute attaches Flask-Migrate and answers from it."""

    def __init__(self, app: Flask, db: Any, directory: str) -> None:
        self._attach = (app, db, directory)

    def __getattr__(self, name: str) -> Any:
        return getattr(attach(*self._attach), name)


def init_migrations(app: Flask, db: Any, directory: str) -> None:
    """Name `flask db` and the "migrate" entry now; import and attach Flask-Migrate on first use."""
    if not isinstance(app.cli, CommandsOnDemand):
        cli = CommandsOnDemand(app.cli.name)
        cli.commands.update(app.cli.commands)
        app.cli = cli
    app.extensions["migrate"] = MigrateOnFirstUse(app, db, directory)
    app.cli.on_demand[COMMAND] = lambda: attach(app, db, directory)


def attach(app: Flask, db: Any, directory: str) -> Any:
    """Flask-Migrate attached to the app (once): its extension entry, and `flask db`."""
    entry = app.extensions.get("migrate")
    if entry is None or isinstance(entry, MigrateOnFirstUse):
        # Alembic logs each plugin it sets up while being imported: once logging is configured
        # (as it now is, before the import), that would be a dozen INFO lines before every command.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        from flask_migrate import Migrate

        Migrate(app, db, directory=directory, command=COMMAND, **OPTIONS)
        app.cli.on_demand.pop(COMMAND, None)
        entry = app.extensions["migrate"]
    return entry
