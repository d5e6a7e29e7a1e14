"""Configuration errors and retry behaviour.

The retry tests need answers the real bridge gives only under load (429 from
its rate limit, 503 when the Butler or Zooniverse is down) at a moment the
test chooses, so they use a small STAND-IN HTTP server on loopback that
answers scripted statuses and headers. It is not the bridge; what is tested
is the client's handling of real HTTP answers.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import List, Tuple

import pytest

from rsp_zooniverse_bridge import Bridge, ConfigurationError, RateLimited, Unavailable
from rsp_zooniverse_bridge._http import retry_after_seconds


def test_missing_url_and_token_name_both(monkeypatch):
    monkeypatch.delenv("BRIDGE_URL", raising=False)
    monkeypatch.delenv("ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigurationError) as e:
        Bridge()
    msg = str(e.value)
    assert "BRIDGE_URL" in msg and "ACCESS_TOKEN" in msg and "token_file" in msg
    monkeypatch.setenv("BRIDGE_URL", "https://bridge.example")
    with pytest.raises(ConfigurationError) as e2:
        Bridge()
    assert "ACCESS_TOKEN" in str(e2.value) and "BRIDGE_URL" not in str(e2.value)


def test_an_unreadable_token_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match="token_file .*missing"):
        Bridge("https://bridge.example", token_file=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigurationError, match="is empty"):
        Bridge("https://bridge.example", token_file=empty)


def test_retry_after_reads_seconds_and_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


class Scripted(http.server.BaseHTTPRequestHandler):
    script: List[Tuple[int, dict, dict]] = []
    seen: List[Tuple[str, str, float]] = []

    def _answer(self) -> None:
        Scripted.seen.append((self.command, self.headers.get("Authorization", ""), time.monotonic()))
        status, headers, body = Scripted.script.pop(0) if Scripted.script else (200, {}, {"username": "alien"})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/problem+json" if status >= 400 else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *a) -> None:  # keep pytest's output clean
        pass


@pytest.fixture()
def stand_in():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    Scripted.script = []
    Scripted.seen = []
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_429_and_503_are_retried_honouring_retry_after(stand_in):
    Scripted.script = [
        (429, {"Retry-After": "1"}, {"code": "too_many_requests", "title": "Too many requests"}),
        (503, {}, {"code": "upstream_unavailable", "title": "Upstream unavailable"}),
    ]
    b = Bridge(stand_in, token="secret-token-123")
    assert b.me() == {"username": "alien"}
    (m1, auth, t1), (_, _, t2), (_, _, t3) = Scripted.seen
    assert auth == "Bearer secret-token-123"
    assert t2 - t1 >= 0.95  # Retry-After: 1 was honoured
    assert 0.2 <= t3 - t2 < 2.0  # no Retry-After: short backoff


def test_retries_are_bounded_and_end_in_the_bridges_error(stand_in):
    Scripted.script = [(503, {"Retry-After": "0"}, {"code": "upstream_unavailable", "title": "Upstream unavailable", "detail": "the Butler at butler.example is down"})] * 4
    b = Bridge(stand_in, token="t", max_retries=3)
    with pytest.raises(Unavailable) as e:
        b.me()
    assert len(Scripted.seen) == 4
    assert e.value.status == 503 and e.value.detail == "the Butler at butler.example is down"


def test_a_retry_after_longer_than_max_wait_is_not_waited_for(stand_in):
    Scripted.script = [(429, {"Retry-After": "3600"}, {"code": "too_many_requests", "title": "Too many requests", "detail": "slow down"})]
    b = Bridge(stand_in, token="t", max_wait=5)
    start = time.monotonic()
    with pytest.raises(RateLimited, match="slow down"):
        b.me()
    assert time.monotonic() - start < 2 and len(Scripted.seen) == 1


def test_an_unreachable_bridge_says_where():
    b = Bridge("http://127.0.0.1:9", token="t", max_retries=1, max_wait=0.1)
    with pytest.raises(Unavailable, match="127.0.0.1:9 could not be reached"):
        b.me()
