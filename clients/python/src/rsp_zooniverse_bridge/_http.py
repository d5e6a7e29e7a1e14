"""HTTP transport: bearer auth that never shows the token, problem+json errors, bounded retries."""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import requests

from .errors import BridgeError, ConfigurationError, Unavailable, error_for

log = logging.getLogger("rsp_zooniverse_bridge")

#: Statuses retried with backoff: the bridge's rate limit, and an upstream (Butler, Zooniverse) briefly unavailable.
RETRY_STATUSES = (429, 503)


class _Token(requests.auth.AuthBase):
    """The bearer token. Its repr and str never show it, so printing the client,
    its session or a traceback's locals in a notebook cannot leak it."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._value}"
        return r

    def __repr__(self) -> str:
        return f"<token from {self.source}: redacted>"

    __str__ = __repr__


def resolve_credentials(
    url: Optional[str], token: Optional[str], token_file: Union[str, os.PathLike, None]
) -> tuple[str, _Token]:
    """The bridge URL and token, the RSP way: arguments first, then BRIDGE_URL and
    ACCESS_TOKEN (Gafaelfawr puts the notebook user's token there)."""
    problems = []
    base = url or os.environ.get("BRIDGE_URL")
    if not base:
        problems.append("no bridge URL: pass Bridge(url=...) or set the BRIDGE_URL environment variable")
    secret: Optional[_Token] = None
    if token:
        secret = _Token(token.strip(), "the token argument")
    elif token_file is not None:
        p = Path(token_file).expanduser()
        try:
            text = p.read_text().strip()
        except OSError as e:
            raise ConfigurationError(f"token_file {str(p)!r} cannot be read: {e.strerror or e}") from None
        if not text:
            raise ConfigurationError(f"token_file {str(p)!r} is empty")
        secret = _Token(text, f"token file {p}")
    elif os.environ.get("ACCESS_TOKEN", "").strip():
        secret = _Token(os.environ["ACCESS_TOKEN"].strip(), "the ACCESS_TOKEN environment variable")
    else:
        problems.append(
            "no token: in an RSP notebook the ACCESS_TOKEN environment variable holds it; "
            "elsewhere pass Bridge(token=...) or Bridge(token_file=...), or set ACCESS_TOKEN"
        )
    if problems:
        raise ConfigurationError("The bridge client cannot start: " + "; ".join(problems) + ".")
    assert base is not None and secret is not None
    base = base.rstrip("/")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(f"bridge URL {base!r} must start with https:// (or http:// for a local bridge)")
    return base, secret


def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class Transport:
    """One requests.Session to one bridge, with retries on 429/503 honouring Retry-After."""

    def __init__(
        self,
        base: str,
        token: _Token,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "rsp-zooniverse-bridge-python",
    ) -> None:
        self.base = base
        self.api = f"{base}/api/v1"
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._session = requests.Session()
        self._session.auth = token
        self._session.headers["User-Agent"] = user_agent
        self._session.headers["Accept"] = "application/json, application/problem+json;q=0.9, */*;q=0.1"
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        data: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        stream: bool = False,
    ) -> requests.Response:
        url = path if path.startswith("http") else f"{self.api}{path}"
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                r = self._session.request(method, url, json=json, params=clean, data=data, headers=headers, timeout=self.timeout, stream=stream)
            except requests.ConnectionError as e:
                # Only a read may be sent again safely after a broken connection.
                if method == "GET" and attempt < self.max_retries:
                    attempt += 1
                    self._sleep(self._backoff(attempt))
                    continue
                raise Unavailable(f"The bridge at {self.base} could not be reached: {type(e).__name__}") from None
            except requests.Timeout:
                raise Unavailable(f"The bridge at {self.base} did not answer {method} {path} within {self.timeout:g} s") from None
            log.debug("%s %s -> %s", method, path, r.status_code)
            if r.status_code in RETRY_STATUSES and attempt < self.max_retries:
                attempt += 1
                wait = retry_after_seconds(r.headers.get("Retry-After"))
                wait = self._backoff(attempt) if wait is None else wait
                if wait > self.max_wait:
                    # Waiting longer than a notebook user would: give them the bridge's answer now.
                    break
                log.info("%s %s answered %s; trying again in %.1f s (%d of %d)", method, path, r.status_code, wait, attempt, self.max_retries)
                r.close()
                self._sleep(wait)
                continue
            break
        if r.status_code >= 400:
            raise self._error(r)
        return r

    def json(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        if r.status_code == 204 or not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            raise BridgeError(f"The bridge answered {method} {path} with something that is not JSON ({r.headers.get('Content-Type')})", status=r.status_code) from None

    @staticmethod
    def _error(r: requests.Response) -> BridgeError:
        body: dict = {}
        text = ""
        try:
            parsed = r.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            text = r.text
        return error_for(r.status_code, body, text)

    def _backoff(self, attempt: int) -> float:
        return min(self.max_wait, 0.5 * 2 ** (attempt - 1)) * (0.75 + random.random() / 2)

    def close(self) -> None:
        self._session.close()


def _param(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
