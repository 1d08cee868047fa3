"""Finding service modules by name and loading them into a broker.

The broker never imports a service package directly: it looks names up in
:data:`MODULES` (``name -> "package.module:Class"``), then in the
``fluxlab.modules`` entry-point group (so other packages can add modules),
and finally accepts a path to a Python file or a ``package.module:Class``
spec, which is how users load their own modules
(``fluxlab module load ./mymod.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys

from fluxlab.core.module import ServiceModule

__all__ = ["MODULES", "ModuleLoadError", "find_module_class", "known_modules"]

#: Built-in modules by name.  Values are import specs, resolved lazily.
MODULES: dict[str, str] = {
    "exec": "fluxlab.exec.service:ExecModule",
    "heartbeat": "fluxlab.broker.heartbeat:Heartbeat",
    "job-exec": "fluxlab.exec.job_exec:JobExec",
    "job-info": "fluxlab.job.info_service:JobInfoModule",
    "kvs": "fluxlab.kvs.service:KVSModule",
    "job-ingest": "fluxlab.job.ingest:JobIngest",
    "job-manager": "fluxlab.job.manager:JobManager",
    "job-list": "fluxlab.job.list_service:JobList",
    "sched-simple": "fluxlab.sched.simple:SchedSimple",
    "sched": "fluxlab.sched.service:SchedModule",
    "resource": "fluxlab.resource.service:ResourceModule",
}


class ModuleLoadError(ValueError):
    """A module name that cannot be resolved or a file without a module class."""


def known_modules() -> dict[str, str]:
    """Built-in names plus those registered through entry points."""
    names = dict(MODULES)
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="fluxlab.modules"):
            names.setdefault(ep.name, ep.value)
    except Exception:  # noqa: BLE001 - broken metadata must not stop the broker
        pass
    return names


def _load_spec(spec: str, name: str) -> type[ServiceModule]:
    modname, _, clsname = spec.partition(":")
    try:
        mod = importlib.import_module(modname)
    except ImportError as e:
        raise ModuleLoadError(f"module {name!r}: cannot import {modname}: {e}") from None
    if clsname:
        cls = getattr(mod, clsname, None)
        if cls is None:
            raise ModuleLoadError(f"module {name!r}: {modname} has no class {clsname}")
        return cls
    return _only_module_class(mod, name)


def _only_module_class(mod, name: str) -> type[ServiceModule]:
    found = [
        obj
        for obj in vars(mod).values()
        if inspect.isclass(obj)
        and issubclass(obj, ServiceModule)
        and obj is not ServiceModule
        and obj.__module__ == mod.__name__
    ]
    if len(found) != 1:
        raise ModuleLoadError(
            f"module {name!r}: expected exactly one ServiceModule subclass in {mod.__name__}, "
            f"found {len(found)}"
        )
    return found[0]


def find_module_class(name: str) -> type[ServiceModule]:
    """Resolve ``name`` (a module name, a ``.py`` path, or ``pkg.mod:Class``).

    Raises
    ------
    ModuleLoadError
        If nothing matches, with the list of known names.
    """
    if not isinstance(name, str) or not name:
        raise ModuleLoadError("module name must be a non-empty string")
    if name.endswith(".py") or os.sep in name:
        path = os.path.abspath(name)
        if not os.path.isfile(path):
            raise ModuleLoadError(f"module file {name!r} does not exist")
        modname = f"fluxlab_user_module_{abs(hash(path))}"
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # noqa: BLE001 - user code
            sys.modules.pop(modname, None)
            raise ModuleLoadError(
                f"module file {name!r} failed to import: {type(e).__name__}: {e}"
            ) from None
        return _only_module_class(mod, name)
    if name in MODULES:  # built-in: skip the (slow) entry-point scan
        return _load_spec(MODULES[name], name)
    known = known_modules()
    if name in known:
        return _load_spec(known[name], name)
    if ":" in name:
        return _load_spec(name, name)
    raise ModuleLoadError(
        f"unknown module {name!r}; known modules: {', '.join(sorted(known))} "
        f"(or give a path to a .py file)"
    )
