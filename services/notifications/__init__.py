"""Notifications to Slack, from a change to a message posted once.

`fan_out` turns a Jira change into one notification per subscription and person it concerns;
`held` keeps those whose filter Jira could not check during an outage; `outbox` sends them to
Slack once, within Slack's limits; `failed_work` lists and re-runs what failed for good.
"""
