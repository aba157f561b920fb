"""The ``fibersim`` entry point.

Commands are registered by name and imported lazily, so ``fibersim --help`` does not pay for
numpy, scipy, aio-pika or FastAPI. Errors the user can fix are printed as one line and mapped
to exit codes: 2 for bad input, 3 for an unreachable broker or Focus Server.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from fibersim import __version__
from fibersim.errors import FibersimError

#: name -> (module, attribute, one-line summary shown by ``fibersim --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("fibersim.cli.run", "run", "Run scenario files against a Focus Server and check it."),
    "validate": ("fibersim.cli.run", "validate", "Check scenario files without running them."),
    "schema": ("fibersim.cli.run", "schema", "Print the JSON Schema of scenario files."),
    "stream": ("fibersim.cli.stream", "stream", "Publish a simulated fiber until stopped."),
    "focus-mock": ("fibersim.cli.focus_mock", "focus_mock", "Serve the mock Focus Server."),
    "wait-ready": ("fibersim.cli.wait_ready", "wait_ready",
                   "Wait until a Focus Server has live fiber metadata."),
    "plot": ("fibersim.cli.plot", "plot", "Render a scenario's waterfall and f-k spectrum."),
    "record": ("fibersim.cli.record", "record", "Write a scenario or a live stream to PRODML."),
    "replay": ("fibersim.cli.replay", "replay", "Publish a DAS recording file as a live fiber."),
    "bench": ("fibersim.cli.bench", "bench", "Measure throughput against same-run baselines."),
    "report": ("fibersim.cli.report", "report",
               "Render JSON run reports as an HTML page, side by side."),
    "dialects": ("fibersim.cli.dialects", "dialects",
                 "List the installed wire dialects and their topology."),
    "conform": ("fibersim.cli.dialects", "conform",
                "Check a wire dialect end to end over a real broker."),
    "realism": ("fibersim.cli.realism", "realism",
                "Compare a real DAS file with simulated data, statistic by statistic."),
    "calibrate": ("fibersim.cli.calibrate", "calibrate",
                  "Fit a background preset to a real DAS recording."),
    "chaos": ("fibersim.cli.chaos", "chaos",
              "Stream through random network faults; check no block is lost silently."),
}


def _available() -> dict[str, tuple[str, str, str]]:
    return {name: entry for name, entry in COMMANDS.items()
            if importlib.util.find_spec(entry[0]) is not None}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_available())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _available().get(cmd_name)
        if entry is None:
            return None
        command: click.Command = getattr(importlib.import_module(entry[0]), entry[1])
        for param in command.params:
            if isinstance(param, click.Option):
                # --help names the variable each option also reads (auto_envvar_prefix)
                param.show_envvar = True
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry[2]) for name, entry in sorted(_available().items())]
        if not rows:
            return
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "auto_envvar_prefix": "FIBERSIM"})
@click.version_option(__version__, prog_name="fibersim")
@click.option("-v", "--verbose", count=True,
              help="More log output: -v fibersim's info, -vv also the AMQP client's.")
@click.option("-q", "--quiet", is_flag=True,
              help="Summaries only: no progress lines, no per-step lines of run.")
def cli(verbose: int, quiet: bool) -> None:
    """Simulate a DAS interrogator and drive a Focus Server through the "waiting for fiber"
    incident.

    \b
    First run (no broker needed: embedded broker and built-in mock Focus Server):
      fibersim run scenarios/fiber_lost.yaml
    Stream one fiber into RabbitMQ as fast as possible for 10 simulated seconds:
      fibersim stream --amqp-url amqp://guest:guest@127.0.0.1/ --duration 10s --speed max

    \b
    Every option can also come from the environment: FIBERSIM_<COMMAND>_<OPTION>, e.g.
    FIBERSIM_STREAM_DURATION=1h; options that name a variable in their help (FIBERSIM_AMQP_URL,
    FIBERSIM_FOCUS_URL, ...) use that one. The command line wins over the environment.
    Shell completion (bash; zsh and fish alike): eval "$(_FIBERSIM_COMPLETE=bash_source fibersim)"

    Exit codes: 0 ok, 1 an expectation failed, 2 bad input, 3 broker or Focus Server
    unreachable, 130/143 interrupted.
    """
    configure_logging(verbose)
    from fibersim.session.tuning import retain_freed_heap

    retain_freed_heap()  # the documented opt-in (fibersim.session.tuning), for every command


def configure_logging(verbose: int) -> None:
    """Warnings on stderr by default; the AMQP client's own chatter only with ``-vv``.

    aio-pika and aiormq log every failed (re)connection attempt at ERROR with a traceback;
    fibersim reports those outcomes itself in one line, so their loggers stay quiet unless
    asked. pint warns about DASCore redefining its units each time DASCore is imported
    (``replay``), which says nothing about the user's file.
    """
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
    client_level = logging.DEBUG if verbose >= 2 else logging.CRITICAL
    for name in ("aio_pika", "aiormq", "pint"):
        logging.getLogger(name).setLevel(client_level)
    # on the handlers: a logger's own filters do not see its children's records
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PayloadFilter) for f in handler.filters):
            handler.addFilter(PayloadFilter())


class PayloadFilter:
    """Keeps message bodies out of the AMQP client's debug lines: ``-vv`` shows frames,
    headers and sizes, never the bytes (one full-rate fiber would be 18 MB/s of log)."""

    MAX_ARG_CHARS = 300

    def filter(self, record: object) -> bool:
        args = getattr(record, "args", None)
        if isinstance(args, tuple) and str(getattr(record, "name", "")).startswith(
                ("aio_pika", "aiormq")):
            record.args = tuple(self.describe(arg) for arg in args)  # type: ignore[attr-defined]
        return True

    @classmethod
    def describe(cls, value: object) -> object:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return f"<{len(value)} bytes>"
        frames = getattr(value, "frames", None)
        if isinstance(frames, (list, tuple)):
            return "[" + ", ".join(str(cls.describe(frame)) for frame in frames) + "]"
        for attribute in ("payload", "value", "body"):
            body = getattr(value, attribute, None)
            if isinstance(body, (bytes, bytearray, memoryview)):
                return f"<{type(value).__name__} {len(body)} bytes>"
        if isinstance(value, (int, float, str)) and len(str(value)) <= cls.MAX_ARG_CHARS:
            return value
        text = repr(value)
        if len(text) <= cls.MAX_ARG_CHARS:
            return text
        return f"{text[:cls.MAX_ARG_CHARS]}... ({len(text)} chars)"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors, documented exit codes, no tracebacks."""
    try:
        code = cli.main(args=argv, prog_name="fibersim", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("fibersim: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as error:
        message = error.format_message().splitlines()[0] if error.format_message() else ""
        click.echo(f"fibersim: error: {message}", err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"fibersim: error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except FibersimError as error:
        click.echo(f"fibersim: error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("fibersim: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
