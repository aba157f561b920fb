"""Finding dialects: the built-ins, the ``fibersim.dialects`` entry points, ``module:attribute``.

A plug-in package registers its dialect in its pyproject::

    [project.entry-points."fibersim.dialects"]
    mydialect = "my_package.module:MyDialect"

The target may be a ``Dialect`` instance, or a class or function returning one.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from fibersim.dialects.base import Dialect, Topology
from fibersim.errors import InputError

ENTRY_POINT_GROUP = "fibersim.dialects"
DEFAULT_DIALECT = "fibersim"
#: environment variable naming the dialect when ``--dialect`` is not given
DIALECT_ENV = "FIBERSIM_DIALECT"

_BUILT_IN = {
    "fibersim": "fibersim.dialects.fibersim_dialect:FibersimDialect",
    "tagged": "fibersim.dialects.tagged:TaggedDialect",
}


class DialectError(InputError):
    """An unknown or broken dialect name: exit 2, one line."""


@dataclass(frozen=True)
class InstalledDialect:
    """A dialect that can be chosen by name, and where it comes from."""

    name: str
    target: str
    origin: str


def installed_dialects() -> list[InstalledDialect]:
    """Built-ins first, then entry points (a plug-in cannot shadow a built-in name)."""
    found = [InstalledDialect(name, target, "built-in") for name, target in _BUILT_IN.items()]
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name):
        if point.name not in _BUILT_IN:
            package = point.dist.name if point.dist is not None else "?"
            found.append(InstalledDialect(point.name, point.value, f"plug-in {package}"))
    return found


@functools.cache
def load_dialect(spec: str | None = None) -> Dialect:
    """The dialect called ``spec`` (an installed name or ``module:attribute``); the
    ``fibersim`` dialect for None. Raises ``DialectError``."""
    spec = spec or DEFAULT_DIALECT
    # built-ins and module:attribute need no scan of the installed packages' entry points
    target = _BUILT_IN.get(spec) or (spec if ":" in spec else None)
    installed = ({} if target is not None
                 else {entry.name: entry.target for entry in installed_dialects()})
    target = target or installed.get(spec)
    if target is None:
        raise DialectError(f"unknown dialect {spec!r}; installed: {', '.join(installed)}"
                           " (or give module:attribute)", field="dialect")
    module_name, _, attribute = target.partition(":")
    try:
        found: object = getattr(importlib.import_module(module_name), attribute)
        dialect = found if isinstance(found, Dialect) else found() if callable(found) else None
    except Exception as error:  # a plug-in's import or constructor failing is the user's input
        raise DialectError(f"cannot load dialect {spec!r} from {target}: "
                           f"{type(error).__name__}: {' '.join(str(error).split())}",
                           field="dialect") from None
    if not isinstance(dialect, Dialect):
        raise DialectError(f"{target} is not a fibersim.dialects.Dialect (nor returns one)",
                           field="dialect")
    if not (isinstance(getattr(dialect, "name", None), str)
            and isinstance(getattr(dialect, "topology", None), Topology)):
        raise DialectError(f"{target} lacks a name (str) or a topology (Topology)",
                           field="dialect")
    return dialect
