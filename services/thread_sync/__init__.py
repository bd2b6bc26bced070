"""Threads that stay in step with Jira (SPEC §13): replies in a synced thread become Jira
comments, edits edit them, deletions delete them.

    replies.py    what a Slack message event means for a synced thread (pure), and the intake
                  that stores it before the ack (processed_deliveries, source `slack_reply`)
    processor.py  the worker job: claims stored replies once, in thread order, and writes
                  the comments (the same durable claim path as Jira webhooks)
    switch.py     turning a link's sync on and off, and the channel default
    echoes.py     which Jira comments came from a thread, so they are not posted back there
"""
