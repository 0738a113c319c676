"""Flask extensions, created here and attached to the app in create_app."""

from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy as BaseSQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .database import remove_session

# Stable constraint names keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SQLAlchemy(BaseSQLAlchemy):
    """Flask-SQLAlchemy whose end-of-request cleanup survives a database that has just gone away."""

    def _teardown_session(self, exc: BaseException | None) -> None:
        remove_session(self.session)


db = SQLAlchemy(model_class=Base)
mail = Mail()
csrf = CSRFProtect()
# Compresses text responses (HTML, CSS, JSON, CSV, SVG) for clients that accept it; see config.py.
compress = Compress()
login_manager = LoginManager()
# In-memory by default (per process); set RATELIMIT_STORAGE_URI to share limits between processes.
# No storage_uri here: a constructor value would override the setting.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
