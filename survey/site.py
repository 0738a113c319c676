"""Site-wide files: robots.txt, the favicon, and fingerprinted static URLs with a long cache."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, redirect, request, url_for

bp = Blueprint("site", __name__)

# A year: a fingerprinted URL names one version of a file, so it never needs checking again.
IMMUTABLE = "public, max-age=31536000, immutable"


@bp.get("/robots.txt")
def robots_txt():
    """Nothing here is for search engines: survey links and staff pages alike."""
    return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools that ask for the classic path get the SVG icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@lru_cache(maxsize=256)
def _fingerprint(path: str, mtime_ns: int) -> str:
    """A short hash of a static file's content (recomputed only when the file changes)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_fingerprint(filename: str) -> str | None:
    """The fingerprint of a file in the static folder, or None if there is no such file."""
    folder = Path(current_app.static_folder or "").resolve()
    path = (folder / filename).resolve()
    if folder not in path.parents or not path.is_file():
        return None
    return _fingerprint(str(path), path.stat().st_mtime_ns)


def add_fingerprint(endpoint: str, values: dict) -> None:
    """url_for('static', filename=…) gains ?v=<content hash>: a new file is a new URL."""
    if endpoint == "static" and "filename" in values and "v" not in values:
        fingerprint = static_fingerprint(values["filename"])
        if fingerprint:
            values["v"] = fingerprint


def cache_fingerprinted(response: Response) -> Response:
    """A static file asked for by its current fingerprint may be cached for a year, unchecked."""
    if request.endpoint != "static" or response.status_code != 200:
        return response
    filename = (request.view_args or {}).get("filename", "")
    if request.args.get("v") and request.args.get("v") == static_fingerprint(filename):
        response.headers["Cache-Control"] = IMMUTABLE
    return response


def init_site(app: Flask) -> None:
    """Register robots.txt, the favicon and static fingerprinting."""
    app.register_blueprint(bp)
    app.url_defaults(add_fingerprint)
    app.after_request(cache_fingerprinted)
