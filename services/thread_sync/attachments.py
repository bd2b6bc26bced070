"""Files of the messages that become a description, a comment or a synced reply, copied to
the Jira issue (SPEC §13), each up to JIRA_ATTACHMENT_MAX_MB; what was skipped, and why, is
said where the action is confirmed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

from clients.jira_client import JiraClient, JiraError, JiraUnavailable
from clients.slack_client import SlackClient, SlackError
from services.markup import escape_mrkdwn
from services.thread_sync.capture import MAX_THREAD_MESSAGES
from services.thread_sync.replies import ReplyFile

log = logging.getLogger(__name__)

MIB = 1024 * 1024
FILE_SECONDS = 60.0  # the most one file may take to read from Slack
MAX_FILES = 20


class FileSource(Protocol):
    """clients.slack_files.SlackFileDownloads."""

    def download(
        self, team_id: str, url: str, *, max_bytes: int, deadline_seconds: float
    ) -> IO[bytes]: ...


@dataclass
class AttachReport:
    attached: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)

    @property
    def empty(self) -> bool:
        return not self.attached and not self.skipped

    def text(self) -> str:
        """One line for Slack (mrkdwn; file names escaped by the caller's escape)."""
        parts = []
        if self.attached:
            parts.append("Attached to Jira: " + ", ".join(self.attached) + ".")
        if self.skipped:
            parts.append(
                "Not attached: " + "; ".join(f"{name} ({why})" for name, why in self.skipped) + "."
            )
        return " ".join(parts)


class AttachmentCopier:
    def __init__(
        self,
        files: FileSource,
        *,
        max_mb: float,
        file_seconds: float = FILE_SECONDS,
    ) -> None:
        self.files = files
        self.max_bytes = int(max_mb * MIB)
        self.max_mb = max_mb
        self.file_seconds = file_seconds

    def copy(
        self, jira: JiraClient, issue_key: str, team_id: str, files: Sequence[ReplyFile]
    ) -> AttachReport:
        """Each file in turn; a failure skips that file only. Jira unreachable skips the rest."""
        report = AttachReport()
        for index, item in enumerate(files):
            if index >= MAX_FILES:
                report.skipped.append((item.name, f"only {MAX_FILES} files are copied at once"))
                continue
            report_one = self._copy_one(jira, issue_key, team_id, item)
            if report_one is None:
                report.attached.append(item.name)
            else:
                report.skipped.append((item.name, report_one))
        return report

    def _copy_one(
        self, jira: JiraClient, issue_key: str, team_id: str, item: ReplyFile
    ) -> str | None:
        """None when attached; else why not."""
        limit = f"over the {self.max_mb:g} MB limit"
        if item.size > self.max_bytes:
            return f"{item.size / MIB:.1f} MB, {limit}"
        try:
            content = self.files.download(
                team_id, item.url, max_bytes=self.max_bytes, deadline_seconds=self.file_seconds
            )
        except Exception as error:  # clients.slack_files.SlackFileError and its kin
            reason = getattr(error, "reason", None)
            if reason is None:
                log.exception("reading file %s from Slack failed", item.id)
                reason = "it could not be read from Slack"
            return limit if "larger than the limit" in reason else reason
        try:
            jira.add_attachment(issue_key, item.name, content)
        except JiraUnavailable:
            return "Jira could not be reached"
        except JiraError as error:
            return f"Jira refused it: {error.message[:200]}"
        finally:
            content.close()
        return None


def source_files(
    slack: SlackClient, channel_id: str, thread_ts: str, message_ts: str, *, whole: bool
) -> list[ReplyFile]:
    """The files of the message (or of every message of the thread), as Slack has them now."""
    if whole:
        messages = slack.thread_messages(channel_id, thread_ts, limit=MAX_THREAD_MESSAGES)
    else:
        around = slack.thread_messages(channel_id, thread_ts, oldest=message_ts, limit=2)
        messages = [m for m in around if m.get("ts") == message_ts]
    found = (
        ReplyFile.from_slack(item)
        for message in messages
        for item in message.get("files") or []
        if isinstance(item, dict)
    )
    return [item for item in found if item is not None]


def attach_source_files(
    copier: AttachmentCopier | None,
    slack: SlackClient,
    jira: JiraClient,
    issue_key: str,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    message_ts: str,
    *,
    whole: bool,
) -> str | None:
    """Copy the files to the issue; a line (mrkdwn) for the confirmation, None when there were
    none or files are not copied (`copier` None)."""
    if copier is None:
        return None
    try:
        files = source_files(slack, channel_id, thread_ts, message_ts, whole=whole)
    except SlackError as error:
        log.info("could not read the files of %s: %s", message_ts, error.error)
        return "The message's files could not be read from Slack; none were attached."
    if not files:
        return None
    report = copier.copy(jira, issue_key, team_id, files)
    return escape_mrkdwn(report.text()) if not report.empty else None
