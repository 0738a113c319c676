"""Benchmark of the HR reports on a large database (run by `make bench`).

Measures the median time of GET /reports over several runs, and how much the Python heap
(tracemalloc peak) and the process's resident memory grow while the CSV export of every
response streams. Uses the database in DATABASE_URL, seeded by `demo seed --interviews 100000`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

from sqlalchemy import func, select

from config import DevelopmentConfig
from survey import create_app
from survey.extensions import db
from survey.models import Response

HR_EMAIL, PASSWORD = "hana.kim@example.com", "debrief-demo"


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


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    app = create_app(BenchConfig)
    client = app.test_client()
    with app.app_context():
        responses = db.session.scalar(select(func.count()).select_from(Response))
    login = client.post("/login", data={"email": HR_EMAIL, "password": PASSWORD})
    assert login.status_code == 302, "sign-in failed: seed the database with `demo seed` first"
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI']} ({responses} responses)")
    for url in ("/reports", "/reports?department=Engineering&stage=Onsite"):
        timings = time_reports(client, url, args.runs)
        print(
            f"GET {url}: median {statistics.median(timings):.0f} ms "
            f"(min {min(timings):.0f}, max {max(timings):.0f}, {args.runs} runs)"
        )
    size, heap_peak, rss_growth = export_memory(client)
    print(
        f"CSV export of all rows: {size / 1024 / 1024:.1f} MB streamed; "
        f"Python heap peak {heap_peak:.1f} MB; peak RSS growth {rss_growth:.1f} MB"
    )


if __name__ == "__main__":
    main()
