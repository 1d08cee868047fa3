"""``JobTable``: a live, filterable, sortable list of an instance's jobs.

The kernel holds every job (a :class:`~fluxlab.jupyter.model.jobs.JobStore`
fed by the job-manager journal) and sends the browser one page at a time,
so 10,000 jobs cost the browser no more than 25.  Selecting a row loads the
job's eventlog, output and R from the KVS (``job.<id>.*``); the *Cancel job*
button sends a ``cancel`` message answered with ``flux.job.cancel``.

Synced state (what tests and the front end read): ``rows`` (the page, dicts
with ``id f58 name state status color ntasks nnodes ncores ngpus runtime rc
nodelist note``), ``total``, ``matched``, ``counts`` (per status),
``state_filter``, ``name_filter``, ``sort_by``, ``sort_desc``, ``page``,
``page_size``, ``selected``, ``detail`` and ``error``.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

import anywidget
import traitlets as t

from fluxlab.core.errors import FluxError
from fluxlab.job.jobid import JobID
from fluxlab.jupyter._widgetbase import STATIC, LiveView
from fluxlab.jupyter.model.jobs import _STATUS_COLORS, FILTERS, SORT_KEYS

__all__ = ["JobTable"]

_OUTPUT_LIMIT = 20_000


def _ts(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


class JobTable(LiveView, anywidget.AnyWidget):
    """Live job table.

    Parameters
    ----------
    h : fluxlab.Flux, optional
        Instance to show; default the one the ``%flux`` magics use.
    state : str
        Initial state filter (``all``, ``pending``, ``running``, ``inactive``,
        ``completed``, ``failed``, ``canceled``, ``timeout`` or a state name).
    page_size : int
        Rows per page.
    live : Live, optional
        Share an existing :class:`~fluxlab.jupyter.live.Live`.
    """

    _esm = STATIC / "jobtable.js"
    _css = STATIC / "widgets.css"

    title = t.Unicode("Jobs").tag(sync=True)
    rows = t.List().tag(sync=True)
    total = t.Int(0).tag(sync=True)
    matched = t.Int(0).tag(sync=True)
    counts = t.Dict().tag(sync=True)
    colors = t.Dict(dict(_STATUS_COLORS)).tag(sync=True)
    state_filter = t.Unicode("all").tag(sync=True)
    name_filter = t.Unicode("").tag(sync=True)
    sort_by = t.Unicode("id").tag(sync=True)
    sort_desc = t.Bool(True).tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(25).tag(sync=True)
    selected = t.Int(0).tag(sync=True)
    detail = t.Dict().tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(
        self, h=None, *, state: str = "all", page_size: int = 25, live=None, **kwargs: Any
    ):
        if state not in FILTERS:
            raise ValueError(f"state: unknown filter {state!r}; use one of {', '.join(FILTERS)}")
        if not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size: must be a positive integer, not {page_size!r}")
        super().__init__(state_filter=state, page_size=page_size, **kwargs)
        from fluxlab.jupyter.live import get_live

        self._live = live or get_live(h)
        self._seen = (-1, None)
        self._last_render = 0.0
        self._detail_job = 0
        self._detail_version = -1
        self.render_seconds = 0.0
        self.observe(
            self._on_query,
            names=["state_filter", "name_filter", "sort_by", "sort_desc", "page", "page_size"],
        )
        self.observe(self._on_select, names=["selected"])
        self.on_msg(self._on_front_msg)
        self._live.prime()
        self._live.add(self)
        self.render()

    # -- rendering -------------------------------------------------------------------
    def _query_key(self):
        return (
            self.state_filter,
            self.name_filter,
            self.sort_by,
            self.sort_desc,
            self.page,
            self.page_size,
        )

    def render(self) -> None:
        """Recompute the visible page from the store (kernel side, ~ms at 10k jobs)."""
        t0 = time.perf_counter()
        store = self._live.store
        try:
            rows, matched = store.page(
                self.state_filter,
                self.name_filter,
                self.sort_by,
                self.sort_desc,
                self.page * self.page_size,
                self.page_size,
            )
        except ValueError as e:
            self.error = str(e)
            return
        if matched and self.page * self.page_size >= matched:
            self.page = (matched - 1) // self.page_size  # re-renders through the observer
            return
        err = self._live.problem()
        with self.hold_sync():
            self.rows = rows
            self.matched = matched
            self.total = len(store)
            self.counts = store.counts()
            self.error = err
        self._seen = (store.version, self._query_key(), err)
        self._last_render = time.monotonic()
        self.render_seconds = time.perf_counter() - t0

    def refresh(self, live) -> None:
        """Called by the tick: re-render if jobs changed or runtimes advanced."""
        store = live.store
        stale = self._seen != (store.version, self._query_key(), live.problem())
        ticking = any(r["state"] in ("RUN", "CLEANUP") for r in self.rows)
        if stale or (ticking and time.monotonic() - self._last_render >= 1.0):
            self.render()
        if self.selected and self.selected in store.changed:
            self._load_detail(self.selected)

    def _on_query(self, change) -> None:
        if change["name"] == "sort_by" and change["new"] not in SORT_KEYS:
            self.error = f"unknown sort key {change['new']!r}; use one of {', '.join(SORT_KEYS)}"
            return
        self.render()

    # -- selection and detail --------------------------------------------------------------
    def _on_select(self, change) -> None:
        jobid = change["new"]
        if not jobid:
            self.detail = {}
            return
        self._load_detail(jobid)

    def _load_detail(self, jobid: int) -> None:
        from fluxlab.kvs.client import decode_value, lookup_async

        row = self._live.store.rows.get(jobid)
        base = JobID(jobid)
        info = []
        if row is not None:
            now = time.time()
            d = row.as_dict(now)
            info = [
                ["id", f"{d['f58']} ({jobid})"],
                ["name", d["name"]],
                ["status", d["status"]],
                [
                    "tasks / nodes / cores / gpus",
                    f"{row.ntasks} / {row.nnodes} / {row.ncores} / {row.ngpus}",
                ],
                ["runtime", d["runtime"]],
                ["exit code", d["rc"]],
                ["nodelist", d["nodelist"]],
            ]
            if row.exc_occurred:
                info.append(["exception", f"{row.exc_type}: {row.exc_note}"])
        active = row is not None and row.status in (
            "NEW",
            "DEPEND",
            "PRIORITY",
            "SCHED",
            "RUN",
            "CLEANUP",
        )
        self._detail_parts: dict[str, Any] = {
            "id": jobid,
            "f58": base.f58,
            "info": info,
            "active": active,
            "loading": True,
            "error": "",
        }
        self._detail_job = jobid
        pending = {"eventlog", "guest.output", "R"}

        def done(fut, key):
            if self._detail_job != jobid:
                return
            pending.discard(key)
            try:
                value = decode_value(fut.get())
            except FluxError as e:
                value = None
                if key == "eventlog":
                    self._detail_parts["error"] = f"eventlog: {e.strerror or e}"
            self._detail_parts.update(self._format_part(key, value))
            self._detail_parts["loading"] = bool(pending)
            self.detail = dict(self._detail_parts)

        self.detail = dict(self._detail_parts)
        for key in sorted(pending):
            lookup_async(self._live.h, f"{base.kvs}.{key}").then(done, key)

    @staticmethod
    def _format_part(key: str, value: Any) -> dict[str, Any]:
        from fluxlab.job.eventlog import EventlogError, parse_eventlog

        if key == "R":
            if not isinstance(value, dict):
                return {"R": ""}
            from fluxlab.resource.rv1 import ResourceSet

            try:
                head = f"{ResourceSet(value).rlist}\n\n"
            except ValueError:
                head = ""
            return {"R": head + json.dumps(value, indent=1)}
        if not isinstance(value, str):
            return {"eventlog": []} if key == "eventlog" else {"output": ""}
        try:
            events = parse_eventlog(value)
        except EventlogError as e:
            return {"error": f"{key}: {e}"}
        if key == "eventlog":
            return {
                "eventlog": [
                    [_ts(e.timestamp), e.name, json.dumps(e.context) if e.context else ""]
                    for e in events
                ]
            }
        chunks = []
        for e in events:
            if e.name == "data" and isinstance(e.context.get("data"), str):
                text = e.context["data"]
                if e.context.get("stream") == "stderr":
                    text = "".join(f"[stderr] {line}" for line in text.splitlines(True))
                chunks.append(text)
        out = "".join(chunks)
        if len(out) > _OUTPUT_LIMIT:
            out = "…" + out[-_OUTPUT_LIMIT:]
        return {"output": out}

    # -- actions ---------------------------------------------------------------------------
    def cancel(self, jobid: int, reason: str = "canceled from the job table") -> None:
        """Cancel a job (what the *Cancel job* button does); errors go to ``error``."""
        from fluxlab.job.kill import cancel_async

        def done(fut):
            try:
                fut.get()
            except FluxError as e:
                self.error = f"cancel {JobID(jobid).f58}: {e.strerror or e}"

        cancel_async(self._live.h, int(jobid), reason).then(done)

    def _on_front_msg(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("action") == "cancel":
            try:
                self.cancel(int(content.get("id", 0)))
            except (TypeError, ValueError):
                self.error = f"cancel: bad job id {content.get('id')!r}"

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"<fluxlab JobTable: {self.total} jobs{': ' + counts if counts else ''}>"

    # -- static fallback -----------------------------------------------------------------
    def _static_html(self) -> str:
        cells = "".join(
            "<tr>"
            f"<td>{html.escape(r['f58'])}</td><td>{html.escape(r['name'])}</td>"
            f"<td><span style='background:{r['color']};color:#fff;border-radius:3px;"
            f"padding:0 4px'>{r['status']}</span></td>"
            f"<td>{r['nnodes']}</td><td>{r['ncores']}</td><td>{r['ngpus']}</td>"
            f"<td>{r['runtime']}</td><td>{r['rc']}</td></tr>"
            for r in self.rows
        )
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return (
            f"<div><b>{html.escape(self.title)}</b> — {self.total} jobs ({counts})"
            "<table><tr><th>JOBID</th><th>NAME</th><th>STATUS</th><th>NODES</th><th>CORES</th>"
            f"<th>GPUS</th><th>RUNTIME</th><th>RC</th></tr>{cells}</table></div>"
        )
