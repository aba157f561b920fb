"""amqps:// verifies the broker's certificate by default; --ca-file trusts a private CA and
--insecure skips verification only when asked."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fibersim.netfaults import FaultProxy

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


def run_stream_through_tls(amqp_url: str, cert: Path, key: Path,
                           *extra: str) -> subprocess.CompletedProcess[str]:
    """Start a TLS-terminating proxy to the broker and stream one second through it."""

    async def scenario() -> subprocess.CompletedProcess[str]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        parts = urlsplit(amqp_url)
        proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5672, tls=context)
        await proxy.start()
        credentials = parts.netloc.rsplit("@", 1)[0]
        url = f"amqps://{credentials}@localhost:{proxy.port}/"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fibersim", "stream", "--amqp-url", url, "--channels", "8",
            "--prr", "100", "--duration", "1s", "--speed", "max", "--quiet", *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        await proxy.close()
        return subprocess.CompletedProcess([], process.returncode or 0, stdout.decode(),
                                           stderr.decode())

    return asyncio.run(scenario())


def test_an_untrusted_certificate_is_refused_with_exit_3(amqp_url: str, certificate) -> None:
    result = run_stream_through_tls(amqp_url, *certificate)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "cannot connect" in result.stderr


def test_a_ca_file_makes_the_certificate_trusted(amqp_url: str, certificate) -> None:
    cert, key = certificate
    result = run_stream_through_tls(amqp_url, cert, key, "--ca-file", str(cert))
    assert result.returncode == 0, result.stderr
    assert "amqps://" in result.stderr


def test_insecure_skips_verification_only_when_asked(amqp_url: str, certificate) -> None:
    result = run_stream_through_tls(amqp_url, *certificate, "--insecure")
    assert result.returncode == 0, result.stderr
