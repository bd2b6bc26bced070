"""`python -m bot` as an operator runs it: real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot import cli
from bot.database import create_db_engine, session_factory, upgrade
from bot.settings import Settings
from services.people.installations import Installations, InstalledBot
from services.people.token_cipher import TokenCipher
from services.unit_of_work import UnitOfWork
from simulators.jira_site.server import DEFAULT_API_TOKEN, DEFAULT_EMAIL, FakeJiraServer
from simulators.slack_workspace.server import FakeSlackServer
from tests.e2e.conftest import SIGNING_SECRET, unfinished_work
from tests.fakes.slack_requests import signed_headers, slash_command_body
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {f.upper() for f in Settings.model_fields}
    }
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    env.update(values)
    return env


def run_bot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_from_the_command_line(tmp_path: Path) -> None:
    result = run_bot("--help", env=clean_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: python -m bot" in result.stdout
    for command in ("serve", "socket", "worker", "demo", "db", "failed", "manifest", "run"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("serve",),
        ("socket",),
        ("worker",),
        ("demo",),
        ("db",),
        ("db", "upgrade"),
        ("db", "reencrypt"),
        ("failed",),
        ("manifest",),
        ("run",),
    ],
)
def test_help_on_every_command(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    # argparse answers --help before any setting is read: in this process, as `python -m bot`
    # would (test_help_from_the_command_line runs the real entry point once).
    with pytest.raises(SystemExit) as exited:
        cli.main([*args, "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: python -m bot{''.join(' ' + a for a in args)}")


def test_manifest_json_is_valid_and_points_at_the_url(tmp_path: Path) -> None:
    env = clean_env(tmp_path, JIRA_URL="https://acme.atlassian.net")
    result = run_bot(
        "manifest", "--url", "https://bot.acme.com/", "--format", "json", env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert (
        manifest["settings"]["event_subscriptions"]["request_url"]
        == "https://bot.acme.com/slack/events"
    )
    assert manifest["features"]["unfurl_domains"] == ["acme.atlassian.net"]
    as_yaml = yaml.safe_load(run_bot("manifest", env=env, cwd=tmp_path).stdout)
    assert as_yaml["features"]["slash_commands"][0]["command"] == "/jira"


def test_manifest_refuses_a_bad_url_in_one_line(tmp_path: Path) -> None:
    result = run_bot("manifest", "--url", "ftp://nope", env=clean_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "http(s)" in result.stderr


def test_missing_settings_are_named_in_one_line(tmp_path: Path) -> None:
    for command in ("serve", "worker"):  # `run` without Slack credentials plays the demo
        result = run_bot(command, env=clean_env(tmp_path), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert "SLACK_SIGNING_SECRET" in result.stderr and "JIRA_URL" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_malformed_setting_is_named_in_one_line(tmp_path: Path) -> None:
    result = run_bot("serve", env=clean_env(tmp_path, CONNECT_PORT="http"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("connect: invalid setting: CONNECT_PORT")
    assert result.stderr.count("\n") == 1


def test_db_upgrade_on_postgresql_and_serve_refusing_before_it(
    postgres_url: str, tmp_path: Path
) -> None:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        env = clean_env(tmp_path, **bot_env(slack, jira), DATABASE_URL=postgres_url)
        refused = run_bot("serve", env=env, cwd=tmp_path)
        assert refused.returncode == 2
        assert "python -m bot db upgrade" in refused.stderr
        upgraded = run_bot("db", "upgrade", env=env, cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr
        assert (
            run_bot("db", "current", env=env, cwd=tmp_path).stdout.strip()
            == upgraded.stdout.strip()
        )


def bot_env(slack: FakeSlackServer, jira: FakeJiraServer) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "JIRA_URL": jira.url,
        "JIRA_EMAIL": DEFAULT_EMAIL,
        "JIRA_API_TOKEN": DEFAULT_API_TOKEN,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, FakeSlackServer]]:
    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        port = free_port()
        env = clean_env(
            tmp_path, **bot_env(slack, jira), CONNECT_HOST="127.0.0.1", CONNECT_PORT=str(port)
        )
        process = start_bot("serve", env=env, cwd=tmp_path)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield process, url, slack
        finally:
            stop_bot(process)


def start_bot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`python -m bot ARGS` running, its stdout and stderr merged into one text pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_bot(process: subprocess.Popen[str]) -> None:
    """Kill the process if it still runs (a test that failed midway), reap it, close its pipe."""
    if process.poll() is None:
        process.kill()
    process.wait(10)
    if process.stdout:
        process.stdout.close()


def wait_until_healthy(url: str, process: subprocess.Popen[str]) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stdout.read() if process.stdout else ''}")
        try:
            return requests.get(f"{url}/health", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or slow to answer on a busy box
            return False

    wait_until(healthy, timeout=60, what="serve to become healthy")


def test_serve_answers_health_and_a_signed_help_then_stops_on_sigterm(
    serve_process: tuple[subprocess.Popen[str], str, FakeSlackServer],
) -> None:
    process, url, slack = serve_process
    assert requests.get(f"{url}/health", timeout=5).json() == {
        "status": "healthy",
        "service": "connect",
    }
    body = slash_command_body("help", response_url=slack.response_url())
    answer = requests.post(
        f"{url}/slack/events",
        data=body,
        timeout=5,
        headers=signed_headers(
            SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded"
        ),
    )
    assert answer.status_code == 200
    assert "/jira help" in answer.json()["text"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0


def test_killing_serve_stops_everything_it_runs(
    serve_process: tuple[subprocess.Popen[str], str, FakeSlackServer],
) -> None:
    process, url, _ = serve_process
    process.kill()
    process.wait(10)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=2)


def test_a_webhook_accepted_by_a_killed_process_is_posted_once_after_restart(
    tmp_path: Path,
) -> None:
    import hashlib
    import hmac

    from simulators.jira_site.webhooks import issue_json, user_json
    from tests.e2e.conftest import WEBHOOK_SECRET

    with FakeSlackServer() as slack, FakeJiraServer() as jira:
        slack.slack.add_channel("C0OPS", "ops", members=["U0ALICE"])
        port = free_port()
        env = clean_env(
            tmp_path,
            **bot_env(slack, jira),
            CONNECT_HOST="127.0.0.1",
            CONNECT_PORT=str(port),
            JIRA_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        url = f"http://127.0.0.1:{port}"

        def start(*args: str) -> subprocess.Popen[str]:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", *args],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            wait_until_healthy(url, process)
            return process

        first = start("--no-worker")  # accepts and stores, never gets to post
        body = slash_command_body("link OPS-1", response_url=slack.response_url(), channel="C0OPS")
        requests.post(
            f"{url}/slack/events",
            data=body,
            timeout=5,
            headers=signed_headers(
                SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded"
            ),
        )
        wait_until(slack.responses, what="the link's answer")
        issue = jira.jira.get_issue("OPS-1")
        payload = json.dumps(
            {
                "timestamp": 1795670000000,
                "webhookEvent": "jira:issue_updated",
                "user": user_json(jira.jira.user("bob@example.com"), cloud=True),
                "issue": issue_json(issue, cloud=True),
                "changelog": {
                    "id": "99001",
                    "items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}],
                },
            }
        ).encode()
        signature = (
            "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), payload, hashlib.sha256).hexdigest()
        )
        accepted = requests.post(
            f"{url}/jira/webhook",
            data=payload,
            timeout=5,
            headers={"Content-Type": "application/json", "X-Hub-Signature": signature},
        )
        assert accepted.json() == {"status": "accepted"}
        first.kill()
        first.wait(10)
        assert [
            m for m in slack.slack.top_level("C0OPS") if m.user == slack.slack.bot_user_id
        ] == []

        second = start()
        try:
            wait_until(
                lambda: [
                    m for m in slack.slack.top_level("C0OPS") if m.user == slack.slack.bot_user_id
                ],
                what="the change posted after the restart",
            )
            engine = create_db_engine(env["DATABASE_URL"])
            try:  # the restarted worker has nothing left to do: nothing more will be posted
                wait_until(
                    lambda: unfinished_work(lambda: UnitOfWork(session_factory(engine))) == 0,
                    what="the restarted worker to settle",
                )
            finally:
                engine.dispose()
            posted = [
                m for m in slack.slack.top_level("C0OPS") if m.user == slack.slack.bot_user_id
            ]
            assert len(posted) == 1
            assert "In Progress → Done" in posted[0].text  # type: ignore[attr-defined]
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)


def test_run_with_half_the_credentials_names_the_rest(tmp_path: Path) -> None:
    result = run_bot("run", env=clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1"), cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "JIRA_URL" in result.stderr
    assert result.stderr.count("\n") == 1


def test_db_reencrypt_moves_stored_tokens_to_the_new_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)

    def store(key: str) -> Installations:
        return Installations(lambda: UnitOfWork(sessions), TokenCipher(key))

    store(old).save(InstalledBot(team_id="T1", bot_token=SecretStr("xoxb-kept-safe")))

    wrong = run_bot(
        "db", "reencrypt", env=clean_env(tmp_path, CONNECT_ENCRYPTION_KEY=new), cwd=tmp_path
    )
    assert wrong.returncode == 2
    last = wrong.stderr.strip().splitlines()[-1]
    assert last.startswith("connect: ") and "CONNECT_ENCRYPTION_KEY" in last
    assert "Traceback" not in wrong.stderr

    rotated = run_bot(
        "db",
        "reencrypt",
        env=clean_env(tmp_path, CONNECT_ENCRYPTION_KEY=f"{new},{old}"),
        cwd=tmp_path,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "1 installation" in rotated.stdout
    found = store(new).find("T1")
    assert found is not None and found.bot_token.get_secret_value() == "xoxb-kept-safe"
    engine.dispose()


def test_failed_lists_failed_work_and_retry_queues_it_again(tmp_path: Path) -> None:
    from models import NotificationOutbox, ProcessedDelivery
    from models.delivery import FAILED, PENDING, SENDING

    env = clean_env(tmp_path)
    engine = create_db_engine(env["DATABASE_URL"])
    upgrade(engine)
    sessions = session_factory(engine)
    with UnitOfWork(sessions) as work:
        delivery = ProcessedDelivery(
            team_id="T0CONNECT",
            source="jira",
            dedupe_key="changelog:1",
            payload={"issue": {"key": "OPS-1"}},
            status=FAILED,
            attempts=5,
            last_error="RecursionError: maximum recursion depth exceeded",
        )
        row = NotificationOutbox(
            team_id="T0CONNECT",
            idempotency_key="k1",
            channel_id="C0OPS",
            payload={"changes": []},
            status=FAILED,
            attempts=1,
            last_error="invalid_blocks",
        )
        work.session.add_all([delivery, row])
        work.commit()
        ids = (f"d{delivery.id}", f"n{row.id}")

    listed = run_bot("failed", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t") == ["ID", "KIND", "DESTINATION", "ERROR", "WHEN"]
    assert lines[1].split("\t")[:4] == [
        ids[0],
        "delivery",
        "Jira issue OPS-1",
        "RecursionError: maximum recursion depth exceeded",
    ]
    assert lines[2].split("\t")[:4] == [ids[1], "notification", "C0OPS", "invalid_blocks"]

    retried = run_bot("failed", "--retry", ids[1], env=env, cwd=tmp_path)
    assert (retried.returncode, retried.stdout) == (0, f"queued {ids[1]} again\n")
    with UnitOfWork(sessions) as work:
        again = work.session.get(NotificationOutbox, int(ids[1][1:]))
        assert again is not None and (again.status, again.attempts) == (SENDING, 0)
    assert run_bot("failed", env=env, cwd=tmp_path).stdout.splitlines()[1].startswith(ids[0])

    assert run_bot("failed", "--retry", "n999", env=env, cwd=tmp_path).returncode == 1
    assert run_bot("failed", "--retry", "bogus", env=env, cwd=tmp_path).returncode == 2
    everything = run_bot("failed", "--retry", env=env, cwd=tmp_path)
    assert everything.stdout == f"queued {ids[0]} again\n"
    with UnitOfWork(sessions) as work:
        queued = work.session.get(ProcessedDelivery, int(ids[0][1:]))
        assert queued is not None and (queued.status, queued.attempts) == (PENDING, 0)
    assert run_bot("failed", env=env, cwd=tmp_path).stdout == "no failed work\n"
    engine.dispose()
