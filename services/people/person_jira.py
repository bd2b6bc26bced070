"""Acting in Jira as one person (SPEC §12, `JIRA_AUTH_MODE=user`): `PersonJira` is the
JiraClient protocol, each call made with the person's current access token. A 401 has the
token refreshed once (unless another worker already has: `Grants.access_client` with the
token that failed) and the call tried again; a second 401 means the grant is dead and the
person must connect again (`JiraNotConnected`). A 403 is Jira's permissions speaking: told
as such, never as a connection problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any, Protocol, TypeVar

from pydantic import SecretStr

from clients.jira_client import (
    FieldMeta,
    IssueType,
    JiraAttachment,
    JiraAuthError,
    JiraClient,
    JiraComment,
    JiraIssue,
    JiraProject,
    JiraUser,
    Priority,
    SearchPage,
    ServerInfo,
    Transition,
)
from services.errors import ConnectError, NotPermitted

T = TypeVar("T")
PersonKey = tuple[str, str]  # (team_id, slack_user_id)


class JiraNotConnected(ConnectError):
    """The person has no working Jira grant: they must connect (again) before acting."""

    def __init__(self, *, reconnect: bool = False) -> None:
        text = (
            "Your Jira connection has expired or was revoked. Connect your Jira account again "
            "to go on."
            if reconnect
            else "Connect your Jira account first: Connect acts in Jira as you."
        )
        super().__init__(text)
        self.reconnect = reconnect


class Access(Protocol):
    """A client with the person's current access token."""

    @property
    def token(self) -> SecretStr: ...

    @property
    def client(self) -> JiraClient: ...


class Grants(Protocol):
    """Where people's grants are kept (services.people.jira_identity.JiraIdentity)."""

    def access_client(self, key: PersonKey, *, failed: SecretStr | None = None) -> Access: ...


class PersonJira:
    """The JiraClient protocol as one person: each call with their current access token; a
    401 refreshes the token once (unless another worker already has) and tries again."""

    def __init__(self, grants: Grants, key: PersonKey) -> None:
        self._grants = grants
        self._key = key

    def __repr__(self) -> str:
        return f"PersonJira({self._key[0]}/{self._key[1]})"

    def _run(self, call: Callable[[JiraClient], T]) -> T:
        access = self._grants.access_client(self._key)
        try:
            return call(access.client)
        except JiraAuthError as error:
            if error.status != 401:
                raise _refused() from None
        access = self._grants.access_client(self._key, failed=access.token)
        try:
            return call(access.client)
        except JiraAuthError as error:
            if error.status != 401:
                raise _refused() from None
            self._grants.access_client(self._key, failed=access.token)
            raise JiraNotConnected(reconnect=True) from None

    def server_info(self) -> ServerInfo:
        return self._run(lambda c: c.server_info())

    def myself(self) -> JiraUser:
        return self._run(lambda c: c.myself())

    def get_issue(self, key: str) -> JiraIssue:
        return self._run(lambda c: c.get_issue(key))

    def search(
        self,
        jql: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        with_comments: bool = False,
        with_changelog: bool = False,
    ) -> SearchPage:
        return self._run(
            lambda c: c.search(
                jql,
                max_results=max_results,
                page_token=page_token,
                with_comments=with_comments,
                with_changelog=with_changelog,
            )
        )

    def projects(self) -> list[JiraProject]:
        return self._run(lambda c: c.projects())

    def issue_types(self, project_key: str) -> list[IssueType]:
        return self._run(lambda c: c.issue_types(project_key))

    def create_fields(self, project_key: str, issue_type_id: str) -> list[FieldMeta]:
        return self._run(lambda c: c.create_fields(project_key, issue_type_id))

    def priorities(self) -> list[Priority]:
        return self._run(lambda c: c.priorities())

    def create_issue(self, fields: Any) -> JiraIssue:
        return self._run(lambda c: c.create_issue(fields))

    def issue_comments(self, key: str) -> list[JiraComment]:
        return self._run(lambda c: c.issue_comments(key))

    def update_comment(self, key: str, comment_id: str, body: str) -> JiraComment:
        return self._run(lambda c: c.update_comment(key, comment_id, body))

    def delete_comment(self, key: str, comment_id: str) -> None:
        self._run(lambda c: c.delete_comment(key, comment_id))

    def add_attachment(self, key: str, filename: str, content: IO[bytes]) -> JiraAttachment:
        start = content.tell()  # a refreshed token sends the file again, from where it began

        def upload(client: JiraClient) -> JiraAttachment:
            content.seek(start)
            return client.add_attachment(key, filename, content)

        return self._run(upload)

    def watchers(self, key: str) -> list[JiraUser]:
        return self._run(lambda c: c.watchers(key))

    def transitions(self, key: str) -> list[Transition]:
        return self._run(lambda c: c.transitions(key))

    def transition_issue(self, key: str, transition_id: str) -> None:
        self._run(lambda c: c.transition_issue(key, transition_id))

    def assign_issue(self, key: str, account_id: str | None) -> None:
        self._run(lambda c: c.assign_issue(key, account_id))

    def add_comment(self, key: str, body: str) -> JiraComment:
        return self._run(lambda c: c.add_comment(key, body))

    def upsert_remote_link(
        self, key: str, *, global_id: str, url: str, title: str, summary: str | None = None
    ) -> None:
        self._run(
            lambda c: c.upsert_remote_link(
                key, global_id=global_id, url=url, title=title, summary=summary
            )
        )

    def find_users_by_email(self, email: str) -> list[JiraUser]:
        return self._run(lambda c: c.find_users_by_email(email))


def _refused() -> NotPermitted:
    return NotPermitted(
        ":no_entry: Jira says your account may not do this (your Jira permissions decide)."
    )
