"""The HTTP face of the mock: the real Focus Server API plus the mock-only /_mock routes.

Every route is served at ``/`` and again under the configured prefix (``/focus-server``), as
behind the production ingress. Every handler is ``async`` on purpose: it runs on the event
loop, the thread that also consumes the wire, so the mock's state needs no locks. Errors the
API defines are JSON ``{"error": ...}``; only schema errors keep FastAPI's ``{"detail": ...}``
(422), as do unknown paths (404) and methods (405).
"""

from __future__ import annotations

import hmac
import html
import json
import logging
from http import HTTPStatus
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fibersim.focus.jobs import LINES_KEPT, Job, JobRequest, JobRequestError
from fibersim.focus.logs import access_log
from fibersim.focus.schemas import (
    AckResponse,
    ChannelsResponse,
    ConfigureRequest,
    ConfigureResponse,
    DeletedJob,
    ErrorBody,
    JobLines,
    MockSettingsChange,
    MockStatus,
    NotReadyBody,
    SensorsResponse,
    TimeRangeRequest,
)
from fibersim.focus.service import (
    ChannelRangeError,
    FiberNotReadyError,
    FocusMock,
    ServerDownError,
)
from fibersim.focus.settings import Behaviour
from fibersim.focus.store import StoreSelectionTimeoutError
from fibersim.models import FiberMetadata
from fibersim.wire import loads_strict_json

