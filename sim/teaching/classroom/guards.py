"""What a request to the classroom server may be: its size, its JSON, its secrets, its sender, its rate.

Kept apart from the rooms (:mod:`sim.teaching.classroom.server`) because every rule here is about
a hostile request, not the game: a body is read in pieces and refused as soon as it passes
:data:`MAX_BODY` (a chunked upload never sits in memory); JSON with over-long numbers, NaN or deep
nesting is a 400; every secret is compared in constant time as bytes, whatever characters were
sent; ``X-Forwarded-For`` names the sender only behind a proxy the teacher declared; answers are
ASCII JSON, so a message quoting odd characters still encodes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict, deque
from typing import Any, ClassVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Bytes a request body may hold (a plan for 5 states x 3 channels is well under 1 kB).
MAX_BODY = 32_000
#: JSON the server reads: numbers of at most this many digits, nested at most this deep.
MAX_DIGITS, MAX_DEPTH = 30, 20
#: Failed joins allowed per client address within FAILURE_WINDOW seconds.
MAX_FAILURES, FAILURE_WINDOW = 20, 300
#: Wrong rejoin codes allowed per room within FAILURE_WINDOW, from whatever addresses.
ROOM_FAILURES = 30
#: Changes (joins, rejoins, plans) a room takes per WRITE_WINDOW seconds: 60 students use a few each.
ROOM_WRITES, WRITE_WINDOW = 600, 60
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def same(given: Any, secret: str) -> bool:
    """Is ``given`` the secret? Compared in constant time as UTF-8 bytes, whatever it holds (never raises)."""
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass"))


def digest(token: str) -> str:
    """How the server files a seat token: its SHA-256, so looking it up reveals nothing through timing."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Window:
    """Events per key within a sliding window of seconds (failed joins, a room's changes)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.events: dict[str, deque[float]] = defaultdict(deque)

    def full(self, key: str, now: float) -> bool:
        events = self.events[key]
        while events and events[0] < now - self.seconds:
            events.popleft()
        if not events:
            del self.events[key]
            return False
        return len(events) >= self.limit

    def add(self, key: str, now: float) -> None:
        self.events[key].append(now)


class Denied(Exception):
    """A request the server refuses: HTTP status and a sentence for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def client_address(request: Request, behind_proxy: bool = False) -> str:
    """Who is asking, for the per-address limits: the connection's address, or the proxy's word for it.

    ``X-Forwarded-For`` is believed only with ``--behind-proxy`` and only from a proxy on this
    computer; its last entry is the one that proxy added (earlier ones are the client's to write).
    """
    host = request.client.host if request.client else "?"
    if behind_proxy and is_loopback(host):
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return host


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise Denied(400, f"a number in the request has more than {MAX_DIGITS} digits")
    return int(text)


def _parse_constant(text: str) -> float:
    raise Denied(400, f"{text} is not a number: send amounts as plain numbers")


def _depth(data: Any) -> int:
    """How deeply lists and objects nest in ``data`` (walked without recursion)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            todo.extend((x, level + 1) for x in (item.values() if isinstance(item, dict) else item))
    return deepest


async def read_body(request: Request) -> bytes:
    """The request's body, refused (413) as soon as it passes MAX_BODY bytes: nothing larger is ever held."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Denied(400, "Content-Length: expected a number of bytes")
        if int(declared) > MAX_BODY:
            raise Denied(413, f"request too large (at most {MAX_BODY} bytes)")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Denied(413, f"request too large (at most {MAX_BODY} bytes)")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Denied(400, "the request was cut off") from None
    return b"".join(chunks)


async def read_json(request: Request) -> dict[str, Any]:
    raw = await read_body(request)
    try:
        data = json.loads(raw or b"{}", parse_int=_parse_int, parse_constant=_parse_constant)
    except RecursionError:
        raise Denied(400, f"the request's JSON nests more than {MAX_DEPTH} levels deep") from None
    except ValueError:
        raise Denied(400, "expected JSON (UTF-8)") from None
    if not isinstance(data, dict):
        raise Denied(400, "expected a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise Denied(400, f"the request's JSON nests more than {MAX_DEPTH} levels deep")
    return data


class SafeJSON(JSONResponse):
    """JSON written in ASCII: a message quoting a client's odd characters (lone surrogates) still encodes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


class SecurityHeaders:
    """No framing, no sniffing, no referrer (the teacher's URL holds a key), nothing loaded from elsewhere.

    A plain ASGI middleware: it touches only the response's headers and passes the request body
    through untouched, piece by piece (no buffering of its own).
    """

    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.HEADERS}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": [*kept, *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
