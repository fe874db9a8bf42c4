"""The HTTP client's TLS trust: an `https://` host verifies against the CA bundle; an `http://` host loads no CA
bundle (start-up cost) and its client still refuses any TLS peer rather than trusting it."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.posthog.session import build_http_client


def pool_context(http: httpx.Client) -> ssl.SSLContext:
    context = http._transport._pool._ssl_context  # type: ignore[attr-defined]
    assert isinstance(context, ssl.SSLContext)
    return context


def test_https_host_verifies_against_the_ca_bundle() -> None:
    with build_http_client("https://eu.posthog.com", None) as http:
        context = pool_context(http)
    assert context.cert_store_stats()["x509_ca"] > 0
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_http_host_loads_no_ca_bundle_and_still_requires_verification() -> None:
    with build_http_client("http://127.0.0.1:8010", None) as http:
        context = pool_context(http)
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[int]:
    """A TLS server on loopback with a self-signed certificate for 127.0.0.1; answers one HTTP request."""
    if shutil.which("openssl") is None:  # pragma: no cover - openssl is on every machine CI runs on
        pytest.fail("openssl is needed to make the test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            try:
                with server_context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            except (ssl.SSLError, OSError):
                pass  # the client refused the certificate: what the test expects

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    thread.join(timeout=10)


def test_client_of_an_http_host_refuses_a_tls_peer_it_cannot_verify(tls_server: int) -> None:
    with build_http_client("http://127.0.0.1:8010", None) as http, pytest.raises(httpx.ConnectError) as caught:
        http.get(f"https://127.0.0.1:{tls_server}/")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
