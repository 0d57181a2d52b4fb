"""The serving benchmark's load generator: response parsing and open-loop accounting.

Its figures are the evidence for the service's latency targets, so the client itself is tested:
a response split across reads, chunked bodies, back-to-back responses, errors and dropped
connections must all be counted right.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_bench", ROOT / "benchmarks" / "serve.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["serve_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_parse_response_content_length_partial_and_pipelined(bench: ModuleType) -> None:
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello"
    two = b"HTTP/1.1 422 Unprocessable\r\ncontent-length: 2\r\n\r\n{}"
    buf = bytearray(one[:20])
    assert bench.parse_response(buf) is None  # head incomplete
    buf += one[20:-2]
    assert bench.parse_response(buf) is None  # body incomplete
    buf += one[-2:] + two
    assert bench.parse_response(buf) == (200, False)
    assert bytes(buf) == two  # only the first response was consumed
    assert bench.parse_response(buf) == (422, False)
    assert buf == b""


def test_parse_response_chunked_and_empty(bench: ModuleType) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n")
    for cut in range(len(chunked)):
        assert bench.parse_response(bytearray(chunked[:cut])) is None
    buf = bytearray(chunked + b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
    assert bench.parse_response(buf) == (200, False)
    assert bench.parse_response(buf) == (204, True) and buf == b""


def test_run_rate_counts_statuses_and_dropped_connections(bench: ModuleType) -> None:
    """A server answering 200, 500, hanging up or closing after answering: every request is
    accounted for once, and no request is written to a connection the server has closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line = await reader.readline()
            if not line:
                break
            path = line.split()[1]
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            if path == b"/drop":
                break
            status = b"500 Oops" if path == b"/fail" else b"200 OK"
            closing = path in (b"/answer-then-close", b"/answer-then-drop")
            head = b"Connection: close\r\n" if path == b"/answer-then-close" else b""
            writer.write(b"HTTP/1.1 " + status + b"\r\n" + head + b"Content-Length: 2\r\n\r\nok")
            await writer.drain()
            if closing:
                break
        writer.close()
        await writer.wait_closed()

    async def go() -> dict[str, object]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        def req(path: str) -> object:
            return lambda i: f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()

        out = {}
        async with server:
            for path in ("/ok", "/fail", "/drop", "/answer-then-close"):
                out[path] = await bench.run_rate("127.0.0.1", port, path, req(path), 400.0,
                                                 0.1, 1000, 4)
                await asyncio.sleep(0.05)  # the handlers see the client's closes
            # the server closes after answering, without saying so (as an idle keep-alive
            # timeout does): 8 connections at 100/s, so each is idle ~80 ms before its reuse
            out["/answer-then-drop"] = await bench.run_rate(
                "127.0.0.1", port, "/answer-then-drop", req("/answer-then-drop"), 100.0, 0.4,
                1000, 8)
            await asyncio.sleep(0.05)
        return out

    res = asyncio.run(go())
    ok, fail, drop, closing = res["/ok"], res["/fail"], res["/drop"], res["/answer-then-close"]
    assert (ok.sent, ok.errors) == (40, 0)
    assert ok.achieved > 100 and 0 < ok.p50_ms <= ok.p99_ms < 1000
    assert (fail.sent, fail.errors) == (40, 40)
    assert (drop.sent, drop.errors) == (40, 40)  # each dropped connection is replaced
    assert not drop.sustained(50.0) and ok.sustained(1000.0)
    # "Connection: close" is honoured: the connection is replaced, never reused
    assert (closing.sent, closing.errors) == (40, 0)
    # a connection closed while idle is replaced before use (writing to it crashed the run);
    # only a request sent in the instant between the answer and the close can fail
    idle_closed = res["/answer-then-drop"]
    assert idle_closed.sent == 40 and idle_closed.errors <= 4
