"""Text models of ``flux resource list/info/R/status`` (pure, no I/O).

Given the payloads Flux's resource services return, these functions produce
exactly the text the ``flux resource`` commands print, so fluxlab's CLI and
notebook views can show the same tables.
"""

from fluxlab.resource.listing.command import resource_command
from fluxlab.resource.listing.resource_list import (
    ListingError,
    SchedResourceList,
    resource_info_text,
    resource_list_text,
    resource_R_text,
)
from fluxlab.resource.listing.resource_status import ResourceStatus, resource_status_text

__all__ = [
    "ListingError",
    "ResourceStatus",
    "SchedResourceList",
    "resource_R_text",
    "resource_command",
    "resource_info_text",
    "resource_list_text",
    "resource_status_text",
]
