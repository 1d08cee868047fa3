"""Client handle, futures, errors, the broker reactor and the service-module base.

Names load on first use so that a client importing the handle does not pay
for the service-module machinery.
"""

import importlib

__all__ = [
    "Flux",
    "FluxError",
    "Future",
    "ServiceError",
    "ServiceModule",
    "event_handler",
    "request_handler",
    "unpack",
]

_WHERE = {
    "Flux": "handle",
    "FluxError": "errors",
    "ServiceError": "errors",
    "Future": "future",
    "ServiceModule": "module",
    "event_handler": "module",
    "request_handler": "module",
    "unpack": "module",
}


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'fluxlab.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fluxlab.core.{mod}"), name)
    globals()[name] = value
    return value
