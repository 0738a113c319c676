"""Benchmark: the candidate survey page (GET and POST) under gunicorn, against a bare Flask route.

    python -m bench.survey_http sqlite|postgresql

Both are served by gunicorn with the repository's gunicorn.conf.py and 2 workers in the same
run; the figures that matter are the ratios to the bare route (targets: GET >= 0.5x, POST >= 0.25x).
"""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import urlencode

from .common import GunicornServer, database_url, production_env, run_load

GET_REQUESTS = int(os.environ.get("BENCH_GET_REQUESTS", "3000"))
POST_REQUESTS = int(os.environ.get("BENCH_POST_REQUESTS", "1500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
FORM = "application/x-www-form-urlencoded"
ANSWERS = {
    "nps": "9",
    "on_time": "4",
    "prepared": "5",
    "fair": "5",
    "went_well": "Clear agenda.",
    "consent": "named",
}


def prepare(database: str) -> list[str]:
    """Migrate the database and seed invitations already sent; their survey paths."""
    os.environ.update(production_env(database))
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from flask_migrate import upgrade
    from processes import seed_invitations, survey_paths

    from survey import create_app
    from survey.services.accounts import create_user

    app = create_app()
    with app.app_context():
        upgrade()
        recruiter = create_user("bench@example.com", "Bench Recruiter", "recruiter", "bench-password-1")
        return survey_paths(seed_invitations(POST_REQUESTS + 1, recruiter, status="sent"))


def session_and_token(port: int, path: str) -> tuple[str, str]:
    """One candidate visit: its session cookie and the form's CSRF token (reused by every POST)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    return cookie, token


def main(kind: str) -> int:
    database = database_url(kind)
    paths = prepare(database)
    env = production_env(database)
    with GunicornServer("wsgi:app", env) as app_server, GunicornServer("bench.bare_app:app", env) as bare:
        cookie, token = session_and_token(app_server.port, paths[0])
        body = urlencode({"csrf_token": token, **ANSWERS})
        headers = {"Content-Type": FORM, "Cookie": cookie}
        # Warm both servers (imports, first connections) before measuring.
        run_load(app_server.port, [("GET", paths[0], None, {})] * 50, CONCURRENCY)
        run_load(bare.port, [("GET", "/", None, {})] * 50, CONCURRENCY)

        bare_get = run_load(bare.port, [("GET", "/", None, {})] * GET_REQUESTS, CONCURRENCY)
        survey_get = run_load(app_server.port, [("GET", paths[0], None, {})] * GET_REQUESTS, CONCURRENCY)
        bare_post = run_load(bare.port, [("POST", "/", body, headers)] * POST_REQUESTS, CONCURRENCY)
        survey_post = run_load(
            app_server.port, [("POST", path, body, headers) for path in paths[1:]], CONCURRENCY
        )

    print(f"\n== survey page under gunicorn (2 workers), {kind}, {CONCURRENCY} concurrent clients")
    print(bare_get.line("bare Flask route GET"))
    print(survey_get.line("survey page GET"))
    print(bare_post.line("bare Flask route POST"))
    print(survey_post.line("survey answers POST"))
    get_ratio, post_ratio = survey_get.rps / bare_get.rps, survey_post.rps / bare_post.rps
    print(f"GET  ratio {get_ratio:.2f}x  (target >= 0.50x) {'ok' if get_ratio >= 0.5 else 'MISSED'}")
    print(f"POST ratio {post_ratio:.2f}x  (target >= 0.25x) {'ok' if post_ratio >= 0.25 else 'MISSED'}")
    failed = survey_get.errors + survey_post.errors + bare_get.errors + bare_post.errors
    if failed:
        print(f"{failed} request(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
