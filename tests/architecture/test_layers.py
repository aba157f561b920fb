"""Each stage of fibersim imports only the stages below it (docs/architecture.md).

The layers, lowest first; a module may import its own stage and any stage of a lower layer,
at module level or inside a function alike (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fibersim"

LAYERS: list[set[str]] = [
    {"errors", "units", "redact", "models", "timebase"},
    {"wire", "interrogator", "formats"},
    {"transport", "signals", "netfaults"},
    {"dialects"},
    {"focus", "scenario"},
    {"probes"},
    {"runner"},
    {"recording", "reports"},
    {"session", "metrics"},
    {"bench", "pytest_plugin"},
    {"cli"},
    {"__main__"},
]
LAYER_OF = {stage: index for index, layer in enumerate(LAYERS) for stage in layer}


def stage_of(module: str) -> str:
    """``fibersim.signals.base`` -> ``signals``."""
    return module.split(".")[1]


def imported_stages(path: Path) -> set[str]:
    """The fibersim stages ``path`` imports anywhere in its body."""
    stages = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        stages |= {stage_of(name) for name in names if name.startswith("fibersim.")}
    return stages


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_stage_has_a_layer() -> None:
    stages = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert stages - {"__init__"} <= set(LAYER_OF)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_stage_and_lower_ones(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    upward = {stage for stage in imported_stages(path) - {own}
              if LAYER_OF[stage] >= LAYER_OF[own]}
    assert not upward, f"{own} imports {sorted(upward)} (same layer or above)"


def loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return set(out.split())


def test_running_or_streaming_a_scenario_loads_no_file_format_library() -> None:
    """``fibersim run`` and ``stream`` never read a DAS file unless a scenario plays one:
    h5py and DASCore cost start-up time (and DASCore pulls in much more)."""
    loaded = loaded_after("import fibersim.cli.main, fibersim.cli.run, fibersim.cli.stream, "
                          "fibersim.runner.scenario_runner, fibersim.scenario.loader")
    assert not {"h5py", "dascore"} & loaded
