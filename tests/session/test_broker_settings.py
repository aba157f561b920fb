"""``BrokerSettings``: one description of the broker whose password never shows."""

from __future__ import annotations

import pytest

from fibersim.transport import AMQP_URL_ENV, BrokerSettings

URL = "amqp://fibersim:s3cret@broker.example:5672/lab"


def test_repr_and_description_show_the_url_without_its_password() -> None:
    settings = BrokerSettings(URL, exchange="das", dialect="tagged")
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.description
    assert "fibersim:***@broker.example:5672" in repr(settings)


def test_error_texts_are_scrubbed_of_the_password() -> None:
    text = f"connection to {URL} refused (password s3cret)"
    assert "s3cret" not in BrokerSettings(URL).scrubbed(text)


def test_a_child_process_gets_the_url_in_its_environment() -> None:
    assert BrokerSettings(URL).child_environment() == {AMQP_URL_ENV: URL}
    assert BrokerSettings().child_environment() == {}


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AMQP_URL_ENV, URL)
    assert BrokerSettings.from_environment().url == URL
    monkeypatch.delenv(AMQP_URL_ENV)
    assert BrokerSettings.from_environment().url is None
    assert BrokerSettings.from_environment().description == "the in-memory broker"
