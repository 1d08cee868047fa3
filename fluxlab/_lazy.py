"""Package attributes that import their module on first use.

Several packages (``fluxlab.core``, ``fluxlab.transport``, ``fluxlab.resource``,
``fluxlab.jupyter``) export names whose modules are costly to import (pyzmq,
ipywidgets, the service-module machinery).  :func:`lazy_getattr` builds the
module-level ``__getattr__`` (PEP 562) they share: the first access imports the
defining module and binds the value in the package, so later accesses are
plain attribute lookups.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, where: dict[str, str]):
    """A ``__getattr__`` for ``package`` resolving ``name`` from module ``where[name]``."""

    def __getattr__(name: str):
        mod = where.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(mod), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
