"""`python -m bot` (console script `connect-bot`): serve, worker, db upgrade, failed, manifest,
run."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from bot.database import (
    SchemaOutOfDate,
    create_db_engine,
    current_revision,
    ensure_schema,
    session_factory,
    upgrade,
)
from bot.logs import configure_logging
from bot.manifest import dump_manifest, load_manifest, render_manifest
from bot.settings import Settings, SettingsError, load_settings
from services.notifications.failed_work import FailedWork

log = logging.getLogger("connect")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Connect: a Slack bot that ties Slack conversations to Jira issues.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve Slack and Jira over HTTP (and run the worker) in one process",
        description="HTTP mode: /slack/events, /jira/webhook, /health, /ready, /metrics on "
        "CONNECT_HOST:CONNECT_PORT, with the worker in the same process.",
    )
    serve.add_argument("--no-worker", action="store_true", help="do not run the worker here")
    serve.add_argument("--host", help="listen address (default: CONNECT_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default: CONNECT_PORT)")

    socket = commands.add_parser(
        "socket",
        help="Slack over Socket Mode (SLACK_APP_TOKEN), Jira and health over HTTP, and the worker",
        description="Socket Mode: Slack's requests arrive on a WebSocket the bot opens with "
        "SLACK_APP_TOKEN (no public URL for Slack); /jira/webhook, /health, /ready, /metrics "
        "are still served on CONNECT_HOST:CONNECT_PORT, with the worker in the same process.",
    )
    socket.add_argument("--no-worker", action="store_true", help="do not run the worker here")
    socket.add_argument("--host", help="listen address (default: CONNECT_HOST)")
    socket.add_argument("--port", type=int, help="listen port (default: CONNECT_PORT)")

    commands.add_parser(
        "worker",
        help="run the worker alone (for several processes on one database)",
        description="Runs the background jobs without serving HTTP.",
    )

    db = commands.add_parser("db", help="database schema", description="Database schema.")
    db_commands = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    db_commands.add_parser(
        "upgrade",
        help="apply the Alembic migrations up to the newest (DATABASE_URL)",
        description="Apply the Alembic migrations to DATABASE_URL, up to the newest.",
    )
    db_commands.add_parser(
        "current", help="print the schema revision", description="Print the schema revision."
    )
    db_commands.add_parser(
        "reencrypt",
        help="re-encrypt stored OAuth tokens with the first CONNECT_ENCRYPTION_KEY",
        description="After setting CONNECT_ENCRYPTION_KEY=NEW,OLD: re-encrypt every stored "
        "OAuth token with NEW, so that OLD can be dropped from the setting.",
    )

    failed = commands.add_parser(
        "failed",
        help="list work that failed for good; --retry queues it again",
        description="Lists Jira deliveries (dN) and Slack notifications (nN) that failed for "
        "good: id, kind, destination, error and when. --retry ID… queues those again with a "
        "fresh retry budget (--retry alone: all of them).",
    )
    failed.add_argument(
        "--retry", nargs="*", metavar="ID", help="queue these again (none named: all failed work)"
    )

    manifest = commands.add_parser(
        "manifest",
        help="print the Slack app manifest",
        description="Print manifest.yml with every request URL pointing at URL and "
        "unfurl_domains set to the host of JIRA_URL.",
    )
    manifest.add_argument("--url", help="public base URL of the bot (default: CONNECT_PUBLIC_URL)")
    manifest.add_argument("--format", choices=("yaml", "json"), default="yaml")

    demo = commands.add_parser(
        "demo",
        help="the offline demo: Connect end to end against simulated Slack and Jira",
        description="Runs the real app against built-in Slack and Jira simulators and plays a "
        "short story, printing what each Slack user sees (a temporary SQLite database unless "
        "DATABASE_URL is set).",
    )
    demo.add_argument(
        "--interactive", action="store_true", help="type as Slack users and act in Jira yourself"
    )

    commands.add_parser(
        "run",
        help="what `make run` does: serve with Slack credentials, else the offline demo",
        description="Serve when SLACK_BOT_TOKEN or SLACK_CLIENT_ID is set; otherwise run the "
        "offline demo.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        settings = load_settings()
        configure_logging(settings)
        return _dispatch(args, settings)
    except (SettingsError, SchemaOutOfDate, ValueError) as exc:
        print(f"connect: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "manifest":
        url = args.url or (
            str(settings.connect_public_url) if settings.connect_public_url else None
        )
        rendered = render_manifest(load_manifest(), public_url=url, jira_url=settings.jira_base_url)
        print(dump_manifest(rendered, args.format), end="")
        return 0
    if args.command == "db":
        engine = create_db_engine(settings.database_url)
        try:
            if args.db_command == "reencrypt":
                return reencrypt_tokens(settings, engine)
            if args.db_command == "upgrade":
                upgrade(engine)
            print(current_revision(engine) or "empty")
        finally:
            engine.dispose()
        return 0
    if args.command == "failed":
        return failed_work(settings, retry=args.retry)
    if args.command == "worker":
        return run_worker(settings)
    if args.command == "socket":
        from bot.socket_mode import run_socket_mode

        return run_socket_mode(
            settings, host=args.host, port=args.port, with_worker=not args.no_worker
        )
    if args.command == "demo" or (args.command == "run" and not settings.has_slack_credentials):
        return run_demo(settings, interactive=getattr(args, "interactive", False))
    return serve(
        settings,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        with_worker=not getattr(args, "no_worker", False),
    )


def reencrypt_tokens(settings: Settings, engine: Engine) -> int:
    from services.people.installations import Installations
    from services.people.token_cipher import TokenCipher
    from services.unit_of_work import UnitOfWork

    if settings.connect_encryption_key is None:
        raise SettingsError("missing settings: CONNECT_ENCRYPTION_KEY (NEW,OLD to rotate)")
    ensure_schema(engine)
    sessions = session_factory(engine)
    installations = Installations(
        lambda: UnitOfWork(sessions),
        TokenCipher(settings.connect_encryption_key.get_secret_value()),
    )
    count = installations.reencrypt()
    people = _person_grants_reencrypted(settings, lambda: UnitOfWork(sessions))
    print(
        f"re-encrypted the tokens of {count} installation(s) and {people} person(s)' Jira "
        "grant(s) with the first key"
    )
    return 0


def _person_grants_reencrypted(settings: Settings, uow: Any) -> int:
    """People's Jira tokens (JIRA_AUTH_MODE=user), whatever the mode is now: rows written
    while it was `user` are re-encrypted all the same."""
    from services.people.jira_identity import JiraIdentity
    from services.people.token_cipher import TokenCipher

    key = settings.connect_encryption_key
    if key is None:  # pragma: no cover - checked by the caller
        return 0

    def no_client(base_url: str, token: Any) -> Any:
        raise RuntimeError("re-encrypting calls no Jira")

    identity = JiraIdentity(
        uow,
        TokenCipher(key.get_secret_value()),
        oauth=None,
        make_client=no_client,
        site_url=settings.jira_base_url or "",
        public_url=str(settings.connect_public_url or ""),
    )
    return identity.reencrypt()


def failed_work(settings: Settings, *, retry: Sequence[str] | None) -> int:
    from services.unit_of_work import UnitOfWork

    engine = create_db_engine(settings.database_url)
    try:
        ensure_schema(engine)
        sessions = session_factory(engine)
        work = FailedWork(lambda: UnitOfWork(sessions))
        return _retry_failed(work, retry) if retry is not None else _list_failed(work)
    finally:
        engine.dispose()


def _retry_failed(work: FailedWork, ids: Sequence[str]) -> int:
    queued = work.retry(ids)
    missing = sorted({i.strip().lower() for i in ids} - set(queued))
    for work_id in queued:
        print(f"queued {work_id} again")
    if missing:
        print(f"not failed work: {', '.join(missing)}", file=sys.stderr)
        return 1
    if not queued:
        print("no failed work")
    return 0


def _list_failed(work: FailedWork) -> int:
    items = work.items()
    if not items:
        print("no failed work")
        return 0
    print("ID\tKIND\tDESTINATION\tERROR\tWHEN")
    for item in items:
        when = item.failed_at.isoformat(timespec="seconds") if item.failed_at else "-"
        error = " ".join(item.error.split())[:200]
        print(f"{item.id}\t{item.kind}\t{item.destination}\t{error}\t{when}")
    return 0


def serve(settings: Settings, *, host: str | None, port: int | None, with_worker: bool) -> int:
    from bot.container import (
        build_bolt_app,
        build_runtime,
        build_web_app,
        build_worker,
        run_until_stopped,
    )
    from bot.server import WebServer

    runtime = build_runtime(settings)
    server = WebServer(
        build_web_app(runtime, build_bolt_app(runtime)),
        host=host or settings.connect_host,
        port=port if port is not None else settings.connect_port,
    )
    worker = build_worker(runtime) if with_worker else None
    return run_until_stopped(runtime, server, worker, started="Connect listening on %s")


def run_demo(settings: Settings, *, interactive: bool) -> int:
    from bot.demo.story import interactive as explore
    from bot.demo.story import play_identity_story, play_story
    from bot.demo.world import DemoWorld

    # The story's transcript is the output; the app's own logs would drown it.
    logging.getLogger().setLevel(logging.ERROR)
    explicit = "database_url" in settings.model_fields_set
    world = DemoWorld(settings.database_url if explicit else None).start()
    try:
        if interactive:
            explore(world)
        else:
            play_story(world)
    finally:
        world.stop()
    if not interactive:  # the second act: each person's own Jira account (JIRA_AUTH_MODE=user)
        second = DemoWorld(settings.database_url if explicit else None, user_mode=True).start()
        try:
            play_identity_story(second)
        finally:
            second.stop()
    return 0


def run_worker(settings: Settings) -> int:
    from bot.container import build_runtime, build_worker

    runtime = build_runtime(settings)
    worker = build_worker(runtime)
    _on_stop_signal(worker.request_stop)
    worker.start()
    try:
        worker.wait()
    finally:
        worker.stop()
        runtime.close()
    return 0


def _on_stop_signal(stop: Callable[[], None]) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
