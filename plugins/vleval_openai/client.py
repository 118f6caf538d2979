"""HTTP transport to an OpenAI-compatible server: keep-alive connections per thread, timeouts, and retries with
exponential backoff on 429 / 5xx / connection errors (honouring ``Retry-After``).

Standard library only (``http.client``): one dependency fewer, and the plugin needs nothing httpx adds beyond
keep-alive and chunked reading, which ``http.client`` does. The API key is sent as a bearer header and redacted from
every message this module produces.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("vleval_openai")

RETRY_STATUS = frozenset({408, 425, 429})  # and every 5xx
RETRY_ERRORS = (ConnectionError, socket.timeout, TimeoutError, http.client.HTTPException, OSError)


class Reader(Protocol):
    """Reads one attempt's response: ``begin`` just before the request is sent, ``abort`` if the attempt fails."""

    def begin(self) -> None: ...
    def __call__(self, resp: http.client.HTTPResponse) -> Any: ...
    def abort(self) -> None: ...


class JSONReader:
    def begin(self) -> None:
        pass

    def __call__(self, resp: http.client.HTTPResponse) -> Any:
        return json.loads(resp.read())

    def abort(self) -> None:
        pass


class ServerError(RuntimeError):
    """The server answered with an error, or could not be reached, after the last try."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Retryable(Exception):
    """One failed attempt that may be retried (status, server-requested delay)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def public_url(url: str) -> str:
    """``url`` without user info (``http://user:pass@host`` -> ``http://host``), query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), ``None`` if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    """POST/GET JSON to ``base_url`` with retries; one keep-alive connection per calling thread."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 60.0, max_retries: int = 4,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0, sleep: Callable[[float], None] = time.sleep):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"openai: base_url must be an http(s) URL, got {public_url(base_url)!r}")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.url = public_url(base_url)
        self._key = api_key or None
        self.timeout_s, self.max_retries = float(timeout_s), int(max_retries)
        self.backoff_s, self.max_backoff_s, self.sleep = float(backoff_s), float(max_backoff_s), sleep
        self._local = threading.local()
        self.attempts = 0  # every HTTP attempt made, retries included

    # -------------------------------------------------------------------------------------------- plumbing

    def redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def headers(self, stream: bool) -> dict[str, str]:
        out = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self._key:
            out["Authorization"] = f"Bearer {self._key}"
        return out

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def delay(self, attempt: int, retry_after: float | None) -> float:
        base = min(self.max_backoff_s, self.backoff_s * (2 ** attempt))
        return min(self.max_backoff_s, retry_after) if retry_after is not None else base

    # ------------------------------------------------------------------------------------------- requests

    @contextmanager
    def _open(self, method: str, path: str, body: bytes | None, stream: bool,
              reader: Reader) -> Iterator[http.client.HTTPResponse]:
        """One attempt: a response with a 2xx status, or :class:`Retryable` / :class:`ServerError`."""
        self.attempts += 1
        conn = self._connection()
        reader.begin()
        try:
            conn.request(method, self.prefix + path, body=body, headers=self.headers(stream))
            resp = conn.getresponse()
        except RETRY_ERRORS as exc:
            self._drop_connection()
            raise Retryable(f"{type(exc).__name__}: {exc}") from None
        if resp.status >= 400:
            detail = resp.read(2000).decode("utf-8", "replace").strip()
            if resp.will_close or not resp.isclosed():  # unread body left: the connection cannot be reused
                resp.close()
                self._drop_connection()
            message = f"HTTP {resp.status} {resp.reason}" + (f": {detail[:300]}" if detail else "")
            if resp.status in RETRY_STATUS or resp.status >= 500:
                raise Retryable(message, resp.status, retry_after_s(resp.getheader("Retry-After")))
            raise ServerError(self.redact(f"openai: {method} {self.url}{path} failed: {message}"), resp.status)
        try:
            yield resp
        except RETRY_ERRORS as exc:  # the connection dropped while the body was read
            self._drop_connection()
            raise Retryable(f"{type(exc).__name__} while reading the response: {exc}") from None
        finally:
            if resp.will_close or not resp.isclosed():  # closing, or body not fully read: do not reuse
                resp.close()
                self._drop_connection()

    def call(self, method: str, path: str, payload: dict[str, Any] | bytes | None, reader: Reader,
             stream: bool = False) -> Any:
        """``reader(response)`` on the first successful attempt; retried as a whole on retryable failures.
        ``payload``: a JSON-able dict, or the JSON body already encoded."""
        body = json.dumps(payload, separators=(",", ":")).encode() if isinstance(payload, dict) else payload
        last: Retryable | None = None
        for attempt in range(self.max_retries + 1):
            try:
                with self._open(method, path, body, stream, reader) as resp:
                    return reader(resp)
            except BaseException as exc:
                reader.abort()
                if not isinstance(exc, Retryable):
                    raise
                last = exc
                if attempt == self.max_retries:
                    break
                wait = self.delay(attempt, exc.retry_after)
                log.warning("openai: %s %s%s: %s; retry %d/%d in %.2fs", method, self.url, path,
                            self.redact(str(exc)), attempt + 1, self.max_retries, wait)
                self.sleep(wait)
        assert last is not None
        raise ServerError(self.redact(f"openai: {method} {self.url}{path} failed after {self.max_retries + 1} "
                                      f"attempt(s): {last}"), last.status)

    def get_json(self, path: str) -> Any:
        return self.call("GET", path, None, JSONReader())
