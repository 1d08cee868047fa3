"""Offline ``resource-query`` tool: Fluxion's command language over a graph file."""

from fluxlab.sched.query.tool import build_parser, main

__all__ = ["main", "build_parser"]
