"""An HTTP client for a Focus Server (real or mock) and the mock's control interface.

Every request has its own timeout, which bounds the whole request (connect, send, and the
complete answer), not each read: a server that stops answering, or drips its answer a byte at
a time, makes a probe fail fast instead of hanging the run. Answers are read up to
``DEFAULT_MAX_RESPONSE_BYTES``; a bigger one fails the probe instead of filling memory, and a
body that looks like JSON but cannot be decoded (invalid, too deep, a number too long for
Python's parser) fails the probe with a one-line reason; any other non-JSON body is kept as
text (an HTML error page is an answer too).

URLs are joined onto the base path the server is deployed under
(``https://host/focus-server/``), and ``insecure`` skips certificate checks like ``curl -k``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from fibersim.errors import UnreachableError
from fibersim.focus.schemas import MockStatus
from fibersim.redact import redact_url

#: Per-request timeout of probes (s): far above a healthy server's answer times.
DEFAULT_REQUEST_TIMEOUT_S = 3.0
#: Largest answer a probe reads (bytes): the real server's answers are a few KB.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024

#: A JSON document as ``json.loads`` returns it: what an answer's body is, and what a
#: request may send.
JsonDocument: TypeAlias = (str | int | float | bool | list["JsonDocument"]
                           | dict[str, "JsonDocument"] | None)

#: The incident's two configure requests (section 3), every field sent, unset ones as null,
#: exactly as the retrying test suites sent them.
CONFIGURE_REQUESTS: dict[str, dict[str, JsonDocument]] = {
    "height_200": {
        "displayTimeAxisDuration": 30, "nfftSelection": 1024, "displayInfo": {"height": 200},
        "channels": {"min": 11, "max": 109}, "frequencyRange": {"min": 0, "max": 1000},
        "start_time": None, "end_time": None, "view_type": "0",
    },
    "height_1000": {
        "displayTimeAxisDuration": 30, "nfftSelection": 1024, "displayInfo": {"height": 1000},
        "channels": {"min": 1, "max": 50}, "frequencyRange": {"min": 0, "max": 500},
        "start_time": None, "end_time": None, "view_type": "0",
    },
}


class _TooLarge(Exception):
    """An answer over the size cap (internal: becomes a ``ProbeError``)."""


class ProbeError(Exception):
    """A request got no HTTP answer (timeout, refused connection), or the mock's status
    could not be read; the text says which."""



@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, parsed JSON (None if not JSON), raw text, round-trip time."""

    status: int
    body: JsonDocument
    text: str
    elapsed_s: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error_text(self) -> str:
        """The one-line reason clients read: ``body["error"]``, then ``body["message"]``."""
        if isinstance(self.body, dict):
            for key in ("error", "message", "detail"):
                if key in self.body:
                    return str(self.body[key])
        return self.text


