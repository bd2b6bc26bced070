"""The offline demo: Connect end to end against built-in Slack and Jira simulators (SPEC §9)."""
