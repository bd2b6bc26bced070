"""Jira's changes, on their way to Slack.

Webhooks taken in (`intake`, with `wire` the payload's shape) and turned into events
(`events`); the poller for when webhooks are missing (`monitor`, `poll_lease`, `poll_search`,
`outages`); the one detector both feed (`detector`, against `announced_state`); and what is
announced where (`deliveries`, `known_issues`, `wall`).
"""
