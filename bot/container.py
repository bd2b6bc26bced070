"""The composition root: builds every part once from Settings and hands them down."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from flask import Flask
from pydantic import SecretStr
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot import gc_tuning
from bot.app import create_app
from bot.context_executor import ContextExecutor
from bot.database import create_db_engine, ensure_schema, session_factory
from bot.jira_oauth_pages import register_jira_oauth
from bot.metrics import Metrics
from bot.oauth import InstallationAuthorize, OnlyAllowedTeams, TeamAllowList, build_oauth_flow
from bot.server import WebServer
from bot.settings import Settings, SettingsError
from bot.web import create_web_app
from bot.webhook import register_jira_webhook
from bot.worker import PeriodicJob, Worker
from clients.jira_client import JiraClient
from clients.jira_oauth import AtlassianOAuth, DataCenterOAuth, JiraOAuth
from clients.jira_rest import JiraRestClient
from clients.slack_client import SlackClient
from clients.slack_files import SlackFileDownloads
from clients.slack_teams import TeamRoutedSlack
from clients.slack_transport import SlackTransport
from clients.slack_web_api import SlackWebApiClient
from handlers.after_ack import AfterAck
from handlers.card_actions import OPTIONS_THREADS
from handlers.identity import tell_connected
from handlers.message_shortcuts import PICKER_THREADS
from handlers.modal_opener import ModalOpener
from models import utcnow
from services.connect_services import ConnectServices
from services.housekeeping import Housekeeping
from services.jira_changes.deliveries import DeliveryProcessor
from services.jira_changes.intake import WebhookIntake
from services.jira_changes.monitor import JiraMonitor
from services.jira_changes.wall import ProjectWall
from services.notifications.failed_work import FailedWork
from services.notifications.fan_out import ConnectAccount, Notifier
from services.notifications.held import HeldNotifications
from services.notifications.outbox import OutboxDispatcher
from services.notifications.personal import PersonalNotices
from services.notifications.render import render_notification
from services.notifications.user_mode_dms import dm_rules
from services.notifications.watchers import IssueWatchers
from services.people.installations import Installations
from services.people.jira_identity import JiraIdentity
from services.people.token_cipher import TokenCipher
from services.policy import ConnectPolicy
from services.subscriptions.routing import SubscriptionRouter
from services.subscriptions.threads import SubscriptionThreads
from services.thread_sync.attachments import AttachmentCopier
from services.thread_sync.processor import ReplySync, Writer, WriterFor
from services.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("connect")
T = TypeVar("T")

# Threads for work done after the ack (Jira calls); acks themselves never wait for these.
WORK_THREADS = 16
# Tasks that may wait for those threads before acks that would add one answer "try again"
# (handlers.after_ack, handlers.backlog): at Jira's usual 0.3-0.5 s a call, 10-16 s of
# work; at 2.5 s, 80 s.
WORK_BACKLOG = WORK_THREADS * 32
HOUSEKEEPING_INTERVAL = 3600.0
# Idle polling of the shared tables; a webhook stored here wakes its job at once.
DELIVERY_INTERVAL = 1.0
OUTBOX_INTERVAL = 0.25
# Replies of synced threads stored by any process (SPEC §13).
REPLIES_INTERVAL = 0.25
# Notifications held for an outage carry their own next try; this is how often it is looked at.
HELD_INTERVAL = 1.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    metrics: Metrics
    services: ConnectServices
    slack: SlackClient
    # Every Slack call of the process goes through it: one event loop thread with one
    # kept-alive connection pool (clients/slack_transport); closed last.
    transport: SlackTransport
    # What Bolt calls Slack with: the bot token's client, or (multi-workspace) a token-less
    # one that Bolt gives each request's workspace token.
    web_client: WebClient
    # Work after the ack: every listener submits here, and it runs in a copy of the request's
    # context variables (request id, workspace); bounded, "busy" past the bound.
    after_ack: AfterAck
    # What opens modals right after the ack (views.open handed to the transport).
    opener: ModalOpener
    # The issue picker's and the Transition select's look-ups: Slack takes options only in
    # the HTTP answer, so these never queue behind the work after acks.
    picker_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(PICKER_THREADS, "connect-picker")
    )
    options_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(OPTIONS_THREADS, "connect-transitions")
    )

    # What the housekeeping job and the OAuth install state take as "now" (tests move it on).
    clock: Callable[[], datetime] = utcnow

    # The intake wakes the delivery job; built once so web and worker share the Event.
    deliveries_wake: threading.Event = field(default_factory=threading.Event)

    def deliveries_job(self, run: Callable[[], object]) -> PeriodicJob:
        return PeriodicJob("deliveries", DELIVERY_INTERVAL, run, wake=self.deliveries_wake)

    def close(self) -> None:
        """Let work already handed over finish, then release the database."""
        self.picker_pool.shutdown(wait=True)
        self.options_pool.shutdown(wait=True)
        self.after_ack.shutdown(wait=True)
        self.transport.close()
        self.engine.dispose()


def build_runtime(settings: Settings, *, jira: JiraClient | None = None) -> Runtime:
    """Everything from Settings; `jira` replaces the REST client only for the offline demo."""
    settings.require_production()
    if not settings.jira_webhook_secret:
        log.warning("JIRA_WEBHOOK_SECRET is not set: every Jira webhook will be refused (401)")
    if settings.oauth_mode and not settings.slack_allowed_teams:
        log.warning(
            "SLACK_ALLOWED_TEAMS is not set: any Slack workspace that completes /slack/install "
            "gets Connect, and through it Connect's Jira account"
        )
    engine = create_db_engine(settings.database_url)
    ensure_schema(engine)
    metrics = Metrics()
    sessions = session_factory(engine)
    transport = SlackTransport(str(settings.slack_api_url))
    installations: Installations | None = None
    slack: SlackClient
    if settings.oauth_mode:
        routed = TeamRoutedSlack(
            lambda team: _required(installations).bot_token(team),
            observer=metrics,
            transport=transport,
        )
        installations = Installations(
            lambda: UnitOfWork(sessions),
            TokenCipher(_required(settings.connect_encryption_key).get_secret_value()),
            on_removed=routed.forget,
            # Every process sharing the database seals and opens install states alike.
            state_secret=_required(settings.slack_client_secret).get_secret_value().encode(),
            clock=lambda: runtime.clock(),
        )
        slack, web_client = routed, routed.base_client  # Bolt adds each request's token
    else:
        single = SlackWebApiClient(
            _required(settings.slack_bot_token), observer=metrics, transport=transport
        )
        slack, web_client = single, single.base_client
    # A PAT means Data Center; otherwise Cloud basic auth (require_production checked one is set).
    jira = jira or JiraRestClient(
        _required(settings.jira_base_url),
        email=None if settings.jira_pat else settings.jira_email,
        api_token=None if settings.jira_pat else settings.jira_api_token,
        pat=settings.jira_pat,
        timeout=settings.jira_timeout_seconds,
        retry_budget_seconds=settings.jira_retry_budget_seconds,
        observer=metrics,
    )
    identity = (
        build_identity(
            settings, lambda: UnitOfWork(sessions), slack, metrics, lambda: runtime.clock()
        )
        if settings.user_mode
        else None
    )
    downloads = SlackFileDownloads(
        (lambda team: _required(installations).bot_token(team))
        if settings.oauth_mode
        else (lambda _team: settings.slack_bot_token),
        api_url=str(settings.slack_api_url),
    )
    services = ConnectServices(
        uow=lambda: UnitOfWork(sessions),
        jira=jira,
        slack=slack,
        installations=installations,
        identity=identity,
        attachments=AttachmentCopier(downloads, max_mb=settings.jira_attachment_max_mb),
        policy=ConnectPolicy(
            allowed_projects=frozenset(settings.jira_projects),
            admins=frozenset(settings.connect_admins),
            jira_base_url=_required(settings.jira_base_url),
            channel_managers_admins_only=settings.connect_channel_managers == "admins",
        ),
    )
    after_ack = AfterAck(
        ContextExecutor(WORK_THREADS, thread_name_prefix="connect-work"),
        limit=WORK_BACKLOG,
        on_turned_away=metrics.turned_away,
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        metrics=metrics,
        services=services,
        slack=slack,
        transport=transport,
        web_client=web_client,
        after_ack=after_ack,
        opener=ModalOpener(after_ack),
    )
    metrics.watch_work(lambda: runtime.after_ack.backlog)
    metrics.watch_failed_work(FailedWork(services.uow).counts)
    return runtime


def build_identity(
    settings: Settings,
    uow: UnitOfWorkFactory,
    slack: SlackClient,
    metrics: Metrics,
    clock: Callable[[], datetime],
) -> JiraIdentity:
    """JIRA_AUTH_MODE=user: people's grants, and a `jira`-package client per person (Bearer,
    through Atlassian's gateway on Cloud, straight to the site on Data Center)."""
    site = _required(settings.jira_base_url)
    data_center = settings.jira_pat is not None  # as for the bot's client above
    oauth: JiraOAuth | None = None
    if settings.jira_oauth_client:
        client_id = _required(settings.jira_oauth_client_id)
        secret = _required(settings.jira_oauth_client_secret)
        if data_center:
            oauth = DataCenterOAuth(
                client_id=client_id,
                client_secret=secret,
                site_url=site,
                timeout=settings.jira_timeout_seconds,
                observer=metrics,
            )
        else:
            oauth = AtlassianOAuth(
                client_id=client_id,
                client_secret=secret,
                auth_url=str(settings.jira_oauth_auth_url),
                api_url=str(settings.jira_oauth_api_url),
                timeout=settings.jira_timeout_seconds,
                observer=metrics,
            )

    def person_client(base_url: str, token: SecretStr) -> JiraClient:
        return JiraRestClient(
            base_url,
            pat=token,
            site_url=site,
            deployment_type="Server" if data_center else "Cloud",
            timeout=settings.jira_timeout_seconds,
            retry_budget_seconds=settings.jira_retry_budget_seconds,
            observer=metrics,
        )

    return JiraIdentity(
        uow,
        TokenCipher(_required(settings.connect_encryption_key).get_secret_value()),
        oauth=oauth,
        make_client=person_client,
        site_url=site,
        public_url=str(_required(settings.connect_public_url)),
        slack=slack,
        clock=clock,
        cloud=not data_center,
    )


