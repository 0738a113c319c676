"""The draft editor's form: a set's document read from posted fields, and the editing actions.

One form posts the whole draft: `languages`, then per item i: `q-i-key`, `q-i-type`,
`q-i-mirrors`, `q-i-text-<lang>`, `q-i-labels-<lang>` (labels separated by "|") and, for a choice,
`q-i-options` (one option a line: value | text in each language, in the set's language order).
The button pressed says what else to do: save, add-<type>, remove-i, up-i, down-i, publish.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from ..services.question_sets import BLANK_ITEMS, normalize_language

MAX_ITEMS = 40
ACTION = re.compile(r"^(save|publish|add-(?:nps|scale|choice|text)|(?:remove|up|down)-\d{1,2})$")


def _languages(form: MultiDict, fallback: list[str]) -> list[str]:
    codes = [code.strip() for code in form.get("languages", "").replace(";", ",").split(",") if code.strip()]
    # An unknown code is kept as typed, so the problem list names it rather than it vanishing.
    languages = [normalize_language(code) or code for code in codes[:12]]
    return list(dict.fromkeys(languages)) or fallback


def _labels(form: MultiDict, prefix: str, languages: list[str]) -> dict[str, list[str]]:
    labels = {}
    for language in languages:
        raw = form.get(f"{prefix}-labels-{language}", "")
        words = [word.strip() for word in raw.split("|")]
        if raw.strip():
            labels[language] = words
    return labels


def _options(form: MultiDict, prefix: str, languages: list[str]) -> list[dict[str, Any]]:
    options = []
    for line in form.get(f"{prefix}-options", "").splitlines():
        if not line.strip():
            continue
        value, *texts = (part.strip() for part in line.split("|"))
        text = {language: texts[index] for index, language in enumerate(languages) if index < len(texts)}
        options.append({"value": value, "text": {k: v for k, v in text.items() if v}})
    return options


def _item(form: MultiDict, index: int, languages: list[str]) -> dict[str, Any]:
    prefix = f"q-{index}"
    kind = form.get(f"{prefix}-type", "text")
    item: dict[str, Any] = {"key": form.get(f"{prefix}-key", "").strip(), "type": kind}
    item["text"] = {
        language: form.get(f"{prefix}-text-{language}", "").strip()
        for language in languages
        if form.get(f"{prefix}-text-{language}", "").strip()
    }
    if kind in ("nps", "scale"):
        labels = _labels(form, prefix, languages)
        if labels or kind == "scale":
            item["labels"] = labels
    if kind == "choice":
        item["options"] = _options(form, prefix, languages)
    if form.get(f"{prefix}-mirrors"):
        item["mirrors"] = form.get(f"{prefix}-mirrors")
    return item


def document_from_form(form: MultiDict, current: dict[str, Any]) -> dict[str, Any]:
    """The draft as posted (not yet checked: a draft may be incomplete)."""
    languages = _languages(form, current.get("languages", ["en"]))
    count = min(form.get("count", 0, type=int) or 0, MAX_ITEMS)
    return {"languages": languages, "questions": [_item(form, index, languages) for index in range(count)]}


def apply_action(document: dict[str, Any], action: str) -> dict[str, Any]:
    """The document after an add, remove or move; save and publish leave it as it is."""
    questions = list(document["questions"])
    verb, _, argument = action.partition("-")
    if verb == "add" and len(questions) < MAX_ITEMS:
        taken = {item.get("key") for item in questions}
        number = next(n for n in range(1, MAX_ITEMS + 2) if f"new_{argument}_{n}" not in taken)
        questions.append({"key": f"new_{argument}_{number}", "text": {}, **BLANK_ITEMS[argument]})
    elif verb in ("remove", "up", "down") and argument.isdigit() and int(argument) < len(questions):
        index = int(argument)
        if verb == "remove":
            questions.pop(index)
        else:
            other = index - 1 if verb == "up" else index + 1
            if 0 <= other < len(questions):
                questions[index], questions[other] = questions[other], questions[index]
    return {**document, "questions": questions}


def form_values(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each item as the editor's inputs show it (labels and options as text)."""
    languages = document.get("languages", [])
    rows = []
    for item in document.get("questions", []):
        labels = {language: " | ".join(item.get("labels", {}).get(language, [])) for language in languages}
        options = "\n".join(
            " | ".join(
                [option.get("value", ""), *(option.get("text", {}).get(lang, "") for lang in languages)]
            )
            for option in item.get("options", [])
        )
        rows.append({**item, "label_text": labels, "option_text": options})
    return rows
