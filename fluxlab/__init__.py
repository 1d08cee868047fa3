"""fluxlab: a Jupyter-native HPC workload manager modelled on the Flux Framework.

``import fluxlab as flux`` gives the names of Flux's Python bindings
(``flux.Flux``, ``flux.job``, ``flux.kvs``, ``flux.constants`` ...).  Heavy
submodules load lazily so that the command line starts fast.
"""

from __future__ import annotations

import importlib

from fluxlab._version import __version__

__all__ = ["Flux", "Instance", "__version__", "constants", "load_ipython_extension", "start"]


def load_ipython_extension(ipython) -> None:
    """``%load_ext fluxlab``: register the ``%flux`` magics."""
    from fluxlab.jupyter.magics import load_ipython_extension as load

    load(ipython)


_LAZY = {
    "Flux": ("fluxlab.core.handle", "Flux"),
    "Instance": ("fluxlab.instance.embedded", "Instance"),
    "start": ("fluxlab.instance.embedded", "start"),
}
_SUBMODULES = {
    "constants",
    "kvs",
    "job",
    "resource",
    "idset",
    "hostlist",
    "core",
    "broker",
    "instance",
    "sched",
    "jupyter",
    "transport",
    "testing",
    "cli",
}


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"fluxlab.{name}")
    raise AttributeError(f"module 'fluxlab' has no attribute {name!r}")
