"""Benchmark: the candidate survey page (GET and POST) under gunicorn, against a bare Flask route.

    python -m bench.survey_http sqlite|postgresql

Both are served by gunicorn with the repository's gunicorn.conf.py and 2 workers in the same
run; the figures that matter are the ratios to the bare route (targets: GET >= 0.5x, POST >= 0.25x).
The load comes from wrk (a C load generator; bench/survey.lua posts each answer to its own
survey link) so that the client is not what limits the bare route: the output names the
generator and compares its CPU time per request with the server's. Without wrk a Python
generator stands in, and the output warns that it understates the ratios.

Settings (environment): BENCH_SECONDS per run (3), BENCH_ROUNDS of bare/survey pairs (3; the
median ratio is reported), BENCH_CONCURRENCY connections (16), BENCH_POST_LINKS survey links
seeded for the POST runs (15000).
"""

from __future__ import annotations

import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from .common import WRK, GunicornServer, LoadResult, database_url, production_env, run_load, run_wrk

SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
POST_LINKS = int(os.environ.get("BENCH_POST_LINKS", "15000"))
# Answers posted before measuring, so each worker has compiled its statements and read the
# question set before the first timed POST (as it has after its first few real answers).
WARM_POSTS = 40
# The Python fallback sends a fixed number of requests instead of running for a time.
FALLBACK_GET_REQUESTS, FALLBACK_POST_REQUESTS = 3000, 1500
FORM = "application/x-www-form-urlencoded"
ANSWERS = {
    "nps": "9",
    "on_time": "4",
    "prepared": "5",
    "fair": "5",
    "went_well": "Clear agenda.",
    "consent": "named",
}


Link = tuple[str, str]  # a survey link's path, and the form token its page carries


def prepare(database: str, links: int) -> list[Link]:
    """Migrate the database and seed invitations already sent; their paths and form tokens."""
    os.environ.update(production_env(database))
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from flask_migrate import upgrade
    from processes import seed_invitations, survey_paths

    from survey import create_app
    from survey.services.accounts import create_user
    from survey.tokens import make_survey_form_token

    app = create_app()
    with app.app_context():
        upgrade()
        recruiter = create_user("bench@example.com", "Bench Recruiter", "recruiter", "bench-password-1")
        paths = survey_paths(seed_invitations(links, recruiter, status="sent"))
        # The token each page carries (what a candidate's browser would send back with the answers).
        return [(path, make_survey_form_token(path.removeprefix("/s/"))) for path in paths]


def page_token(port: int, path: str) -> str:
    """The form token on one survey page, as a browser sees it."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path)
    body = connection.getresponse().read().decode()
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)


def measured(server: GunicornServer, load) -> LoadResult:
    """Run one load against a server and add the server's CPU time to the result."""
    before = server.cpu_seconds()
    result = load()
    result.server_cpu = server.cpu_seconds() - before
    return result