CONTROL_PREFIX = "/_mock"
#: Header fibersim's probes carry (lower case, as ASGI gives header names).
_PROBE_HEADER = b"x-fibersim-probe"
#: Largest request body the mock reads (bytes): a configure request is a few hundred.
MAX_REQUEST_BODY_BYTES = 64 * 1024
NOT_FOUND = {"detail": "Not Found"}
INVALID_JOB = {"error": "Invalid job_id"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def create_app(mock: FocusMock) -> FastAPI:
    """The ASGI app over a (started) ``FocusMock``; usable with httpx.ASGITransport."""
    settings = mock.settings
    app = FastAPI(title="fibersim mock Focus Server", version="1",
                  description="Mock of the Focus Server API; see docs/focus-mock.md.")
    app.state.mock = mock
    _add_error_handlers(app, mock)
    api = _api_router(mock)
    app.include_router(api)
    if settings.control_enabled:
        app.include_router(_control_router(mock), prefix=CONTROL_PREFIX)
    if settings.prefix:
        app.include_router(api, prefix=settings.prefix, include_in_schema=False)
        if settings.control_enabled:
            app.include_router(_control_router(mock), include_in_schema=False,
                               prefix=settings.prefix + CONTROL_PREFIX)

        @app.get(settings.prefix + "/openapi.json", include_in_schema=False)
        async def prefixed_openapi() -> dict[str, Any]:
            return app.openapi()

    app.add_middleware(BodyGuard)
    app.add_middleware(RequestAccounting, mock=mock)
    return app


def _add_error_handlers(app: FastAPI, mock: FocusMock) -> None:
    @app.exception_handler(ServerDownError)
    async def server_down(_: Request, error: ServerDownError) -> JSONResponse:
        return _error(503, str(error))

    @app.exception_handler(JobRequestError)
    async def bad_job(_: Request, error: JobRequestError) -> JSONResponse:
        return _error(error.status, str(error))

    @app.exception_handler(StoreSelectionTimeoutError)
    async def store_down(_: Request, error: StoreSelectionTimeoutError) -> JSONResponse:
        return _error(503, "recordings store unavailable")

    @app.exception_handler(ChannelRangeError)
    async def channels_out_of_range(_: Request, error: ChannelRangeError) -> JSONResponse:
        detail = [{"type": "value_error", "loc": ["body", "channels"], "msg": str(error)}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(ControlTokenError)
    async def wrong_token(_: Request, error: ControlTokenError) -> JSONResponse:
        return _error(401, "missing or wrong X-Control-Token")

    @app.exception_handler(FiberNotReadyError)
    async def not_ready(_: Request, error: FiberNotReadyError) -> JSONResponse:
        if mock.settings.behaviour is Behaviour.INCIDENT:
            return _error(503, HTTPStatus.SERVICE_UNAVAILABLE.phrase)  # the reason is only logged
        body = NotReadyBody(error=f"Cannot configure job: fiber is {error.state.value}; {error}",
                            state=error.state.value, missing=["prr"])
        return JSONResponse(body.model_dump(), status_code=503)


def _api_router(mock: FocusMock) -> APIRouter:
    """The real server's API, in the configured behaviour."""
    router = APIRouter()

    def fixed() -> bool:
        """Read at every request: ``POST /_mock/set`` may switch the behaviour at run time."""
        return mock.settings.behaviour is Behaviour.FIXED

    @router.get("/ack", response_model=AckResponse, responses=_responses(503))
    async def ack() -> AckResponse:
        """Liveness: 200 while the server runs, 503 while it is down or restarting."""
        mock.running_core()
        return AckResponse()

    @router.get("/channels", response_model=ChannelsResponse, responses=_responses(503))
    async def channels() -> ChannelsResponse:
        mock.running_core()
        return ChannelsResponse(lowest_channel=1, highest_channel=mock.channels)

    @router.get("/live_metadata", response_model=FiberMetadata, responses=_responses(404, 503))
    async def live_metadata() -> Response:
        """The fiber metadata, or the "waiting for fiber" sentinel, as compact JSON."""
        if fixed() and mock.transport is None:
            return _error(404, "no fiber metadata source: isolated system")
        return Response(mock.live_metadata_bytes(), media_type="application/json")

    @router.post("/configure", response_model=ConfigureResponse,
                 responses=_responses(400, 404, 503))
    async def configure(body: ConfigureRequest) -> ConfigureResponse:
        """Create a job; 503 while the fiber has no prr (the incident)."""
        job = mock.configure(_job_request(body), _summary(body))
        return _configure_response(job, fixed())

    @router.get("/metadata/{job_id}", response_model=ConfigureResponse,
                responses=_responses(404, 503))
    async def job_metadata(job_id: str) -> Response | ConfigureResponse:
        job = mock.job(job_id)
        if job is None or not (fixed() or job.consumer_attached):
            return JSONResponse(INVALID_JOB, status_code=404)
        return _configure_response(job, fixed())

    @router.delete("/job/{job_id}", response_model=DeletedJob, responses=_responses(404, 503))
    async def delete_job(job_id: str) -> Response | DeletedJob:
        """Fixed behaviour only; the real server has no such route (404)."""
        if not fixed():
            return JSONResponse(NOT_FOUND, status_code=404)
        if not mock.delete_job(job_id):
            return JSONResponse(INVALID_JOB, status_code=404)
        return DeletedJob(job_id=job_id)

    @router.post("/recordings_in_time_range", response_model=list[tuple[float, float]],
                 responses=_responses(503))
    async def recordings_in_time_range(body: TimeRangeRequest) -> list[tuple[float, float]]:
        """``[start, end]`` of recordings overlapping the window; end -1 while recording."""
        return mock.recordings_in(body.start_time, body.end_time)

    @router.get("/get_recordings_timeline", response_class=HTMLResponse,
                responses=_responses(503))
    async def recordings_timeline() -> HTMLResponse:
        return HTMLResponse(_timeline_page(mock.all_recordings()))

    @router.get("/sensors", response_model=SensorsResponse, responses=_responses(404, 503))
    async def sensors() -> Response | SensorsResponse:
        """The older API's sensor list (fixed behaviour); the real server answers 404."""
        mock.running_core()
        if not fixed():
            return JSONResponse(NOT_FOUND, status_code=404)
        return SensorsResponse(sensors=list(range(mock.channels)))

    return router


def _control_router(mock: FocusMock) -> APIRouter:
    """Mock-only routes: status, faults and job output; token-protected when a token is set."""
    token = mock.settings.control_token

    async def require_token(
        x_control_token: Annotated[str | None, Header()] = None,
    ) -> None:
        if token is not None and not hmac.compare_digest(
                (x_control_token or "").encode(), token.encode()):
            raise ControlTokenError

    router = APIRouter(dependencies=[Depends(require_token)],
                       responses=_responses(401))

    @router.get("/status", response_model=MockStatus)
    async def status() -> Response:
        return _status(mock)

    @router.post("/restart", response_model=MockStatus)
    async def restart() -> Response:
        mock.restart()
        return _status(mock)

    @router.post("/store/down", response_model=MockStatus)
    async def store_down() -> Response:
        mock.set_store_reachable(False)
        return _status(mock)

    @router.post("/store/up", response_model=MockStatus)
    async def store_up() -> Response:
        mock.set_store_reachable(True)
        return _status(mock)

    @router.post("/requests/reset", response_model=MockStatus)
    async def reset_requests() -> Response:
        mock.reset_request_counts()
        return _status(mock)

    @router.post("/set", response_model=MockStatus, responses=_responses(422))
    async def set_settings(body: MockSettingsChange) -> Response:
        """The backdoor: change running settings (behaviour, metadata timeout, reconfigure
        policy, crash-loop back-off, message size limit) without restarting the mock."""
        mock.update_settings(body)
        return _status(mock)

    @router.get("/jobs/{job_id}/lines", response_model=JobLines, responses=_responses(404, 503))
    async def job_lines(job_id: str,
                  last: Annotated[int, Query(ge=1, le=LINES_KEPT)] = 100) -> Response | JobLines:
        """The newest ``last`` waterfall lines; reading them attaches a consumer to the job."""
        job = mock.attach_consumer(job_id)
        if job is None or job.waterfall is None:
            return JSONResponse(INVALID_JOB, status_code=404)
        lines = list(job.waterfall.lines)[-last:]
        values = np.stack(lines).astype(np.float32).tolist() if lines else []
        return JobLines(job_id=job.job_id, prr=job.plan.prr, unit="int16 counts",
                        frequencies=list(job.plan.frequencies),
                        channel_groups=list(job.plan.groups),
                        lines_total=job.waterfall.lines_total, lines=values)

    return router


def _status(mock: FocusMock) -> Response:
    """The mock's ``MockStatus`` as JSON. The domain built it as that model already: letting
    FastAPI validate it again cost more than building it (scenarios poll it)."""
    return Response(mock.status().model_dump_json(by_alias=True), media_type="application/json")


class ControlTokenError(Exception):
    """A /_mock call without the right X-Control-Token."""


def _job_request(body: ConfigureRequest) -> JobRequest:
    frequency_range = body.frequencyRange
    return JobRequest(
        view_type=int(body.view_type),
        nfft=body.nfftSelection,
        height=body.displayInfo.height,
        display_time_axis_duration=body.displayTimeAxisDuration,
        channel_min=body.channels.min,
        channel_max=body.channels.max,
        frequency_min=frequency_range.min if frequency_range else None,
        frequency_max=frequency_range.max if frequency_range else None,
        start_time=body.start_time,
        end_time=body.end_time,
    )


def _summary(body: ConfigureRequest) -> str:
    """The request as the real server logs it after "got configuration: "."""
    frequency = body.frequencyRange
    duration = body.displayTimeAxisDuration
    return (f"displayTimeAxisDuration={'None' if duration is None else f'{duration:g}'} "
            f"nfftSelection={body.nfftSelection} displayInfo.height={body.displayInfo.height} "
            f"channels={body.channels.min}..{body.channels.max} "
            f"frequencyRange={f'{frequency.min}..{frequency.max}' if frequency else 'None'} "
            f"start_time={body.start_time} end_time={body.end_time} view_type={body.view_type}")


def _configure_response(job: Job, fixed: bool) -> ConfigureResponse:
    plan = job.plan
    return ConfigureResponse(
        status="success" if fixed else "",
        job_id=job.job_id,
        stream_port=job.stream_port,
        stream_url=f"grpc://127.0.0.1:{job.stream_port}",
        view_type=str(job.request.view_type),
        channel_amount=plan.channel_amount,
        stream_amount=len(plan.groups),
        channel_to_stream_index=plan.channel_to_stream_index(),
        frequencies_list=list(plan.frequencies),
        frequencies_amount=len(plan.frequencies),
        lines_dt=plan.lines_dt,
        metadata=job.metadata,
    )


def _timeline_page(recordings: list[tuple[float, float]]) -> str:
    """A self-contained page with one bar per recording on a shared time axis."""
    if recordings:
        first = min(start for start, _ in recordings)
        span = max(max(end for _, end in recordings) - first, 1e-9)
    else:
        first, span = 0.0, 1.0
    bars = "\n".join(
        f'<rect x="{(start - first) / span * 1000:.1f}" y="{10 + 22 * index}" '
        f'width="{max((end - start) / span * 1000, 1):.1f}" height="18" fill="steelblue">'
        f"<title>{start:.3f} - {end:.3f}</title></rect>"
        for index, (start, end) in enumerate(recordings))
    height = 20 + 22 * len(recordings)
    title = html.escape(f"{len(recordings)} recording(s)")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Recordings timeline"
            f"</title></head><body><h1>{title}</h1><svg width=\"1000\" height=\"{height}\">"
            f"{bars}</svg></body></html>")


class BodyGuard:
    """Refuses request bodies the API must never see: over ``MAX_REQUEST_BODY_BYTES`` (413,
    read no further), or JSON with NaN, Infinity, a number that overflows a float, or nesting
    deeper than Python's parser takes (422). Python's ``json`` would accept the first ones,
    and echoing them in a validation error is invalid JSON: the answer was a 500 and a
    dropped keep-alive connection. The body is checked whole, unknown keys included, then
    handed on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = await self._read(scope, receive)
        if body is None:
            response: Response = _error(413, f"request body over {MAX_REQUEST_BODY_BYTES} bytes")
            await response(scope, receive, send)
            return
        problem = _json_problem(body)
        if problem is not None:
            detail = [{"type": "json_invalid", "loc": ["body"], "msg": problem}]
            await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it exceeds the limit."""
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and (
                    int(value) > MAX_REQUEST_BODY_BYTES):
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_REQUEST_BODY_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _json_problem(body: bytes) -> str | None:
    """Why ``body`` (if it parses as JSON at all) must be refused, else None."""
    try:
        loads_strict_json(body)
    except RecursionError:
        return "JSON nested too deeply"
    except json.JSONDecodeError:
        return None  # not JSON: FastAPI answers that itself
    except ValueError as error:  # NaN/Infinity, overflow, integers over 4300 digits
        return str(error)
    return None


class RequestAccounting:
    """Counts requests per route template and status, and writes uvicorn-like access lines.

    A pure ASGI middleware (no per-request task), cheap enough for thousands of requests a
    second. /_mock routes are not counted: polling the status must not change it.
    """

    def __init__(self, app: ASGIApp, mock: FocusMock) -> None:
        self.app = app
        self.mock = mock
        self.prefix = mock.settings.prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self._account(scope, status)

    def _account(self, scope: Scope, status: int) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "(unmatched)"
        if self.prefix and path.startswith(self.prefix + "/"):
            path = path[len(self.prefix):]
        if not path.startswith(CONTROL_PREFIX):
            probe = any(name == _PROBE_HEADER for name, _ in scope.get("headers", ()))
            self.mock.record_request(f"{scope['method']} {path}", status, probe=probe)
        if access_log.isEnabledFor(logging.INFO):
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            access_log.info('"%s %s HTTP/%s" %d %s', scope["method"], target,
                            scope.get("http_version", "1.1"), status, phrase)
