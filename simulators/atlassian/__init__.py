"""Atlassian's side of per-person Jira identity (SPEC §12): the OAuth 2.0 (3LO) authorization
server and the API gateway in front of a fake Jira Cloud site (`server.FakeAtlassian`)."""
