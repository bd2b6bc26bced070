"""PooledWebClient (clients/slack_http): slack_sdk's WebClient over kept-alive pycurl
connections, against real sockets on 127.0.0.1: it reuses its connection, and fails the way
urllib fails, so slack_sdk's and Connect's retry handlers judge a failure the same way."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.client import RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from clients.slack_http import PooledWebClient, SlackConnections, pooled
from clients.slack_retry import retry_handlers

TOKEN = "xoxb-1-2-POOLED"


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


def test_calls_from_one_thread_reuse_one_connection() -> None:
    with slack_like_server(ok) as (url, recorder):
        client = PooledWebClient(token=TOKEN, base_url=url)
        for _ in range(5):
            assert client.auth_test()["user_id"] == "UBOT"

    assert len(recorder.calls) == 5
    assert len({call["port"] for call in recorder.calls}) == 1
    first = recorder.calls[0]
    assert first["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert first["headers"].get("connection", "").lower() != "close"


def test_urllib_opens_a_connection_per_call_for_comparison() -> None:
    with slack_like_server(ok) as (url, recorder):
        client = WebClient(token=TOKEN, base_url=url)
        for _ in range(3):
            client.auth_test()

    assert len({call["port"] for call in recorder.calls}) == 3


def test_sends_the_same_request_as_webclient() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 5000}}]
    with slack_like_server(ok) as (url, recorder):
        PooledWebClient(token=TOKEN, base_url=url).chat_postMessage(
            channel="C1", text="héllo", blocks=blocks
        )
        WebClient(token=TOKEN, base_url=url).chat_postMessage(
            channel="C1", text="héllo", blocks=blocks
        )

    through_curl, plain = recorder.calls
    assert through_curl["path"] == plain["path"] == "/api/chat.postMessage"
    assert json.loads(through_curl["body"]) == json.loads(plain["body"])
    assert through_curl["headers"]["content-type"] == plain["headers"]["content-type"]
    assert through_curl["headers"]["user-agent"] == plain["headers"]["user-agent"]
    assert "expect" not in through_curl["headers"]  # a 5 KB body is sent at once, no 100-continue


def test_answers_keep_headers_and_charset() -> None:
    def answer(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"ok": True, "text": "naïve"}, ensure_ascii=False).encode("latin-1")
        return 200, {"Content-Type": "application/json; charset=latin-1", "X-Extra": "1"}, body

    with slack_like_server(answer) as (url, _recorder):
        response = PooledWebClient(token=TOKEN, base_url=url).api_call("auth.test")

    assert response["text"] == "naïve"
    assert response.headers["X-Extra"] == "1"


def test_an_error_status_is_an_api_error_with_its_headers() -> None:
    def answer(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 429, {"Retry-After": "7"}, json.dumps({"ok": False, "error": "ratelimited"}).encode()

    with slack_like_server(answer) as (url, recorder):
        client = PooledWebClient(token=TOKEN, base_url=url)  # no retry handlers
        with pytest.raises(SlackApiError) as caught:
            client.auth_test()

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"
    assert len(recorder.calls) == 1


def test_a_429_is_retried_on_the_kept_connection() -> None:
    answers = iter([429, 200])

    def answer(_path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        status = next(answers)
        body = {"ok": status == 200, "error": "ratelimited"}
        return status, {"Retry-After": "0"}, json.dumps(body).encode()

    with slack_like_server(answer) as (url, recorder):
        client = PooledWebClient(token=TOKEN, base_url=url, retry_handlers=retry_handlers(2, 5.0))
        assert client.auth_test()["ok"] is True

    assert len(recorder.calls) == 2
    assert len({call["port"] for call in recorder.calls}) == 1


def test_a_refused_connection_is_a_urlerror_of_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    client = PooledWebClient(token=TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=2)

    with pytest.raises(URLError) as caught:
        client.auth_test()

    assert isinstance(caught.value.reason, ConnectionRefusedError)


def test_a_connection_closed_unanswered_is_remote_disconnected_and_a_post_is_not_repeated() -> None:
    with raw_server(lambda connection: None) as (url, received):  # read, then close
        client = PooledWebClient(
            token=TOKEN, base_url=url, timeout=2, retry_handlers=retry_handlers(2, 5.0)
        )
        with pytest.raises(RemoteDisconnected):
            client.chat_postMessage(channel="C1", text="once")

    assert len(received) == 1  # it may have been posted: not sent again


def test_a_connection_closed_unanswered_is_retried_for_a_read() -> None:
    with raw_server(lambda connection: None) as (url, received):
        client = PooledWebClient(
            token=TOKEN, base_url=url, timeout=2, retry_handlers=retry_handlers(1, 5.0)
        )
        with pytest.raises(RemoteDisconnected):
            client.conversations_info(channel="C1")

    assert len(received) == 2


def test_no_answer_in_time_is_a_timeout() -> None:
    release = threading.Event()
    with raw_server(lambda connection: release.wait(5)) as (url, received):
        client = PooledWebClient(token=TOKEN, base_url=url, timeout=0.5)
        try:
            with pytest.raises(TimeoutError):
                client.auth_test()
        finally:
            release.set()

    assert len(received) == 1


def test_a_client_with_its_own_ssl_context_keeps_urllib() -> None:
    with slack_like_server(ok) as (url, recorder):
        client = PooledWebClient(token=TOKEN, base_url=url, ssl=ssl.create_default_context())
        client.auth_test()
        client.auth_test()

    assert len({call["port"] for call in recorder.calls}) == 2  # urllib: a connection each
    assert recorder.calls[0]["headers"]["connection"] == "close"


def test_pooled_keeps_the_token_url_and_retry_handlers() -> None:
    handlers = retry_handlers(2, 5.0)
    bolt_client = WebClient(
        token=TOKEN, base_url="http://127.0.0.1:9/api/", timeout=4, retry_handlers=handlers
    )

    client = pooled(bolt_client)

    assert client is bolt_client
    assert isinstance(client, PooledWebClient)
    assert (client.token, client.base_url, client.timeout) == (TOKEN, "http://127.0.0.1:9/api/", 4)
    assert client.retry_handlers == handlers
    assert pooled(client) is client


def test_pooled_clients_send_through_kept_alive_connections() -> None:
    """Bolt's per-request client, once pooled, calls Slack over the pooled connection."""
    with slack_like_server(ok) as (url, recorder):
        for _ in range(3):
            pooled(WebClient(token=TOKEN, base_url=url)).auth_test()

    assert len(recorder.calls) == 3
    assert len({call["port"] for call in recorder.calls}) == 1


