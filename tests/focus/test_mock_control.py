"""The mock-only interface: /_mock routes, the state machine, counters and request accounting."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from fibersim.focus import FocusSettings
from fibersim.focus.sequence import Arrival, SequenceTracker
from fibersim.focus.states import FiberState, StateMachine
from fibersim.wire import Envelope, MessageKind
from tests.focus.harness import LIVE_REQUEST, PREFIX, Focus, FocusFactory, eventually

STATUS_KEYS = {"state", "state_since", "transitions", "behaviour", "reconfigure_policy",
               "metadata", "counters", "restarts", "store", "requests", "probe_requests", "jobs",
               "settings"}
COUNTER_KEYS = {"messages", "rejected", "blocks", "gaps", "missing_blocks", "duplicates",
                "reordered", "resyncs"}


def quiet_block() -> np.ndarray:
    return np.zeros((200, 64), np.int16)


# -- access --------------------------------------------------------------------------------


async def test_status_has_exactly_the_documented_shape(focus: Focus, behaviour: str) -> None:
    status = await focus.status()
    assert set(status) == STATUS_KEYS and set(status["counters"]) == COUNTER_KEYS
    assert set(status["counters"]["messages"]) == {"metadata", "data", "heartbeat", "status"}
    assert (status["state"], status["behaviour"], status["store"]) == (
        "waiting_for_fiber", behaviour, "up")


async def test_control_routes_are_absent_when_control_is_off(make_focus: FocusFactory) -> None:
    focus = await make_focus(control_enabled=False)
    assert (await focus.client.get(f"{PREFIX}/_mock/status")).status_code == 404


def test_the_control_interface_is_off_unless_enabled() -> None:
    assert FocusSettings().control_enabled is False


async def test_control_routes_need_the_token_when_one_is_set(make_focus: FocusFactory) -> None:
    focus = await make_focus(control_token="s3cret")
    refused = await focus.client.post(f"{PREFIX}/_mock/restart",
                                      headers={"X-Control-Token": "guess"})
    assert refused.status_code == 401 and "s3cret" not in refused.text
    allowed = await focus.client.get("/_mock/status", headers={"X-Control-Token": "s3cret"})
    assert allowed.status_code == 200


# -- request accounting --------------------------------------------------------------------


async def test_requests_are_counted_per_route_template_and_status(focus: Focus) -> None:
    await focus.client.get(f"{PREFIX}/metadata/1-1")
    await focus.client.get("/metadata/2-2")
    await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)
    requests = (await focus.status())["requests"]
    assert requests == {"GET /metadata/{job_id}": {"404": 2}, "POST /configure": {"503": 1}}


async def test_requests_marked_as_fibersim_probes_are_counted_apart(focus: Focus) -> None:
    await focus.client.get(f"{PREFIX}/ack", headers={"X-Fibersim-Probe": "1"})
    await focus.client.get(f"{PREFIX}/ack")
    status = await focus.status()
    assert status["requests"] == {"GET /ack": {"200": 1}}
    assert status["probe_requests"] == {"GET /ack": {"200": 1}}


async def test_set_changes_running_settings_without_a_restart(focus: Focus) -> None:
    response = await focus.client.post(f"{PREFIX}/_mock/set", json={
        "metadata_timeout_s": 0.5, "reconfigure_policy": "adaptive"})
    assert response.status_code == 200
    status = response.json()
    assert status["settings"]["metadata_timeout_s"] == 0.5
    assert (status["reconfigure_policy"], status["restarts"]) == ("adaptive", 0)


@pytest.mark.parametrize("body", [{"metadata_timeout_s": 0}, {"prefix": "/elsewhere"},
                                  {"reconfigure_policy": "sometimes"}])
async def test_set_refuses_what_cannot_change_or_is_invalid(focus: Focus,
                                                            body: dict[str, object]) -> None:
    response = await focus.client.post(f"{PREFIX}/_mock/set", json=body)
    assert response.status_code == 422


async def test_the_behaviour_can_be_switched_at_run_time(make_focus: FocusFactory) -> None:
    focus = await make_focus(behaviour="incident")
    assert (await focus.client.get(f"{PREFIX}/sensors")).status_code == 404
    await focus.client.post(f"{PREFIX}/_mock/set", json={"behaviour": "fixed"})
    assert (await focus.client.get(f"{PREFIX}/sensors")).status_code == 200
    assert (await focus.status())["behaviour"] == "fixed"


async def test_a_shorter_metadata_timeout_set_at_run_time_takes_effect(
        ready_focus: Focus) -> None:
    await ready_focus.client.post(f"{PREFIX}/_mock/set", json={"metadata_timeout_s": 0.2})
    await eventually(lambda: _state_is(ready_focus, "waiting_for_fiber"), timeout=3)


async def test_resetting_the_request_counters(focus: Focus) -> None:
    await focus.client.get(f"{PREFIX}/ack")
    response = await focus.client.post(f"{PREFIX}/_mock/requests/reset")
    assert response.status_code == 200 and response.json()["requests"] == {}


async def test_each_request_writes_an_access_line(focus: Focus,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pz.focus_server"):
        await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)
    access = [r.getMessage() for r in caplog.records if r.name == "pz.focus_server.access"]
    assert access == [f'"POST {PREFIX}/configure HTTP/1.1" 503 Service Unavailable']


# -- states --------------------------------------------------------------------------------


async def test_metadata_makes_the_fiber_ready(focus: Focus) -> None:
    before = time.time()
    await focus.metadata()
    status = await focus.status()
    assert status["state"] == "ready" and status["state_since"] >= before
    assert status["transitions"][-1] | {"at": 0} == {
        "at": 0, "from": "waiting_for_fiber", "to": "ready", "reason": "metadata"}


async def test_a_disconnect_announcement_means_waiting_for_fiber(ready_focus: Focus) -> None:
    await ready_focus.disconnect()
    status = await ready_focus.status()
    assert (status["state"], status["metadata"]) == ("waiting_for_fiber", None)
    assert status["transitions"][-1]["reason"] == "disconnected"


async def test_zero_prr_metadata_is_its_own_state(ready_focus: Focus) -> None:
    await ready_focus.metadata(prr=0.0)
    assert (await ready_focus.status())["state"] == "zero_prr"
    await ready_focus.metadata()
    status = await ready_focus.status()
    assert (status["state"], status["transitions"][-1]["reason"]) == ("ready", "prr_restored")


async def test_a_metadata_change_is_a_reconfigured_transition_within_ready(
        ready_focus: Focus) -> None:
    await ready_focus.metadata(prr=1000.0)
    status = await ready_focus.status()
    assert (status["state"], status["metadata"]["prr"]) == ("ready", 1000.0)
    assert status["transitions"][-1] | {"at": 0} == {
        "at": 0, "from": "ready", "to": "ready", "reason": "reconfigured"}


async def test_repeated_identical_metadata_changes_nothing(ready_focus: Focus) -> None:
    await ready_focus.metadata()
    assert len((await ready_focus.status())["transitions"]) == 1


async def test_silence_longer_than_the_metadata_timeout_loses_the_fiber(
        make_focus: FocusFactory) -> None:
    focus = await make_focus(metadata_timeout_s=0.2)
    await focus.metadata()
    await eventually(lambda: _state_is(focus, "waiting_for_fiber"), timeout=3)
    assert (await focus.status())["transitions"][-1]["reason"] == "metadata_timeout"


async def _state_is(focus: Focus, state: str) -> bool:
    return (await focus.status())["state"] == state


def test_the_state_machine_refuses_transitions_that_cannot_happen() -> None:
    machine = StateMachine()
    with pytest.raises(ValueError, match="illegal transition"):
        machine.enter(FiberState.STORE_DOWN, "no restart happened")


# -- counters ------------------------------------------------------------------------------


async def test_malformed_messages_are_rejected_counted_and_survived(ready_focus: Focus) -> None:
    await ready_focus.send_raw(Envelope(MessageKind.DATA, b"garbage", "application/json"))
    await ready_focus.send_raw(Envelope(MessageKind.DATA, b"FSDB", "application/vnd.fibersim.block",
                                        {"x-fibersim-fiber": "fiber-0"}))
    await ready_focus.block(quiet_block())
    counters = (await ready_focus.status())["counters"]
    assert (counters["rejected"], counters["blocks"]) == (2, 1)


async def test_data_blocks_and_message_kinds_are_counted(ready_focus: Focus) -> None:
    for _ in range(3):
        await ready_focus.block(quiet_block())
    counters = (await ready_focus.status())["counters"]
    assert counters["blocks"] == 3
    assert counters["messages"] == {"metadata": 1, "data": 3, "heartbeat": 0, "status": 0}


async def test_a_gap_in_sequence_numbers_is_counted_with_its_missing_blocks(
        ready_focus: Focus) -> None:
    await ready_focus.block(quiet_block(), sequence=0)
    await ready_focus.block(quiet_block(), sequence=3)
    counters = (await ready_focus.status())["counters"]
    assert (counters["gaps"], counters["missing_blocks"]) == (1, 2)


def test_a_repeated_block_is_a_duplicate() -> None:
    tracker = SequenceTracker()
    assert [tracker.observe(s) for s in (0, 1, 1)][-1] is Arrival.DUPLICATE
    assert (tracker.duplicates, tracker.gaps) == (1, 0)


def test_a_late_block_is_reordered_and_closes_its_gap() -> None:
    tracker = SequenceTracker()
    assert [tracker.observe(s) for s in (0, 2, 1)] == [
        Arrival.IN_ORDER, Arrival.AFTER_GAP, Arrival.REORDERED]
    assert (tracker.reordered, tracker.gaps, tracker.missing_blocks) == (1, 0, 0)


def test_a_gap_wider_than_the_window_stays_open() -> None:
    tracker = SequenceTracker()
    for sequence in (0, 10_000, 9_999):
        tracker.observe(sequence)
    assert (tracker.gaps, tracker.missing_blocks) == (1, 9_998)


# -- reconfiguration policy for running jobs -----------------------------------------------


async def test_legacy_jobs_keep_the_stale_prr(make_focus: FocusFactory) -> None:
    focus = await make_focus(reconfigure_policy="legacy")
    await focus.metadata()
    await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)
    await focus.metadata(prr=1000.0)
    job = (await focus.status())["jobs"][0]
    assert (job["prr"], job["stale"], job["rebuilds"]) == (2000.0, True, 0)


async def test_adaptive_jobs_are_rebuilt_with_the_new_prr_and_say_so(
        make_focus: FocusFactory, caplog: pytest.LogCaptureFixture) -> None:
    focus = await make_focus(reconfigure_policy="adaptive", behaviour="fixed")
    await focus.metadata()
    job_id = (await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)).json()["job_id"]
    with caplog.at_level(logging.INFO, logger="pz.focus_server"):
        await focus.metadata(prr=1000.0)
    job = (await focus.status())["jobs"][0]
    assert (job["prr"], job["rebuilds"]) == (1000.0, 1)
    assert (await focus.client.get(f"{PREFIX}/metadata/{job_id}")).json()["metadata"]["prr"] == 1000
    assert any("rebuilt" in r.getMessage() and "1000" in r.getMessage() for r in caplog.records)


async def test_new_jobs_use_the_new_prr_after_a_reconfiguration(ready_focus: Focus) -> None:
    await ready_focus.metadata(prr=1000.0)
    body = (await ready_focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)).json()
    assert body.get("frequencies_list") is None  # 1000 Hz is above the new Nyquist limit
    narrower = LIVE_REQUEST | {"frequencyRange": {"min": 0, "max": 500}}
    body = (await ready_focus.client.post(f"{PREFIX}/configure", json=narrower)).json()
    assert body["frequencies_list"][1] == pytest.approx(1000 / 1024)
