"""Where one `GET /reports` spends its time, on a database seeded by `bench.bench_reports`.

    python -m bench.profile_reports sqlite|postgresql INTERVIEWS [URL ...] [--runs N] [--cprofile]

For each URL (default: the benchmark's unfiltered and filtered pages): the median wall and CPU
time of the request in-process, then every SQL statement it sent, each run again on its own
connection (best of three, fetching every row), slowest first with the rows it returned, and on
SQLite the query plan of the slow ones (EXPLAIN QUERY PLAN). Replaying statements one by one
matters on SQLite: a statement does its work while its rows are fetched, so timing the
`execute` call alone shows almost nothing. `--cprofile` adds the functions with the most own time.

The database must exist already (run `python -m bench.bench_reports KIND INTERVIEWS` once).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time

from sqlalchemy import create_engine, event

from .bench_reports import HR_EMAIL, PASSWORD, URLS, BenchConfig, Databases

SLOW_MS = 2.0  # statements slower than this get their plan printed (SQLite)


def timed_requests(client, url: str, runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of a GET, after one warm-up."""
    client.get(url)
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        assert client.get(url).status_code == 200
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return 1000 * statistics.median(walls), 1000 * statistics.median(cpus)


def statements_of(app, client, url: str) -> list[tuple[str, object]]:
    """The statements one GET sends, with their parameters, in order."""
    from survey.extensions import db

    sent: list[tuple[str, object]] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def replay(url: str, sent: list[tuple[str, object]], kind: str) -> None:
    """Run each statement again alone (best of three, every row fetched) and print the slowest."""
    connection = create_engine(url).raw_connection()
    cursor = connection.cursor()
    timings = []
    for statement, parameters in sent:
        best, rows = float("inf"), 0
        for _ in range(3):
            start = time.perf_counter()
            cursor.execute(statement, parameters)
            rows = len(cursor.fetchall()) if cursor.description else 0
            best = min(best, time.perf_counter() - start)
        timings.append((1000 * best, rows, statement, parameters))
    total = sum(ms for ms, *_ in timings)
    print(f"  {len(sent)} statements, {total:.1f} ms replayed one by one")
    for ms, rows, statement, parameters in sorted(timings, key=lambda timing: -timing[0])[:12]:
        print(f"  {ms:7.2f} ms {rows:6d} rows  {' '.join(statement.split())[:160]}")
        if kind == "sqlite" and ms >= SLOW_MS:
            for plan in cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall():
                print(f"  {'':18} plan: {plan[-1]}")
    connection.close()


def main() -> int:
    """Profile the reports page at one size."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("kind", choices=("sqlite", "postgresql"))
    parser.add_argument("interviews", type=int)
    parser.add_argument("urls", nargs="*", default=[path for _, path in URLS])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    from survey import create_app

    url = Databases(args.kind).url(args.interviews)
    app = create_app(type("ProfileConfig", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    client = app.test_client()
    login = client.post("/login", data={"email": HR_EMAIL, "password": PASSWORD})
    assert login.status_code == 302, "sign-in failed: seed the database with bench.bench_reports first"
    for path in args.urls:
        wall, cpu = timed_requests(client, path, args.runs)
        print(f"\n{path}: median of {args.runs}: {wall:.0f} ms wall, {cpu:.0f} ms CPU")
        replay(url, statements_of(app, client, path), args.kind)
        if args.cprofile:
            profiler = cProfile.Profile()
            profiler.runcall(client.get, path)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    print(f"load average (1, 5, 15 min): {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
