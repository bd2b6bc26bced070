from __future__ import annotations

import threading
from pathlib import Path

from bot.container import build_runtime, build_worker
from bot.settings import Settings
from bot.worker import MAX_BACKOFF_SECONDS, PeriodicJob, Worker, backoff_delay


def test_jobs_run_repeatedly_until_stopped() -> None:
    runs = threading.Semaphore(0)
    worker = Worker([PeriodicJob("tick", 0.01, runs.release)])
    worker.start()
    for _ in range(3):
        assert runs.acquire(timeout=5)
    worker.stop(timeout=5)
    assert worker.stopping
    assert all(not thread.is_alive() for thread in worker._threads)


def test_a_failing_job_is_retried_and_does_not_stop_the_others() -> None:
    healthy = threading.Semaphore(0)
    failures: list[int] = []

    def broken() -> None:
        failures.append(1)
        raise RuntimeError("Jira is down")

    worker = Worker(
        [PeriodicJob("broken", 0.001, broken), PeriodicJob("ok", 0.01, healthy.release)]
    )
    worker.start()
    for _ in range(3):
        assert healthy.acquire(timeout=5)
    worker.stop(timeout=5)
    assert len(failures) >= 2


def test_first_runs_are_awaited_whether_they_fail_or_not() -> None:
    release = threading.Event()

    def slow() -> None:
        release.wait(5)

    def broken() -> None:
        raise RuntimeError("Jira is down")

    worker = Worker([PeriodicJob("slow", 60, slow), PeriodicJob("broken", 60, broken)])
    worker.start()
    assert not worker.wait_first_runs(timeout=0.05)  # "slow" is still in its first run
    release.set()
    assert worker.wait_first_runs(timeout=5)
    worker.stop(timeout=5)


def test_request_stop_ends_wait() -> None:
    worker = Worker([])
    worker.start()
    stopper = threading.Timer(0.05, worker.request_stop)
    stopper.start()
    worker.wait()
    assert worker.stopping


def test_a_failing_job_backs_off_doubling_but_never_long_past_the_outage() -> None:
    # The outbox polls every 0.25 s; after a long database outage it must not sleep for
    # minutes once the database is back.
    delays = [backoff_delay(0.25, failures) for failures in range(1, 40)]
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert delays == sorted(delays)
    assert max(delays) == MAX_BACKOFF_SECONDS
    assert backoff_delay(3600.0, 5) == 3600.0  # a job that runs hourly is not run more often


def test_connect_max_backoff_caps_the_rest_of_serves_failing_jobs(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        jira_url="https://jira.example.com",
        jira_email="bot@example.com",
        jira_api_token="token",
        database_url=f"sqlite:///{tmp_path / 'connect.db'}",
        connect_max_backoff=2.0,
    )
    runtime = build_runtime(settings)
    try:
        worker = build_worker(runtime)
        assert worker.max_backoff == 2.0
        assert backoff_delay(0.25, 20, worker.max_backoff) == 2.0
    finally:
        runtime.close()
