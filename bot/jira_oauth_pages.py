"""`GET /jira/oauth/start` and `GET /jira/oauth/callback`: a person connecting their Jira
account in the browser (SPEC §12, JIRA_AUTH_MODE=user).

The pages are plain HTML written by Connect: nothing from the request is echoed into them
(the only variable text is the Jira account's name, from Jira, escaped). They are never
cached, framed or given a Referer (the callback URL carries the code). A missing, forged,
reused or expired state answers 400 and no token is asked for.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from flask import Flask, Response, request

from clients.jira_client import JiraAuthError, JiraError, JiraUnavailable
from clients.jira_oauth import OAuthInvalidGrant
from services.people.jira_identity import (
    ATLASSIAN_APPS_URL,
    CALLBACK_PATH,
    START_PATH,
    BadState,
    Connected,
    JiraIdentity,
)

log = logging.getLogger("connect.jira_oauth")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
BAD_STATE_TEXT = (
    "This sign-in link is not valid: it was already used, it is more than 10 minutes old, or "
    "Connect did not make it. Run /jira connect in Slack to get a new one."
)


def page(status: int, title: str, text: str) -> Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return Response(body, status=status, mimetype="text/html", headers=_HEADERS)


def register_jira_oauth(
    web: Flask, *, identity: JiraIdentity, on_connected: Callable[[Connected], None]
) -> None:
    @web.get(START_PATH)
    def jira_oauth_start() -> Response:
        try:
            target = identity.authorize_url(request.args.get("state", ""))
        except BadState:
            return page(400, "Sign-in link not valid", BAD_STATE_TEXT)
        return Response(status=302, headers={**_HEADERS, "Location": target})

    @web.get(CALLBACK_PATH)
    def jira_oauth_callback() -> Response:
        state = request.args.get("state", "")
        code = request.args.get("code", "")
        if request.args.get("error") or not code:
            identity.cancel(state)  # the state is spent either way
            return page(
                400,
                "Jira account not connected",
                "Jira did not grant access (you may have declined). Run /jira connect in Slack "
                "to try again.",
            )
        try:
            connected = identity.complete(state, code)
        except BadState:
            return page(400, "Sign-in link not valid", BAD_STATE_TEXT)
        except OAuthInvalidGrant:
            return page(
                400,
                "Jira account not connected",
                "Jira refused the sign-in (the code expired or was used). Run /jira connect in "
                "Slack to try again.",
            )
        except JiraUnavailable:
            return page(
                502,
                "Jira is not reachable",
                "Connect could not reach Jira to finish connecting your account. Run /jira "
                "connect in Slack to try again in a minute.",
            )
        except JiraAuthError as error:
            return page(403, "Jira account not connected", error.message)
        except JiraError:
            log.exception("Finishing a Jira sign-in failed")
            return page(502, "Jira account not connected", "Jira answered something unexpected.")
        try:
            on_connected(connected)  # the DM; the grant is stored whatever becomes of it
        except Exception:
            log.exception("Could not tell a person their Jira account is connected")
        name = connected.grant.display_name
        return page(
            200,
            "Jira account connected",
            f"Connected as {name}; you can close this tab and go back to Slack.",
        )


__all__ = ["ATLASSIAN_APPS_URL", "page", "register_jira_oauth"]