#: Header marking fibersim's own probes: the mock counts them apart from clients' requests.
PROBE_HEADER = "X-Fibersim-Probe"


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (with or without a trailing slash) plus ``path``."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def root_url(base_url: str) -> str:
    """The server's root (scheme and host) of a base URL deployed under a path."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/"


class FocusClient:
    """Requests to one Focus Server, each with its own timeout."""

    def __init__(self, base_url: str, *, insecure: bool = False, ca_file: str | None = None,
                 timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
                 control_url: str | None = None, control_token: str | None = None,
                 probe: bool = False,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        """``probe``: mark every request as fibersim's own check (``PROBE_HEADER``), so the
        mock does not count it among the clients' requests."""
        self.base_url = base_url
        self.control_url = control_url
        self._control_headers = {"X-Control-Token": control_token} if control_token else {}
        self._headers = {PROBE_HEADER: "1"} if probe else {}
        verify: bool | ssl.SSLContext = (
            False if insecure else ssl.create_default_context(cafile=ca_file) if ca_file else True)
        self._http = httpx.AsyncClient(timeout=timeout_s, verify=verify)
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes

    @property
    def has_control(self) -> bool:
        """Whether the mock's status and control endpoints are available."""
        return self.control_url is not None

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def request(self, method: str, path: str, body: JsonDocument = None, *,
                      control: bool = False, root: bool = False,
                      query: Mapping[str, JsonDocument] | None = None,
                      headers: dict[str, str] | None = None) -> Answer:
        """One request; ``ProbeError`` if no complete HTTP answer arrives within the timeout,
        or the answer exceeds ``max_response_bytes``.

        ``path`` is under the base URL, the control URL (``control``) or the server's root
        (``root``: for paths outside the prefix the server is deployed under). A query value
        that is a list or an object is sent as its JSON text."""
        base = self.control_url if control else self.base_url
        if base is None:
            raise ProbeError("the mock control interface is not available")
        url = join_url(root_url(base) if root else base, path)
        sent = {**self._headers, **(self._control_headers if control else {}), **(headers or {})}
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._http.stream(method, url, json=body, headers=sent,
                                             params=_query_params(query)) as response:
                    content = await self._read_capped(response)
        except (TimeoutError, httpx.TimeoutException):
            raise ProbeError(f"{method} {path}: no complete answer within {self.timeout_s:g}s"
                             ) from None
        except httpx.HTTPError as error:
            raise ProbeError(f"{method} {path}: {type(error).__name__}") from None
        except _TooLarge:
            raise ProbeError(f"{method} {path}: answer larger than {self.max_response_bytes}"
                             " bytes (not read)") from None
        text = content.decode(response.encoding or "utf-8", errors="replace")
        try:
            parsed = json.loads(content)
        except (ValueError, RecursionError) as error:  # also a number of over 4300 digits
            if content.lstrip()[:1] not in (b"{", b"["):
                parsed = None  # not meant as JSON (an HTML error page, a bare 503): keep text
            else:
                reason = ("nested too deeply" if isinstance(error, RecursionError)
                          else " ".join(str(error).split())[:160])
                raise ProbeError(f"{method} {path}: HTTP {response.status_code} with"
                                 f" undecodable JSON: {reason}") from None
        return Answer(response.status_code, parsed, text[:2000], time.monotonic() - started,
                      dict(response.headers))

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The body, or ``_TooLarge`` as soon as it (or its announced length) exceeds the cap."""
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > self.max_response_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def live_metadata(self) -> Answer:
        """``GET /live_metadata``: the fiber metadata, or the "waiting for fiber" sentinel."""
        return await self.request("GET", "live_metadata")

    async def channels(self) -> Answer:
        """``GET /channels``: the channel range, served even while waiting for fiber."""
        return await self.request("GET", "channels")

    async def configure(self, body: dict[str, JsonDocument]) -> Answer:
        """``POST /configure``: the call the incident's 503s came from."""
        return await self.request("POST", "configure", body)

    async def mock_status(self) -> MockStatus:
        """``GET /_mock/status`` on the control URL (state, counters, restarts, requests),
        parsed as the mock's own ``MockStatus``: the one status model of every reader.

        ``ProbeError`` (``mock status: ...``) when there is no answer, the answer is not a
        200, or its first field that does not fit the model (named by its path)."""
        try:
            answer = await self.request("GET", "_mock/status", control=True)
        except ProbeError as error:
            raise ProbeError(f"mock status: {error}") from None
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise ProbeError(f"mock status: HTTP {answer.status} (want 200)")
        try:
            return MockStatus.model_validate(answer.body)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ProbeError(f"mock status: field {where}: {first['msg']}") from None

    async def control(self, action: str) -> Answer:
        """``POST /_mock/<action>`` (restart, store/down, store/up, requests/reset)."""
        return await self.request("POST", f"_mock/{action}", control=True)

    async def wait_reachable(self, deadline_s: float) -> None:
        """Return once the server answers ``GET /ack`` at all; ``UnreachableError`` otherwise."""
        end = time.monotonic() + deadline_s
        last = "no attempt"
        while True:
            try:
                await self.request("GET", "ack")
                return
            except ProbeError as error:
                last = str(error)
            if time.monotonic() >= end:
                raise UnreachableError(
                    f"Focus Server at {redact_url(self.base_url)} unreachable: {last}")
            await asyncio.sleep(0.2)


def _query_params(query: Mapping[str, JsonDocument] | None
                  ) -> dict[str, str | int | float | bool | None] | None:
    """A query as httpx sends it: scalars as they are, lists and objects as JSON text."""
    if query is None:
        return None
    return {name: value if value is None or isinstance(value, (str, int, float, bool))
            else json.dumps(value) for name, value in query.items()}
