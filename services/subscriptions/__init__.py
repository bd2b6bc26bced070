"""Subscriptions: which Jira changes a channel or a person hears of, and where.

`service` parses `/jira subscribe` and keeps the subscriptions; `filter` checks a change
against a subscription's JQL; `routing` picks the subscriptions a change reaches; `threads`
keeps one Slack thread per issue and channel.
"""
