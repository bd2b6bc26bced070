"""A Jira site in memory (`memory.InMemoryJira`, with sample data and a JQL evaluator), its
REST API v2 over HTTP (`server.FakeJiraServer`) and its webhooks (`webhooks`)."""
