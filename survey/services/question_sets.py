"""Question sets as data: check a set's file, store versions, publish, assign stages, pick one.

A set's file (and each stored version's document) has this shape:

    {"name": "Panel", "stages": ["Panel"], "languages": ["en", "de"],
     "questions": [{"key": "panel_fair", "type": "scale", "text": {"en": "…", "de": "…"},
                    "labels": {"en": ["Strongly disagree", "Strongly agree"], "de": [...]}}, ...]}

Every problem of a file is reported with its path (`questions[1].labels.de: missing`) and
nothing is stored unless the whole file is good. A published version never changes: editing
makes a draft, publishing the draft makes the next version.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import QuestionSet, QuestionSetStage, QuestionSetVersion, utcnow
from ..questions import ITEM_TYPES, MIRRORABLE_FIELDS, SCALE_VALUES, localize, pick_language
from ..questions import QuestionSet as LocalizedSet
from .audit import record_event

DEFAULT_DOCUMENT = Path(__file__).resolve().parent.parent / "default_question_set.json"
DEFAULT_STAGE = "default"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OPTION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
# Keys an item cannot take: the consent choice, the form's token, the export's fixed columns.
RESERVED_KEYS = frozenset(
    {"consent", "csrf_token", "month", "position", "department", "stage", "hiring_manager", "recruiter"}
)
MAX_QUESTIONS = 40
MAX_OPTIONS = 12
MAX_TEXT = 500
MAX_LABEL = 80
TOP_FIELDS = {"name", "stages", "languages", "questions"}
ITEM_FIELDS = {"key", "type", "text", "labels", "options", "mirrors"}


class QuestionSetError(ValueError):
    """A set's file or draft with problems; `problems` lists (path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


# --- Checking a file --------------------------------------------------------------------------


def normalize_language(code: Any) -> str | None:
    """A language code as stored ("de", "pt_BR"), or None if Babel does not know it."""
    if not isinstance(code, str) or not code.strip() or len(code) > 20:
        return None
    try:
        return str(Locale.parse(code.strip(), sep="-" if "-" in code else "_"))
    except (ValueError, UnknownLocaleError):
        return None


