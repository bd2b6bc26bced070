"""Files people shared in Slack, read with the bot token (`files:read`) for copying to Jira.

A file is streamed from Slack into a spooled temporary file (kept in memory up to 1 MiB,
on disk beyond), which the Jira upload then streams from: no file is ever held in memory
twice, nor whole when it is large. Each download has a deadline and a size cap, checked as
the bytes arrive (a file may be larger than Slack said). The token is sent only to Slack's
own hosts (`files.slack.com`, and the host of SLACK_API_URL for a stand-in).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import IO
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

SPOOL_IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})

# team id → that workspace's bot token (None when Connect has none for it).
TokenFor = Callable[[str], SecretStr | None]


class SlackFileError(Exception):
    """Why a file could not be read; `reason` is fit to show a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlackFileTooLarge(SlackFileError):
    pass


class SlackFileDownloads:
    def __init__(
        self,
        token_for: TokenFor,
        *,
        api_url: str = "https://slack.com/api/",
        connect_timeout: float = 5.0,
    ) -> None:
        self.token_for = token_for
        self.connect_timeout = connect_timeout
        self.hosts = SLACK_FILE_HOSTS | {urlsplit(api_url).netloc}
        self.session = requests.Session()

    def download(
        self, team_id: str, url: str, *, max_bytes: int, deadline_seconds: float
    ) -> IO[bytes]:
        """The file, rewound, in a temporary file the caller closes; raises SlackFileError."""
        if urlsplit(url).netloc not in self.hosts or urlsplit(url).scheme not in ("http", "https"):
            raise SlackFileError("it is not stored in Slack")
        token = self.token_for(team_id)
        if token is None:
            raise SlackFileError("Connect has no Slack token for this workspace")
        started = time.monotonic()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            with self.session.get(
                url,
                headers={"Authorization": f"Bearer {token.get_secret_value()}"},
                stream=True,
                allow_redirects=False,  # a redirect is Slack's login page: no access
                timeout=(self.connect_timeout, max(deadline_seconds, 0.1)),
            ) as response:
                if response.status_code != 200:
                    raise SlackFileError(
                        f"Slack would not hand it over (HTTP {response.status_code})"
                    )
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > max_bytes:
                    raise SlackFileTooLarge("it is larger than the limit")
                size = 0
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise SlackFileTooLarge("it is larger than the limit")
                    if time.monotonic() - started > deadline_seconds:
                        raise SlackFileError(
                            f"reading it from Slack took over {deadline_seconds:g} s"
                        )
                    spool.write(chunk)
        except requests.RequestException as error:
            spool.close()
            raise SlackFileError(f"Slack could not be reached ({type(error).__name__})") from None
        except SlackFileError:
            spool.close()
            raise
        spool.seek(0)
        return spool