class Runs:
    """The four kinds of run, repeated in rounds: bare GET, survey GET, bare POST, survey POST."""

    def __init__(self, app_server, bare, links: list[Link], folder: Path):
        self.app_server, self.bare, self.first = app_server, bare, links[0][0]
        self.body = urlencode(ANSWERS)
        self.links = links[1:]
        self.folder = folder

    def round(self, number: int) -> dict[str, LoadResult]:
        """One round: each pair in turn, the bare route first, so a pair shares the machine's mood."""
        share = len(self.links) // ROUNDS
        links = self.links[number * share : (number + 1) * share]
        return {
            "bare GET": self._load(self.bare, "/"),
            "survey GET": self._load(self.app_server, self.first),
            "bare POST": self._load(self.bare, "/", [("/", "bare")] * 64),
            "survey POST": self._load(self.app_server, "/", links),
        }

    def _load(self, server: GunicornServer, path: str, post_to: list[Link] | None = None) -> LoadResult:
        """GET `path`, or POST the answers to each of `post_to` once; with wrk when installed."""
        if WRK:
            post = None
            if post_to:
                (self.folder / "paths").write_text("".join(f"{link}\t{token}\n" for link, token in post_to))
                (self.folder / "body").write_text(self.body)
                post = (self.folder / "paths", self.folder / "body")
            reuse = server is self.bare
            return measured(
                server, lambda: run_wrk(server.port, path, SECONDS, CONCURRENCY, post=post, reuse_paths=reuse)
            )
        if post_to:
            headers = {"Content-Type": FORM}
            posts = post_to[:FALLBACK_POST_REQUESTS] * (FALLBACK_POST_REQUESTS // len(post_to) + 1)
            requests = [
                ("POST", target, f"{self.body}&csrf_token={token}", headers)
                for target, token in posts[:FALLBACK_POST_REQUESTS]
            ]
        else:
            requests = [("GET", path, None, {})] * FALLBACK_GET_REQUESTS
        return measured(server, lambda: run_load(server.port, requests, CONCURRENCY))


def generator_line() -> str:
    """Which load generator drives the runs."""
    if WRK:
        version = subprocess.run([WRK, "--version"], capture_output=True, text=True).stdout.split()[:2]
        return (
            f"load generator: {' '.join(version)} ({CONCURRENCY} connections, 2 threads, {SECONDS} s per run)"
        )
    return (
        "load generator: Python threads (wrk not found). It tops out near 2,500 req/s, so the bare "
        "route is client-bound and the ratios below are understated: install wrk."
    )


def report(kind: str, rounds: list[dict[str, LoadResult]]) -> int:
    """Print every run, the per-round ratios, their medians and the generator check."""
    print(f"\n== survey page under gunicorn (2 workers), {kind}, {CONCURRENCY} concurrent connections")
    print(generator_line())
    for number, runs in enumerate(rounds, 1):
        print(f"-- round {number}")
        for label, result in runs.items():
            print("  " + result.line(label))
    get_ratios = [r["survey GET"].rps / r["bare GET"].rps for r in rounds]
    post_ratios = [r["survey POST"].rps / r["bare POST"].rps for r in rounds]
    get_ratio, post_ratio = statistics.median(get_ratios), statistics.median(post_ratios)
    listed = lambda ratios: ", ".join(f"{ratio:.2f}" for ratio in ratios)  # noqa: E731
    print(
        f"GET  ratio {get_ratio:.2f}x (rounds: {listed(get_ratios)})  target >= 0.50x: "
        f"{'ok' if get_ratio >= 0.5 else 'MISSED'}"
    )
    print(
        f"POST ratio {post_ratio:.2f}x (rounds: {listed(post_ratios)})  target >= 0.25x: "
        f"{'ok' if post_ratio >= 0.25 else 'MISSED'}"
    )
    # Server CPU per request hardly depends on how busy the shared machine is: a steadier figure.
    for method in ("GET", "POST"):
        bare_cpu = statistics.median(r[f"bare {method}"].server_us for r in rounds)
        survey_cpu = statistics.median(r[f"survey {method}"].server_us for r in rounds)
        print(
            f"{method:<4} server CPU per request: bare {bare_cpu:.0f} us, survey {survey_cpu:.0f} us: "
            f"{bare_cpu / survey_cpu:.2f}x"
        )
    bare = rounds[0]["bare GET"]
    client, server = bare.cpu_us(bare.generator_cpu), bare.cpu_us(bare.server_cpu)
    outruns = client * 2 < server
    print(
        f"generator check: the client spends {client:.0f} us CPU per bare request, the bare route's "
        f"server {server:.0f} us: {'ok, the server is the limit' if outruns else 'CLIENT-BOUND'}"
    )
    print(f"load average (1, 5, 15 min): {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    failed = sum(result.errors for runs in rounds for result in runs.values())
    if failed:
        print(f"{failed} request(s) failed", file=sys.stderr)
    return 1 if failed or not outruns else 0


def main(kind: str) -> int:
    database = database_url(kind)
    needed = POST_LINKS if WRK else FALLBACK_POST_REQUESTS * ROUNDS
    links = prepare(database, needed + 1 + WARM_POSTS)
    env = production_env(database)
    with (
        GunicornServer("wsgi:app", env) as app_server,
        GunicornServer("bench.bare_app:app", env) as bare,
        tempfile.TemporaryDirectory(prefix="debrief-bench-") as folder,
    ):
        assert page_token(app_server.port, links[0][0]) == links[0][1], "the page carries another form token"
        # Warm both servers (imports, first connections, compiled statements) before measuring.
        run_load(app_server.port, [("GET", links[0][0], None, {})] * 50)
        body, headers = urlencode(ANSWERS), {"Content-Type": FORM}
        warm_posts = [("POST", p, f"{body}&csrf_token={t}", headers) for p, t in links[1 : 1 + WARM_POSTS]]
        assert run_load(app_server.port, warm_posts).errors == 0, "an answer posted to warm up failed"
        run_load(bare.port, [("GET", "/", None, {})] * 50)
        runs = Runs(app_server, bare, links[:1] + links[1 + WARM_POSTS :], Path(folder))
        rounds = [runs.round(number) for number in range(ROUNDS)]
    return report(kind, rounds)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
