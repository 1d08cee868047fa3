"""Task standard output: RFC 24 output eventlog entries, buffering, file names.

The output eventlog ``job.<id>.guest.output`` holds, in order:

* one ``header`` event: ``{"version": 1, "encoding": {"stdout": "UTF-8",
  "stderr": "UTF-8"}, "count": {"stdout": N, "stderr": N}, "options": {}}``
  with ``N`` the number of tasks (each task has one stdout and one stderr);
* ``redirect`` events ``{"stream", "rank": "[0-N-1]", "path"}`` for each
  stream sent to a file instead (that stream then has no data events);
* ``data`` events ``{"stream", "rank": "<task rank>", "data": "..."}`` and,
  once per task and stream, ``{"stream", "rank", "eof": true}``;
* ``log`` events ``{"level", "message", "rank"?, "component"?}`` from the
  execution system itself (e.g. a working directory that does not exist).

Data is UTF-8 text; chunks that are not valid UTF-8 are stored base64 with
``"encoding": "base64"`` in the entry, as flux-core's ``ioencode`` does.
stdout is line buffered (one data event per line, the unterminated tail at
EOF), stderr is passed on as read, unless the jobspec asks otherwise.

:func:`render_template` expands the mustache tags flux-shell supports in
``--output``/``--error`` paths.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from fluxlab.job.jobid import JobIDError, id_encode

__all__ = [
    "LineBuffer",
    "data_context",
    "decode_data",
    "eof_context",
    "header_context",
    "is_per_task",
    "log_context",
    "redirect_context",
    "render_template",
    "task_idset",
    "template_values",
]

_TAG = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def header_context(ntasks: int) -> dict[str, Any]:
    """Context of the RFC 24 ``header`` event for ``ntasks`` tasks."""
    return {
        "version": 1,
        "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
        "count": {"stdout": ntasks, "stderr": ntasks},
        "options": {},
    }


def data_context(stream: str, rank: int, data: bytes) -> dict[str, Any]:
    """Context of a ``data`` event carrying ``data`` from task ``rank``."""
    try:
        return {"stream": stream, "rank": str(rank), "data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            "stream": stream,
            "rank": str(rank),
            "data": base64.b64encode(data).decode("ascii"),
            "encoding": "base64",
        }


def decode_data(context: Mapping[str, Any]) -> bytes:
    """The bytes of a ``data`` event context (empty for a bare EOF)."""
    data = context.get("data", "")
    if context.get("encoding") == "base64":
        return base64.b64decode(data)
    return data.encode("utf-8")


def eof_context(stream: str, rank: int) -> dict[str, Any]:
    """Context of the ``data`` event that ends ``stream`` of task ``rank``."""
    return {"stream": stream, "rank": str(rank), "eof": True}


def task_idset(ntasks: int) -> str:
    """All task ranks as flux-shell writes them in ``redirect``: ``0`` or ``[0-3]``."""
    return "0" if ntasks == 1 else f"[0-{ntasks - 1}]"


def redirect_context(stream: str, ntasks: int, path: str) -> dict[str, Any]:
    """Context of a ``redirect`` event: ``stream`` of every task goes to ``path``."""
    return {"stream": stream, "rank": task_idset(ntasks), "path": path}


def log_context(
    level: int, message: str, rank: int | None = None, component: str | None = None
) -> dict[str, Any]:
    """Context of a ``log`` event (RFC 5424 ``level`` 0..7)."""
    ctx: dict[str, Any] = {"level": level, "message": message}
    if rank is not None:
        ctx["rank"] = rank
    if component:
        ctx["component"] = component
    return ctx


class LineBuffer:
    """Split a byte stream into lines; the unterminated tail waits for more.

    ``feed(chunk)`` returns the complete lines (with their newline);
    ``flush()`` returns what is left at end of stream.  A tail that grows
    past ``limit`` bytes is released as it is, so a task that writes no
    newline cannot make the buffer grow without bound.
    """

    __slots__ = ("_buf", "limit")

    def __init__(self, limit: int = 1 << 20):
        self._buf = b""
        self.limit = limit

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buf + chunk
        cut = data.rfind(b"\n") + 1
        lines = data[:cut].splitlines(keepends=True) if cut else []
        self._buf = data[cut:]
        if len(self._buf) >= self.limit:
            lines.append(self._buf)
            self._buf = b""
        return lines

    def flush(self) -> bytes:
        tail, self._buf = self._buf, b""
        return tail

    def __len__(self) -> int:
        return len(self._buf)


def render_template(template: str, values: Mapping[str, Any], jobid: int | None = None) -> str:
    """Expand ``{{tag}}`` in an output file template.

    ``values`` maps tag names to their text (``name``, ``task.id``,
    ``node.id`` ...); ``{{id}}``/``{{jobid}}`` expand to ``jobid`` in F58
    form and ``{{id.ENC}}``/``{{jobid.ENC}}`` to another encoding (``dec``,
    ``hex``, ``dothex``, ``words``, ``f58``, ``f58plain``).  Tags with no
    value are left as they are (flux-shell does the same for task- and
    node-level tags in the ``redirect`` path).
    """

    def expand(m: re.Match) -> str:
        tag = m.group(1)
        key = tag[3:] if tag.startswith("jobid") else tag
        if jobid is not None and (key == "id" or key.startswith("id.")):
            enc = key[3:] or "f58"
            try:
                return id_encode(jobid, enc)
            except JobIDError:
                return m.group(0)
        value = values.get(tag)
        return m.group(0) if value is None else str(value)

    return _TAG.sub(expand, template)


def template_values(
    name: str,
    ntasks: int,
    nnodes: int,
    task_rank: int | None = None,
    local_id: int | None = None,
    node_index: int | None = None,
    hostname: str | None = None,
) -> dict[str, Any]:
    """The tag values flux-shell knows: job-wide ones, plus task/node ones when given."""
    values: dict[str, Any] = {"name": name, "size": ntasks, "nnodes": nnodes}
    if task_rank is not None:
        values.update({"task.id": task_rank, "task.rank": task_rank, "taskid": task_rank})
    if local_id is not None:
        values.update({"task.index": local_id, "task.localid": local_id})
    if node_index is not None:
        values.update({"node.id": node_index, "nodeid": node_index})
    if hostname is not None:
        values["node.name"] = hostname
    return values


def is_per_task(template: str) -> bool:
    """True if ``template`` names a task- or node-specific file."""
    return any(
        t.startswith(("task.", "node.")) or t in ("taskid", "nodeid")
        for t in _TAG.findall(template)
    )
