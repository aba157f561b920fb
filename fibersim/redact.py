"""Keep credentials out of everything fibersim prints or writes."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``: the only form fibersim ever prints."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def secrets_in(*urls: str | None) -> list[str]:
    """The passwords embedded in these URLs, for scrubbing free text (exception messages)."""
    return [password for url in urls if url and (password := urlsplit(url).password)]


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
