"""Stand-ins for Jira and Slack that the offline demo and the tests run against: in-memory
models, with the HTTP servers that speak each system's API beside them (SPEC §2, §9)."""
