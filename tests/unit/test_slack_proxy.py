"""Which proxy a Slack call goes through (`clients.slack_transport.proxy_for`): HTTPS_PROXY /
HTTP_PROXY as slack_sdk reads them, and none for a host NO_PROXY / no_proxy names. Only the
environment is read: nothing connects anywhere."""

from __future__ import annotations

import pytest

from clients.slack_transport import SlackTransport, proxy_for

PROXY = "http://proxy.internal:3128"
VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_no_proxy_in_the_environment_means_none() -> None:
    assert proxy_for("https://slack.com/api/") is None


def test_https_proxy_is_taken_for_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    assert proxy_for("https://slack.com/api/") == PROXY
    assert proxy_for("https://hooks.slack.com/actions/T1/1/x") == PROXY


def test_the_urls_own_scheme_first_else_either(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://secure.internal:3128")
    monkeypatch.setenv("http_proxy", "http://plain.internal:3128")
    assert proxy_for("https://slack.com/api/") == "http://secure.internal:3128"
    assert proxy_for("http://slack.internal/api/") == "http://plain.internal:3128"
    monkeypatch.delenv("https_proxy")
    assert proxy_for("https://slack.com/api/") == "http://plain.internal:3128"  # as slack_sdk


@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
def test_no_proxy_exempts_the_hosts_it_names(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv(variable, "localhost, slack.com")
    assert proxy_for("https://slack.com/api/") is None
    assert proxy_for("https://hooks.slack.com/actions/T1/1/x") is None  # a domain's hosts too
    assert proxy_for("http://localhost:8080/api/") is None
    assert proxy_for("https://acme.atlassian.net/") == PROXY
    assert proxy_for("https://notslack.com/api/") == PROXY  # a suffix is not the domain


def test_no_proxy_with_a_port_exempts_that_port_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1:8080")
    assert proxy_for("http://127.0.0.1:8080/api/") is None
    assert proxy_for("http://127.0.0.1:9090/api/") == PROXY


def test_no_proxy_star_exempts_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "*")
    assert proxy_for("https://slack.com/api/") is None


def test_a_transports_clients_take_its_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """WebClient and AsyncWebClient read HTTPS_PROXY without NO_PROXY when made: the
    transport's choice replaces theirs."""
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "slack.com")
    exempt = SlackTransport("https://slack.com/api/")
    proxied = SlackTransport("https://slack.example.com/api/")
    try:
        client = exempt.client("xoxb-1")
        assert (exempt.proxy, client.proxy, client.sender.proxy) == (None, None, None)
        client = proxied.client("xoxb-1")
        assert (proxied.proxy, client.proxy, client.sender.proxy) == (PROXY, PROXY, PROXY)
    finally:
        exempt.close()
        proxied.close()
