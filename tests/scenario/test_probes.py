"""The probes: matchers, base-path URLs, per-request timeouts and TLS like curl (-k)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fibersim.probes.http import FocusClient, ProbeError, join_url
from fibersim.probes.matching import match_fields, match_value
from fibersim.scenario.models import Comparison


# -- matchers -----------------------------------------------------------------------------------
def test_a_bare_number_matches_the_same_number_as_int_or_float() -> None:
    assert match_value(2000, 2000.0) and match_value(2000.0, 2000)


def test_null_matches_only_null() -> None:
    assert match_value(None, None) and not match_value(0.0, None)


def test_booleans_are_not_numbers() -> None:
    assert not match_value(True, 1) and not match_value(1, True)


def test_a_comparison_needs_every_bound_to_hold() -> None:
    assert match_value(1.02, Comparison(gt=1.0, lt=1.1))
    assert not match_value(1.2, Comparison(gt=1.0, lt=1.1))


def test_ne_and_contains_compare_strings() -> None:
    assert match_value("interrogator 4.2.1", Comparison(ne="waiting for fiber",
                                                        contains="4.2"))
    assert not match_value("waiting for fiber", Comparison(ne="waiting for fiber"))


def test_ordering_bounds_never_match_non_numbers() -> None:
    assert not match_value("5", Comparison(gt=1)) and not match_value(None, Comparison(le=0))


def test_dotted_fields_reach_into_nested_objects_and_say_what_was_seen() -> None:
    verdict = match_fields({"metadata": {"prr": 1000.0}}, {"metadata.prr": 2000.0})
    assert not verdict.ok
    assert verdict.seen == "metadata.prr=1000.0 (want 2000.0)"


def test_an_absent_field_never_matches_even_null() -> None:
    verdict = match_fields({"prr": 0.0}, {"dx": None})
    assert not verdict.ok and verdict.seen == "dx=absent (want null)"


# -- URLs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("base", ["https://host/focus-server", "https://host/focus-server/"])
def test_paths_join_onto_the_base_path_with_or_without_a_trailing_slash(base: str) -> None:
    assert join_url(base, "live_metadata") == "https://host/focus-server/live_metadata"


# -- timeouts and TLS ---------------------------------------------------------------------------
async def _silent_server() -> asyncio.Server:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(60)

    return await asyncio.start_server(never_answer, "127.0.0.1", 0)


async def test_a_server_that_never_answers_fails_the_probe_within_its_timeout() -> None:
    server = await _silent_server()
    port = server.sockets[0].getsockname()[1]
    client = FocusClient(f"http://127.0.0.1:{port}/focus-server/", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(ProbeError, match=r"no complete answer within 0\.5s"):
        await client.live_metadata()
    assert time.monotonic() - started < 2
    await client.close()
    server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), like a staging Focus Server's."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def https_server(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """An HTTPS endpoint answering every request with ``{"prr": 2000.0}``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"prr": 2000.0}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/focus-server/"
    server.close()


async def test_an_untrusted_certificate_fails_the_probe(https_server: str) -> None:
    client = FocusClient(https_server)
    with pytest.raises(ProbeError, match="ConnectError"):
        await client.live_metadata()
    await client.close()


async def test_insecure_skips_certificate_verification_like_curl_k(https_server: str) -> None:
    client = FocusClient(https_server, insecure=True)
    assert (await client.live_metadata()).body == {"prr": 2000.0}
    await client.close()


async def test_a_ca_file_makes_the_certificate_trusted(https_server: str,
                                                       certificate: tuple[Path, Path]) -> None:
    client = FocusClient(https_server, ca_file=str(certificate[0]))
    assert (await client.live_metadata()).status == 200
    await client.close()


# -- matchers v2: list indexes, len, contains, absent/present, regex -------------------------------
def test_digits_in_a_path_index_lists() -> None:
    document = {"jobs": [{"prr": 2000.0}], "missing": ["prr"]}
    assert match_fields(document, {"jobs.0.prr": 2000.0, "missing.0": "prr"}).ok
    assert match_fields(document, {"jobs.1.prr": Comparison(absent=True)}).ok


def test_len_takes_a_number_or_a_comparison() -> None:
    assert match_value([1, 2], Comparison(len=2))
    assert match_value("abc", Comparison(len=Comparison(ge=3)))
    assert not match_value(5, Comparison(len=1))


def test_contains_finds_an_element_of_a_list_or_text_in_a_string() -> None:
    assert match_value(["prr", "dx"], Comparison(contains="prr"))
    assert match_value([1, 2], Comparison(contains=2.0))
    assert not match_value(["dx"], Comparison(contains="prr"))


def test_absent_and_present_test_whether_the_field_exists() -> None:
    document = {"error": None}
    assert match_fields(document, {"error": Comparison(present=True),
                                   "job_id": Comparison(absent=True)}).ok
    verdict = match_fields(document, {"error": Comparison(absent=True)})
    assert not verdict.ok and verdict.seen == "error=null (want absent)"


def test_regex_searches_strings_only() -> None:
    assert match_value("Focus Server is not running (store_down)",
                       Comparison(regex=r"not running \((store_down|restarting)\)"))
    assert not match_value(503, Comparison(regex="503"))


# -- log sources --------------------------------------------------------------------------------
async def test_a_followed_log_file_gives_new_whole_lines_only_and_survives_truncation(
        tmp_path: Path) -> None:
    from fibersim.probes.logs import FileFollower

    path = tmp_path / "focus.log"
    path.write_text("old line, before the run\n")
    follower = FileFollower(str(path))
    follower.start()
    try:
        started = time.monotonic()
        with path.open("a") as log:
            log.write("2025-11-08T13:18:33+0000 ERROR pz.focus_server one\npartial")
        await follower.refresh()
        assert [line for _, line in follower.since(started)] == [
            "2025-11-08T13:18:33+0000 ERROR pz.focus_server one"]
        path.write_text("after truncation\n")  # rotated or truncated: read from the start
        await follower.refresh()
        assert [line for _, line in follower.since(started)][-1] == "after truncation"
    finally:
        await follower.close()


async def test_a_log_command_that_exited_makes_log_checks_skipped_not_judged() -> None:
    from fibersim.probes.logs import CommandFollower

    follower = CommandFollower("sh -c 'echo one line; exit 3'")
    await follower.start()
    try:
        for _ in range(50):
            if follower.broken:
                break
            await asyncio.sleep(0.05)
        assert (follower.broken or "").startswith("log command sh exited")
        assert [line for _, line in follower.since(0.0)] == ["one line"]
    finally:
        await follower.close()
