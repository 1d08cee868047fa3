"""``flux jobs -o``: the job format language, headings and named formats.

:class:`JobInfoFormat` is :class:`fluxlab.util.outputformat.OutputFormat`
with the ``flux jobs`` field names and headings (``{id.f58}`` -> ``JOBID``,
``{status_abbrev}`` -> ``ST``, ``{contextual_time}`` -> ``TIME``...).  Fields
under ``annotations.``, ``sched.``, ``user.`` and ``instance.`` are accepted
with headings made from the field name, as in Flux.

:data:`JOB_FORMATS` holds Flux's named formats (``default``, ``cute``,
``long``, ``deps``, ``endreason``); :func:`get_job_format` resolves a name or
passes a format string through.  :func:`job_fields_to_attrs` lists the
job-list attributes a format needs, so a job-list query can ask for only
those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fluxlab.util.outputformat import FormatError, OutputFormat

__all__ = ["JOB_FORMATS", "JOB_HEADINGS", "JobInfoFormat", "get_job_format", "job_fields_to_attrs"]

JOB_HEADINGS: dict[str, str] = {
    "id": "JOBID",
    "id.dec": "JOBID",
    "id.hex": "JOBID",
    "id.f58": "JOBID",
    "id.f58plain": "JOBID",
    "id.emoji": "JOBID",
    "id.kvs": "JOBID",
    "id.words": "JOBID",
    "id.dothex": "JOBID",
    "userid": "UID",
    "username": "USER",
    "urgency": "URG",
    "priority": "PRI",
    "state": "STATE",
    "state_single": "S",
    "state_emoji": "STATE",
    "name": "NAME",
    "cwd": "CWD",
    "queue": "QUEUE",
    "project": "PROJECT",
    "bank": "BANK",
    "ntasks": "NTASKS",
    "ncores": "NCORES",
    "ngpus": "NGPUS",
    "duration": "DURATION",
    "nnodes": "NNODES",
    "expiration": "EXPIRATION",
    "t_remaining": "T_REMAINING",
    "ranks": "RANKS",
    "nodelist": "NODELIST",
    "success": "SUCCESS",
    "result": "RESULT",
    "result_abbrev": "RS",
    "result_emoji": "RESULT",
    "t_submit": "T_SUBMIT",
    "t_depend": "T_DEPEND",
    "t_run": "T_RUN",
    "t_cleanup": "T_CLEANUP",
    "t_inactive": "T_INACTIVE",
    "runtime": "RUNTIME",
    "status": "STATUS",
    "status_abbrev": "ST",
    "status_emoji": "STATUS",
    "waitstatus": "WSTATUS",
    "returncode": "RC",
    "exception.occurred": "EXCEPTION-OCCURRED",
    "exception.severity": "EXCEPTION-SEVERITY",
    "exception.type": "EXCEPTION-TYPE",
    "exception.note": "EXCEPTION-NOTE",
    "annotations": "ANNOTATIONS",
    "dependencies": "DEPENDENCIES",
    "contextual_info": "INFO",
    "contextual_time": "TIME",
    "inactive_reason": "INACTIVE-REASON",
    "annotations.sched.t_estimate": "T_ESTIMATE",
    "annotations.sched.reason_pending": "REASON",
    "annotations.sched.resource_summary": "RESOURCES",
    "sched": "SCHED",
    "sched.t_estimate": "T_ESTIMATE",
    "sched.reason_pending": "REASON",
    "sched.resource_summary": "RESOURCES",
    "user": "USER",
    "uri": "URI",
    "uri.local": "URI",
}

JOB_FORMATS: dict[str, dict[str, str]] = {
    "default": {
        "description": "Default flux-jobs format string",
        "format": (
            "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} "
            "{status_abbrev:>2.2} {ntasks:>6} {nnodes:>6h} "
            "{contextual_time!F:>8h} {contextual_info}"
        ),
    },
    "cute": {
        "description": "Cute flux-jobs format string (default with emojis)",
        "format": (
            "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} "
            "{status_emoji:>5.5} {ntasks:>6} {nnodes:>6h} "
            "{contextual_time!F:>8h} {contextual_info}"
        ),
    },
    "long": {
        "description": "Extended flux-jobs format string",
        "format": (
            "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} "
            "{status:>9.9} {ntasks:>6} {nnodes:>6h} "
            "{t_submit!d:%b%d %R::>12} {t_remaining!F:>12h} "
            "{contextual_time!F:>8h} {contextual_info}"
        ),
    },
    "deps": {
        "description": "Show job urgency, priority, and dependencies",
        "format": (
            "{id.f58:>12} ?:{queue:<8.8} {name:<10.10+} {urgency:<3} "
            "{priority:<12} {state:<8.8} {dependencies}"
        ),
    },
    "endreason": {
        "description": "Show why each job ended",
        "format": (
            "{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} "
            "{status_abbrev:>2.2} {t_inactive!d:%b%d %R::>12h} {inactive_reason}"
        ),
    },
}


def get_job_format(name_or_format: str) -> str:
    """Format string for a named format, or ``name_or_format`` itself if it
    contains ``{``."""
    if not isinstance(name_or_format, str):
        raise FormatError("--format must be a string")
    if "{" in name_or_format:
        return name_or_format
    try:
        return JOB_FORMATS[name_or_format]["format"]
    except KeyError:
        raise FormatError(
            f"--format: No such format {name_or_format} (known: {', '.join(JOB_FORMATS)})"
        ) from None


def _dynamic_heading(field: str) -> str | None:
    if field.startswith("annotations."):
        return field[len("annotations.") :].upper()
    if field.startswith(("sched.", "user.")):
        return field.upper()
    if field.startswith("instance."):
        heading = field[len("instance.") :].upper()
        return heading[len("RESOURCES.") :] if heading.startswith("RESOURCES.") else heading
    return None


class JobInfoFormat(OutputFormat):
    """Output format for :class:`fluxlab.job.info.JobInfo` items
    (``flux.job.JobInfoFormat``).  ``fmt`` may also be a named format."""

    def __init__(self, fmt: str, headings: Mapping[str, str] | None = None, prepend: str = "0."):
        fmt = get_job_format(fmt)
        table = dict(JOB_HEADINGS if headings is None else headings)
        try:
            from string import Formatter

            fields = [f for _, f, _, _ in Formatter().parse(fmt) if f]
        except ValueError as exc:
            raise FormatError(f"invalid format {fmt!r}: {exc}") from None
        for field in fields:
            name = field[2:] if field.startswith("0.") else field
            if name not in table:
                heading = _dynamic_heading(name)
                if heading is not None:
                    table[name] = heading
        super().__init__(fmt, headings=table, prepend=prepend)


_FIELD_ATTRS: dict[str, tuple[str, ...]] = {
    "userid": ("userid",),
    "username": ("userid",),
    "urgency": ("urgency",),
    "priority": ("priority",),
    "state": ("state",),
    "state_single": ("state",),
    "state_emoji": ("state",),
    "returncode": ("waitstatus", "result"),
    "exception.occurred": ("exception_occurred",),
    "exception.severity": ("exception_severity",),
    "exception.type": ("exception_type",),
    "exception.note": ("exception_note",),
    "result_abbrev": ("result",),
    "result_emoji": ("result",),
    "runtime": ("t_run", "t_cleanup"),
    "status": ("state", "result"),
    "status_abbrev": ("state", "result"),
    "status_emoji": ("state", "result"),
    "expiration": ("expiration", "state", "result"),
    "t_remaining": ("expiration", "state", "result"),
    "contextual_info": ("state", "dependencies", "annotations", "nodelist", "priority", "urgency"),
    "contextual_time": ("state", "t_run", "t_cleanup", "duration"),
    "inactive_reason": (
        "state",
        "result",
        "waitstatus",
        "exception_occurred",
        "exception_severity",
        "exception_type",
        "exception_note",
    ),
    "sched": ("annotations",),
    "user": ("annotations",),
    "uri": ("annotations",),
    "uri.local": ("annotations",),
}
_PLAIN = {
    "name", "cwd", "queue", "project", "bank", "ntasks", "ncores", "ngpus", "duration",
    "nnodes", "ranks", "nodelist", "success", "waitstatus", "result", "t_submit", "t_depend",
    "t_run", "t_cleanup", "t_inactive", "annotations", "dependencies",
}  # fmt: skip


def job_fields_to_attrs(fields: Iterable[str]) -> set[str]:
    """job-list attributes needed to print ``fields`` (``id`` is implicit)."""
    attrs: set[str] = set()
    for field in fields:
        name = field[2:] if field.startswith("0.") else field
        if name == "id" or name.startswith("id."):
            continue
        if name.startswith(("annotations.", "sched.", "user.")):
            attrs.add("annotations")
        elif name.startswith("instance."):
            attrs.update(("annotations", "state", "result"))
        elif name in _FIELD_ATTRS:
            attrs.update(_FIELD_ATTRS[name])
        elif name in _PLAIN:
            attrs.add(name)
        else:
            raise FormatError(f"Unknown format field: {name}")
    return attrs
