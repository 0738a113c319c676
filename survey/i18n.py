"""Languages and time zones: Flask-Babel set up for the candidate's pages and emails.

Catalogs live as .po files in `translations/` (committed). They are compiled to .mo when the app
starts, into the instance folder, whenever a .po is newer than its .mo: there is no hand step after
an install or a pull, and nothing is written inside the source tree.

Candidate pages and emails speak the candidate's language (`use_candidate_locale`); staff pages
stay in English but their strings go through the same catalogs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, has_request_context
from flask_babel import Babel, force_locale, get_locale, get_translations, refresh
from jinja2 import pass_context
from markupsafe import Markup

# The languages whose catalogs ship (the recruiter's form offers these).
SHIPPED_LANGUAGES = ("en", "de", "fr", "es")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}
SOURCE_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"

babel = Babel()


def compile_catalogs(source: Path, target: Path) -> list[str]:
    """Compile every `source/<lang>/LC_MESSAGES/messages.po` newer than its .mo under `target`.

    Each .mo is written to a temporary file and renamed into place, so processes starting at
    the same time never read half a catalog. Returns the languages compiled.
    """
    compiled = []
    for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po_path.parent.parent.name
        mo_path = target / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        descriptor, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        with os.fdopen(descriptor, "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        os.replace(temporary, mo_path)
        compiled.append(language)
    return compiled


def request_locale() -> str:
    """The catalog this request speaks: the candidate's (`use_candidate_locale`), else English.
    Flask-Babel's locale selector, and cheaper than asking Flask-Babel for its parsed locale."""
    return g.get("candidate_locale") or "en" if has_request_context() else "en"


def _select_timezone() -> str:
    return g.get("candidate_timezone") or current_app.config["DEFAULT_TIMEZONE"]


def catalog_language(language: str) -> str:
    """The shipped catalog to use for a language: itself, its base ("de" for "de_AT"), or English."""
    for candidate in (language, language.split("_")[0]):
        if candidate in SHIPPED_LANGUAGES:
            return candidate
    return "en"


def use_candidate_locale(language: str, timezone: str) -> None:
    """Make the rest of this request speak the candidate's language and time zone."""
    g.candidate_language = language
    g.candidate_locale = catalog_language(language)
    g.candidate_timezone = valid_timezone(timezone) or current_app.config["DEFAULT_TIMEZONE"]
    refresh()


@contextmanager
def candidate_locale(language: str, timezone: str) -> Iterator[None]:
    """For an email: the candidate's language and time zone inside the block, then back."""
    previous = g.get("candidate_timezone")
    g.candidate_timezone = valid_timezone(timezone) or current_app.config["DEFAULT_TIMEZONE"]
    try:
        with force_locale(catalog_language(language)):
            yield
    finally:
        g.candidate_timezone = previous


def bound_gettext():
    """The current locale's `gettext` for the templates of one email, in the render's context.

    Jinja's i18n extension looks `gettext` up in the render's context before the app's globals,
    where Flask-Babel's looks up the locale and its catalog on every string (an invitation has
    fourteen). This one is bound to the catalog once and behaves as the extension's own:
    the message translated, marked safe where the template autoescapes, and always formatted
    with its (escaped) variables.
    """
    translations = get_translations()

    @pass_context
    def gettext(context, message: str, **variables):
        text = translations.ugettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_timezone(name: str | None) -> str | None:
    """The IANA zone name if it is one (e.g. "Europe/Berlin"), else None."""
    if not name or name not in _zone_names():
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _zone() -> ZoneInfo:
    return ZoneInfo(_zone_name())


def local_datetime(moment: datetime | None) -> str:
    """A moment as the candidate reads it, in their language and time zone: the locale's long
    date and short time with the zone's name ("30. November 2026 um 15:00 MEZ")."""
    if not isinstance(moment, datetime):  # None, or a template's undefined value
        return ""
    return _local_datetime(moment, str(get_locale() or "en"), _zone_name())


def local_date(moment: datetime | None) -> str:
    """A date as the candidate reads it, in their language and time zone: "4 December 2026"."""
    if not isinstance(moment, datetime):  # None, or a template's undefined value
        return ""
    return _local_date(moment, _date_locale(), _zone_name())


def _zone_name() -> str:
    return g.get("candidate_timezone") or current_app.config["DEFAULT_TIMEZONE"]


# Formatted once per moment, language and zone: an email's text and HTML parts both show its
# interview's time and its link's last day, and Babel parses its patterns on every call.
@lru_cache(maxsize=1024)
def _local_datetime(moment: datetime, locale: str, zone_name: str) -> str:
    zone = ZoneInfo(zone_name)
    local = moment.astimezone(zone)
    clock = format_time(local, "short", tzinfo=zone, locale=locale)
    time_part = f"{clock} {format_time(local, 'zzz', tzinfo=zone, locale=locale)}"
    pattern = get_datetime_format("long", locale=locale)
    text = pattern.replace("{1}", format_date(local, "long", locale=locale)).replace("{0}", time_part)
    return text.replace("'", "")


def _date_locale(locale: Locale | str | None = None) -> str:
    # English dates are written day first ("4 December 2026"), as on the staff pages.
    locale = str(locale or get_locale() or "en")
    return "en_GB" if locale == "en" else locale


@lru_cache(maxsize=1024)
def _local_date(moment: datetime, locale: str, zone_name: str) -> str:
    return format_date(moment.astimezone(ZoneInfo(zone_name)), format="long", locale=locale)


def local_day_month(moment: datetime | None, locale: Locale | str | None = None) -> str:
    """Day and month as the candidate reads them, in their language (the request's, unless the
    caller has it at hand) and time zone: "29 November"."""
    if not isinstance(moment, datetime):
        return ""
    return _day_month(moment.astimezone(_zone()).date(), _date_locale(locale))


@lru_cache(maxsize=1024)
def _day_month(day: date, locale: str) -> str:
    # Babel matches the skeleton against the locale's patterns on every call; the survey page
    # asks for this on every request, and for few distinct days.
    return format_skeleton("MMMMd", day, locale=locale)


def html_language() -> str:
    """The page's language for `<html lang>`: the candidate's, or English on staff pages."""
    return (g.get("candidate_language") or "en").replace("_", "-") if has_request_context() else "en"


def init_i18n(app: Flask) -> None:
    """Compile the catalogs, attach Flask-Babel, and label candidate responses with their language."""
    if valid_timezone(app.config["DEFAULT_TIMEZONE"]) is None:
        raise RuntimeError(
            f"DEFAULT_TIMEZONE must be an IANA time zone such as UTC or Europe/Berlin, "
            f"not {app.config['DEFAULT_TIMEZONE']!r}."
        )
    target = Path(app.instance_path) / "translations"
    compile_catalogs(SOURCE_DIR, target)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    babel.init_app(app, locale_selector=request_locale, timezone_selector=_select_timezone)
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(local_day_month, "local_day_month")
    app.add_template_global(html_language, "html_language")

    @app.after_request
    def content_language(response):
        language = g.get("candidate_language")
        if language:
            response.headers["Content-Language"] = language.replace("_", "-")
        return response
