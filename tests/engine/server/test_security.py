"""What stops a web page (or the network) from driving the local server: a token, loopback
Host names only, no browser Origin, no text/plain posts, files only, loopback sockets only."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys

import pytest

from engine.client import Client, ServerError

from .conftest import ROOT


def ask(server, method: str, route: str, headers: dict | None = None,
        body: bytes | None = None) -> tuple[int, dict]:
    """One raw request (http.client sets Host to the URL's host:port unless told)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.info["port"], timeout=30)
    conn.request(method, route, body=body, headers=headers or {})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, json.loads(data) if data.startswith(b"{") else {}


def auth(server) -> dict:
    return {"Authorization": f"Bearer {server.token}"}


def test_discovery_file_is_private(server):
    assert os.stat(server.discovery).st_mode & 0o777 == 0o600
    assert server.info["pid"] == server.proc.pid and len(server.token) >= 32


def test_health_is_open_and_everything_else_needs_the_token(server):
    assert ask(server, "GET", "/v1/health")[0] == 200
    for route in ("/v1/models", "/v1/jobs", "/v1/openapi.json", "/v1/jobs/x/events"):
        status, body = ask(server, "GET", route)
        assert status == 401 and body["error"]["type"] == "Unauthorized", route
    assert ask(server, "GET", "/v1/models", {"Authorization": "Bearer wrong"})[0] == 401
    with pytest.raises(ServerError) as caught:
        Client(server.url, "wrong").models()
    assert caught.value.status == 401
    assert ask(server, "GET", "/v1/models", auth(server))[0] == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io",
                                  "localhost:1", "0.0.0.0:{port}", ""],
                         ids=["name", "name-port", "rebinding", "other-port", "any", "empty"])
def test_a_foreign_host_header_is_refused(server, host):
    headers = {**auth(server), "Host": host.format(port=server.info["port"])}
    status, body = ask(server, "GET", "/v1/health", headers)
    assert status == 403 and body["error"]["type"] == "ForbiddenHost"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "localhost"])
def test_loopback_host_names_are_served(server, host):
    headers = {**auth(server), "Host": host.format(port=server.info["port"])}
    assert ask(server, "GET", "/v1/models", headers)[0] == 200


def test_a_browser_origin_is_refused_even_with_the_token(server, songs):
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{server.info['port']}"):
        headers = {**auth(server), "Origin": origin, "Content-Type": "application/json"}
        body = json.dumps({"input": str(songs["short"]), "model": "classic"}).encode()
        status, answer = ask(server, "POST", "/v1/jobs", headers, body)
        assert status == 403 and answer["error"]["type"] == "ForbiddenOrigin"
    status, _ = ask(server, "GET", "/v1/health", {"Origin": "https://evil.example"})
    assert status == 403


def test_posts_that_are_not_json_or_multipart_are_refused(server, songs):
    body = json.dumps({"input": str(songs["short"]), "model": "classic"}).encode()
    for ctype, route in [("text/plain", "/v1/jobs"), ("", "/v1/jobs"),
                         ("application/x-www-form-urlencoded", "/v1/jobs"),
                         ("multipart/form-data; boundary=x", "/v1/jobs"),
                         ("application/json", "/v1/jobs/upload"),
                         ("text/plain", "/v1/jobs/upload"), ("text/plain", "/v1/jobs/x/cancel")]:
        headers = {**auth(server), **({"Content-Type": ctype} if ctype else {})}
        status, answer = ask(server, "POST", route, headers, body)
        assert status == 415, (ctype, route)
    assert not any(job["state"] == "queued" for job in server.client().jobs())


def test_an_upload_over_the_limit_is_refused_unread(server):
    headers = {**auth(server), "Content-Type": "multipart/form-data; boundary=x",
               "Content-Length": str(3 << 30)}
    conn = http.client.HTTPConnection("127.0.0.1", server.info["port"], timeout=30)
    conn.putrequest("POST", "/v1/jobs/upload")
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()


def test_inputs_must_be_regular_readable_files(server, tmp_path):
    fifo = tmp_path / "song.wav"
    os.mkfifo(fifo)  # opening it would block the server: it must be refused unopened
    client = server.client()
    for path in (fifo, "/dev/zero", tmp_path):
        with pytest.raises(ServerError) as caught:
            client.submit(path, model="classic")
        assert caught.value.type == "AudioReadError" and caught.value.path == str(path)
    with pytest.raises(ServerError) as caught:
        client._json("POST", "/v1/jobs", {"input": "song.wav", "model": "classic"})
    assert caught.value.type == "InvalidArgumentError"  # relative: whose folder?
    with pytest.raises(ServerError) as caught:
        client.submit(tmp_path, model=str(ROOT / "assets" / "models" / "classic"))
    assert caught.value.type == "ModelNotFoundError"  # installed models only, never a path


def _machine_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (none on an isolated sandbox)."""
    found = set()
    with contextlib.suppress(OSError):
        found |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None,
                                                              socket.AF_INET)}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, \
            contextlib.suppress(OSError):
        probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
        found.add(probe.getsockname()[0])
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


def _listening(port: int) -> list[str]:
    """The local addresses with a listening socket on ``port`` (/proc/net/tcp, tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hexport = local.split(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.append(address)
    return found


def test_the_server_listens_on_loopback_only(server):
    port = server.info["port"]
    assert _listening(port) == ["0100007F"]  # 127.0.0.1, and nothing else
    for address in _machine_addresses():
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=5):
            pass


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com"])
def test_serve_refuses_a_non_loopback_host(tmp_path, host):
    env = {**os.environ, "STEMMA_STATE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "engine", "serve", "--host", host],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "not a loopback address" in run.stderr
    assert not (tmp_path / "server.json").exists()
