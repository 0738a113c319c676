"""The layers hold: services never import reports nor reports services, and only services commit.

Both rules are checked on the source with `ast`, so an import inside a function or a commit on any
session object counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "survey"
# The reports audience's blueprint lives beside the reports it shows; like every view it parses
# the request and calls services (docs/architecture.md: "reports/ but its views").
VIEWS = {"survey.reports.views"}


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (`survey.services.audit`, `survey.reports`)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _package_of(module: str, path: Path) -> str:
    """The package a module's relative imports start from."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imported(module: str, path: Path, known: set[str] = frozenset()) -> set[str]:
    """The modules a module imports anywhere in its body, relative imports made absolute (`known`:
    the package's modules, to tell `from . import reports` from `from .x import name`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(module, path).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            # `from . import reports` names a module in the alias, not in `module`
            names.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _crossings(source: str, target: str) -> list[str]:
    """Each `module -> imported` edge from the `source` package into the `target` package."""
    modules = _modules()
    return sorted(
        f"{module} -> {name}"
        for module, path in modules.items()
        if _within(module, source) and module not in VIEWS
        for name in _imported(module, path, set(modules))
        if _within(name, target)
    )


def test_the_import_walker_sees_relative_function_level_and_from_package_imports(tmp_path):
    """Guard the guard: the walker resolves every spelling of an import the layer tests rely on."""
    package = tmp_path / "survey" / "services"
    package.mkdir(parents=True)
    module = package / "sample.py"
    module.write_text(
        "from ..reports.cells import x\n"
        "from .. import reports\n"
        "import survey.reports.facts\n"
        "def later():\n"
        "    from ..reports import privacy\n"
    )
    known = {"survey.reports", "survey.reports.privacy", "survey.reports.facts"}
    names = _imported("survey.services.sample", module, known)
    assert {"survey.reports.cells", "survey.reports", "survey.reports.facts"} <= names
    assert "survey.reports.privacy" in names


def test_services_do_not_import_reports():
    """Services write; reports read. A service needing a report's helper means the helper is misplaced."""
    assert _crossings("survey.services", "survey.reports") == []


def test_reports_do_not_import_services():
    """Reports are read-only, so they have no reason to reach into the code that writes."""
    assert _crossings("survey.reports", "survey.services") == []


def _commits(path: Path) -> list[int]:
    """Line numbers of every `<anything>.commit(...)` call in a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
    ]


def test_only_services_commit():
    """The transaction boundary is a service's: views, reports, commands and helpers never commit."""
    offenders = [
        f"{module}:{line}"
        for module, path in _modules().items()
        if not _within(module, "survey.services")
        for line in _commits(path)
    ]
    assert offenders == []


REQUEST_STATE = {"request", "session", "g", "flash"}


def _request_readers(path: Path) -> list[str]:
    """What a module imports that reads the request or the signed-in user."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            found += [f"flask.{a.name}" for a in node.names if a.name in REQUEST_STATE]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flask_login"):
            found += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("flask_login")]
    return found


def test_services_never_read_the_request_or_the_signed_in_user():
    """The actor and what a request carries are a service's arguments, so it runs the same from a
    view, a command or a worker."""
    offenders = [
        f"{module}: {name}"
        for module, path in _modules().items()
        if _within(module, "survey.services")
        for name in _request_readers(path)
    ]
    assert offenders == []