def test_response_url_posts_reuse_a_connection_and_read_like_webhookclient() -> None:
    from bot.app import PooledRespond

    def answer(path: str, _body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.endswith("/expired"):
            return 404, {"Content-Type": "text/html"}, b"expired_url"
        return 200, {"Content-Type": "text/html"}, b"ok"

    with slack_like_server(answer) as (url, recorder):
        respond = PooledRespond(response_url=f"{url}hooks/1")
        first = respond("Working on it…", response_type="ephemeral")
        second = respond({"text": "Done", "replace_original": True})
        gone = PooledRespond(response_url=f"{url}hooks/expired")("late")

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


def test_https_checks_the_certificate_against_pythons_trust_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    with https_server(cert_file, key_file) as url:
        # Python's default store does not trust this certificate: refused, as urllib refuses.
        untrusted = PooledWebClient(token=TOKEN, base_url=url, timeout=5)
        untrusted.connections = SlackConnections()
        with pytest.raises(URLError):
            untrusted.auth_test()
        # Trusted through SSL_CERT_FILE, which Python's ssl module (and so urllib) honours too.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        trusted = PooledWebClient(token=TOKEN, base_url=url, timeout=5)
        trusted.connections = SlackConnections()
        assert trusted.auth_test()["user_id"] == "UBOT"
        assert WebClient(token=TOKEN, base_url=url, timeout=5).auth_test()["user_id"] == "UBOT"
