"""The notebook layer: ``%flux`` magics, live widgets and rich displays.

Talks to instances only through fluxlab's public, Flux-compatible API.
Nothing in the library imports this package.
"""

from fluxlab.jupyter.magics import FluxMagics, load_ipython_extension
from fluxlab.jupyter.session import Session, get_session

__all__ = ["FluxMagics", "Session", "get_session", "load_ipython_extension"]
