"""``dashboard()`` and ``JobProgress``: widgets assembled from the live views."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets

from fluxlab.jupyter._widgetbase import LiveView

__all__ = ["Dashboard", "JobProgress", "dashboard"]

_DONE = {"COMPLETED", "FAILED", "CANCELED", "TIMEOUT", "INACTIVE"}


class JobProgress(LiveView, widgets.HBox):
    """A progress bar over a set of jobs: how many finished (and how many failed).

    Used by the magics for bulk submissions and long waits; updated from the
    shared job store by the live tick (or by :meth:`Live.pump` while a cell
    blocks).
    """

    def __init__(self, ids: Iterable[int], h=None, *, live=None, description: str = "jobs"):
        from fluxlab.jupyter.live import get_live

        self.ids = [int(i) for i in ids]
        self._live = live or get_live(h)
        self.bar = widgets.IntProgress(min=0, max=max(1, len(self.ids)), value=0)
        self.label = widgets.HTML()
        self.description = description
        self.done = 0
        self.failed = 0
        self._seen = -1
        super().__init__(children=[self.bar, self.label])
        self._live.prime()
        self._live.add(self)
        self.refresh(self._live)

    def refresh(self, live) -> None:
        if live.store.version == self._seen:
            return
        self._seen = live.store.version
        rows = live.store.rows
        done = failed = 0
        for i in self.ids:
            r = rows.get(i)
            if r is not None and r.status in _DONE:
                done += 1
                if r.status != "COMPLETED":
                    failed += 1
        self.done, self.failed = done, failed
        self.bar.value = done
        n = len(self.ids)
        if done == n:
            self.bar.bar_style = "danger" if failed else "success"
            self._live.remove(self)
        note = f", {failed} failed or canceled" if failed else ""
        self.label.value = f"{done}/{n} {html.escape(self.description)} done{note}"

    @property
    def closed(self) -> bool:
        return self.bar.comm is None

    def _static_html(self) -> str:
        return f"<div>{self.done}/{len(self.ids)} {html.escape(self.description)} done</div>"

    def __repr__(self) -> str:
        return f"<JobProgress {self.done}/{len(self.ids)} done>"


class Dashboard(LiveView, widgets.VBox):
    """Header, resource explorer, timeline and job table for one instance."""

    def __init__(self, h=None, *, live=None, page_size: int = 15):
        from fluxlab.jupyter.jobtable import JobTable
        from fluxlab.jupyter.live import get_live
        from fluxlab.jupyter.resourcegraph import ResourceGraph
        from fluxlab.jupyter.timeline import Timeline

        self._live = live or get_live(h)
        self.resources = ResourceGraph(live=self._live, graph=True)
        self.timeline = Timeline(live=self._live)
        self.jobs = JobTable(live=self._live, page_size=page_size)
        self.header = widgets.HTML(self._header_html())
        self.resources.layout = widgets.Layout(width="50%")
        self.timeline.layout = widgets.Layout(width="50%")
        super().__init__(
            children=[
                self.header,
                widgets.HBox([self.resources, self.timeline]),
                self.jobs,
            ]
        )
        self._live.add(self)

    def _header_html(self) -> str:
        c = self._live.store.counts()
        chips = " ".join(f"{k.lower()} {v}" for k, v in sorted(c.items()))
        return (
            "<div style='font-size:13px'><b>fluxlab dashboard</b> "
            f"<code>{html.escape(self._live.uri)}</code> — {len(self._live.store)} jobs"
            f"{': ' + chips if chips else ''}</div>"
        )

    def refresh(self, live) -> None:
        text = self._header_html()
        if text != self.header.value:
            self.header.value = text

    @property
    def closed(self) -> bool:
        return self.header.comm is None

    def _static_html(self) -> str:
        parts = [self._header_html()]
        for w in (self.resources, self.timeline, self.jobs):
            try:
                parts.append(w._static_html())
            except Exception:  # noqa: BLE001 - fallback only
                pass
        return "".join(parts)

    def __repr__(self) -> str:
        return f"<fluxlab Dashboard {self._live.uri}: {len(self._live.store)} jobs>"

    def close(self) -> None:
        for w in (self.resources, self.timeline, self.jobs):
            w.stop()
            w.close()
        self._live.remove(self)
        super().close()


def dashboard(h=None, **kwargs: Any) -> Dashboard:
    """The live dashboard of an instance (default: the one the magics use)."""
    return Dashboard(h, **kwargs)
