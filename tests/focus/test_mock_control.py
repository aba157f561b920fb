"""The mock-only interface: /_mock routes, the state machine, counters and request accounting."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import pytest

from fibersim.dialects import load_dialect
from fibersim.focus import FocusSettings
from fibersim.focus.sequence import Arrival, SequenceTracker
from fibersim.focus.service import UNCONSUMED_JOB_TTL_S
from fibersim.focus.states import FiberState, StateMachine
from fibersim.models import FiberConfig
from fibersim.wire import DataBlock, Envelope, MessageKind, MetadataMessage
from tests.focus.harness import FIBER, LIVE_REQUEST, PREFIX, Focus, FocusFactory

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
    await ready_focus.client.post(f"{PREFIX}/_mock/set", json={"metadata_timeout_s": 2})
    await ready_focus.clock.advance(2 + 0.3)  # the watchdog looks every 0.2 s
    assert ready_focus.mock.machine.state is FiberState.WAITING_FOR_FIBER


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
    await focus.metadata()
    status = await focus.status()
    assert status["state"] == "ready"
    assert status["transitions"][-1] | {"at": 0} == {
        "at": 0, "from": "waiting_for_fiber", "to": "ready", "reason": "metadata"}


async def test_states_are_stamped_in_epoch_seconds_by_the_mock_s_clock(
        make_focus: FocusFactory) -> None:
    before = time.time()
    focus = await make_focus()
    started = (await focus.status())["state_since"]
    await focus.clock.advance(7.5)
    await focus.metadata()
    status = await focus.status()
    assert before <= started <= time.time()
    assert status["state_since"] == status["transitions"][-1]["at"] == pytest.approx(
        started + 7.5, abs=1e-6)


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
    focus = await make_focus(metadata_timeout_s=10)
    await focus.metadata()
    await focus.clock.advance(9.9)
    assert focus.mock.machine.state is FiberState.READY
    await focus.clock.advance(0.3)  # the watchdog (every 0.2 s) notices, not only a read
    assert focus.mock.machine.state is FiberState.WAITING_FOR_FIBER
    assert (await focus.status())["transitions"][-1]["reason"] == "metadata_timeout"


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


async def test_an_undecodable_message_is_logged_as_of_unknown_kind(
        ready_focus: Focus, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pz.focus_server"):
        await ready_focus.send_raw(Envelope(MessageKind.DATA, b"garbage", "application/json"))
    assert caplog.records[-1].getMessage().startswith(
        "rejected malformed message of unknown kind: ")


async def test_a_rejected_message_is_logged_with_the_kind_the_dialect_decoded(
        make_focus: FocusFactory, caplog: pytest.LogCaptureFixture) -> None:
    focus = await make_focus(dialect="tagged")
    tagged = load_dialect("tagged")
    fiber = FiberConfig(number_of_channels=8)
    too_wide = DataBlock(fiber_id=FIBER, config_epoch=0, sequence=0, first_sample_index=0,
                         first_sample_time_ns=0, sample_rate_hz=fiber.prr, channel_start=0,
                         scale=fiber.int16_scale, samples=np.zeros((20, 9), np.int16))
    metadata = MetadataMessage(fiber_id=FIBER, config_epoch=0, reason="connect", sent_at_ns=0,
                               metadata=fiber.metadata())
    with caplog.at_level(logging.WARNING, logger="pz.focus_server"):
        for message in (metadata, too_wide):
            # over AMQP the kind is guessed from the routing key, here "fiber-0": "status"
            envelope = dataclasses.replace(tagged.encode(message), kind=MessageKind.STATUS)
            await focus.publisher.publish(FIBER, envelope)
            await focus.consumer.flush()
    assert focus.mock.rejected == 1
    assert caplog.records[-1].getMessage() == (
        "rejected malformed data message: block 0 reaches channel 8 of a fiber of 8")


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


# -- jobs nobody consumes ------------------------------------------------------------------


async def _jobs_once_past_the_ttl(make_focus: FocusFactory, behaviour: str, *,
                                  read: bool = False) -> list[dict[str, object]]:
    """The jobs left once a live job (its output read or not) is older than the TTL."""
    focus = await make_focus(behaviour=behaviour, metadata_timeout_s=3600)
    await focus.metadata()
    job_id = (await focus.client.post(f"{PREFIX}/configure", json=LIVE_REQUEST)).json()["job_id"]
    if read:
        assert (await focus.client.get(f"{PREFIX}/_mock/jobs/{job_id}/lines")).status_code == 200
    await focus.clock.advance(UNCONSUMED_JOB_TTL_S - 1)
    assert len((await focus.status())["jobs"]) == 1
    await focus.clock.advance(1.5)
    jobs: list[dict[str, object]] = (await focus.status())["jobs"]
    return jobs


async def test_the_incident_server_drops_a_live_job_nobody_consumes(
        make_focus: FocusFactory) -> None:
    assert await _jobs_once_past_the_ttl(make_focus, "incident") == []


async def test_a_job_whose_output_is_read_outlives_the_ttl(make_focus: FocusFactory) -> None:
    jobs = await _jobs_once_past_the_ttl(make_focus, "incident", read=True)
    assert [job["consumer_attached"] for job in jobs] == [True]


async def test_the_fixed_server_keeps_unconsumed_jobs(make_focus: FocusFactory) -> None:
    assert len(await _jobs_once_past_the_ttl(make_focus, "fixed")) == 1


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


async def test_a_counters_snapshot_reads_the_mock_without_changing_it(
        ready_focus: Focus) -> None:
    """The metrics scrape reads it from another thread: unlike status(), it applies no
    metadata timeout, so a due timeout is left for the mock's own loop."""
    await ready_focus.client.post(f"{PREFIX}/_mock/set", json={"metadata_timeout_s": 2})
    ready_focus.clock.now += 3  # the timeout is due, but no sleeper (watchdog) woke
    snapshot = ready_focus.mock.counters_snapshot()
    assert snapshot.state is FiberState.READY
    assert snapshot.counters == ready_focus.mock.status().counters
    assert ready_focus.mock.machine.state is FiberState.WAITING_FOR_FIBER  # status() ticked
