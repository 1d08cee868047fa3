"""``Timeline``: jobs as bars per node over time, and utilization below.

A plotly ``FigureWidget`` (two rows sharing the time axis): a horizontal bar
per job and node (Gantt; running jobs grow with the clock) and the number of
cores in use as a step line.  Data comes from the shared job store
(:mod:`fluxlab.jupyter.model.timeline`), refreshed at most once a second
from the kernel's loop, inside ``fig.batch_update()`` (one message).
"""

from __future__ import annotations

import datetime
import html
import time
from typing import Any

import ipywidgets as widgets

from fluxlab.jupyter._widgetbase import LiveView
from fluxlab.jupyter.model.timeline import TimelineData, timeline_data

__all__ = ["Timeline"]


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).isoformat(sep=" ", timespec="milliseconds")


class Timeline(LiveView, widgets.VBox):
    """Live Gantt chart and utilization.

    Parameters
    ----------
    h : fluxlab.Flux, optional
        Instance to show; default the one the ``%flux`` magics use.
    max_bars : int
        Most recent (job, node) bars drawn.
    period : float
        Seconds between redraws while jobs run.
    """

    def __init__(self, h=None, *, max_bars: int = 2000, period: float = 1.0, live=None, **kw):
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        from fluxlab.jupyter.live import get_live

        self._live = live or get_live(h)
        self.max_bars = max_bars
        self.period = period
        self.data = TimelineData()
        self.render_seconds = 0.0
        fig = make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06
        )
        self.figure = go.FigureWidget(fig)
        self.figure.add_bar(
            x=[], y=[], base=[], orientation="h", name="jobs", hoverinfo="text", row=1, col=1
        )
        self.figure.add_scatter(
            x=[], y=[], line_shape="hv", fill="tozeroy", name="cores in use", row=2, col=1
        )
        self.figure.update_layout(
            height=340,
            margin=dict(l=60, r=10, t=28, b=24),
            showlegend=False,
            title=dict(text="Timeline", x=0.01, y=0.98, font=dict(size=13)),
            bargap=0.25,
        )
        self.figure.update_xaxes(type="date", row=1, col=1)
        self.figure.update_xaxes(type="date", row=2, col=1)
        self.figure.update_yaxes(title_text="cores", row=2, col=1, rangemode="tozero")
        self.status = widgets.HTML()
        super().__init__(children=[self.figure, self.status], **kw)
        self._seen = -1
        self._last = 0.0
        self._live.prime(resources=True)
        self._live.add(self)
        self.render()

    def render(self) -> None:
        t0 = time.perf_counter()
        live = self._live
        model = live.rmodel
        hosts = {r: n.host for r, n in model.nodes.items()} if model.nodes else None
        total = sum(len(n.cores) for n in model.nodes.values())
        now = time.time()
        d = timeline_data(
            live.store.rows.values(),
            now,
            hostnames=hosts,
            total_cores=total,
            max_bars=self.max_bars,
        )
        self.data = d
        bars = d.bars
        with self.figure.batch_update():
            b = self.figure.data[0]
            b.y = [x["node"] for x in bars]
            b.base = [_iso(x["start"]) for x in bars]
            b.x = [max(1.0, (x["end"] - x["start"]) * 1000.0) for x in bars]
            b.marker.color = [x["color"] for x in bars]
            b.hovertext = [
                f"job {x['f58']} ({x['name']}) on {x['node']}: {x['status']}, "
                f"{x['end'] - x['start']:.1f}s" + (" (running)" if x["running"] else "")
                for x in bars
            ]
            u = self.figure.data[1]
            u.x = [_iso(v) for v in d.util_t]
            u.y = list(d.util_cores)
            if total:
                self.figure.update_yaxes(range=[0, total * 1.05], row=2, col=1)
        running = sum(1 for x in bars if x["running"])
        self.status.value = (
            f"<span style='font-size:11px;color:#777'>{len(bars)} bars, {running} running"
            + (f", {total} cores" if total else "")
            + "</span>"
        )
        self._seen = live.store.version
        self._last = time.monotonic()
        self.render_seconds = time.perf_counter() - t0

    def refresh(self, live) -> None:
        changed = live.store.version != self._seen
        running = any(x["running"] for x in self.data.bars)
        if (changed or running) and time.monotonic() - self._last >= self.period:
            self.render()

    @property
    def closed(self) -> bool:  # a VBox: closed when its figure is
        return self.figure.comm is None

    def _static_html(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(x['f58'])}</td><td>{html.escape(x['node'])}</td>"
            f"<td>{x['end'] - x['start']:.1f}s</td><td>{x['status']}</td></tr>"
            for x in self.data.bars[-50:]
        )
        return (
            "<div><b>Timeline</b> (last bars)<table><tr><th>JOB</th><th>NODE</th>"
            f"<th>DURATION</th><th>STATUS</th></tr>{rows}</table></div>"
        )

    def close(self) -> None:
        self.figure.close()
        super().close()

    def __repr__(self) -> str:
        return f"<fluxlab Timeline: {len(self.data.bars)} bars>"

    def _repr_keys(self) -> Any:  # keep ipywidgets' repr short (no huge figure dump)
        return iter(())
