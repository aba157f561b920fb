"""The incident's crash loop: a (re)start while the store is unreachable fails, the supervisor
restarts the core with exponential back-off, and it recovers once the store is back."""

from __future__ import annotations

import logging

import pytest

from tests.focus.harness import PREFIX, Focus, FocusFactory

BACKOFF = {"restart_backoff_initial_s": 0.5, "restart_backoff_max_s": 4.0}


@pytest.fixture
async def crashing(make_focus: FocusFactory) -> Focus:
    """A ready mock (on virtual time) whose store went down and which was then asked to
    restart."""
    focus = await make_focus(**BACKOFF)
    await focus.metadata()
    await focus.client.post(f"{PREFIX}/_mock/store/down")
    await focus.client.post(f"{PREFIX}/_mock/restart")
    return focus


async def test_a_restart_with_the_store_down_enters_the_crash_loop(crashing: Focus) -> None:
    status = await crashing.status()
    assert (status["state"], status["store"]) == ("store_down", "down")
    assert [t["to"] for t in status["transitions"][-2:]] == ["restarting", "store_down"]


async def test_the_api_answers_503_while_the_core_is_down(crashing: Focus) -> None:
    for path in ("/ack", "/live_metadata", "/channels"):
        response = await crashing.client.get(f"{PREFIX}{path}")
        assert response.status_code == 503 and "error" in response.json()


async def test_the_supervisor_keeps_restarting_and_counts_it(crashing: Focus) -> None:
    await crashing.clock.advance(0.5 + 1 + 2)
    status = await crashing.status()
    assert (status["restarts"], status["state"]) == (4, "store_down")


async def test_the_back_off_doubles_up_to_its_cap(crashing: Focus) -> None:
    restarts = []
    for wait in (0.5, 1, 2, 4, 4, 4):
        await crashing.clock.advance(wait - 0.01)
        restarts.append(crashing.mock.restarts)
        await crashing.clock.advance(0.01)
    assert restarts == [1, 2, 3, 4, 5, 6]
    assert crashing.mock.restarts == 7


async def test_each_failed_start_logs_the_store_error(
        make_focus: FocusFactory, caplog: pytest.LogCaptureFixture) -> None:
    focus = await make_focus(**BACKOFF)
    await focus.client.post(f"{PREFIX}/_mock/store/down")
    with caplog.at_level(logging.ERROR, logger="pz.focus_server"):
        await focus.client.post(f"{PREFIX}/_mock/restart")
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert messages[0].startswith("fibersim.focus.store.StoreSelectionTimeoutError: sqlite[")
    assert "Temporary failure in name resolution" in messages[0]
    assert "exited with code 1" in messages[1]


async def test_it_recovers_to_waiting_then_ready_when_the_store_returns(
        crashing: Focus) -> None:
    await crashing.client.post(f"{PREFIX}/_mock/store/up")
    assert (await crashing.client.get(f"{PREFIX}/ack")).status_code == 503  # not yet
    await crashing.clock.advance(0.5)
    assert (await crashing.status())["state"] == "waiting_for_fiber"
    assert (await crashing.client.get(f"{PREFIX}/ack")).status_code == 200
    await crashing.metadata()
    assert (await crashing.status())["state"] == "ready"


async def test_a_restart_with_the_store_up_loses_metadata_and_jobs(make_focus: FocusFactory
                                                                   ) -> None:
    focus = await make_focus()
    await focus.metadata()
    status = (await focus.client.post(f"{PREFIX}/_mock/restart")).json()
    assert (status["state"], status["restarts"], status["jobs"]) == ("waiting_for_fiber", 1, [])
