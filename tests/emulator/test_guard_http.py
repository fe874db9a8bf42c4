"""Issue 17 item 9: what a web page in a browser, or any hostile client, may not do to a running emulator —
through real HTTP (uvicorn on loopback), as a browser or curl reaches it. Each test failed against the emulator
before `api/guard.py`: a `text/plain` write was accepted (201), so were cross-origin writes and requests under
a rebound host name, a deeply nested body was a 500, a body of any size was read whole, and
`--cloud-host-checks` let 100.64.0.0/10 through.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.emulators import served

from reconciler.emulator.api.guard import MAX_BODY_BYTES, MAX_JSON_DEPTH
from reconciler.emulator.testing import Emulator, create_body, postgres_payload, stripe_payload
from reconciler.emulator.upstreams import default_upstreams

SOURCES = "/api/projects/1/external_data_sources/"
INTERNAL = "Hosts with internal IP addresses are not allowed"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with served(control=True) as emulator:
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    """A raw client on the socket, no key: each test says where its key goes, as a browser page would."""
    assert emu.transport is None
    with emu.http() as client:
        yield client


def count_sources(emu: Emulator) -> int:
    with emu.client() as api:
        return int(api.get("/external_data_sources/").json()["count"])


_PREFIXES = itertools.count()


def stripe() -> dict[str, Any]:
    """A Stripe create body with a prefix of its own (a second Stripe source without one is refused)."""
    return create_body("Stripe", stripe_payload(), prefix=f"guard_{next(_PREFIXES)}_")


def stripe_json() -> bytes:
    return json.dumps(stripe()).encode()


def problem(code: str, detail: str) -> dict[str, Any]:
    return {"type": "invalid_request", "code": code, "detail": detail, "attr": None}


# ---- media type --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded"])
def test_a_write_that_is_not_json_is_415_and_creates_nothing(
    emu: Emulator, http: httpx.Client, content_type: str
) -> None:
    """A form a page posts to 127.0.0.1 (no preflight for these types) with the public key in the query string."""
    before = count_sources(emu)
    r = http.post(
        f"{SOURCES}?personal_api_key=phx_local", content=stripe_json(), headers={"Content-Type": content_type}
    )
    detail = f'Unsupported media type "{content_type}" in request.'
    assert (r.status_code, r.json()) == (415, problem("unsupported_media_type", detail))
    assert count_sources(emu) == before


def test_415_also_with_a_bearer_key_and_without_a_content_type(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer phx_local"}
    r = http.post(SOURCES, content=stripe_json(), headers={**auth, "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = http.post(SOURCES, content=stripe_json(), headers=auth)  # httpx sends no Content-Type for raw bytes
    assert (r.status_code, r.json()["detail"]) == (415, 'Unsupported media type "" in request.')


def test_json_with_a_charset_and_empty_bodies_are_accepted(emu: Emulator, http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer phx_local"}
    r = http.post(SOURCES, content=stripe_json(), headers={**auth, "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # An empty body is `{}` whatever it says it is (DRF), as reconciler's own reload/refresh calls send it.
    r = http.post(f"{SOURCES}{sid}/reload/", headers={**auth, "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text


def test_the_control_api_requires_json_too(http: httpx.Client) -> None:
    r = http.post("/_emulator/faults", content=b'{"rules": []}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["detail"] == 'Unsupported media type "text/plain" in request.'


# ---- cross-origin writes -----------------------------------------------------------------------------------


def test_a_cross_origin_write_is_403_and_creates_nothing(emu: Emulator, http: httpx.Client) -> None:
    before = count_sources(emu)
    for origin in ("https://evil.example", "null", emu.base_url.replace("127.0.0.1", "localhost")):
        headers = {"Authorization": "Bearer phx_local", "Origin": origin}
        r = http.post(SOURCES, json=stripe(), headers=headers)
        assert r.status_code == 403, (origin, r.text)
        assert r.json()["code"] == "permission_denied"
        assert r.json()["detail"].startswith(f"Cross-origin write from {origin} refused")
    r = http.post("/_emulator/stats/reset", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert count_sources(emu) == before


def test_same_origin_writes_and_cross_origin_reads_are_served(emu: Emulator, http: httpx.Client) -> None:
    headers = {"Authorization": "Bearer phx_local", "Origin": emu.base_url}
    r = http.post(SOURCES, json=stripe(), headers=headers)
    assert r.status_code == 201, r.text
    r = http.get(SOURCES, headers={"Authorization": "Bearer phx_local", "Origin": "https://evil.example"})
    assert r.status_code == 200  # a browser cannot read it: no CORS headers are ever sent
    assert "access-control-allow-origin" not in r.headers


# ---- DNS rebinding -----------------------------------------------------------------------------------------


def test_a_loopback_server_refuses_a_host_that_is_not_a_loopback_name(emu: Emulator, http: httpx.Client) -> None:
    """A page at http://evil.example:PORT whose name is rebound to 127.0.0.1 is same-origin with itself: its
    requests carry `Host: evil.example:PORT`, which a loopback listener never legitimately sees."""
    port = emu.base_url.rsplit(":", 1)[1]
    key = {"Authorization": "Bearer phx_local"}
    for method in ("GET", "POST"):
        r = http.request(method, SOURCES, headers={**key, "Host": f"evil.example:{port}"}, json=stripe())
        assert r.status_code == 403, (method, r.text)
        assert r.json()["detail"].startswith(f"Host evil.example:{port} refused")
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
        assert http.get(SOURCES, headers={**key, "Host": host}).status_code == 200, host


# ---- body shape and size -----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_a_deeply_nested_body_is_a_400_not_a_500(http: httpx.Client, depth: int) -> None:
    body = b'{"a":' * depth + b"1" + b"}" * depth
    detail = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels"
    for headers in ({"Authorization": "Bearer phx_local"}, {}):  # parsed for the key too when no header has one
        r = http.post(SOURCES, content=body, headers={**headers, "Content-Type": "application/json"})
        assert (r.status_code, r.json()) == (400, problem("parse_error", detail))


def test_nesting_up_to_the_limit_is_parsed(http: httpx.Client) -> None:
    body = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"[1]" + b"}" * (MAX_JSON_DEPTH - 1)
    r = http.post(
        SOURCES, content=body, headers={"Authorization": "Bearer phx_local", "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["attr"] == "source_type"  # the ordinary validation: the body was read


def test_a_body_over_the_limit_is_413_without_being_read(http: httpx.Client) -> None:
    headers = {"Authorization": "Bearer phx_local", "Content-Type": "application/json"}
    r = http.post(SOURCES, content=b" " * (MAX_BODY_BYTES + 1), headers=headers)
    detail = f"Request body larger than {MAX_BODY_BYTES} bytes."
    assert (r.status_code, r.json()) == (413, problem("request_too_large", detail))


def test_a_chunked_body_over_the_limit_is_413(http: httpx.Client) -> None:
    chunk = b" " * (1024 * 1024)

    def stream() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        for _ in range(MAX_BODY_BYTES // len(chunk) + 1):
            yield chunk

    headers = {"Authorization": "Bearer phx_local", "Content-Type": "application/json"}
    r = http.post(SOURCES, content=stream(), headers=headers)
    assert r.status_code == 413


def test_a_small_chunked_body_is_read(http: httpx.Client) -> None:
    body = stripe_json()
    headers = {"Authorization": "Bearer phx_local", "Content-Type": "application/json"}
    r = http.post(SOURCES, content=iter([body[:10], body[10:]]), headers=headers)
    assert r.status_code == 201, r.text


# ---- --cloud-host-checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["100.64.0.1", "100.100.100.100", "100.127.255.254", "::ffff:100.64.0.1"])
def test_cloud_host_checks_refuse_shared_address_space(host: str) -> None:
    with served(upstreams=default_upstreams(cloud_host_checks=True)) as cloud, cloud.client() as api:
        r = api.post("/external_data_sources/database_schema/", json={"source_type": "Postgres",
                                                                        **postgres_payload(host=host)})  # fmt: skip
        assert (r.status_code, r.json()) == (400, {"message": INTERNAL})
