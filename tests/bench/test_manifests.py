"""The Kubernetes manifests parse and say what the docs promise: sharding by pod ordinal,
the AMQP URL only from a Secret, a one-shot scenario Job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fibersim.session.fleet import parse_instance, select_fibers

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def load(name: str) -> dict[str, Any]:
    documents = list(yaml.safe_load_all((MANIFESTS / name).read_text()))
    assert len(documents) == 1
    return documents[0]


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    containers = manifest["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(manifest)["env"]}


@pytest.mark.parametrize("name", ["statefulset.yaml", "job-scenario.yaml"])
def test_the_amqp_url_comes_from_the_secret_and_nowhere_else(name: str) -> None:
    manifest = load(name)
    url = env(manifest)["FIBERSIM_AMQP_URL"]
    assert url["valueFrom"]["secretKeyRef"] == {"name": "fibersim-amqp", "key": "url"}
    assert "value" not in url
    text = (MANIFESTS / name).read_text()
    assert "amqp://" not in text and "guest" not in text


def test_the_example_secret_holds_no_credentials() -> None:
    secret = load("amqp-secret.example.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "fibersim-amqp"
    assert "REPLACE_ME" in secret["stringData"]["url"]


def test_statefulset_shards_fibers_by_pod_ordinal() -> None:
    manifest = load("statefulset.yaml")
    assert manifest["kind"] == "StatefulSet"
    spec = manifest["spec"]
    replicas = spec["replicas"]
    args = container(manifest)["args"]
    assert args[0] == "stream"
    fibers = int(args[args.index("--fibers") + 1])
    instance = env(manifest)["FIBERSIM_INSTANCE"]["value"]
    assert instance == f"hostname/{replicas}"
    assert spec["serviceName"] == load("service.yaml")["metadata"]["name"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    # every pod (hostname fibersim-<k>) gets a disjoint share, together the whole fleet
    shares = []
    name = manifest["metadata"]["name"]
    for ordinal in range(replicas):
        index, count = parse_instance(instance, hostname=f"{name}-{ordinal}")
        assert (index, count) == (ordinal, replicas)
        shares.append(select_fibers(fibers, None, f"{index}/{count}"))
    assert sorted(i for share in shares for i in share) == list(range(fibers))


def test_scenario_job_runs_once_and_reports_failure() -> None:
    manifest = load("job-scenario.yaml")
    assert manifest["kind"] == "Job"
    assert manifest["spec"]["backoffLimit"] == 0
    assert manifest["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert container(manifest)["args"][:2] == ["run", "scenarios/fiber_lost.yaml"]
