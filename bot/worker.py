"""The worker loop: periodic jobs on threads, stopped together (SIGTERM lets a run finish)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("connect.worker")

# A failing job (most often: the database is away) tries again after doubling rests, at most
# this long (or its own interval, if longer): once the cause is gone, work resumes within it.
# CONNECT_MAX_BACKOFF sets it.
MAX_BACKOFF_SECONDS = 30.0


def backoff_delay(
    interval: float, failures: int, max_backoff: float = MAX_BACKOFF_SECONDS
) -> float:
    """Seconds before the next run of a job that failed `failures` times in a row."""
    return min(interval * 2.0 ** min(failures, 32), max(max_backoff, interval))


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: float
    run: Callable[[], object]
    # Set by whoever has work for the job (a webhook stored), so it need not wait its interval.
    wake: threading.Event = field(default_factory=threading.Event)


class Worker:
    def __init__(
        self, jobs: Sequence[PeriodicJob], *, max_backoff: float = MAX_BACKOFF_SECONDS
    ) -> None:
        self.jobs = tuple(jobs)
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Set once each job's first run has ended, well or not (start-up's poll, sweep, …).
        self._first_runs = {job.name: threading.Event() for job in self.jobs}

    def start(self) -> None:
        for job in self.jobs:
            thread = threading.Thread(
                target=self._loop, args=(job,), name=f"connect-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info("worker started: %s", ", ".join(job.name for job in self.jobs) or "no jobs")

    def request_stop(self) -> None:
        """Safe from a signal handler: the loops end after their current run."""
        self._stop.set()
        for job in self.jobs:
            job.wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout)

    def wait(self) -> None:
        """Block until stop() is called (the `worker` command's main thread)."""
        while not self._stop.wait(1.0):
            pass

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait_first_runs(self, timeout: float | None = None) -> bool:
        """Block until every job has ended its first run (or `timeout`); whether they all had."""
        return all(done.wait(timeout) for done in self._first_runs.values())

    def _loop(self, job: PeriodicJob) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                job.run()
                failures = 0
                delay = job.interval
            except Exception:
                failures += 1
                delay = backoff_delay(job.interval, failures, self.max_backoff)
                log.exception(
                    "job %s failed (%d in a row); next try in %.0fs", job.name, failures, delay
                )
            self._first_runs[job.name].set()
            job.wake.wait(delay)
            job.wake.clear()
