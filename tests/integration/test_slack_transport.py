"""SlackTransport and KeptAliveWebClient (clients/slack_transport): slack_sdk's WebClient
sending through AsyncWebClient on one kept-alive aiohttp session, against real sockets on
127.0.0.1: it reuses its connections, sends what WebClient sends, and fails so that Connect's
retry handlers and SlackWebApiClient judge a failure as before."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from clients.slack_client import SlackUnavailable
from clients.slack_transport import KeptAliveWebClient, SlackConnectionError, SlackTransport
from clients.slack_web_api import SlackWebApiClient
from tests.waiting import wait_until

TOKEN = "xoxb-1-2-POOLED"


@pytest.fixture
def transports() -> Iterator[Callable[..., SlackTransport]]:
    """Makes transports (base URL first, then SlackTransport's keywords), closed afterwards."""
    made: list[SlackTransport] = []

    def make(url: str, **options: Any) -> SlackTransport:
        made.append(SlackTransport(url, **options))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()


@contextmanager
def slack_like_server(
    answer: Callable[[str, bytes], tuple[int, dict[str, str], bytes]],
) -> Iterator[tuple[str, Recorder]]:
    """An HTTP/1.1 server (keep-alive) that records each request: its client port, path,
    headers (lower-cased names) and body."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with recorder.lock:
                recorder.calls.append(
                    {
                        "port": self.client_address[1],
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
            status, headers, payload = answer(self.path, body)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/", recorder
    finally:
        server.shutdown()
        server.server_close()


def ok(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, json.dumps({"ok": True, "user_id": "UBOT"}).encode()


@contextmanager
def raw_server(behaviour: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[bytes]]]:
    """A TCP server that reads one request per connection and then does `behaviour` with the
    connection (close it unanswered, stall, …)."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                received.append(data)
                behaviour(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/", received
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_calls_reuse_one_connection(transports: Callable[..., SlackTransport]) -> None:
    with slack_like_server(ok) as (url, recorder):
        client = transports(url).client(TOKEN)
        for _ in range(5):
            assert client.auth_test()["user_id"] == "UBOT"

    assert len(recorder.calls) == 5
    assert len({call["port"] for call in recorder.calls}) == 1
    first = recorder.calls[0]
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert first["headers"].get("connection", "").lower() != "close"


def test_calls_from_many_threads_share_the_kept_connections(
    transports: Callable[..., SlackTransport],
) -> None:
    with slack_like_server(ok) as (url, recorder):
        client = transports(url, max_connections=4).client(TOKEN)
        threads = [
            threading.Thread(target=lambda: [client.auth_test() for _ in range(10)])
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(recorder.calls) == 80
    assert len({call["port"] for call in recorder.calls}) <= 4  # the pool's bound


def test_urllib_opens_a_connection_per_call_for_comparison() -> None:
    with slack_like_server(ok) as (url, recorder):
        client = WebClient(token=TOKEN, base_url=url)
        for _ in range(3):
            client.auth_test()

    assert len({call["port"] for call in recorder.calls}) == 3


def test_sends_the_same_request_as_webclient(transports: Callable[..., SlackTransport]) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 5000}}]
    with slack_like_server(ok) as (url, recorder):
        transports(url).client(TOKEN).chat_postMessage(channel="C1", text="héllo", blocks=blocks)
        WebClient(token=TOKEN, base_url=url).chat_postMessage(
            channel="C1", text="héllo", blocks=blocks
        )

    kept_alive, plain = recorder.calls
    assert kept_alive["path"] == plain["path"] == "/api/chat.postMessage"
    assert json.loads(kept_alive["body"]) == json.loads(plain["body"])
    assert kept_alive["headers"]["content-type"] == plain["headers"]["content-type"]
    assert (
        kept_alive["headers"]["user-agent"].split(" ")[1:]
        == (plain["headers"]["user-agent"].split(" ")[1:])
    )


def test_one_client_per_token_and_workspace(transports: Callable[..., SlackTransport]) -> None:
    with slack_like_server(ok) as (url, recorder):
        transport = transports(url)
        client = transport.client(TOKEN, team_id="T0TEAM")
        assert transport.client(TOKEN, team_id="T0TEAM") is client
        assert transport.client(TOKEN) is not client
        assert transport.client("xoxb-other", team_id="T0TEAM") is not client
        client.auth_test()

    # The workspace goes as a default parameter, as with Bolt's per-request client.
    assert "team_id=T0TEAM" in recorder.calls[0]["path"] + recorder.calls[0]["body"].decode()


def test_a_token_given_per_call_wins(transports: Callable[..., SlackTransport]) -> None:
    with slack_like_server(ok) as (url, recorder):
        transports(url).client(None).auth_test(token="xoxb-per-call")

    assert recorder.calls[0]["headers"]["authorization"] == "Bearer xoxb-per-call"


