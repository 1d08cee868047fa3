"""Rich displays: ``h``, ``inst``, ``jobid``, ``JobInfo``, jobspecs and R in a cell.

The library classes carry one-line hooks (``_repr_html_``/``_repr_pretty_``)
that import :func:`repr_html` / :func:`repr_pretty` from here on first use,
so the core packages never import Jupyter code.  HTML is self-contained
(inline styles, no scripts) so it also renders on GitHub and in nbconvert.
Renderers never raise: a display must not fail because an instance is gone.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

__all__ = ["repr_html", "repr_pretty", "text_summary"]

_BOX = (
    "font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:12px;"
    "border-left:3px solid #1f77b4;padding:2px 8px;margin:2px 0"
)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th style='text-align:left;padding:0 8px 0 0;font-weight:600'>{_e(k)}</th>"
        f"<td style='text-align:left'>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table style='border-collapse:collapse'>{body}</table>"


def _box(title: str, body: str) -> str:
    return f"<div style='{_BOX}'><b>{title}</b>{body}</div>"


def _badge(text: str) -> str:
    from fluxlab.jupyter.model.jobs import status_color

    return (
        f"<span style='background:{status_color(text)};color:#fff;border-radius:3px;"
        f"padding:0 5px'>{_e(text)}</span>"
    )


# -- per type ---------------------------------------------------------------------------
def _jobid(j) -> str:
    return (
        f"<span title='{int(j)} / {_e(j.hex)} / {_e(j.words)}' style='font-family:monospace'>"
        f"{_e(j.f58)}</span>"
    )


def _jobinfo(info) -> str:
    status = info.status
    rows = [
        ("id", f"{_jobid(info.id)} <span style='color:#777'>({int(info.id)})</span>"),
        ("name", _e(info.name)),
        ("status", _badge(status) + (f" {_e(info.inactive_reason)}" if info.result else "")),
        ("user", _e(info.username)),
        (
            "tasks / nodes / cores / gpus",
            _e(f"{info.ntasks} / {info.nnodes} / {info.ncores} / {info.ngpus}"),
        ),
    ]
    if info.runtime:
        from fluxlab.util.duration import fsd

        rows.append(("runtime", _e(fsd(info.runtime))))
    if info.nodelist:
        rows.append(("nodelist", _e(info.nodelist)))
    if info.result:
        rows.append(("exit code", _e(info.returncode)))
    return _box("Job", _table(rows))


def _jobspec_summary(js) -> dict[str, Any]:
    tasks = js.tasks or []
    command = tasks[0].get("command", []) if tasks and isinstance(tasks[0], dict) else []
    count = tasks[0].get("count", {}) if tasks and isinstance(tasks[0], dict) else {}
    env = js.environment or {}
    try:
        counts = js.resource_counts()
    except Exception:  # noqa: BLE001 - a display never fails
        counts = {}
    return {
        "command": " ".join(map(str, command)),
        "tasks": count,
        "resources": counts,
        "duration": js.duration or 0,
        "cwd": js.cwd or "",
        "env": len(env),
        "version": js.version,
    }


def _jobspec(js) -> str:
    s = _jobspec_summary(js)
    counts = ", ".join(f"{v} {k}" for k, v in s["resources"].items())
    rows = [
        ("command", f"<code>{_e(s['command'])}</code>"),
        ("tasks", _e(json.dumps(s["tasks"]))),
        ("resources", _e(counts)),
        ("duration", _e(f"{s['duration']}s" if s["duration"] else "unlimited")),
        ("cwd", _e(s["cwd"])),
        ("environment", _e(f"{s['env']} variables")),
    ]
    return _box(f"Jobspec (version {_e(s['version'])})", _table(rows))


def _rset(rs) -> str:
    groups: dict[tuple, list[int]] = {}
    for rank, kids in rs.per_rank().items():
        groups.setdefault(tuple(sorted(kids.items())), []).append(rank)
    from fluxlab.resource.idset import IDset

    lines = "".join(
        f"<tr><td>{_e(IDset(ranks))}</td><td>{_e(len(ranks))}</td>"
        f"<td>{_e(dict(k).get('core', 0))}</td><td>{_e(dict(k).get('gpu', 0))}</td></tr>"
        for k, ranks in groups.items()
    )
    head = f" — {rs.nnodes} nodes, {rs.ncores} cores, {rs.ngpus} GPUs" + (
        f" <span style='color:#777'>{_e(rs.nodelist)}</span>" if len(rs.nodelist) else ""
    )
    props = rs.property_ranks()
    extra = (
        "<div>properties: " + _e(", ".join(f"{k}={v}" for k, v in props.items())) + "</div>"
        if props
        else ""
    )
    table = (
        "<table style='border-collapse:collapse'><tr><th style='text-align:left'>RANKS</th>"
        "<th>NODES</th><th>CORES/NODE</th><th>GPUS/NODE</th></tr>"
        f"{lines}</table>"
    )
    return _box("R" + head, extra + table)


def _instance(inst) -> str:
    state = "running" if inst.running else "stopped"
    rows = [("size", _e(inst.size)), ("state", _e(state)), ("uri", f"<code>{_e(inst.uri)}</code>")]
    return _box("fluxlab instance (embedded)", _table(rows))


def _handle(h) -> str:
    rows = [("uri", f"<code>{_e(h.uri)}</code>")]
    try:
        size = h.attr_get("size")
        rows.append(("size", _e(size)))
        rows.append(("version", _e(h.attr_get("version"))))
        state = h.rpc("broker.state", nodeid=0).get(timeout=2).get("state", "?")
        rows.append(("state", _e(state)))
    except Exception as e:  # noqa: BLE001 - show why instead of failing
        rows.append(("status", _e(f"not reachable: {getattr(e, 'strerror', None) or e}")))
        return _box("fluxlab handle", _table(rows))
    try:
        from fluxlab.job.list import job_list

        jobs = job_list(h, max_entries=0, attrs=["state", "result"], userid=-1).get_jobinfos(
            timeout=2
        )
        counts: dict[str, int] = {}
        for j in jobs:
            counts[j.status] = counts.get(j.status, 0) + 1
        rows.append(
            ("jobs", " ".join(f"{_badge(k)} {v}" for k, v in sorted(counts.items())) or "none")
        )
    except Exception:  # noqa: BLE001 - no job services: no job line
        pass
    return _box("fluxlab handle", _table(rows))


_RENDERERS = {
    "Flux": _handle,
    "Instance": _instance,
    "JobID": _jobid,
    "JobInfo": _jobinfo,
    "ResourceSet": _rset,
}


def repr_html(obj: Any) -> str:
    """HTML for one of fluxlab's displayable objects (never raises)."""
    from fluxlab.job.jobspec import Jobspec

    try:
        if isinstance(obj, Jobspec):
            return _jobspec(obj)
        for cls in type(obj).__mro__:
            fn = _RENDERERS.get(cls.__name__)
            if fn is not None:
                return fn(obj)
    except Exception as e:  # noqa: BLE001
        return f"<pre>{_e(repr(obj))}</pre><!-- display failed: {_e(e)} -->"
    return f"<pre>{_e(repr(obj))}</pre>"


def text_summary(obj: Any) -> str:
    """The plain-text form shown by IPython for JobID, JobInfo and jobspecs."""
    from fluxlab.job.jobspec import Jobspec

    if isinstance(obj, Jobspec):
        s = _jobspec_summary(obj)
        counts = ", ".join(f"{v} {k}" for k, v in s["resources"].items())
        return f"{type(obj).__name__}({s['command']!r}: {counts or 'no resources'})"
    name = type(obj).__name__
    if name == "JobInfo":
        return f"JobInfo({obj.id.f58}, name={obj.name!r}, status={obj.status})"
    if name == "JobID":
        return obj.f58
    return repr(obj)


def repr_pretty(obj: Any, p, cycle: bool) -> None:
    """IPython ``_repr_pretty_`` body for the hooked classes."""
    p.text(text_summary(obj) if not cycle else "...")
