"""Tests of cltutor.data.download: the timeout's sources, the mirror probe, the socket default.

The probe only ever talks to servers on 127.0.0.1: :class:`~test_vision.FakeProxy` (silent,
or answering HEAD requests), a tiny HTTP server, or a port nothing listens on.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from test_vision import FakeProxy

import cltutor.data
from cltutor.data import download, vision
from cltutor.data.download import (
    DOWNLOAD_TIMEOUT,
    resolve_download_timeout,
    socket_timeout,
    why_unreachable,
)


@pytest.fixture
def direct(monkeypatch):
    """No proxy: requests to 127.0.0.1 go straight there."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(urllib.request, "_opener", None)  # built from the variables once


# -- the timeout ----------------------------------------------------------------------------
def test_timeout_default_and_precedence(monkeypatch):
    monkeypatch.delenv("CLTUTOR_DOWNLOAD_TIMEOUT", raising=False)
    assert DOWNLOAD_TIMEOUT == resolve_download_timeout(None) == 30.0
    monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", "  ")  # blank: as if unset
    assert resolve_download_timeout(None) == 30.0
    monkeypatch.setenv("CLTUTOR_DOWNLOAD_TIMEOUT", "12.5")
    assert resolve_download_timeout(None) == 12.5
    assert resolve_download_timeout(3) == 3.0  # the argument comes first
    assert type(resolve_download_timeout(3)) is float


def test_the_constant_is_one_object_everywhere():
    assert vision.DOWNLOAD_TIMEOUT is cltutor.data.DOWNLOAD_TIMEOUT is download.DOWNLOAD_TIMEOUT
    assert download.TIMEOUT_ENV == "CLTUTOR_DOWNLOAD_TIMEOUT"


# -- the probe ------------------------------------------------------------------------------
def test_silent_mirrors_share_one_deadline(monkeypatch):
    urls = ["http://first.invalid/a.gz", "http://second.invalid/a.gz"]
    with FakeProxy() as proxy:
        proxy.install(monkeypatch)
        start = time.monotonic()
        why = why_unreachable(urls, 0.5)
        seconds = time.monotonic() - start
    assert why == "no answer from first.invalid within download_timeout=0.5 s"
    assert 0.4 < seconds < 0.5 + 2.0  # the second mirror got no time of its own
    assert proxy.connections == 1


def test_an_answer_to_head_is_enough(monkeypatch):
    with FakeProxy(answer_head=True) as proxy:
        proxy.install(monkeypatch)
        assert why_unreachable(["http://mirror.invalid/a.gz"], 2.0) == ""
    assert proxy.requests == ["HEAD http://mirror.invalid/a.gz HTTP/1.1"]


def test_an_http_error_is_an_answer_too(direct):
    # BaseHTTPRequestHandler has no do_HEAD: every HEAD request gets 501
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert why_unreachable([f"http://127.0.0.1:{server.server_port}/a.gz"], 5.0) == ""
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_refused_connection_names_the_host_and_the_next_mirror_is_tried(direct):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # closed when the block ends: nothing listens there
    urls = [f"http://127.0.0.1:{port}/a.gz", f"http://127.0.0.1:{port}/b.gz"]
    why = why_unreachable(urls, 5.0)
    parts = why.split("; ")
    assert len(parts) == 2
    assert all(p.startswith(f"127.0.0.1:{port}: ") and "refused" in p for p in parts), why


def test_no_urls_or_no_time_means_no_answer():
    assert why_unreachable([], 5.0) == ""  # nothing to ask: nothing failed
    assert why_unreachable(["http://mirror.invalid/a.gz"], -1.0) == ""  # deadline passed


# -- the socket default ---------------------------------------------------------------------
def test_socket_timeout_sets_and_restores_the_default():
    assert socket.getdefaulttimeout() is None
    with socket_timeout(2.5):
        assert socket.getdefaulttimeout() == 2.5
        with socket_timeout(1):
            assert socket.getdefaulttimeout() == 1.0
        assert socket.getdefaulttimeout() == 2.5
    assert socket.getdefaulttimeout() is None


def test_socket_timeout_restores_the_default_after_an_error():
    with pytest.raises(RuntimeError, match="boom"), socket_timeout(3):
        raise RuntimeError("boom")
    assert socket.getdefaulttimeout() is None
