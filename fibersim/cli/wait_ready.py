"""``fibersim wait-ready``: block a CI pipeline until the Focus Server has live fiber metadata."""

from __future__ import annotations

import asyncio

import click

from fibersim.cli.lifecycle import exit_with
from fibersim.cli.options import DURATION, tls_options
from fibersim.redact import redact_url

EXIT_READY, EXIT_TIMED_OUT, EXIT_UNREACHABLE = 0, 1, 3


@click.command("wait-ready")
@click.option("--focus-url", required=True, envvar="FIBERSIM_FOCUS_URL", metavar="URL",
              help="Focus Server base URL, e.g. https://host/focus-server/ "
                   "(also FIBERSIM_FOCUS_URL).")
@click.option("--timeout", "timeout_s", type=DURATION, default="120s", show_default=True,
              help="Give up after this long.")
@click.option("--request-timeout", "request_timeout_s", type=DURATION, default="5s",
              show_default=True, help="Timeout of each GET live_metadata.")
@click.option("--max-pause", "cap_s", type=DURATION, default="10s", show_default=True,
              help="Longest pause between checks (exponential backoff, full jitter).")
@tls_options
def wait_ready(focus_url: str, timeout_s: float, request_timeout_s: float, cap_s: float,
               ca_file: str | None, insecure: bool) -> None:
    """Wait until GET live_metadata shows a live fiber: prr > 0 and no "waiting for fiber".

    Use it before a test stage instead of retrying configure requests at a fixed interval
    (the retry storm of the incident). Checks back off exponentially with full jitter.

    \b
    Exit codes: 0 ready; 1 timed out (the server answered, the fiber never became ready);
    3 timed out without the server ever answering.
    \b
    Example:
      fibersim wait-ready --focus-url https://staging/focus-server/ --timeout 5m && pytest
    """
    from fibersim.probes.http import FocusClient
    from fibersim.probes.readiness import wait_until_ready

    async def wait() -> int:
        client = FocusClient(focus_url, insecure=insecure, ca_file=ca_file,
                             timeout_s=request_timeout_s)
        try:
            result = await wait_until_ready(client, timeout_s, cap_s=cap_s)
        finally:
            await client.close()
        where = redact_url(focus_url)
        if result.ready:
            click.echo(f"ready after {result.waited_s:.1f} s ({result.attempts} checks): "
                       f"{result.last_seen}")
            return EXIT_READY
        verdict = "not ready" if result.reachable else "unreachable"
        click.echo(f"{where} {verdict} after {result.waited_s:.1f} s ({result.attempts} checks);"
                   f" last seen: {result.last_seen}", err=True)
        return EXIT_TIMED_OUT if result.reachable else EXIT_UNREACHABLE

    exit_with(asyncio.run(wait()))