def _single_line(value: Any, limit: int) -> str | None:
    """A trimmed one-line string of at most `limit` characters, or None."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return None
    return value.strip()


class _Checker:
    """Walks a set's file collecting (path, message) problems and a cleaned copy."""

    def __init__(self, known_types: dict[str, str] | None = None, own_name: str | None = None):
        self.problems: list[tuple[str, str]] = []
        # Item types of keys already published in other sets: a key keeps one type everywhere.
        self.known_types = known_types or {}
        self.own_name = own_name

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def unknown_fields(self, path: str, data: dict, allowed: set[str]) -> None:
        for name in sorted(set(data) - allowed):
            self.problem(f"{path}.{name}" if path else name, "unknown field")

    def document(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.problem("(file)", "must be a JSON object")
            return {}
        self.unknown_fields("", data, TOP_FIELDS)
        name = _single_line(data.get("name"), 100)
        if name is None:
            self.problem(
                "name", "missing" if "name" not in data else "must be a one-line text of 1–100 characters"
            )
        languages = self.languages(data.get("languages"))
        return {
            "name": name,
            "stages": self.stages(data.get("stages", [])),
            "languages": languages,
            "questions": self.questions(data.get("questions"), languages),
        }

    def stages(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            self.problem("stages", "must be a list of stage names")
            return []
        stages: list[str] = []
        for index, stage in enumerate(value):
            clean = _single_line(stage, 100)
            if clean is None:
                self.problem(f"stages[{index}]", "must be a one-line text of 1–100 characters")
            elif clean.lower() in (s.lower() for s in stages):
                self.problem(f"stages[{index}]", f"{clean!r} is listed twice")
            else:
                stages.append(clean)
        return stages

    def languages(self, value: Any) -> list[str]:
        if value is None:
            self.problem("languages", "missing")
            return []
        if not isinstance(value, list) or not value:
            self.problem("languages", 'must be a non-empty list of language codes such as "en"')
            return []
        languages: list[str] = []
        for index, code in enumerate(value):
            clean = normalize_language(code)
            if clean is None:
                self.problem(f"languages[{index}]", f'{code!r} is not a language code such as "en" or "de"')
            elif clean in languages:
                self.problem(f"languages[{index}]", f"{clean!r} is listed twice")
            else:
                languages.append(clean)
        return languages

    def questions(self, value: Any, languages: list[str]) -> list[dict[str, Any]]:
        if value is None:
            self.problem("questions", "missing")
            return []
        if not isinstance(value, list) or not value or len(value) > MAX_QUESTIONS:
            self.problem("questions", f"must be a list of 1–{MAX_QUESTIONS} questions")
            return []
        items, keys = [], set()
        for index, item in enumerate(value):
            clean = self.item(f"questions[{index}]", item, languages)
            key = clean.get("key")
            if key in keys:
                self.problem(f"questions[{index}].key", f"{key!r} is used by another question of this set")
            keys.add(key)
            items.append(clean)
        return items

    def item(self, path: str, item: Any, languages: list[str]) -> dict[str, Any]:
        if not isinstance(item, dict):
            self.problem(path, "must be an object")
            return {}
        self.unknown_fields(path, item, ITEM_FIELDS)
        key, kind = self.key(path, item.get("key")), item.get("type")
        if kind not in ITEM_TYPES:
            self.problem(f"{path}.type", f"must be one of {', '.join(ITEM_TYPES)}")
            kind = None
        elif key and self.known_types.get(key, kind) != kind:
            self.problem(
                f"{path}.type",
                f"the key {key!r} is a {self.known_types[key]} item in another set; "
                "use that type or another key (answers to one key are reported together)",
            )
        clean: dict[str, Any] = {
            "key": key,
            "type": kind,
            "text": self.texts(f"{path}.text", item.get("text"), languages),
        }
        if kind in ("nps", "scale") and ("labels" in item or kind == "scale"):
            clean["labels"] = self.labels(f"{path}.labels", item.get("labels"), languages, kind)
        elif "labels" in item:
            self.problem(f"{path}.labels", "only nps and scale items have labels")
        if kind == "choice":
            clean["options"] = self.options(f"{path}.options", item.get("options"), languages)
        elif "options" in item:
            self.problem(f"{path}.options", "only choice items have options")
        if item.get("mirrors") is not None:
            if item["mirrors"] not in MIRRORABLE_FIELDS:
                self.problem(f"{path}.mirrors", f"must be a debrief field: {', '.join(MIRRORABLE_FIELDS)}")
            else:
                clean["mirrors"] = item["mirrors"]
        return clean

    def key(self, path: str, key: Any) -> str | None:
        if key is None:
            self.problem(f"{path}.key", "missing")
        elif not isinstance(key, str) or not KEY_PATTERN.match(key):
            self.problem(
                f"{path}.key", "must be lower-case letters, digits and _ (up to 40), starting with a letter"
            )
        elif key in RESERVED_KEYS:
            self.problem(f"{path}.key", f"{key!r} is reserved")
        else:
            return key
        return None

    def texts(self, path: str, value: Any, languages: list[str], limit: int = MAX_TEXT) -> dict[str, str]:
        if value is None:
            self.problem(path, "missing")
            return {}
        if not isinstance(value, dict):
            self.problem(path, "must be an object with one text per language")
            return {}
        texts: dict[str, str] = {}
        for language in languages:
            text = value.get(language)
            clean = _single_line(text, limit) if text is not None else None
            if text is None:
                self.problem(f"{path}.{language}", "missing")
            elif clean is None:
                self.problem(f"{path}.{language}", f"must be a one-line text of 1–{limit} characters")
            else:
                texts[language] = clean
        for extra in sorted(set(value) - set(languages)):
            self.problem(f"{path}.{extra}", "not one of the set's languages")
        return texts

    def labels(self, path: str, value: Any, languages: list[str], kind: str) -> dict[str, list[str]]:
        if value is None:
            self.problem(path, "missing")
            return {}
        if not isinstance(value, dict):
            self.problem(path, "must be an object with the labels in each language")
            return {}
        points = len(SCALE_VALUES[kind])
        labels: dict[str, list[str]] = {}
        for language in languages:
            words = value.get(language)
            if words is None:
                self.problem(f"{path}.{language}", "missing")
                continue
            valid = isinstance(words, list) and len(words) in (2, points)
            clean = [_single_line(word, MAX_LABEL) for word in words] if valid else []
            if not valid or any(word is None for word in clean):
                self.problem(
                    f"{path}.{language}",
                    f"must be 2 end labels (or {points}, one per point) of 1–{MAX_LABEL} characters",
                )
            else:
                labels[language] = clean
        for extra in sorted(set(value) - set(languages)):
            self.problem(f"{path}.{extra}", "not one of the set's languages")
        return labels

    def options(self, path: str, value: Any, languages: list[str]) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not 2 <= len(value) <= MAX_OPTIONS:
            self.problem(path, "missing" if value is None else f"must be a list of 2–{MAX_OPTIONS} options")
            return []
        options, seen = [], set()
        for index, option in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(option, dict):
                self.problem(where, "must be an object with value and text")
                continue
            self.unknown_fields(where, option, {"value", "text"})
            code = option.get("value")
            if not isinstance(code, str) or not OPTION_PATTERN.match(code):
                self.problem(f"{where}.value", "must be letters, digits, _ or - (up to 40)")
            elif code in seen:
                self.problem(f"{where}.value", f"{code!r} is used twice")
            seen.add(code)
            options.append(
                {"value": code, "text": self.texts(f"{where}.text", option.get("text"), languages, MAX_LABEL)}
            )
        return options


def known_item_types(except_set: str | None = None) -> dict[str, str]:
    """The type of every item key in the published versions of other sets."""
    statement = (
        select(QuestionSet.name, QuestionSetVersion.document)
        .join(QuestionSetVersion.question_set)
        .where(QuestionSetVersion.status == "published")
        .order_by(QuestionSetVersion.id)
    )
    types: dict[str, str] = {}
    for name, document in db.session.execute(statement):
        if name == except_set:
            continue
        for item in document.get("questions", []):
            types.setdefault(item["key"], item["type"])
    return types


def check_document(data: Any) -> dict[str, Any]:
    """A set's file, cleaned; raises QuestionSetError listing every problem with its path."""
    own = data.get("name") if isinstance(data, dict) else None
    checker = _Checker(known_item_types(except_set=own if isinstance(own, str) else None))
    clean = checker.document(data)
    if checker.problems:
        raise QuestionSetError(checker.problems)
    return clean


def parse_file(text: str) -> Any:
    """A set's file as JSON; a syntax error becomes a problem with its line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise QuestionSetError(
            [("(file)", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from exc


# --- Storing ----------------------------------------------------------------------------------


def body(document: dict[str, Any]) -> dict[str, Any]:
    """What a version stores: the file without its name and stages (those belong to the set)."""
    return {"languages": document["languages"], "questions": document["questions"]}


def find_set(name: str) -> QuestionSet | None:
    """The set with this name."""
    return db.session.scalar(select(QuestionSet).where(QuestionSet.name == name))


def latest_published(question_set: QuestionSet) -> QuestionSetVersion | None:
    """A set's newest published version."""
    return db.session.scalar(
        select(QuestionSetVersion)
        .where(
            QuestionSetVersion.question_set_id == question_set.id, QuestionSetVersion.status == "published"
        )
        .order_by(QuestionSetVersion.number.desc())
        .limit(1)
    )


def _next_number(question_set: QuestionSet) -> int:
    highest = db.session.scalar(
        select(func.max(QuestionSetVersion.number)).where(
            QuestionSetVersion.question_set_id == question_set.id
        )
    )
    return (highest or 0) + 1


def draft_of(question_set: QuestionSet) -> QuestionSetVersion | None:
    """The set's draft, if one is being edited."""
    return db.session.scalar(
        select(QuestionSetVersion).where(
            QuestionSetVersion.question_set_id == question_set.id, QuestionSetVersion.status == "draft"
        )
    )


def assign_stages(question_set: QuestionSet, stages: list[str]) -> list[str]:
    """Make these stages (and "default" for the default set) use this set; returns the stages taken
    from other sets. A stage belongs to one set at most."""
    wanted = {stage.lower(): stage for stage in stages if stage.lower() != DEFAULT_STAGE}
    taken = []
    for row in db.session.scalars(select(QuestionSetStage).where(QuestionSetStage.stage_key.in_(wanted))):
        if row.question_set_id != question_set.id:
            taken.append(row.stage)
        db.session.delete(row)
    for row in list(question_set.stages):
        if row.stage_key not in wanted:
            db.session.delete(row)
    db.session.flush()
    for key, stage in wanted.items():
        db.session.add(QuestionSetStage(stage_key=key, stage=stage, question_set=question_set))
    if any(stage.lower() == DEFAULT_STAGE for stage in stages) and not question_set.is_default:
        for other in db.session.scalars(select(QuestionSet).where(QuestionSet.is_default.is_(True))):
            other.is_default = False
            taken.append(f"default (from {other.name})")
        db.session.flush()
        question_set.is_default = True
    return taken


def stage_list(question_set: QuestionSet) -> list[str]:
    """The set's stages as the file writes them ("default" first for the default set)."""
    return ([DEFAULT_STAGE] if question_set.is_default else []) + [row.stage for row in question_set.stages]


@dataclass
class ImportResult:
    """What an import stored."""

    name: str
    number: int
    created: bool
    stages_taken: list[str]
    unchanged: bool = False


def import_document(data: Any, actor: Any = None, actor_label: str | None = None) -> ImportResult:
    """Create and publish a set from its file, or publish the file as the set's next version. Commits."""
    document = check_document(data)
    question_set = find_set(document["name"])
    created = question_set is None
    if created:
        question_set = QuestionSet(name=document["name"])
        db.session.add(question_set)
        db.session.flush()
    newest = None if created else latest_published(question_set)
    if newest is not None and newest.document == body(document):
        # The same file again (a deploy script re-run): no new version, stages as the file says.
        taken = assign_stages(question_set, document["stages"])
        db.session.commit()
        return ImportResult(question_set.name, newest.number, False, taken, unchanged=True)
    version = QuestionSetVersion(
        question_set=question_set,
        number=_next_number(question_set),
        status="published",
        document=body(document),
        published_at=utcnow(),
    )
    db.session.add(version)
    taken = assign_stages(question_set, document["stages"])
    db.session.flush()
    record_event(
        "question_sets.import",
        {"name": question_set.name, "version": version.number, "stages": document["stages"]},
        actor=actor,
        actor_label=actor_label,
    )
    db.session.commit()
    return ImportResult(question_set.name, version.number, created, taken)


# --- Drafts (the admin pages) -------------------------------------------------------------------

BLANK_ITEMS = {
    "nps": {"type": "nps"},
    "scale": {"type": "scale", "labels": {}},
    "choice": {"type": "choice", "options": []},
    "text": {"type": "text"},
}


def start_draft(source: QuestionSet, new_name: str | None = None, actor: Any = None) -> QuestionSetVersion:
    """A draft copied from a set's newest version: of the same set, or of a new set called `new_name`
    (which has no stage until one is assigned). An existing draft of the target set is returned as is.
    Commits."""
    base = latest_published(source) or draft_of(source)
    document = copy.deepcopy(base.document) if base else {"languages": ["en"], "questions": []}
    target = source
    if new_name and new_name != source.name:
        clean = _single_line(new_name, 100)
        if clean is None:
            raise QuestionSetError([("name", "must be a one-line text of 1–100 characters")])
        if find_set(clean) is not None:
            raise QuestionSetError([("name", f"a set called {clean!r} already exists")])
        target = QuestionSet(name=clean)
        db.session.add(target)
        db.session.flush()
    existing = draft_of(target)
    if existing is not None:
        return existing
    draft = QuestionSetVersion(
        question_set=target, number=_next_number(target), status="draft", document=document
    )
    db.session.add(draft)
    record_event("question_sets.draft", {"name": target.name, "from": source.name}, actor=actor)
    db.session.commit()
    return draft


def _editable(draft: QuestionSetVersion) -> None:
    if draft.status != "draft":
        # The promise every link relies on: a published version never changes.
        raise QuestionSetError([("(version)", "a published version cannot be changed; copy it into a draft")])


def save_draft(
    draft: QuestionSetVersion, document: dict[str, Any], actor: Any = None
) -> list[tuple[str, str]]:
    """Store a draft as edited (it may still be incomplete); returns what would stop it being
    published. Commits."""
    _editable(draft)
    draft.document = document
    record_event("question_sets.edit", {"name": draft.question_set.name, "draft": draft.number}, actor=actor)
    db.session.commit()
    return draft_problems(draft)


def draft_problems(draft: QuestionSetVersion) -> list[tuple[str, str]]:
    """What stops a draft being published, each with its path."""
    question_set = draft.question_set
    try:
        check_document({"name": question_set.name, "stages": stage_list(question_set), **draft.document})
    except QuestionSetError as exc:
        return exc.problems
    return []


def publish_draft(draft: QuestionSetVersion, actor: Any = None) -> QuestionSetVersion:
    """Publish a complete draft as the set's next version; raises QuestionSetError otherwise. Commits."""
    _editable(draft)
    problems = draft_problems(draft)
    if problems:
        raise QuestionSetError(problems)
    question_set = draft.question_set
    highest = db.session.scalar(
        select(func.max(QuestionSetVersion.number)).where(
            QuestionSetVersion.question_set_id == question_set.id, QuestionSetVersion.id != draft.id
        )
    )
    # Numbered after every other version (an import may have published one meanwhile).
    draft.number = (highest or 0) + 1
    draft.status = "published"
    draft.published_at = utcnow()
    record_event("question_sets.publish", {"name": question_set.name, "version": draft.number}, actor=actor)
    db.session.commit()
    return draft


def set_stages(question_set: QuestionSet, stages: list[str], actor: Any = None) -> list[str]:
    """Assign stages (and "default") to a set, as the admin page asks; returns stages taken from
    other sets. Commits."""
    checker = _Checker()
    clean = checker.stages(stages)
    if checker.problems:
        raise QuestionSetError(checker.problems)
    if question_set.is_default and DEFAULT_STAGE not in (stage.lower() for stage in clean):
        raise QuestionSetError([("stages", "the default set stays the default until another set takes it")])
    if any(stage.lower() == DEFAULT_STAGE for stage in clean) and latest_published(question_set) is None:
        raise QuestionSetError([("stages", "publish a version before making this set the default")])
    taken = assign_stages(question_set, clean)
    record_event("question_sets.stages", {"name": question_set.name, "stages": clean}, actor=actor)
    db.session.commit()
    return taken


def export_document(name: str, number: int | None = None) -> dict[str, Any]:
    """A set's version (the newest published one by default) in the import file's shape."""
    question_set = find_set(name)
    if question_set is None:
        raise LookupError(f"No question set is called {name!r}.")
    if number is None:
        version = latest_published(question_set)
    else:
        version = db.session.scalar(
            select(QuestionSetVersion).where(
                QuestionSetVersion.question_set_id == question_set.id, QuestionSetVersion.number == number
            )
        )
    if version is None:
        raise LookupError(
            f"{name!r} has no version {number}." if number else f"{name!r} has no published version."
        )
    return {"name": question_set.name, "stages": stage_list(question_set), **version.document}


def list_sets() -> list[QuestionSet]:
    """Every set, default first, with versions and stages loaded."""
    statement = (
        select(QuestionSet)
        .options(selectinload(QuestionSet.versions), selectinload(QuestionSet.stages))
        .order_by(QuestionSet.is_default.desc(), QuestionSet.name)
    )
    return list(db.session.scalars(statement))


def shipped_default(language: str = "en") -> LocalizedSet:
    """The shipped default set (version id 1) read from its file, without the database."""
    document = json.loads(DEFAULT_DOCUMENT.read_text(encoding="utf-8"))
    return localize(document, pick_language(language, document["languages"]), 1, name=document["name"])


def seed_default_set() -> QuestionSetVersion:
    """Store the shipped default set (v1 of DESIGN, in en/de/fr/es) unless a default exists.

    Migrations do this for real databases; tests that build the schema directly call it.
    """
    existing = db.session.scalar(select(QuestionSet).where(QuestionSet.is_default.is_(True)))
    if existing is not None:
        return latest_published(existing)
    document = json.loads(DEFAULT_DOCUMENT.read_text(encoding="utf-8"))
    question_set = QuestionSet(name=document["name"], is_default=True)
    version = QuestionSetVersion(
        question_set=question_set,
        number=1,
        status="published",
        document=body(document),
        published_at=utcnow(),
    )
    db.session.add_all([question_set, version])
    db.session.commit()
    return version


# --- Choosing and showing ---------------------------------------------------------------------


def version_for_stage(stage: str) -> QuestionSetVersion:
    """The version a new invitation at this stage gets: its set's newest, else the default's."""
    assigned = db.session.scalar(
        select(QuestionSetStage).where(QuestionSetStage.stage_key == stage.strip().lower())
    )
    version = latest_published(assigned.question_set) if assigned is not None else None
    if version is None:
        default = db.session.scalar(select(QuestionSet).where(QuestionSet.is_default.is_(True)))
        version = latest_published(default) if default is not None else None
    if version is None:
        raise LookupError("No default question set is published; run `flask --app wsgi db upgrade`.")
    return version


def language_warning(version: QuestionSetVersion, language: str) -> str | None:
    """Why a candidate will not see the set in their language, or None when they will."""
    shown = pick_language(language, version.languages)
    if shown == language or shown == language.split("_")[0]:
        return None
    return (
        f"The question set {version.question_set.name!r} does not speak {language!r}; "
        f"the candidate will see it in {shown!r}."
    )


# The sets this process has shown, by "version id:language": a survey sent back while the
# database is down is shown again with the questions it had.
_RECENT: dict[str, LocalizedSet] = {}


def questions_for(version: QuestionSetVersion, language: str) -> LocalizedSet:
    """A version's questions in the candidate's language (or the set's first language)."""
    shown = pick_language(language, version.languages)
    questions = _localized(
        version.id, _frozen(version.document), shown, version.question_set.name, version.number
    )
    if len(_RECENT) < 1000:
        _RECENT[f"{version.id}:{shown}"] = questions
    return questions


@lru_cache(maxsize=256)
def published_questions(version_id: int, published_at: datetime, language: str) -> LocalizedSet:
    """`questions_for` a published version, read from the database once per process.

    A published version never changes, so the survey page need not read (and re-serialize) its
    document on every request; its publication time is part of the key, so another database's
    version under the same id (a test's, a restored copy's) is not taken for it.
    """
    return questions_for(db.session.get(QuestionSetVersion, version_id), language)


def remembered_questions(reference: str) -> LocalizedSet:
    """The questions last shown under "version id:language", without the database; the shipped
    default set when this process has not shown them (answers to the same keys are kept)."""
    if reference in _RECENT:
        return _RECENT[reference]
    return shipped_default(reference.partition(":")[2])


def _frozen(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


@lru_cache(maxsize=256)
def _localized(version_id: int, document: str, language: str, name: str, number: int) -> LocalizedSet:
    # Keyed by the document's text too: a published version never changes, but a test database
    # (or a draft preview) may reuse an id for other content.
    return localize(json.loads(document), language, version_id, name=name, number=number)
