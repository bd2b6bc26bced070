"""A Slack workspace in memory (`memory.InMemorySlack`) and its Web API over HTTP
(`server.FakeSlackServer`, with views and response URLs)."""
