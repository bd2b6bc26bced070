"""Who is who: the Slack user's Jira account (`accounts`), the workspaces Connect is installed
in with their bot tokens (`installations`), and the encryption those tokens are stored under
(`token_cipher`)."""
