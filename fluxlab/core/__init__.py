"""Client handle, futures, errors, the broker reactor and the service-module base.

Names load on first use so that a client importing the handle does not pay
for the service-module machinery.
"""

from fluxlab._lazy import lazy_getattr

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
    "Flux": "fluxlab.core.handle",
    "FluxError": "fluxlab.core.errors",
    "ServiceError": "fluxlab.core.errors",
    "Future": "fluxlab.core.future",
    "ServiceModule": "fluxlab.core.module",
    "event_handler": "fluxlab.core.module",
    "request_handler": "fluxlab.core.module",
    "unpack": "fluxlab.core.module",
}


__getattr__ = lazy_getattr("fluxlab.core", _WHERE)
