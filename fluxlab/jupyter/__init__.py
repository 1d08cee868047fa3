"""The notebook layer: ``%flux`` magics, live widgets and rich displays.

Talks to instances only through fluxlab's public, Flux-compatible API.
Nothing in the library imports this package.  Widgets load lazily so that
``%load_ext fluxlab`` stays fast.
"""

from __future__ import annotations

from fluxlab._lazy import lazy_getattr
from fluxlab.jupyter.magics import FluxMagics, JobIDList, load_ipython_extension
from fluxlab.jupyter.session import NoInstanceError, Session, get_session

__all__ = [
    "Dashboard",
    "FluxMagics",
    "JobIDList",
    "JobProgress",
    "JobTable",
    "Live",
    "NoInstanceError",
    "ResourceGraph",
    "Session",
    "Timeline",
    "dashboard",
    "get_live",
    "get_session",
    "load_ipython_extension",
]

_LAZY = {
    "JobTable": "fluxlab.jupyter.jobtable",
    "ResourceGraph": "fluxlab.jupyter.resourcegraph",
    "Timeline": "fluxlab.jupyter.timeline",
    "Dashboard": "fluxlab.jupyter.board",
    "JobProgress": "fluxlab.jupyter.board",
    "dashboard": "fluxlab.jupyter.board",
    "Live": "fluxlab.jupyter.live",
    "get_live": "fluxlab.jupyter.live",
}


__getattr__ = lazy_getattr("fluxlab.jupyter", _LAZY)
