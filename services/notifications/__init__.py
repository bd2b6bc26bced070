"""Notifications to Slack, from a change to a message posted once (and edited by its burst).

`fan_out` turns a Jira change into one notification per linked thread, subscribed channel and
person it concerns (`personal`: who, and why; `watchers`: who watches, asked of Jira;
`preferences`: what each person chose); `bursts` lets the changes after the first join its
message; `change_lines` says what a change says; `own_changes` keeps changes made from Slack
out of where they were made; `held` keeps those whose filter Jira could not check during an
outage; `render` is how a notification reads; `outbox` sends them to Slack once, within
Slack's limits, and edits them as bursts grow; `failed_work` lists and re-runs what failed
for good.
"""
