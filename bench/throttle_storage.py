"""Benchmark: the cost of one throttle hit in each storage, and two processes hitting one SQLite file.

    python -m bench.throttle_storage

Each survey GET/POST and API call takes one hit; the SQLite file (the default) must stay far below a
request's own cost (a few ms) even when every worker writes to it at once.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

import survey.ratelimit_storage  # noqa: F401  (registers sqlite://)

HITS = 5000
LIMIT = parse("1000000 per hour")


def hits_per_second(uri: str, hits: int = HITS, key: str = "bench") -> float:
    """Hits a second on one key (the survey limit's shape: one counter per client address)."""
    limiter = FixedWindowRateLimiter(storage_from_string(uri))
    started = time.perf_counter()
    for _ in range(hits):
        limiter.hit(LIMIT, key)
    return hits / (time.perf_counter() - started)


def _worker(uri: str, queue) -> None:
    queue.put(hits_per_second(uri))


def concurrent(uri: str, processes: int = 2) -> tuple[float, int]:
    """Hits a second per process with several processes on one key, and the final count."""
    queue = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(target=_worker, args=(uri, queue))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    rates = [queue.get() for _ in workers]
    count = storage_from_string(uri).get(LIMIT.key_for("bench"))
    return sum(rates) / len(rates), count


def main() -> None:
    folder = tempfile.mkdtemp(prefix="debrief-bench-limits-")
    print(f"memory://            {hits_per_second('memory://'):>9,.0f} hits/s (one process; not shared)")
    one = hits_per_second(f"sqlite:///{folder}/one.sqlite")
    print(f"sqlite file          {one:>9,.0f} hits/s (one process)")
    rate, count = concurrent(f"sqlite:///{folder}/two.sqlite")
    print(f"sqlite file, 2 procs {rate:>9,.0f} hits/s per process; final count {count} of {2 * HITS}")


if __name__ == "__main__":
    main()