def test_answers_keep_headers_and_charset(transports: Callable[..., SlackTransport]) -> None:
    def answer(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"ok": True, "text": "naïve"}, ensure_ascii=False).encode("latin-1")
        return 200, {"Content-Type": "application/json; charset=latin-1", "X-Extra": "1"}, body

    with slack_like_server(answer) as (url, _recorder):
        response = transports(url).client(TOKEN).api_call("auth.test")

    assert response["text"] == "naïve"
    assert response.headers["X-Extra"] == "1"


def test_an_error_status_is_an_api_error_with_its_headers(
    transports: Callable[..., SlackTransport],
) -> None:
    def answer(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 429, {"Retry-After": "7"}, json.dumps({"ok": False, "error": "ratelimited"}).encode()

    with slack_like_server(answer) as (url, recorder):
        client = transports(url, max_retry_wait=5.0).client(TOKEN)  # 7 s is too long to wait
        with pytest.raises(SlackApiError) as caught:
            client.auth_test()

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"
    assert len(recorder.calls) == 1


def test_a_429_is_retried_on_the_kept_connection(
    transports: Callable[..., SlackTransport],
) -> None:
    answers = iter([429, 200])

    def answer(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        status = next(answers)
        body = {"ok": status == 200, "error": "ratelimited"}
        return status, {"Retry-After": "0"}, json.dumps(body).encode()

    with slack_like_server(answer) as (url, recorder):
        assert transports(url).client(TOKEN).auth_test()["ok"] is True

    assert len(recorder.calls) == 2
    assert len({call["port"] for call in recorder.calls}) == 1


def test_a_refused_connection_is_an_oserror_and_slack_unavailable(
    transports: Callable[..., SlackTransport],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/"

    with pytest.raises(OSError, match=r"Connect call failed|refused"):
        transports(url, max_retries=0).client(TOKEN).auth_test()
    with pytest.raises(SlackUnavailable) as caught:
        SlackWebApiClient(TOKEN, transport=transports(url, max_retries=0)).open_dm("U1")
    assert caught.value.error == "connection_error"
    assert "cannot reach Slack" in str(caught.value)


def test_a_connection_closed_unanswered_fails_and_a_post_is_not_repeated(
    transports: Callable[..., SlackTransport],
) -> None:
    with raw_server(lambda connection: None) as (url, received):  # read, then close
        client = transports(url).client(TOKEN)
        with pytest.raises((SlackClientError, OSError)):
            client.chat_postMessage(channel="C1", text="once")

    assert len(received) == 1  # it may have been posted: not sent again


def test_a_connection_closed_unanswered_is_retried_for_a_read(
    transports: Callable[..., SlackTransport],
) -> None:
    with raw_server(lambda connection: None) as (url, received):
        client = transports(url, max_retries=1).client(TOKEN)
        with pytest.raises(SlackConnectionError):
            client.conversations_info(channel="C1")

    # Two tries (one retry); aiohttp itself may send an idempotent GET once more on a
    # connection it had kept.
    assert 2 <= len(received) <= 4


def test_no_answer_in_time_is_a_timeout(transports: Callable[..., SlackTransport]) -> None:
    release = threading.Event()
    with raw_server(lambda connection: release.wait(5)) as (url, received):
        client = transports(url, timeout=0.5, max_retries=0).client(TOKEN)
        try:
            with pytest.raises(TimeoutError):
                client.auth_test()
        finally:
            release.set()

    assert len(received) == 1


def test_a_wait_on_the_transports_own_thread_is_refused(
    transports: Callable[..., SlackTransport],
) -> None:
    with slack_like_server(ok) as (url, _recorder):
        client = transports(url).client(TOKEN)
        waited = client.transport.submit(_call_auth_test_from_the_loop(client))
        with pytest.raises(RuntimeError, match="own thread"):
            waited.result(10)


def _call_auth_test_from_the_loop(client: KeptAliveWebClient) -> Callable[[], Any]:
    async def on_the_loop() -> Any:
        return client.auth_test()  # would wait for the loop it blocks

    return on_the_loop


def test_a_closed_transport_takes_no_more_calls(
    transports: Callable[..., SlackTransport],
) -> None:
    with slack_like_server(ok) as (url, _recorder):
        transport = transports(url)
        client = transport.client(TOKEN)
        client.auth_test()
        transport.close()
        with pytest.raises(RuntimeError, match="closed"):
            client.auth_test()
        transport.close()  # twice is harmless


def test_a_call_still_out_when_the_transport_closes_fails_instead_of_hanging(
    transports: Callable[..., SlackTransport],
) -> None:
    release = threading.Event()
    with raw_server(lambda connection: release.wait(10)) as (url, received):
        transport = transports(url, timeout=30, max_retries=0)
        out = transport.client(TOKEN).call_soon("auth.test", {})
        try:
            wait_until(lambda: received, what="the call at the server")
            transport.close()
            with pytest.raises(CancelledError):
                out.result(10)
        finally:
            release.set()


def test_response_url_posts_reuse_a_connection_and_read_like_webhookclient(
    transports: Callable[..., SlackTransport],
) -> None:
    def answer(path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/expired"):
            return 404, {"Content-Type": "text/html"}, b"expired_url"
        return 200, {"Content-Type": "text/html"}, b"ok"

    with slack_like_server(answer) as (url, recorder):
        client = transports(url).client(TOKEN)
        hook = f"{url}hooks/1"
        first = client.post_to_response_url(
            hook, {"text": "Working on it…", "response_type": "ephemeral"}
        )
        second = client.post_to_response_url(hook, {"text": "Done", "replace_original": True})
        gone = client.post_to_response_url(f"{url}hooks/expired", {"text": "late"})

    assert (first.status_code, first.body) == (200, "ok")
    assert second.status_code == 200
    assert (gone.status_code, gone.body) == (404, "expired_url")  # as WebhookClient answers
    bodies = [json.loads(call["body"]) for call in recorder.calls]
    assert bodies[0] == {"text": "Working on it…", "response_type": "ephemeral"}
    assert bodies[1] == {"text": "Done", "replace_original": True}
    assert len({call["port"] for call in recorder.calls}) == 1


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connect-test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def https_server(cert_file: Path, key_file: Path) -> Iterator[str]:
    with slack_like_server(ok) as (url, _recorder):
        port = int(url.split(":")[2].split("/")[0])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        listener = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()

        def relay() -> None:  # TLS in front of the plain test server
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    raw, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=_pipe_tls, args=(context, raw, port), daemon=True).start()

        thread = threading.Thread(target=relay, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{listener.getsockname()[1]}/api/"
        finally:
            stop.set()
            thread.join(5)
            listener.close()


def _pipe_tls(context: ssl.SSLContext, raw: socket.socket, port: int) -> None:
    try:
        secure = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()  # the client refused our certificate
        return
    plain = socket.create_connection(("127.0.0.1", port))

    def copy(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except (ssl.SSLError, OSError):
            pass
        finally:
            for end in (source, target):
                end.close()

    threading.Thread(target=copy, args=(plain, secure), daemon=True).start()
    copy(secure, plain)


def test_https_checks_the_certificate(
    tmp_path: Path, transports: Callable[..., SlackTransport]
) -> None:
    """Python's default trust store (SSL_CERT_FILE and SSL_CERT_DIR, read when aiohttp is
    imported) does not trust this certificate: refused, as urllib refuses it."""
    cert_file, key_file = _self_signed(tmp_path)
    with https_server(cert_file, key_file) as url, pytest.raises(OSError, match="certificate"):
        transports(url, timeout=5, max_retries=0).client(TOKEN).auth_test()


def _proxy_settings(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def test_calls_go_through_the_environments_proxy(
    transports: Callable[..., SlackTransport],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Web API calls, handed-off calls and response_url posts all reach the proxy (which
    sees the absolute URL); `slack.test` is never looked up. The handed-off call is sent by
    its own client (reqwest) through the proxy, not again by slack_sdk after a failure."""
    caplog.set_level(logging.INFO, logger="clients.slack_transport")
    with slack_like_server(ok) as (proxy_url, proxy):
        _proxy_settings(monkeypatch, HTTP_PROXY=proxy_url.removesuffix("/api/"))
        client = transports("http://slack.test/api/").client(TOKEN)
        assert client.auth_test()["user_id"] == "UBOT"
        assert client.call_soon("views.open", {"view": {}}).result(10)["ok"]
        assert (
            client.post_to_response_url("http://hooks.slack.test/1", {"text": "hi"}).status_code
            == 200
        )

    assert [call["path"] for call in proxy.calls] == [
        "http://slack.test/api/auth.test",
        "http://slack.test/api/views.open",
        "http://hooks.slack.test/1",
    ]
    assert "sent through slack_sdk" not in caplog.text


def test_hosts_no_proxy_names_are_called_directly(
    transports: Callable[..., SlackTransport],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="clients.slack_transport")
    # The proxy's port is bound but never listens: anything sent through it is refused.
    with socket.socket() as dead, slack_like_server(ok) as (url, recorder):
        dead.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
        _proxy_settings(monkeypatch, HTTP_PROXY=dead_proxy, NO_PROXY="localhost,127.0.0.1")
        client = transports(url, max_retries=0).client(TOKEN)
        assert client.auth_test()["user_id"] == "UBOT"
        assert client.call_soon("views.open", {"view": {}}).result(10)["ok"]
        assert client.post_to_response_url(f"{url}hooks/1", {"text": "hi"}).status_code == 200

    assert [call["path"] for call in recorder.calls] == [
        "/api/auth.test",
        "/api/views.open",
        "/api/hooks/1",
    ]
    assert "sent through slack_sdk" not in caplog.text  # the handed-off call went direct
