"""Route the output of the tasks on one rank: output eventlog or files.

A :class:`TaskOutput` receives every chunk a task writes and either turns
it into RFC 24 ``data`` events appended to ``job.<id>.guest.output``
(through the module's :class:`~fluxlab.exec.kvsbatch.KVSBatcher`, so all
output read in one reactor iteration becomes one commit) or writes it to
the file named by the jobspec's output template, as flux-shell does.

Files: a template with task or node tags (``{{task.id}}``, ``{{node.id}}``
...) names one file per task and is opened here with the jobspec's
``output.mode`` (truncate or append).  A job-wide template names one file
shared by every task on every rank; job-exec truncates it before the tasks
start and every rank opens it for appending, so tasks never clobber each
other.  With ``label`` each line is prefixed ``"<task rank>: "``.  Each
write is one ``write(2)`` of whole lines, so lines from different tasks do
not interleave within a line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fluxlab.exec.output import (
    LineBuffer,
    data_context,
    eof_context,
    is_per_task,
    render_template,
)
from fluxlab.exec.spec import ExecSpec, StreamOptions
from fluxlab.job.eventlog import encode_event

__all__ = ["MAX_EVENT_DATA", "TaskOutput"]

_STREAMS = ("stdout", "stderr")

#: Largest chunk of task output in one ``data`` event.  Longer lines are
#: split, so one entry stays well below the KVS value limit (1 MiB) even
#: base64-encoded, and one bad line cannot fail the commit of a whole batch.
MAX_EVENT_DATA = 256 * 1024


class _Sink:
    """Where one stream of one task goes."""

    __slots__ = ("buffer", "fd", "label")

    def __init__(self, fd: int | None, label: bool, line: bool):
        self.fd = fd
        self.label = label
        self.buffer = LineBuffer(limit=MAX_EVENT_DATA) if line else None


class TaskOutput:
    """Output routing for the tasks of one job on one rank.

    Parameters
    ----------
    spec : ExecSpec
        The job's output options.
    jobid : int
    key : str
        The output eventlog key (``job.<dothex>.guest.output``).
    append : callable(key, text)
        Queues an eventlog line (the batcher's ``append``).
    values : callable(task rank, local id) -> dict
        Template values for a task (see :func:`~fluxlab.exec.output.template_values`).
    tasks : list of int
        The task ranks on this rank.
    clock : callable
        Timestamp source (``time.time``).

    Raises
    ------
    OSError
        If an output file cannot be opened; ``filename`` names it.
    """

    def __init__(
        self,
        spec: ExecSpec,
        jobid: int,
        key: str,
        append: Callable[[str, str], None],
        values: Callable[[int, int], dict[str, Any]],
        tasks: list[int],
        clock: Callable[[], float],
    ):
        self.key = key
        self._append = append
        self._clock = clock
        self._files: dict[str, int] = {}
        self._sinks: dict[tuple[int, str], _Sink] = {}
        self.bytes = 0
        try:
            for local_id, task in enumerate(tasks):
                for stream in _STREAMS:
                    opts: StreamOptions = getattr(spec, stream)
                    fd = None
                    if opts.path is not None:
                        path = render_template(opts.path, values(task, local_id), jobid)
                        per_task = is_per_task(opts.path)
                        fd = self._open(path, spec.output_mode if per_task else "append")
                    line = opts.buffer == "line" or (fd is not None and opts.label)
                    self._sinks[(task, stream)] = _Sink(fd, opts.label, line)
        except OSError:
            self.close()
            raise

    def _open(self, path: str, mode: str) -> int:
        fd = self._files.get(path)
        if fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
            flags |= os.O_APPEND if mode == "append" else os.O_TRUNC
            try:
                fd = os.open(path, flags, 0o644)
            except OSError as e:
                raise OSError(e.errno, f"error opening output file '{path}': {e.strerror}") from e
            self._files[path] = fd
        return fd

    def write(self, task: int, stream: str, data: bytes) -> None:
        """Route a chunk that task ``task`` wrote on ``stream``."""
        sink = self._sinks[(task, stream)]
        self.bytes += len(data)
        if sink.buffer is None:
            self._emit(sink, task, stream, [data])
        else:
            lines = sink.buffer.feed(data)
            if lines:
                self._emit(sink, task, stream, lines)

    def _emit(self, sink: _Sink, task: int, stream: str, chunks: list[bytes]) -> None:
        if sink.fd is not None:
            if sink.label:
                prefix = f"{task}: ".encode()
                chunks = [prefix + c for c in chunks]
            _write_all(sink.fd, b"".join(chunks))
            return
        ts = self._clock()
        for chunk in chunks:
            for i in range(0, len(chunk), MAX_EVENT_DATA):
                piece = chunk[i : i + MAX_EVENT_DATA]
                event = {
                    "timestamp": ts,
                    "name": "data",
                    "context": data_context(stream, task, piece),
                }
                self._append(self.key, encode_event(event))

    def task_eof(self, task: int) -> None:
        """Task ``task`` closed its output: flush partial lines, post EOFs."""
        for stream in _STREAMS:
            sink = self._sinks.get((task, stream))
            if sink is None:
                continue
            if sink.buffer is not None:
                tail = sink.buffer.flush()
                if tail:
                    self._emit(sink, task, stream, [tail])
            if sink.fd is None:
                event = {
                    "timestamp": self._clock(),
                    "name": "data",
                    "context": eof_context(stream, task),
                }
                self._append(self.key, encode_event(event))

    def close(self) -> None:
        """Close every output file (idempotent)."""
        files, self._files = self._files, {}
        for fd in files.values():
            try:
                os.close(fd)
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return  # a full disk must not take the broker down; the data is lost
        view = view[n:]
