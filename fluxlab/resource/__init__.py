"""Resources: idsets, hostlists, R (Rv1), local discovery and the inventory service.

The names of Flux's ``flux.resource`` load lazily, so that importing a pure
submodule (``fluxlab.resource.idset``) stays light.
"""

from __future__ import annotations

from fluxlab._lazy import lazy_getattr

__all__ = [
    "ResourceSet",
    "ResourceStatus",
    "Rv1Set",
    "SchedResourceList",
    "resource_list",
    "resource_status",
]

_LAZY = {
    "ResourceSet": "fluxlab.resource.rv1",
    "Rv1Set": "fluxlab.resource.rv1",
    "ResourceStatus": "fluxlab.resource.listing",
    "SchedResourceList": "fluxlab.resource.listing",
    "resource_list": "fluxlab.resource.client",
    "resource_status": "fluxlab.resource.client",
}


__getattr__ = lazy_getattr("fluxlab.resource", _LAZY)