def build_bolt_app(runtime: Runtime) -> App:
    settings = runtime.settings
    installations = runtime.services.installations
    teams = TeamAllowList(frozenset(settings.slack_allowed_teams))
    oauth_flow = authorize = None
    if installations is not None:
        public_url = settings.connect_public_url
        oauth_flow = build_oauth_flow(
            client_id=_required(settings.slack_client_id),
            client_secret=_required(settings.slack_client_secret).get_secret_value(),
            installations=installations,
            client=runtime.web_client,
            public_url=str(public_url) if public_url else None,
            teams=teams,
        )
        authorize = InstallationAuthorize(installations)
    return create_app(
        services=runtime.services,
        signing_secret=_required(settings.slack_signing_secret).get_secret_value(),
        web_client=runtime.web_client,
        transport=runtime.transport,
        after_ack=runtime.after_ack,
        opener=runtime.opener,
        picker_pool=runtime.picker_pool,
        options_pool=runtime.options_pool,
        oauth_flow=oauth_flow,
        authorize=authorize,
        before_authorize=OnlyAllowedTeams(teams) if teams.allowed else None,
    )


def build_web_app(runtime: Runtime, bolt_app: App) -> Flask:
    secret = runtime.settings.jira_webhook_secret
    intake = WebhookIntake(runtime.services.uow, clock=lambda: runtime.clock())
    services = runtime.services

    def routes(web: Flask) -> None:
        register_jira_webhook(
            web,
            secret=secret.get_secret_value() if secret else None,
            intake=intake,
            wake=runtime.deliveries_wake.set,
        )
        if services.identity is not None:  # JIRA_AUTH_MODE=user
            register_jira_oauth(
                web,
                identity=services.identity,
                on_connected=lambda connected: tell_connected(services, connected),
            )

    return create_web_app(
        bolt_app=bolt_app,
        signing_secret=_required(runtime.settings.slack_signing_secret).get_secret_value(),
        engine=runtime.engine,
        metrics=runtime.metrics,
        extra_routes=routes,
    )


