"""The fault-test harness itself: the proxy forwards, cuts (refuse + reset) and restores."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import FaultProxy, RedisServer, free_port, with_host_port


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _roundtrip(port: int, payload: bytes = b"ping") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload)
        return s.recv(4096)


def test_the_proxy_forwards_bytes_both_ways(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        assert _roundtrip(proxy.port, b"hello") == b"hello"


def test_a_cut_refuses_new_connections_and_resets_open_ones(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        open_conn = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        open_conn.sendall(b"a")
        assert open_conn.recv(10) == b"a"
        proxy.cut()
        with pytest.raises(ConnectionRefusedError):
            _roundtrip(proxy.port)
        # the open connection is gone too: reset or closed, never answered
        try:
            open_conn.sendall(b"b")
            assert open_conn.recv(10) == b""
        except ConnectionError:
            pass
        open_conn.close()


def test_a_restored_proxy_forwards_again_on_the_same_port(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        port = proxy.port
        proxy.cut()
        proxy.restore()
        assert proxy.port == port
        assert _roundtrip(port, b"back") == b"back"


def test_a_url_is_rewritten_to_the_proxy_keeping_user_path_and_query() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dx"
    assert with_host_port(url, "127.0.0.1", 6000) == (
        "postgresql+psycopg://postgres@127.0.0.1:6000/test?options=-csearch_path%3Dx"
    )


def test_a_private_redis_server_stops_for_real_and_restarts_empty(tmp_path: Path) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    server = RedisServer(tmp_path / "redis").start()
    try:
        r = redis.Redis(port=server.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        r.set("k", "v")
        server.stop()
        with pytest.raises(redis.ConnectionError):
            r.get("k")
        server.start()
        assert r.get("k") is None  # no persistence: a restart comes back empty
        r.close()
    finally:
        server.stop()


def test_free_ports_are_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_stalled_proxy_accepts_but_never_answers_until_restored(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        proxy.stall()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as s:
            s.settimeout(0.3)
            s.sendall(b"anyone?")
            with pytest.raises(TimeoutError):
                s.recv(10)
        proxy.restore()
        assert _roundtrip(proxy.port, b"yes") == b"yes"
