"""`InMemoryJira`: a faithful in-memory Jira for unit tests and the offline demo.

It raises what the real client raises (JiraNotFound, JiraFieldErrors, JiraBadRequest for
JQL it cannot evaluate). Every Protocol call is logged in `calls`. People acting in Jira
are simulated with `act_as(user)`, which sets who is behind the calls made in that block on
this thread (Connect's own account otherwise), plus the Jira-side helpers `add_issue`,
`update_issue`, `move_issue` and `delete_issue`. `fail_next` injects failures and
`delay_seconds` slows every call down.

Permissions: `restrict_project` and `restrict_security_level` name who may browse a project
or an issue of a security level. Someone else acting (`act_as`) gets what Jira gives a person
without the permission: the issue is "not found", searches and project lists leave it out,
and creating in the project is refused. Connect's own account sees everything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import IO, Any

from clients.jira_client import (
    FieldMeta,
    IssueType,
    JiraAttachment,
    JiraBadRequest,
    JiraComment,
    JiraError,
    JiraFieldErrors,
    JiraHistory,
    JiraIssue,
    JiraNotFound,
    JiraProject,
    JiraUser,
    Priority,
    SearchPage,
    ServerInfo,
    Transition,
)
from simulators.jira_site.jql import JqlContext, JqlRow, JqlSearch, parse_jql
from simulators.jira_site.model import (
    ISSUE_TYPES,
    NOT_FOUND,
    PRIORITIES,
    STATUSES,
    UNBOUNDED,
    WORKFLOW,
    IssueChange,
    RemoteLink,
    StoredIssue,
    draft_issue,
    jql_known,
    jql_row,
    project_ref,
    system_fields,
    validate_create,
)

# `key in ("A-1", …) AND …`: the poller's searches (see InMemoryJira._candidates).


class InMemoryJira:
    def __init__(
        self,
        *,
        base_url: str = "https://jira.example.com",
        deployment_type: str = "Cloud",
        myself: JiraUser | None = None,
        clock: Callable[[], datetime] | None = None,
        max_page_size: int = 100,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.deployment_type = deployment_type
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.changes: list[IssueChange] = []
        self.delay_seconds = 0.0
        self.max_page_size = max_page_size
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._actor = threading.local()
        self._me = myself or JiraUser("acc-connect", "Connect", None)
        self._users: dict[str, JiraUser] = {self._me.account_id: self._me}
        self._projects: dict[str, JiraProject] = {}
        self._extra_fields: dict[tuple[str, str], list[FieldMeta]] = {}
        self._records: dict[str, StoredIssue] = {}  # by issue id
        self._ids: dict[str, str] = {}  # issue id, key or former key -> issue id
        self._version = 0  # bumped on every change, so that search can reuse its rows
        self._rows: tuple[int, dict[str, frozenset[str]], list[JqlRow]] = (-1, {}, [])
        self._found: dict[tuple[str, str, int], list[str]] = {}  # (jql, user, second) -> refs
        self._counters: dict[str, int] = {}
        self._next_id = 10001
        self._failures: list[tuple[str | None, JiraError]] = []
        self._listeners: list[Callable[[IssueChange], None]] = []
        self._project_readers: dict[str, frozenset[str]] = {}  # project key -> account ids
        self._level_readers: dict[str, frozenset[str]] = {}  # security level -> account ids
        self.attachment_limit = 100 * 1024 * 1024  # the site's own limit on one file
        # Comments deleted so far, by id: their webhook still describes them.
        self.deleted_comments: dict[str, JiraComment] = {}

    def forget_changes(self) -> None:
        """Clear `changes`: what happened so far is history, not news (e.g. seeding)."""
        with self._lock:
            self.changes.clear()

    # Jira-side set-up and actions (not logged in `calls`) -------------------------------------

    def add_user(self, email: str | None, display_name: str, account_id: str) -> JiraUser:
        user = JiraUser(account_id, display_name, email)
        with self._lock:
            self._users[account_id] = user
            self._version += 1
        return user

    def add_project(self, key: str, name: str) -> JiraProject:
        with self._lock:
            project = JiraProject(str(10000 + len(self._projects)), key, name)
            self._projects[key] = project
            self._version += 1
            return project

    def add_field(self, project_key: str, issue_type: str, meta: FieldMeta) -> None:
        """Adds a (custom) field to the create screen of one project's issue type."""
        with self._lock:
            self._extra_fields.setdefault((project_key, issue_type), []).append(meta)

    def restrict_project(self, key: str, readers: set[str] | frozenset[str]) -> None:
        """Only these account ids (and Connect's own account) may browse project `key`."""
        with self._lock:
            self._project_readers[key] = frozenset(readers)
            self._version += 1

    def restrict_security_level(self, level: str, readers: set[str] | frozenset[str]) -> None:
        """Only these account ids (and Connect's own account) may browse issues of `level`."""
        with self._lock:
            self._level_readers[level] = frozenset(readers)
            self._version += 1

    def may_browse(self, issue: JiraIssue, user: JiraUser | None = None) -> bool:
        """Whether `user` (the one acting on this thread by default) may see `issue`."""
        who = (user or self._current_actor()).account_id
        return self._may_browse_project(issue.project_key, who) and (
            issue.security is None
            or who == self._me.account_id
            or who in self._level_readers.get(issue.security, frozenset({who}))
        )

    def _may_browse_project(self, project_key: str, who: str) -> bool:
        readers = self._project_readers.get(project_key)
        return readers is None or who == self._me.account_id or who in readers

    def now(self) -> datetime:
        """The clock of this Jira, to the millisecond as Jira keeps it."""
        now = self._clock().astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)  # Jira keeps milliseconds

    def users(self) -> list[JiraUser]:
        with self._lock:
            return list(self._users.values())

    def user(self, who: str) -> JiraUser:
        """A user by account id or e-mail."""
        with self._lock:
            for user in self._users.values():
                if who in (user.account_id, user.email):
                    return user
        raise KeyError(who)

    @contextmanager
    def act_as(self, who: JiraUser | str) -> Iterator[JiraUser]:
        """Calls in this block on this thread are made by `who`, a person acting in Jira."""
        user = who if isinstance(who, JiraUser) else self.user(who)
        previous = getattr(self._actor, "user", None)
        self._actor.user = user
        try:
            yield user
        finally:
            self._actor.user = previous

    def add_issue(
        self,
        project_key: str,
        summary: str,
        *,
        issue_type: str = "Task",
        status: str = "To Do",
        priority: str | None = "Medium",
        assignee: str | None = None,
        reporter: str | None = None,
        description: str | None = None,
        labels: tuple[str, ...] = (),
        created: datetime | None = None,
    ) -> JiraIssue:
        """Seeds an issue as if someone had created it in Jira."""
        with self._lock:
            draft = draft_issue(
                project_key,
                summary,
                issue_type,
                status=status,
                priority=priority,
                assignee=self.user(assignee) if assignee else None,
                reporter=self.user(reporter) if reporter else self._current_actor(),
                description=description,
                labels=labels,
            )
            return self._insert(draft, created)

    def update_issue(self, key: str, **fields: Any) -> JiraIssue:
        """A Jira-side edit of JiraIssue attributes (summary, priority, description, labels...)."""
        with self._lock:
            self._record(key)
            if "status" in fields:
                fields.setdefault("status_category", STATUSES[fields["status"]])
            return self._set(key, **fields)

    def move_issue(self, key: str, project_key: str) -> JiraIssue:
        """Moves an issue to another project: it gets a new key and keeps answering the old."""
        with self._lock:
            record = self._record(key)
            new_key = self._new_key(self._project(project_key).key)
            record.former_keys.append(record.issue.key)
            self._ids[new_key] = record.issue.id
            url = f"{self.base_url}/browse/{new_key}"
            return self._set(key, key=new_key, url=url, project_key=project_key)

    def delete_issue(self, key: str) -> None:
        with self._lock:
            record = self._record(key)
            del self._records[record.issue.id]
            for ref in (record.issue.id, record.issue.key, *record.former_keys):
                self._ids.pop(ref, None)
            self._announce(record.issue.key, "deleted", record.issue.key, None)

    def remote_links(self, key: str) -> list[RemoteLink]:
        with self._lock:
            return list(self._record(key).links.values())

    def history(self, key: str) -> list[JiraHistory]:
        """The issue's changelog, oldest first (not logged in `calls`)."""
        with self._lock:
            return list(self._record(key).history)

    def comments(self, key: str) -> list[JiraComment]:
        with self._lock:
            return list(self._record(key).comments)

    def add_watcher(self, key: str, who: JiraUser | str) -> None:
        """`who` (a user, e-mail or account id) starts watching the issue; no webhook, as in
        Jira, where watching is not a change of the issue."""
        user = who if isinstance(who, JiraUser) else self.user(who)
        with self._lock:
            watchers = self._record(key).watchers
            if user.account_id not in watchers:
                watchers.append(user.account_id)

    def search_all(self, jql: str) -> list[JiraIssue]:
        """Every issue matching `jql`, in order, without paging (not logged in `calls`)."""
        with self._lock:
            version, known, rows = self._rows
            if version != self._version:
                stored = self._records.values()
                known = jql_known(stored, self._projects.values(), self._users.values())
                rows = [jql_row(s, self._projects[s.issue.project_key]) for s in stored]
                self._rows = (self._version, known, rows)
                self._found.clear()
            context = self._jql_context(known)
            # Like Jira's own index: the pages of one search, asked within the same second of
            # the same data, are read from one evaluation of the query.
            memo = (jql, context.current_user, int(context.now.timestamp()))
            refs = self._found.get(memo)
            if refs is None:
                query = parse_jql(jql, context)
                if not query.order_by:
                    query = replace(query, order_by=(("created", True), ("key", True)))
                refs = [row.ref for row in query.apply(self._candidates(query, rows))]
                if len(self._found) >= 64:
                    self._found.clear()
                self._found[memo] = refs
            found = [self._records[ref].issue for ref in refs]
            return [issue for issue in found if self.may_browse(issue)]

    def _candidates(self, query: JqlSearch, rows: list[JqlRow]) -> list[JqlRow]:
        """The rows `query` can match: for `key in (…) AND …`, only the listed issues' rows."""
        if query.keys is None:
            return rows
        ids = {self._ids.get(key) for key in query.keys}
        return [row for row in rows if row.ref in ids]

    def add_listener(self, listener: Callable[[IssueChange], None]) -> None:
        """`listener` gets every IssueChange, e.g. to play it to Connect as a webhook."""
        with self._lock:
            self._listeners.append(listener)

    def fail_next(self, error: JiraError, *, operation: str | None = None, times: int = 1) -> None:
        """The next `times` calls (of `operation`, or any) raise `error` instead of running."""
        with self._lock:
            self._failures.extend([(operation, error)] * times)

    # The JiraClient protocol ------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        self._enter("server_info")
        version = "1001.0.0-SNAPSHOT" if self.deployment_type == "Cloud" else "9.12.0"
        return ServerInfo(self.base_url, self.deployment_type, version)

    def myself(self) -> JiraUser:
        self._enter("myself")
        return self._current_actor()  # a person's token (the OAuth gateway) is that person

    def get_issue(self, key: str) -> JiraIssue:
        self._enter("get_issue", key)
        with self._lock:
            return self._record(key).issue

    def search(
        self,
        jql: str,
        *,
        max_results: int = 50,
        page_token: str | None = None,
        with_comments: bool = False,
        with_changelog: bool = False,
    ) -> SearchPage:
        asked: dict[str, bool] = {}  # logged only when asked
        if with_comments:
            asked["with_comments"] = True
        if with_changelog:
            asked["with_changelog"] = True
        self._enter("search", jql, max_results=max_results, page_token=page_token, **asked)
        if page_token is not None and not page_token.isdigit():
            raise JiraBadRequest("The provided next page token is invalid or expired.")
        if self.deployment_type == "Cloud" and not parse_jql(jql, self._jql_context()).bounded:
            raise JiraBadRequest(UNBOUNDED)
        start = int(page_token or 0)
        size = max(1, min(max_results, self.max_page_size))
        with self._lock:  # the comments as of the same moment as the issues
            found = self.search_all(jql)
            page = found[start : start + size]
            if with_comments:
                page = [replace(i, comments=tuple(self._records[i.id].comments)) for i in page]
            if with_changelog:
                page = [replace(i, history=tuple(self._records[i.id].history)) for i in page]
        more = start + size < len(found)
        return SearchPage(tuple(page), str(start + size) if more else None)

    def projects(self) -> list[JiraProject]:
        self._enter("projects")
        who = self._current_actor().account_id
        with self._lock:
            return [p for p in self._projects.values() if self._may_browse_project(p.key, who)]

    def issue_types(self, project_key: str) -> list[IssueType]:
        self._enter("issue_types", project_key)
        with self._lock:
            self._project(project_key)
            return list(ISSUE_TYPES)

    def create_fields(self, project_key: str, issue_type_id: str) -> list[FieldMeta]:
        self._enter("create_fields", project_key, issue_type_id)
        with self._lock:
            project = self._project(project_key)
            issue_type = self._issue_type(issue_type_id)
            return system_fields() + self._extra_fields.get((project.key, issue_type.name), [])

    def priorities(self) -> list[Priority]:
        self._enter("priorities")
        return list(PRIORITIES)

    def create_issue(self, fields: Mapping[str, Any]) -> JiraIssue:
        self._enter("create_issue", dict(fields))
        with self._lock:
            wanted = project_ref(fields.get("project"))
            project = next((p for p in self._projects.values() if wanted in (p.key, p.id)), None)
            who = self._current_actor().account_id
            if project is not None and not self._may_browse_project(project.key, who):
                raise JiraFieldErrors(
                    {"project": "You do not have permission to create issues in this project."}
                )
            draft, custom = validate_create(fields, self._projects, self._users, self._extra_fields)
            issue = self._insert(replace(draft, reporter=draft.reporter or self._current_actor()))
            self._records[issue.id].custom.update(custom)
            return issue

    def transitions(self, key: str) -> list[Transition]:
        self._enter("transitions", key)
        with self._lock:
            status = self._record(key).issue.status
            return [t for sources, t in WORKFLOW if status in sources]

    def transition_issue(self, key: str, transition_id: str) -> None:
        self._enter("transition_issue", key, transition_id)
        with self._lock:
            status = self._record(key).issue.status
            chosen = [t for sources, t in WORKFLOW if status in sources and t.id == transition_id]
            if not chosen:
                raise JiraBadRequest(
                    f"Transition id '{transition_id}' is not valid for this issue."
                )
            target = chosen[0].to_status
            done = STATUSES[target] == "done"
            self._set(key, status=target, status_category=STATUSES[target])
            self._set(key, resolution="Done" if done else None)

    def assign_issue(self, key: str, account_id: str | None) -> None:
        self._enter("assign_issue", key, account_id)
        with self._lock:
            self._record(key)
            user = self._users.get(account_id or "")
            if account_id is not None and (user is None or not user.active):
                raise JiraFieldErrors(
                    {"assignee": f"User '{account_id}' cannot be assigned issues."}
                )
            self._set(key, assignee=user)

    def add_comment(
        self, key: str, body: str, *, visibility: tuple[str, str] | None = None
    ) -> JiraComment:
        """`visibility` (a Jira-side helper; Connect never sets it): ("role", "Administrators")."""
        self._enter("add_comment", key, body)
        with self._lock:
            record = self._record(key)
            if not body.strip():
                raise JiraFieldErrors({"comment": "Comment body can not be empty!"})
            now = self.now()
            comment = JiraComment(
                str(self._take_id()), body, self._current_actor(), now, now, visibility
            )
            record.comments.append(comment)
            self._set(key, updated=now)
            self._announce(record.issue.key, "comment", None, comment.id)
            return comment

    def add_attachment(self, key: str, filename: str, content: IO[bytes]) -> JiraAttachment:
        self._enter("add_attachment", key, filename)
        data = content.read()
        with self._lock:
            record = self._record(key)
            if len(data) > self.attachment_limit:
                raise JiraBadRequest(
                    f"The file {filename} is larger than the attachment size limit.", status=413
                )
            attachment = JiraAttachment(str(self._take_id()), filename, len(data))
            record.attachments.append((attachment, data))
            self._set(key, updated=self.now())
            return attachment

    def attachments(self, key: str) -> list[JiraAttachment]:
        """The issue's files (a Jira-side helper, not logged)."""
        with self._lock:
            return [attachment for attachment, _ in self._record(key).attachments]

    def attachment_content(self, key: str, attachment_id: str) -> bytes:
        with self._lock:
            for attachment, data in self._record(key).attachments:
                if attachment.id == attachment_id:
                    return data
        raise JiraNotFound(f"No attachment {attachment_id}.", status=404)

    def issue_comments(self, key: str) -> list[JiraComment]:
        self._enter("issue_comments", key)
        with self._lock:
            return list(self._record(key).comments)

    def update_comment(self, key: str, comment_id: str, body: str) -> JiraComment:
        self._enter("update_comment", key, comment_id, body)
        with self._lock:
            record = self._record(key)
            if not body.strip():
                raise JiraFieldErrors({"comment": "Comment body can not be empty!"})
            index = self._comment_index(record, comment_id)
            now = self.now()
            comment = replace(record.comments[index], body=body, updated=now)
            record.comments[index] = comment
            self._set(key, updated=now)
            self._announce(record.issue.key, "comment_updated", None, comment.id)
            return comment

    def delete_comment(self, key: str, comment_id: str) -> None:
        self._enter("delete_comment", key, comment_id)
        with self._lock:
            record = self._record(key)
            comment = record.comments.pop(self._comment_index(record, comment_id))
            self.deleted_comments[comment.id] = comment
            self._set(key, updated=self.now())
            self._announce(record.issue.key, "comment_deleted", None, comment.id)

    def _comment_index(self, record: StoredIssue, comment_id: str) -> int:
        for index, comment in enumerate(record.comments):
            if comment.id == comment_id:
                return index
        raise JiraNotFound(f"Can not find a comment for the id: {comment_id}.", status=404)

    def upsert_remote_link(
        self, key: str, *, global_id: str, url: str, title: str, summary: str | None = None
    ) -> None:
        self._enter("upsert_remote_link", key, global_id=global_id, url=url, title=title)
        with self._lock:
            record = self._record(key)
            if not title.strip() or not url.strip():
                raise JiraFieldErrors({"object": "A remote link needs a url and a title."})
            existing = record.links.get(global_id)
            link_id = existing.id if existing else str(self._take_id())
            record.links[global_id] = RemoteLink(link_id, global_id, url, title, summary)

    def watchers(self, key: str) -> list[JiraUser]:
        self._enter("watchers", key)
        with self._lock:
            ids = list(self._record(key).watchers)
            return [self._users[i] for i in ids if i in self._users]

    def find_users_by_email(self, email: str) -> list[JiraUser]:
        self._enter("find_users_by_email", email)
        with self._lock:
            wanted = email.strip().casefold()
            return [
                u for u in self._users.values() if u.active and (u.email or "").casefold() == wanted
            ]

    # Internals --------------------------------------------------------------------------------

    def _enter(self, operation: str, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append((operation, args, kwargs))
            index = next(
                (i for i, (op, _) in enumerate(self._failures) if op in (None, operation)), None
            )
            failure = self._failures.pop(index)[1] if index is not None else None
        if self.delay_seconds:
            time.sleep(self.delay_seconds)  # outside the lock, so slow calls still overlap
        if failure is not None:
            raise failure

    def _jql_context(self, known: dict[str, frozenset[str]] | None = None) -> JqlContext:
        return JqlContext(self.now(), self._current_actor().account_id, known or {})

    def _current_actor(self) -> JiraUser:
        user: JiraUser | None = getattr(self._actor, "user", None)
        return user or self._me

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _new_key(self, project_key: str) -> str:
        self._counters[project_key] = self._counters.get(project_key, 0) + 1
        return f"{project_key}-{self._counters[project_key]}"

    def _record(self, key: str) -> StoredIssue:
        issue_id = self._ids.get(key.strip().upper())
        if issue_id is None or not self.may_browse(self._records[issue_id].issue):
            raise JiraNotFound(NOT_FOUND, status=404)
        return self._records[issue_id]

    def _project(self, key: str) -> JiraProject:
        who = self._current_actor().account_id
        for project in self._projects.values():
            if key in (project.key, project.id) and self._may_browse_project(project.key, who):
                return project
        raise JiraNotFound(f"No project could be found with key '{key}'.", status=404)

    def _issue_type(self, type_id: str) -> IssueType:
        for issue_type in ISSUE_TYPES:
            if type_id in (issue_type.id, issue_type.name):
                return issue_type
        raise JiraNotFound(f"Issue type with id '{type_id}' does not exist.", status=404)

    def _insert(self, draft: JiraIssue, created: datetime | None = None) -> JiraIssue:
        key = self._new_key(self._project(draft.project_key).key)
        when = created or self.now()
        url = f"{self.base_url}/browse/{key}"
        issue = replace(
            draft, id=str(self._take_id()), key=key, url=url, created=when, updated=when
        )
        self._records[issue.id] = StoredIssue(issue)
        self._ids[issue.id] = self._ids[key] = issue.id
        self._announce(key, "created", None, key)
        return issue

    def _set(self, ref: str, /, **changes: Any) -> JiraIssue:
        record = self._record(ref)
        before = record.issue
        record.issue = replace(before, **changes)
        changed = [n for n in changes if getattr(before, n) != changes[n] and n != "updated"]
        if changed:
            record.issue = replace(record.issue, updated=changes.get("updated", self.now()))
        for name in changed:
            if name not in _DERIVED:
                self._announce(before.key, name, _text(getattr(before, name)), _text(changes[name]))
        logged = tuple(
            _CHANGELOG_FIELDS.get(name, name) for name in changed if name not in _DERIVED
        )
        if logged:
            record.history.append(JiraHistory(self._current_actor(), self.now(), logged))
        return record.issue

    def _announce(self, key: str, field: str, old: str | None, new: str | None) -> None:
        change = IssueChange(key, field, old, new, self._current_actor(), self.now())
        self._version += 1
        self.changes.append(change)
        for listener in list(self._listeners):
            listener(change)


# JiraIssue attributes as the changelog names their fields; derived ones are not logged.
_CHANGELOG_FIELDS = {"project_key": "project", "issue_type": "issuetype", "components": "component"}
_DERIVED = frozenset({"status_category", "url"})  # follow from status and key


def _text(value: Any) -> str | None:
    if isinstance(value, JiraUser):
        return value.account_id
    return None if value is None else str(value)
