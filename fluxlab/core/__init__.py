"""Client handle, futures, errors, the broker reactor and the service-module base."""

from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.future import Future
from fluxlab.core.module import ServiceModule, event_handler, request_handler, unpack

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


def __getattr__(name: str):
    if name == "Flux":
        from fluxlab.core.handle import Flux

        return Flux
    raise AttributeError(name)
