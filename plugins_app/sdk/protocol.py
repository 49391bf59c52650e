"""The wire between the host and a plugin process: JSON-RPC 2.0 over a socket pair.

Each message is a 4-byte big-endian length and that many bytes of UTF-8 JSON, so plugin
output can never be mistaken for a message (the plugin's stdout and stderr go to its log,
not to this socket). JSON, never pickle: the host reads what a plugin process writes, and
unpickling is running code. Both sides call and are called: the host calls ``init``, jobs,
hooks, renderers and routes in the plugin; the plugin calls the host's services. Requests
are answered on worker threads, so a slow call never blocks the reader. The protocol is
documented for authors of other runtimes in ``docs/plugin-protocol.md``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from plugins_app.base.errors import JupiterError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "CallTimeout",
    "ConnectionClosed",
    "Endpoint",
    "Handler",
    "ProtocolError",
    "RemoteError",
    "RemoteFailure",
    "read_frame",
    "write_frame",
]

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_HEADER = struct.Struct(">I")
log = logging.getLogger("jupiter.protocol")

# JSON-RPC 2.0 error codes; -32000 is "the called function raised".
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INTERNAL_ERROR = -32700, -32600, -32601, -32603
APPLICATION_ERROR = -32000

Handler = Callable[[str, Mapping[str, Any]], Any]


class ProtocolError(JupiterError):
    """The other side broke the framing or the JSON-RPC rules; the connection is closed."""


class ConnectionClosed(JupiterError):
    """The other side is gone (its process ended or closed the socket)."""


class CallTimeout(JupiterError):
    """No answer within the call's time limit."""


@dataclass(frozen=True)
class RemoteFailure:
    """What the other side reported: the exception's type, its message, where it came from."""

    type: str
    message: str
    where: str = ""
    module: str = ""


class RemoteError(JupiterError):
    """The called function raised; ``failure`` says what, in the other side's words."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(f"{failure.type}: {failure.message}{failure.where}")
        self.failure = failure


def write_frame(sock: socket.socket, message: Any) -> None:
    """One framed JSON message, outside JSON-RPC: the bootstrap a plugin process reads first."""
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        sock.sendall(_HEADER.pack(len(data)) + data)
    except OSError as exc:
        raise ConnectionClosed(f"cannot send: {exc}") from exc


def read_frame(sock: socket.socket) -> Any:
    """Read one framed JSON message (blocking)."""
    (size,) = _HEADER.unpack(_read_exact(sock, _HEADER.size))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"announced message of {size} bytes is too large")
    try:
        return json.loads(_read_exact(sock, size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionClosed("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class Endpoint:
    """One side of the connection: send calls and notifications, answer the other side's."""

    def __init__(self, sock: socket.socket, handler: Handler, *, workers: int = 8) -> None:
        self._sock = sock
        self._handler = handler
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jupiter-rpc")
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="jupiter-rpc-reader")
        self._reader.daemon = True

    def start(self) -> Endpoint:
        self._reader.start()
        return self

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._closed.wait(timeout)

    # -- outgoing --------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any], timeout: float | None) -> Any:
        """Call ``method`` on the other side and wait for its result (or its error)."""
        future: Future[Any] = Future()
        call_id = next(self._ids)
        with self._pending_lock:
            if self._closed.is_set():
                raise ConnectionClosed("the plugin process is not running")
            self._pending[call_id] = future
        try:
            self._send({"jsonrpc": "2.0", "id": call_id, "method": method, "params": params})
            return future.result(timeout)
        except FutureTimeout:
            raise CallTimeout(f"{method} did not answer within {timeout:g} s") from None
        finally:
            with self._pending_lock:
                self._pending.pop(call_id, None)

    def notify(self, method: str, params: Mapping[str, Any]) -> None:
        """Send without waiting; lost if the other side is gone (notifications are hints)."""
        try:
            self._send({"jsonrpc": "2.0", "method": method, "params": params})
        except ConnectionClosed:
            log.debug("notification %s dropped: connection closed", method)

    def close(self) -> None:
        """Close the socket; every call still waiting gets ``ConnectionClosed``."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._fail_pending()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, message: Mapping[str, Any]) -> None:
        with self._send_lock:
            write_frame(self._sock, message)

    # -- incoming --------------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while True:
                self._dispatch(read_frame(self._sock))
        except (ConnectionClosed, OSError):
            pass
        except ProtocolError as exc:
            log.warning("closing a connection that broke the protocol: %s", exc)
        finally:
            self._closed.set()
            self._fail_pending()

    def _fail_pending(self) -> None:
        with self._pending_lock:
            self._closed.set()
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            if not future.done():
                future.set_exception(ConnectionClosed("the plugin process stopped"))

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            raise ProtocolError("not a JSON-RPC 2.0 message")
        if "method" in message:
            params = message.get("params") or {}
            if not isinstance(params, dict) or not isinstance(message["method"], str):
                raise ProtocolError("a request needs a method name and named params")
            self._pool.submit(self._answer, message.get("id"), message["method"], params)
            return
        with self._pending_lock:
            future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if future is None or future.done():
            return  # an answer that came after its call timed out
        if "error" in message:
            future.set_exception(_error_of(message["error"]))
        else:
            future.set_result(message.get("result"))

    def _answer(self, call_id: Any, method: str, params: dict[str, Any]) -> None:
        try:
            result = self._handler(method, params)
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call_id, "result": result}
        except RemoteError as exc:
            reply = _error_reply(call_id, APPLICATION_ERROR, exc.failure)
        except LookupError as exc:
            failure = RemoteFailure(type(exc).__name__, str(exc), module=type(exc).__module__)
            reply = _error_reply(call_id, METHOD_NOT_FOUND, failure)
        except Exception as exc:
            failure = RemoteFailure(type(exc).__name__, str(exc), module=type(exc).__module__)
            reply = _error_reply(call_id, APPLICATION_ERROR, failure)
        if call_id is None:
            return  # a notification: nobody waits for the answer
        try:
            self._send(reply)
        except ProtocolError as exc:
            failure = RemoteFailure("ProtocolError", str(exc))
            self._send(_error_reply(call_id, INTERNAL_ERROR, failure))
        except ConnectionClosed:
            pass


def _error_reply(call_id: Any, code: int, failure: RemoteFailure) -> dict[str, Any]:
    data = {"type": failure.type, "where": failure.where, "module": failure.module}
    error = {"code": code, "message": failure.message, "data": data}
    return {"jsonrpc": "2.0", "id": call_id, "error": error}


def _error_of(error: Any) -> RemoteError:
    if not isinstance(error, dict):
        return RemoteError(RemoteFailure("ProtocolError", "malformed error object"))
    raw = error.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return RemoteError(
        RemoteFailure(
            type=str(data.get("type") or "Error"),
            message=str(error.get("message", "")),
            where=str(data.get("where") or ""),
            module=str(data.get("module") or ""),
        )
    )
