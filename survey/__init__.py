"""Debrief: candidate feedback surveys beside recruiters' debrief-call notes."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import Config, ProductionConfig, config_from_env

from .extensions import compress, csrf, db, login_manager, mail


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` limited to 1 … 2³¹−1, the range of an integer primary key."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config_class: type[Config] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints and what is attached to them, commands.

    Every part is attached here by a call of its own; no module registers anything on import.
    """
    # Imported here rather than at the top: importing a model or a service must not build the app.
    from . import auth, cli, errors, i18n, request_origin, security, site, sso, templating, throttling
    from .services import report_facts

    config_class = config_class or config_from_env()
    if issubclass(config_class, ProductionConfig):
        config_class.check()
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    app.config.from_object(config_class)
    # Ids in URLs fit the database's integer; a larger one is simply "not found", not a crash.
    app.url_map.converters["int"] = DatabaseIdConverter
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    trust_proxies(app)
    register_extensions(app)
    report_facts.install_fact_keeper()  # report facts kept in every flush's transaction (once per process)
    auth.init_auth(app)
    request_origin.init_request_origin(app)  # a request's address on the audit events it records
    sso.init_sso(app)
    i18n.init_i18n(app)
    register_blueprints(app)
    throttling.init_throttling(app)  # limits the candidate and API blueprints registered above
    templating.init_templating(app)
    errors.init_error_handlers(app)
    security.init_security(app)
    site.init_site(app)
    cli.init_cli(app)
    return app


def configure_logging(app: Flask) -> None:
    """Log to stdout at INFO, where a process manager collects it, with survey tokens redacted."""
    from .log_redaction import RedactTokens

    if not app.debug and not app.testing:
        logging.basicConfig(
            stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RedactTokens) for f in handler.filters):
                handler.addFilter(RedactTokens())


def trust_proxies(app: Flask) -> None:
    """Behind TLS proxies, take the client's address and scheme from their X-Forwarded-* headers."""
    count = app.config.get("TRUSTED_PROXY_COUNT", 0)
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_extensions(app: Flask) -> None:
    """Attach the extensions created in extensions.py."""
    from .database import configure_engine, engine_options
    from .migrating import init_migrations

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    )
    db.init_app(app)
    # Flask-Migrate (and Alembic) imported only when `flask db` or a migration run needs them.
    init_migrations(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    compress.init_app(app)
    with app.app_context():
        configure_engine(db.engine)


def register_blueprints(app: Flask) -> None:
    """Mount each audience's blueprint."""
    from . import health
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .audit_log import bp as audit_log_bp
    from .candidate import bp as candidate_bp
    from .recruiter import bp as recruiter_bp
    from .reports import bp as reports_bp

    app.register_blueprint(candidate_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(recruiter_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(audit_log_bp)
    app.register_blueprint(reports_bp)
    if app.config.get("DEV_MAIL_DIR"):
        from .dev import bp as dev_bp

        app.register_blueprint(dev_bp)
