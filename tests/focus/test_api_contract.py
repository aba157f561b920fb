"""The HTTP contract of focus-server-api.md, row by row, in both behaviours (incident, fixed).

The ``focus`` fixture runs every test once per behaviour; rows that differ say which answer
each behaviour gives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import numpy as np
import pytest

from fibersim.focus import FocusMock, FocusSettings, create_app
from tests.focus.harness import (
    LIVE_REQUEST,
    NOT_READY_LOG,
    PREFIX,
    WAITING_JSON,
    Focus,
    FocusFactory,
    configure_body,
)

# -- general rules -------------------------------------------------------------------------


async def test_the_api_is_served_both_at_the_root_and_under_the_prefix(focus: Focus) -> None:
    for path in ("/live_metadata", f"{PREFIX}/live_metadata"):
        assert (await focus.client.get(path)).content == WAITING_JSON


async def test_unknown_paths_answer_fastapis_404(focus: Focus) -> None:
    response = await focus.client.get(f"{PREFIX}/no/such/thing")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


async def test_openapi_is_served(focus: Focus) -> None:
    for path in ("/openapi.json", f"{PREFIX}/openapi.json"):
        response = await focus.client.get(path)
        assert response.status_code == 200
        assert "/configure" in response.json()["paths"]


# -- GET /ack ------------------------------------------------------------------------------


async def test_ack_answers_200_with_a_json_object(focus: Focus) -> None:
    response = await focus.client.get(f"{PREFIX}/ack")
    assert (response.status_code, response.json()) == (200, {})


async def test_ack_answers_100_concurrent_callers_fast(focus: Focus) -> None:
    started = time.perf_counter()
    responses = await asyncio.gather(*(focus.client.get(f"{PREFIX}/ack") for _ in range(100)))
    assert {response.status_code for response in responses} == {200}
    assert (time.perf_counter() - started) / 100 < 0.1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_ack_refuses_other_methods_with_405(focus: Focus, method: str) -> None:
    assert (await focus.client.request(method, f"{PREFIX}/ack")).status_code == 405


@pytest.mark.parametrize("header", ["User-Agent", "Referer", "X-Forwarded-For"])
@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "../../../../etc/passwd",
                                   "' OR '1'='1'; DROP TABLE recordings; --"])
async def test_ack_shrugs_off_hostile_header_values(focus: Focus, header: str,
                                                    value: str) -> None:
    response = await focus.client.get(f"{PREFIX}/ack", headers={header: value})
    assert response.status_code == 200
    assert "<script" not in response.text


# -- GET /channels -------------------------------------------------------------------------


async def test_channels_are_known_while_waiting_for_fiber(focus: Focus) -> None:
    bodies = [(await focus.client.get(f"{PREFIX}/channels")).json() for _ in range(3)]
    assert bodies == [{"lowest_channel": 1, "highest_channel": 2337}] * 3


async def test_channels_follow_the_fibers_channel_count(focus: Focus) -> None:
    await focus.metadata(number_of_channels=500)
    assert (await focus.client.get(f"{PREFIX}/channels")).json()["highest_channel"] == 500


# -- GET /live_metadata --------------------------------------------------------------------


async def test_live_metadata_is_the_incidents_payload_while_waiting(focus: Focus) -> None:
    response = await focus.client.get(f"{PREFIX}/live_metadata")
    assert (response.status_code, response.content) == (200, WAITING_JSON)


async def test_live_metadata_shows_the_real_fiber_when_ready(ready_focus: Focus) -> None:
    body = (await ready_focus.client.get(f"{PREFIX}/live_metadata")).json()
    assert body["prr"] == 2000.0 and body["dx"] == pytest.approx(1.02)
    assert body["sw_version"] and body["fiber_description"] != "waiting for fiber"
    assert body["fiber_start_meters"] == int(body["fiber_start_meters"])
    assert body["fiber_length_meters"] == int(body["fiber_length_meters"])


async def test_live_metadata_with_zero_prr_keeps_the_real_description(focus: Focus) -> None:
    await focus.metadata(prr=0.0)
    body = (await focus.client.get(f"{PREFIX}/live_metadata")).json()
    assert body["prr"] == 0.0 and body["sw_version"] == "fibersim-interrogator 0.1.0"


async def test_waiting_payload_keeps_the_last_known_channel_count(focus: Focus) -> None:
    await focus.metadata(number_of_channels=640)
    await focus.disconnect()
    body = (await focus.client.get(f"{PREFIX}/live_metadata")).json()
    assert (body["sw_version"], body["number_of_channels"]) == ("waiting for fiber", 640)


@pytest.mark.parametrize(("behaviour_name", "expected"), [("incident", 200), ("fixed", 404)])
async def test_live_metadata_of_an_isolated_system(behaviour_name: str, expected: int) -> None:
    async with FocusMock(FocusSettings(behaviour=behaviour_name), None) as mock, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(mock)),
                              base_url="http://mock") as client:
        response = await client.get("/live_metadata")
    assert response.status_code == expected
    assert response.content == WAITING_JSON or "isolated" in response.json()["error"]


# -- POST /configure -----------------------------------------------------------------------


async def test_configure_a_valid_live_job_when_ready(ready_focus: Focus,
                                                     behaviour: str) -> None:
    started = time.perf_counter()
    response = await ready_focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)
    assert response.status_code == 200
    assert time.perf_counter() - started < 2.0
    body = response.json()
    assert body["status"] == ("success" if behaviour == "fixed" else "")
    assert body["job_id"] == "0-1"
    assert body["metadata"]["prr"] == 2000.0


@pytest.mark.parametrize("missing", ["displayInfo", "channels", "view_type"])
async def test_configure_without_a_required_field_is_a_422(ready_focus: Focus,
                                                           missing: str) -> None:
    body = {key: value for key, value in LIVE_REQUEST.items() if key != missing}
    response = await ready_focus.client.post(f"{PREFIX}/configure", json=body)
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize("change", [{"displayInfo": "tall"}, {"channels": {"min": "a"}},
                                    {"view_type": "3"}, {"nfftSelection": "many"}])
async def test_configure_with_wrong_types_is_a_422(ready_focus: Focus,
                                                   change: dict[str, Any]) -> None:
    response = await ready_focus.client.post(f"{PREFIX}/configure", json=configure_body(**change))
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize("channels", [{"min": 0, "max": 10}, {"min": 2300, "max": 2338}])
async def test_configure_with_channels_outside_the_fiber_is_a_422(
        ready_focus: Focus, channels: dict[str, int]) -> None:
    response = await ready_focus.client.post(f"{PREFIX}/configure",
                                             json=configure_body(channels=channels))
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize("view_type", ["0", "1"])
@pytest.mark.parametrize("nfft", [1000, 64, 131072, None])
async def test_configure_with_an_invalid_nfft_is_a_400_naming_nfft(
        ready_focus: Focus, view_type: str, nfft: int | None) -> None:
    response = await ready_focus.client.post(
        f"{PREFIX}/configure", json=configure_body(nfftSelection=nfft, view_type=view_type))
    assert response.status_code == 400 and "nfft" in response.json()["error"]


async def test_configure_above_nyquist_is_a_400_naming_the_limit(ready_focus: Focus) -> None:
    response = await ready_focus.client.post(
        f"{PREFIX}/configure", json=configure_body(frequencyRange={"min": 0, "max": 1001}))
    assert response.status_code == 400 and "Nyquist" in response.json()["error"]


async def test_configure_a_waterfall_with_nfft_1_and_nulls(ready_focus: Focus) -> None:
    body = configure_body(view_type=2, nfftSelection=1, frequencyRange=None,
                          displayTimeAxisDuration=None)
    response = await ready_focus.client.post(f"{PREFIX}/configure", json=body)
    assert response.status_code == 200 and response.json()["view_type"] == "2"


async def test_configure_a_historic_window_without_recordings_is_a_404(
        ready_focus: Focus) -> None:
    body = configure_body(start_time=1_600_000_000, end_time=1_600_000_060)
    response = await ready_focus.client.post(f"{PREFIX}/configure", json=body)
    assert (response.status_code, response.json()) == (
        404, {"error": "No recording found in given time range"})


async def test_configure_a_historic_window_with_a_recording(ready_focus: Focus) -> None:
    await ready_focus.block(np.zeros((200, 2337), np.int16))
    body = configure_body(start_time=1_699_999_990, end_time=1_700_000_010)
    assert (await ready_focus.client.post(f"{PREFIX}/configure", json=body)).status_code == 200


@pytest.mark.parametrize("fiber_state", ["waiting_for_fiber", "zero_prr"])
async def test_configure_while_the_fiber_is_not_ready_is_a_503(
        focus: Focus, behaviour: str, fiber_state: str,
        caplog: pytest.LogCaptureFixture) -> None:
    if fiber_state == "zero_prr":
        await focus.metadata(prr=0.0)
    with caplog.at_level(logging.INFO, logger="pz.focus_server"):
        response = await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)
    assert response.status_code == 503 and "retry-after" not in response.headers
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "pz.focus_server"]
    assert lines[-1] == ("ERROR", NOT_READY_LOG)
    assert lines[-2][1].startswith("got configuration: displayTimeAxisDuration=30 "
                                   "nfftSelection=1024")
    if behaviour == "fixed":
        assert response.json() | {"error": ""} == {"error": "", "state": fiber_state,
                                                   "missing": ["prr"]}
        assert fiber_state in response.json()["error"]
    else:
        assert set(response.json()) == {"error"} and "prr" not in response.json()["error"]


async def test_a_second_concurrent_live_job_gets_another_stream_port(
        ready_focus: Focus) -> None:
    first, second = [(await ready_focus.client.post(f"{PREFIX}/configure", json=body)).json()
                     for body in (LIVE_REQUEST, configure_body(channels={"min": 1, "max": 50}))]
    assert first["stream_port"] != second["stream_port"]
    assert first["job_id"] != second["job_id"]


# -- ConfigureResponse fields --------------------------------------------------------------


async def test_view_type_is_echoed_as_a_string_whatever_was_sent(ready_focus: Focus) -> None:
    response = await ready_focus.client.post(f"{PREFIX}/configure",
                                             json=configure_body(view_type=0))
    assert response.json()["view_type"] == "0"


@pytest.mark.parametrize("channels", [{"min": 11, "max": 109}, {"min": 1, "max": 2337}])
async def test_multichannel_view_groups_any_range_into_three_contiguous_streams(
        ready_focus: Focus, channels: dict[str, int]) -> None:
    body = (await ready_focus.client.post(f"{PREFIX}/configure",
                                          json=configure_body(channels=channels))).json()
    assert body["channel_amount"] == channels["max"] - channels["min"] + 1
    assert body["stream_amount"] == 3
    indices = [body["channel_to_stream_index"][str(channel)]
               for channel in range(channels["min"], channels["max"] + 1)]
    assert indices == sorted(indices) and set(indices) == {0, 1, 2}


async def test_single_channel_view_maps_its_one_channel_to_stream_0(ready_focus: Focus) -> None:
    body = (await ready_focus.client.post(
        f"{PREFIX}/configure",
        json=configure_body(view_type="1", channels={"min": 42, "max": 42}))).json()
    assert (body["channel_amount"], body["stream_amount"]) == (1, 1)
    assert body["channel_to_stream_index"] == {"42": 0}


async def test_frequencies_are_the_fft_bins_inside_the_range(ready_focus: Focus) -> None:
    body = (await ready_focus.client.post(
        f"{PREFIX}/configure", json=configure_body(frequencyRange={"min": 0, "max": 500}))).json()
    assert body["frequencies_amount"] == len(body["frequencies_list"]) == 256
    assert np.diff(body["frequencies_list"]) == pytest.approx(1.953125)


async def test_frequencies_do_not_depend_on_the_channels(ready_focus: Focus) -> None:
    lists = [(await ready_focus.client.post(
        f"{PREFIX}/configure", json=configure_body(channels=channels))).json()["frequencies_list"]
        for channels in ({"min": 1, "max": 50}, {"min": 11, "max": 109})]
    assert lists[0] == lists[1]


async def test_lines_dt_is_the_display_duration_per_line(ready_focus: Focus) -> None:
    body = (await ready_focus.client.post(
        f"{PREFIX}/configure", json=configure_body(displayInfo={"height": 1000}))).json()
    assert body["lines_dt"] == pytest.approx(30 / 1000)


async def test_a_window_overlap_below_half_raises_the_internal_nfft(ready_focus: Focus) -> None:
    # 30 s over 10 lines at 2000 Hz is a 6000-sample hop: nfft 1024 would overlap 1 - 6000/1024
    await ready_focus.client.post(f"{PREFIX}/configure",
                                  json=configure_body(displayInfo={"height": 10}))
    job = (await ready_focus.status())["jobs"][0]
    assert (job["nfft"], job["internal_nfft"]) == (1024, 16384)


# -- GET /metadata/{job_id} and DELETE /job/{job_id} ---------------------------------------


async def test_metadata_of_an_unknown_job_is_invalid_job_id(focus: Focus) -> None:
    response = await focus.client.get(f"{PREFIX}/metadata/9-99")
    assert (response.status_code, response.json()) == (404, {"error": "Invalid job_id"})


async def test_metadata_of_a_known_job(ready_focus: Focus, behaviour: str) -> None:
    job = (await ready_focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)).json()
    response = await ready_focus.client.get(f"{PREFIX}/metadata/{job['job_id']}")
    if behaviour == "fixed":
        assert (response.status_code, response.json()) == (200, job)
    else:  # the real server: 404 until a stream consumer attached
        assert (response.status_code, response.json()) == (404, {"error": "Invalid job_id"})


async def test_metadata_of_a_consumed_job_in_incident_behaviour(
        make_focus: FocusFactory) -> None:
    focus = await make_focus(behaviour="incident")
    await focus.metadata()
    job = (await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)).json()
    await focus.client.get(f"{PREFIX}/_mock/jobs/{job['job_id']}/lines")
    assert (await focus.client.get(f"{PREFIX}/metadata/{job['job_id']}")).json() == job


async def test_delete_job(ready_focus: Focus, behaviour: str) -> None:
    job_id = (await ready_focus.client.post(f"{PREFIX}/configure",
                                            json=LIVE_REQUEST)).json()["job_id"]
    first = await ready_focus.client.delete(f"{PREFIX}/job/{job_id}")
    second = await ready_focus.client.delete(f"{PREFIX}/job/{job_id}")
    expected_first = 200 if behaviour == "fixed" else 404  # the real server has no such route
    assert (first.status_code, second.status_code) == (expected_first, 404)


# -- recordings ----------------------------------------------------------------------------


async def test_recordings_in_time_range_lists_the_open_recording(ready_focus: Focus) -> None:
    for _ in range(3):
        await ready_focus.block(np.zeros((200, 2337), np.int16))
    response = await ready_focus.client.post(
        f"{PREFIX}/recordings_in_time_range",
        json={"start_time": 1_699_999_000, "end_time": 1_700_001_000})
    assert response.json() == [[pytest.approx(1_700_000_000), -1]]


async def test_recordings_in_time_range_outside_any_recording_is_empty(focus: Focus) -> None:
    response = await focus.client.post(f"{PREFIX}/recordings_in_time_range",
                                       json={"start_time": 0, "end_time": 10})
    assert (response.status_code, response.json()) == (200, [])


async def test_the_recordings_timeline_is_an_html_page(ready_focus: Focus) -> None:
    await ready_focus.block(np.zeros((200, 2337), np.int16))
    response = await ready_focus.client.get(f"{PREFIX}/get_recordings_timeline")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<svg" in response.text and "1 recording" in response.text


# -- GET /sensors --------------------------------------------------------------------------


async def test_sensors(focus: Focus, behaviour: str) -> None:
    response = await focus.client.get(f"{PREFIX}/sensors")
    if behaviour == "fixed":
        assert response.json() == {"sensors": list(range(2337))}
    else:
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
