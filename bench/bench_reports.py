"""Benchmark of the HR reports at several database sizes (run by `make bench-reports`).

    python -m bench.bench_reports sqlite|postgresql [INTERVIEWS ...]      (default: 10000 100000 1000000)

For each size, a database seeded by `demo seed --interviews N` (made once, then reused while the
schema stays the same: SQLite files /tmp/debrief-bench-N-HEAD.sqlite, PostgreSQL databases
debrief_bench_N_HEAD on BENCH_DATABASE_URL or a throwaway server, HEAD being the migration head),
then the median time of GET /reports unfiltered and filtered over several
runs, printed as one table per database with the growth from each size to the next. At the
first size it also measures how the Python heap and resident memory grow while the CSV export
of every response streams. Targets: under 300 ms at 100k on SQLite, under 500 ms at 1M on
PostgreSQL, growing less than the data.
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import statistics
import subprocess
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import func, select

from config import DevelopmentConfig

from .common import ROOT, free_port

HR_EMAIL, PASSWORD = "hana.kim@example.com", "debrief-demo"
URLS = (("unfiltered", "/reports"), ("filtered", "/reports?department=Engineering&stage=Onsite"))
TARGETS_MS = {("sqlite", 100_000): 300, ("postgresql", 1_000_000): 500}


class BenchConfig(DevelopmentConfig):
    """The development settings, minus CSRF and throttling, for a scripted client."""

    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False


def rss_mb() -> float:
    """Current resident set size of this process, in MB (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1024 / 1024


def time_reports(client, url: str, runs: int) -> list[float]:
    """Milliseconds per GET of the reports page."""
    client.get(url)  # warm up: connection, templates, compiled SQL
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return timings


def export_memory(client) -> tuple[int, float, float]:
    """Stream the CSV export of every response; (bytes, tracemalloc peak MB, peak RSS growth MB).

    RSS is sampled every 100 chunks while the export streams; tracemalloc runs in a second
    pass so its own bookkeeping does not count towards the RSS figure.
    """
    rss_before = rss_peak = rss_mb()
    size = 0
    response = client.get("/reports/export.csv?part=responses", buffered=False)
    for index, chunk in enumerate(response.response):
        size += len(chunk)
        if index % 100 == 0:
            rss_peak = max(rss_peak, rss_mb())
    rss_peak = max(rss_peak, rss_mb())
    tracemalloc.start()
    response = client.get("/reports/export.csv?part=responses", buffered=False)
    for _ in response.response:
        pass
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, heap_peak / 1024 / 1024, rss_peak - rss_before


def schema_tag() -> str:
    """The migration head: a database seeded under an older schema (and older seed) is not reused."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


class Databases:
    """Where the database of each size lives; PostgreSQL ones on one server for the whole run."""

    def __init__(self, kind: str):
        self.kind = kind
        self.tag = schema_tag()
        self.server = os.environ.get("BENCH_DATABASE_URL")
        if kind == "postgresql" and not self.server:
            folder = Path("/tmp/debrief-bench-pg")
            folder.mkdir(exist_ok=True)
            pg_temp = [str(ROOT / "scripts" / "pg-temp")]
            command = [*pg_temp, "start", str(folder), str(free_port())]
            self.server = subprocess.check_output(command, text=True).strip()
            # Stopped at the end (its databases stay in the folder for the next run); a server left
            # running would make the next run's start fail.
            atexit.register(subprocess.run, [*pg_temp, "stop", str(folder)], check=False)

    def url(self, interviews: int) -> str:
        """The URL of the database for this size (created empty on PostgreSQL if missing)."""
        if self.kind == "sqlite":
            folder = os.environ.get("BENCH_DB_DIR", "/tmp")
            return f"sqlite:///{folder}/debrief-bench-{interviews}-{self.tag}.sqlite"
        from sqlalchemy import create_engine, make_url, text

        name = f"debrief_bench_{interviews}_{self.tag}"
        admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)


def ensure_seeded(app, interviews: int) -> tuple[int, float | None]:
    """Migrate and seed the database once; (responses, seconds the seed took, None if reused)."""
    from flask_migrate import upgrade

    from survey.extensions import db
    from survey.models import Interview, Response
    from survey.services.demo import seed_demo

    with app.app_context():
        upgrade()
        seconds = None
        present = db.session.scalar(select(func.count()).select_from(Interview))
        if present not in (0, interviews):
            where = app.config["SQLALCHEMY_DATABASE_URI"]
            raise SystemExit(f"{where} holds {present} interviews, not {interviews}: delete it")
        if not present:
            began = time.perf_counter()
            seed_demo(interviews=interviews)
            seconds = time.perf_counter() - began
        responses = db.session.scalar(select(func.count()).select_from(Response))
        db.session.remove()
    return responses, seconds


def measure(kind: str, url: str, interviews: int, runs: int, export: bool) -> dict:
    """Seed if needed, then time the reports page; one row of the table."""
    from survey import create_app

    config = type("ScaleConfig", (BenchConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    app = create_app(config)
    responses, seed_seconds = ensure_seeded(app, interviews)
    client = app.test_client()
    login = client.post("/login", data={"email": HR_EMAIL, "password": PASSWORD})
    assert login.status_code == 302, "sign-in failed: the database was not seeded by `demo seed`"
    row = {"interviews": interviews, "responses": responses, "seed": seed_seconds}
    for label, path in URLS:
        row[label] = statistics.median(time_reports(client, path, runs))
    if export:
        row["export"] = export_memory(client)
    with app.app_context():
        from survey.extensions import db

        db.engine.dispose()
    return row


def print_table(kind: str, rows: list[dict], runs: int) -> bool:
    """One line per size: medians, growth from the previous size, the target where there is one."""
    print(f"\n== /reports on {kind}: median of {runs} runs per figure")
    header = f"{'interviews':>10} {'responses':>10} {'unfiltered ms':>14} {'filtered ms':>12} {'growth':>16}"
    print(f"{header}  target")
    ok = True
    previous = None
    for row in rows:
        growth = ""
        if previous:
            data = row["interviews"] / previous["interviews"]
            growth = f"{row['unfiltered'] / previous['unfiltered']:.1f}x for {data:.0f}x data"
        target = TARGETS_MS.get((kind, row["interviews"]))
        verdict = ""
        if target:
            met = max(row["unfiltered"], row["filtered"]) < target
            ok = ok and met
            verdict = f"< {target} ms: {'ok' if met else 'MISSED'}"
        print(
            f"{row['interviews']:>10,} {row['responses']:>10,} {row['unfiltered']:>14.0f} "
            f"{row['filtered']:>12.0f} {growth:>16}  {verdict}"
        )
        previous = row
    for row in rows:
        if row["seed"] is not None:
            print(f"`demo seed --interviews {row['interviews']}` took {row['seed']:.0f} s")
        if "export" in row:
            size, heap, rss = row["export"]
            print(
                f"CSV export of all {row['responses']:,} responses ({row['interviews']:,} interviews): "
                f"{size / 1024 / 1024:.1f} MB streamed; Python heap peak {heap:.1f} MB; "
                f"peak RSS growth {rss:.1f} MB"
            )
    print(f"load average (1, 5, 15 min): {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    return ok


def main() -> int:
    """Measure every size on one kind of database and print the table."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("kind", choices=("sqlite", "postgresql"))
    parser.add_argument("interviews", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    databases = Databases(args.kind)
    rows = [
        measure(args.kind, databases.url(size), size, args.runs, export=index == 0)
        for index, size in enumerate(sorted(args.interviews))
    ]
    return 0 if print_table(args.kind, rows, args.runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
