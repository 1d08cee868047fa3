"""``ResourceGraph``: explore an instance's resources and who uses them.

A grid of cells for the current level (cluster, node group, node, socket),
each coloured by state — free, allocated (each job its own colour), down,
drained — with a bar of fractions for aggregates; clicking a cell drills
down, the breadcrumb goes back up.  Below it, a node-link drawing of the
subtree, laid out in the kernel with networkx.  Built from the public
services only (see :mod:`fluxlab.jupyter.feed`).

Synced state: ``path`` (list of keys such as ``["g0", "n3"]``), ``cells``
(dicts ``key label kind drill state color segments jobs tip`` and, for
sockets, ``children``), ``crumbs``, ``summary``, ``graph`` (``nodes`` with
``x y color label``, ``edges``), ``legend`` and ``error``.
"""

from __future__ import annotations

import html
import time
from typing import Any

import anywidget
import traitlets as t

from fluxlab.jupyter._widgetbase import STATIC, LiveView
from fluxlab.jupyter.model.resources import COLORS, PathError, ResourceModel, graph_payload

__all__ = ["ResourceGraph"]


class ResourceGraph(LiveView, anywidget.AnyWidget):
    """Resource explorer.

    Parameters
    ----------
    h : fluxlab.Flux, optional
        Instance to show; default the one the ``%flux`` magics use.
    R : mapping or ResourceSet, optional
        Show this R instead of a live instance (static exploration of a
        resource set; no allocations unless ``allocations`` is given).
    allocations : mapping, optional
        ``{jobid: {rank: (core ids, gpu ids)}}`` for a static ``R``.
    graph : bool
        Also compute the node-link view.
    """

    _esm = STATIC / "resourcegraph.js"
    _css = STATIC / "widgets.css"

    path = t.List(t.Unicode()).tag(sync=True)
    cells = t.List().tag(sync=True)
    crumbs = t.List().tag(sync=True)
    summary = t.Dict().tag(sync=True)
    graph = t.Dict().tag(sync=True)
    legend = t.List(
        [[COLORS["free"], "free"], [COLORS["down"], "down"], [COLORS["drained"], "drained"]]
        + [["#1f77b4", "allocated (colour per job)"]]
    ).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        h=None,
        *,
        R: Any = None,
        allocations: Any = None,
        graph: bool = True,
        live=None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.with_graph = graph
        self.render_seconds = 0.0
        self._seen = None
        if R is not None:
            self.model = ResourceModel(R)
            if allocations:
                self.model.set_allocations(allocations)
            self._live = None
        else:
            from fluxlab.jupyter.live import get_live

            self._live = live or get_live(h)
            self.model = self._live.rmodel
        self.observe(lambda change: self.render(), names=["path"])
        if self._live is not None:
            self._live.prime(resources=True)
            self._live.add(self, resources=True)
        self.render()

    def render(self) -> None:
        """Recompute cells, breadcrumb, summary and graph for ``path``."""
        t0 = time.perf_counter()
        m = self.model
        path = list(self.path)
        error = self._live.problem(resources=True) if self._live is not None else ""
        try:
            cells = m.cells(path) if m.nodes else []
            crumbs = m.breadcrumb(path)
        except PathError as e:
            self.path = []  # renders the top level
            self.error = str(e)
            return
        graph: dict[str, Any] = {}
        if self.with_graph and m.nodes:
            g = m.graph(path)
            root = "/".join(path) or "cluster"
            graph = graph_payload(g, root)
        with self.hold_sync():
            self.cells = cells
            self.crumbs = crumbs
            self.summary = m.summary() if m.nodes else {}
            self.graph = graph
            self.error = error
        self._seen = (m.version, tuple(path), error)
        self.render_seconds = time.perf_counter() - t0

    def refresh(self, live) -> None:
        err = live.problem(resources=True)
        if self._seen != (self.model.version, tuple(self.path), err):
            self.render()

    def drill(self, *keys: str) -> None:
        """Go down to ``keys`` from the current level (what a click does)."""
        self.path = [*self.path, *keys]

    def up(self, levels: int = 1) -> None:
        self.path = list(self.path)[: max(0, len(self.path) - levels)]

    def __repr__(self) -> str:
        sm = self.summary
        if not sm:
            return f"<fluxlab ResourceGraph: {self.error or 'no resources'}>"
        return (
            f"<fluxlab ResourceGraph: {sm['nnodes']} nodes, {sm['cores']} cores, "
            f"{sm['gpus']} GPUs; {sm['allocated']} allocated>"
        )

    def _static_html(self) -> str:
        sm = self.summary
        cells = "".join(
            f"<span title='{html.escape(c['tip'])}' style='display:inline-block;margin:1px;"
            f"padding:1px 4px;border-left:4px solid {c['color']};border:1px solid #ccc'>"
            f"{html.escape(c['label'])}</span>"
            for c in self.cells[:200]
        )
        head = (
            f"{sm.get('nnodes', 0)} nodes, {sm.get('cores', 0)} cores, {sm.get('gpus', 0)} GPUs: "
            f"free {sm.get('free', 0)}, allocated {sm.get('allocated', 0)}, "
            f"down {sm.get('down', 0)}, drained {sm.get('drained', 0)}"
            if sm
            else html.escape(self.error or "no resources")
        )
        return f"<div><b>Resources</b> — {head}<div>{cells}</div></div>"