def _required(value: T | None) -> T:
    if value is None:  # Settings.require_production() has already named what is missing
        raise SettingsError("a required setting is missing")
    return value


def build_worker(runtime: Runtime) -> Worker:
    services = runtime.services
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    router = SubscriptionRouter(
        services.jira, services.policy, outage_pause=runtime.settings.jira_outage_pause_seconds
    )
    dm_policy, dm_gate = dm_rules(services.identity)
    notifier = Notifier(
        connect_account=ConnectAccount(services.jira),
        jira_base_url=services.policy.jira_base_url,
        subscriptions=router,
        personal=PersonalNotices(IssueWatchers(services.jira), dm_policy),
        clock=lambda: runtime.clock(),  # the burst window, on the runtime's clock
    )
    wall = ProjectWall(services.policy)
    lease = timedelta(seconds=runtime.settings.connect_claim_lease_seconds)
    processor = DeliveryProcessor(services.uow, notifier, wall=wall)
    dispatcher = OutboxDispatcher(
        services.uow,
        services.slack,
        render_notification,
        worker_id=worker_id,
        threads=SubscriptionThreads(),
        clock=lambda: runtime.clock(),
        dm_gate=dm_gate,
        lease=lease,
    )
    housekeeping = Housekeeping(
        services.uow,
        retention=timedelta(days=runtime.settings.connect_retention_days),
        clock=lambda: runtime.clock(),
    )
    replies = ReplySync(
        services.uow,
        services.slack,
        reply_writers(services),
        services.users.display_name_for,
        worker_id=worker_id,
        clock=lambda: runtime.clock(),
        outage_pause=runtime.settings.jira_outage_pause_seconds,
        attachments=services.attachments,
        lease=lease,
    )
    jobs = [
        runtime.deliveries_job(processor.run_once),
        PeriodicJob("replies", REPLIES_INTERVAL, replies.run_once),
        PeriodicJob("outbox", OUTBOX_INTERVAL, dispatcher.run_once),
        PeriodicJob("held", HELD_INTERVAL, HeldNotifications(services.uow, router).run_once),
        # Its first run, as the worker starts, retires what a shorter JIRA_PROJECTS left out.
        PeriodicJob("housekeeping", HOUSEKEEPING_INTERVAL, lambda: tidy(wall, housekeeping)),
    ]
    interval = runtime.settings.connect_poll_interval
    if interval > 0:  # 0: webhooks only
        monitor = JiraMonitor(services.uow, services.jira, notifier, interval=interval, wall=wall)
        jobs.append(PeriodicJob("poller", interval, monitor.run_once))
    return Worker(jobs, max_backoff=runtime.settings.connect_max_backoff)


def reply_writers(services: ConnectServices) -> WriterFor:
    """Whose account writes a synced reply's comment: in `bot` mode Connect's, crediting the
    person by name; in `user` mode the person's own (JiraNotConnected without a grant)."""
    identity = services.identity
    if identity is None:
        return lambda _team_id, _user_id: Writer(services.jira)
    return lambda team_id, user_id: Writer(identity.client_for(team_id, user_id), credit=False)


def tidy(wall: ProjectWall, housekeeping: Housekeeping) -> None:
    """Retire what is outside the wall, then purge what is past its retention."""
    wall.sweep(housekeeping.uow)
    housekeeping.run_once()


def run_until_stopped(
    runtime: Runtime,
    server: WebServer,
    worker: Worker | None,
    *,
    started: str,
    closing: Callable[[], None] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT: the worker beside the server, then drain and close.

    `closing` runs first on the way out (Socket Mode lets envelopes in hand finish there)."""
    server.stop_on_signals()
    gc_tuning.settle()
    if worker:
        worker.start()
    log.info(started, server.url)
    try:
        server.run()
    finally:
        if closing is not None:
            closing()
        if worker:
            worker.stop()
        runtime.close()
    return 0
