"""Job output (RFC 24): ``output_watch``, ``output_watch_lines``, ``job_output``."""

from __future__ import annotations

from collections.abc import Iterator

from fluxlab.job.event import event_watch_async

__all__ = ["output_event_watch", "output_watch", "output_watch_lines"]


def output_event_watch(flux_handle, jobid: int, labelio: bool = False, nowait: bool = False):
    """Yield the raw output eventlog entries (header, data, eof ...)."""
    w = event_watch_async(flux_handle, jobid, "guest.output")
    try:
        yield from w
    finally:
        w.cancel()


def output_watch(
    flux_handle, jobid: int, labelio: bool = False, log_stderr_level: int = 7, nowait: bool = False
) -> Iterator[tuple[str, str]]:
    """Yield ``(stream, text)`` for each chunk of stdout/stderr as it is produced."""
    for ev in output_event_watch(flux_handle, jobid, labelio, nowait):
        if ev.name == "data" and "data" in ev.context:
            text = ev.context["data"]
            if labelio:
                text = "".join(
                    f"{ev.context.get('rank', '?')}: {line}"
                    for line in text.splitlines(keepends=True)
                )
            yield ev.context.get("stream", "stdout"), text


def output_watch_lines(
    flux_handle,
    jobid: int,
    labelio: bool = False,
    log_stderr_level: int = 7,
    nowait: bool = False,
    keepends: bool = False,
) -> Iterator[tuple[str, str]]:
    """Like :func:`output_watch` but one complete line at a time."""
    partial: dict[str, str] = {}
    for stream, text in output_watch(flux_handle, jobid, labelio, log_stderr_level, nowait):
        buf = partial.get(stream, "") + text
        lines = buf.splitlines(keepends=True)
        partial[stream] = lines.pop() if lines and not lines[-1].endswith("\n") else ""
        for line in lines:
            yield stream, line if keepends else line.rstrip("\n")
    for stream, rest in partial.items():
        if rest:
            yield stream, rest
