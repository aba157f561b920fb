"""The deployment files run as written: the image is the ``fibersim`` command, every
``command:``/``args:`` line of compose and Kubernetes parses with fibersim's own CLI, the
manifests validate against the Kubernetes schemas (offline, kubernetes-validate) and compose
names one image and leaves the local broker's port alone."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml

from fibersim.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
#: The Kubernetes version the manifests are written for (any schema kubernetes-validate ships).
KUBERNETES_VERSION = "1.30.0"


def manifest(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def fibersim_services() -> dict[str, dict[str, Any]]:
    """Compose services that run the fibersim image."""
    return {name: service for name, service in COMPOSE["services"].items()
            if str(service.get("image", "")).startswith("fibersim")}


def compose_argv(service: dict[str, Any]) -> list[str]:
    """fibersim's arguments in a service: its ``command``, or the ``exec fibersim ...`` line
    of an ``sh -c`` entrypoint (with compose's ``$$`` escapes and shell substitutions)."""
    command = service["command"]
    if service.get("entrypoint") == ["sh", "-c"]:
        line = command[0].replace("$$(hostname)", "host-1")
        words = shlex.split(line)
        assert words[:2] == ["exec", "fibersim"], line
        return words[2:]
    return [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(word)) for word in command]


def parse_with_fibersim(argv: list[str]) -> click.Context:
    """Parse (and type-convert, so durations and ports are checked) without running."""
    root = click.Context(cli, info_name="fibersim", auto_envvar_prefix="FIBERSIM")
    name, *rest = argv
    command = cli.get_command(root, name)
    assert command is not None, f"no command {name!r}"
    return command.make_context(name, rest, parent=root)


def k8s_argv(path: Path) -> list[str]:
    spec = manifest(path)["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    return [str(word) for word in container["args"]]


WORKLOADS = [path for path in MANIFESTS if manifest(path)["kind"] in ("Job", "StatefulSet")]


def test_the_image_runs_fibersim_itself() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", dockerfile, re.MULTILINE)
    assert entrypoint is not None and json.loads(entrypoint.group(1)) == ["fibersim"]


@pytest.mark.parametrize("name", sorted(fibersim_services()))
def test_every_compose_command_parses_with_the_fibersim_cli(name: str) -> None:
    context = parse_with_fibersim(compose_argv(fibersim_services()[name]))
    assert context.command.name in ("run", "stream", "focus-mock")


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda path: path.name)
def test_every_manifest_args_line_parses_with_the_fibersim_cli(path: Path) -> None:
    context = parse_with_fibersim(k8s_argv(path))
    if context.command.name == "stream":
        assert context.params["duration"] == 366 * 86400.0


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_manifest_validates_against_the_kubernetes_schema(path: Path) -> None:
    kubernetes_validate.validate(manifest(path), KUBERNETES_VERSION, strict=True)


def test_compose_and_kubernetes_name_one_image() -> None:
    images = {service["image"] for service in fibersim_services().values()}
    for path in WORKLOADS:
        images |= {c["image"] for c in manifest(path)["spec"]["template"]["spec"]["containers"]}
    assert images == {"fibersim:local"}
    assert COMPOSE["services"]["focus-mock"]["build"] == "."


def test_compose_leaves_the_host_amqp_port_to_a_local_broker() -> None:
    published = [str(port) for service in COMPOSE["services"].values()
                 for port in service.get("ports", [])]
    assert not [port for port in published if port.split(":")[0] == "5672"], published


def test_the_scenario_service_gets_its_endpoints_from_the_environment() -> None:
    """So `docker compose run fibersim run scenarios/zero_prr.yaml` talks to the broker and
    the mock although its command line replaces the service's."""
    environment = COMPOSE["services"]["fibersim"]["environment"]
    assert {"FIBERSIM_AMQP_URL", "FIBERSIM_FOCUS_URL", "FIBERSIM_FOCUS_CONTROL_URL"} <= set(
        environment)
    context = parse_with_fibersim(["run", "scenarios/zero_prr.yaml"])
    run = context.command
    envvars = {param.name: param.envvar for param in run.params}
    assert envvars["amqp_url"] == "FIBERSIM_AMQP_URL"
    assert envvars["focus_url"] == "FIBERSIM_FOCUS_URL"
    assert envvars["focus_control_url"] == "FIBERSIM_FOCUS_CONTROL_URL"


def test_prometheus_scrapes_the_ports_the_services_serve_metrics_on() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    ports = set()
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            ports.add(sd["port"])
        for static in job.get("static_configs", []):
            ports |= {int(target.rsplit(":", 1)[1]) for target in static["targets"]}
    served = set()
    for service in fibersim_services().values():
        argv = compose_argv(service)
        if "--metrics-port" in argv:
            served.add(int(argv[argv.index("--metrics-port") + 1].rpartition(":")[2]))
    assert ports == served == {9108}


def test_the_grafana_dashboard_queries_fibersim_metrics() -> None:
    dashboard = json.loads(
        (REPO / "deploy" / "grafana" / "dashboards" / "fibersim.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel.get("targets", [])]
    assert expressions and all("fibersim_" in expr for expr in expressions)
