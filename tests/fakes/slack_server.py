"""The fake Slack Web API server ships with Connect (the offline demo uses it); tests use it too."""

from clients.slack_sim_server import DEFAULT_TOKEN, RESPONSE_URL, FakeSlackServer, RecordedCall

__all__ = ["DEFAULT_TOKEN", "RESPONSE_URL", "FakeSlackServer", "RecordedCall"]
