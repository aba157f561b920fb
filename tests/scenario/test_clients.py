"""The load clients: the storm repeats the incident's two requests whatever the answers; the
backoff client never configures while the fiber is missing and spaces its checks out."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from fibersim.focus import FocusSettings, serve_focus_mock
from fibersim.probes.clients import ClientTally, run_backoff_client, run_storm
from fibersim.probes.http import CONFIGURE_REQUESTS, FocusClient


def test_the_incident_requests_send_every_field_with_unset_ones_as_null() -> None:
    fields = {"displayTimeAxisDuration", "nfftSelection", "displayInfo", "channels",
              "frequencyRange", "start_time", "end_time", "view_type"}
    for body in CONFIGURE_REQUESTS.values():
        assert set(body) == fields
        assert body["start_time"] is None and body["end_time"] is None


def test_the_incident_requests_are_the_two_shapes_of_the_report() -> None:
    shapes = {(body["displayInfo"]["height"], body["channels"]["min"], body["channels"]["max"],
               body["frequencyRange"]["max"]) for body in CONFIGURE_REQUESTS.values()}
    assert shapes == {(200, 11, 109, 1000), (1000, 1, 50, 500)}


@pytest.fixture
async def waiting_server() -> AsyncIterator[str]:
    """A mock Focus Server with no fiber source at all: waiting for fiber throughout."""
    async with serve_focus_mock(FocusSettings(channels=200), None) as base_url:
        yield base_url


async def test_the_storm_keeps_configuring_although_every_answer_is_503(waiting_server: str
                                                                      ) -> None:
    clients = [FocusClient(waiting_server) for _ in range(2)]
    tally = ClientTally()
    await run_storm(clients, tally, 1.0, (0.1, 0.2), random.Random(1))
    for client in clients:
        await client.close()
    assert tally.answers["POST /configure -> 503"] == tally.requests >= 2 * 2 * 4


async def test_the_backoff_client_only_checks_live_metadata_while_waiting(waiting_server: str
                                                                         ) -> None:
    client = FocusClient(waiting_server)
    tally = ClientTally()
    await run_backoff_client(client, tally, 2.0, 0.25, 8.0, random.Random(1))
    await client.close()
    assert set(tally.answers) == {"GET /live_metadata -> 200"}
    assert tally.outcome == "gave up"
    assert tally.requests <= 8  # full-jitter pauses of up to 0.25, 0.5, 1, 2 s
