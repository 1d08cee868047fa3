"""Jobspecs: the RFC 14 canonical form and RFC 25 version 1.

:class:`Jobspec` and :class:`JobspecV1` mirror ``flux.job.Jobspec`` and
``flux.job.JobspecV1``: the constructor validates, the properties read and
write ``attributes.system`` (``duration``, ``cwd``, ``environment``,
``queue``, stdio paths), and the ``from_*`` class methods build jobspecs the
way ``flux run``/``submit``/``batch``/``alloc`` do.  Invalid input raises
:class:`JobspecError` (a ``ValueError``) naming the field, e.g.
``resources[0].with[1].count: must be a positive integer for type 'core'``.

Nested instances
    :meth:`JobspecV1.from_nest_command` builds the command
    ``[*NEST_COMMAND, *broker_opts, *command]`` with ``NEST_COMMAND =
    ("flux", "broker")``, exactly Flux's jobspec shape, so jobspecs stay
    interchangeable with Flux.  The instance layer may rewrite that prefix
    (for example to fluxlab's own broker entry point) when it launches the
    job; it should look for :data:`NEST_COMMAND` at the start of the command.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator, Mapping

from fluxlab.job._jobspec_rules import JobspecError, validate_canonical
from fluxlab.job.count import Count, CountError
from fluxlab.job.duration import DurationError, duration_seconds

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    import datetime
    from typing import IO, Any

__all__ = ["NEST_COMMAND", "Jobspec", "JobspecError", "JobspecV1", "validate_jobspec"]  # noqa: F822

#: Program that a nested-instance jobspec runs (see the module docstring).
NEST_COMMAND: tuple[str, ...] = ("flux", "broker")


def _attr_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise JobspecError("attributes", f"attribute key must be a non-empty string, not {key!r}")
    if key.startswith("."):
        key = "attributes" + key
    if not key.startswith("attributes."):
        if not key.startswith(("user.", "system.")):
            key = "system." + key
        key = "attributes." + key
    return key


def _load_yaml(stream: str | bytes | IO) -> Any:
    import yaml

    try:
        return yaml.safe_load(stream)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobspecError("", f"invalid YAML: {first}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise JobspecError("", f"cannot read jobspec: {exc}") from None


class Jobspec:
    """A canonical (RFC 14) jobspec.

    Parameters
    ----------
    resources, tasks, attributes, version
        The four top-level sections.  The jobspec is validated on
        construction; the sections are kept by reference (not copied), as in
        Flux.
    """

    top_level_keys = {"resources", "tasks", "attributes", "version"}

    def __init__(self, resources: Any, tasks: Any, attributes: Any, version: Any):
        self.jobspec = {
            "resources": resources,
            "tasks": tasks,
            "attributes": attributes,
            "version": version,
        }
        self._validate()

    def _validate(self) -> None:
        validate_canonical(self.jobspec)

    # -- constructors --------------------------------------------------------
    @classmethod
    def from_dict(cls, obj: Any) -> Jobspec:
        """Build from an already decoded document (top-level keys checked)."""
        if not isinstance(obj, Mapping):
            raise JobspecError("", "jobspec must be a mapping")
        missing = [k for k in ("resources", "tasks", "attributes", "version") if k not in obj]
        if missing:
            raise JobspecError(missing[0], "missing")
        extra = set(obj) - cls.top_level_keys
        if extra:
            raise JobspecError("", f"unknown top-level key(s) {', '.join(sorted(map(str, extra)))}")
        return cls(**obj)

    @classmethod
    def from_yaml_stream(cls, yaml_stream: str | bytes | IO) -> Jobspec:
        """Create a jobspec from YAML (or JSON) text or a file-like object."""
        return cls.from_dict(_load_yaml(yaml_stream))

    @classmethod
    def from_yaml_file(cls, filename: str | os.PathLike) -> Jobspec:
        """Create a jobspec from a YAML (or JSON) file."""
        try:
            with open(filename, "rb") as infile:
                return cls.from_yaml_stream(infile)
        except OSError as exc:
            raise JobspecError("", f"cannot read {filename}: {exc.strerror}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Jobspec:
        """Create a jobspec from a JSON string."""
        try:
            obj = json.loads(text)
        except (ValueError, TypeError, RecursionError) as exc:
            raise JobspecError("", f"invalid JSON: {exc}") from None
        return cls.from_dict(obj)

    # -- sections --------------------------------------------------------------
    @property
    def resources(self) -> Any:
        return self.jobspec.get("resources")

    @property
    def tasks(self) -> Any:
        return self.jobspec.get("tasks")

    @property
    def attributes(self) -> Any:
        return self.jobspec.get("attributes")

    @property
    def version(self) -> Any:
        return self.jobspec.get("version")

    # -- attribute access ------------------------------------------------------
    def getattr(self, key: str) -> Any:
        """Value at dotted ``key`` (``system.`` implied); KeyError if absent."""
        value: Any = self.jobspec
        for part in _attr_key(key).split("."):
            if not isinstance(value, Mapping) or value.get(part) is None:
                raise KeyError(key)
            value = value[part]
        return value

    def setattr(self, key: str, val: Any) -> None:
        """Set attribute ``key`` (e.g. ``system.duration``; ``system.`` is
        implied for bare keys and ``user.`` keys stay under ``user``)."""
        parts = _attr_key(key).split(".")
        node: Any = self.jobspec
        for i, part in enumerate(parts[:-1]):
            nxt = node.setdefault(part, {}) if isinstance(node, dict) else None
            if not isinstance(nxt, dict):
                where = ".".join(parts[: i + 1])
                raise JobspecError(where, f"cannot set {key}: {where} is not a mapping")
            node = nxt
        node[parts[-1]] = val

    def setattr_shell_option(self, key: str, val: Any) -> None:
        """Set ``attributes.system.shell.options.<key>``."""
        self.setattr("system.shell.options." + key, val)

    def _system(self) -> dict:
        attrs = self.jobspec["attributes"]
        return attrs.get("system", {}) if isinstance(attrs, Mapping) else {}

    @property
    def duration(self) -> float | None:
        """Time limit in seconds (0 = unlimited); set with an FSD string,
        a number of seconds or a ``timedelta``."""
        return self._system().get("duration")

    @duration.setter
    def duration(self, duration: str | float | datetime.timedelta) -> None:
        try:
            self.setattr("system.duration", duration_seconds(duration))
        except DurationError as exc:
            raise JobspecError("attributes.system.duration", str(exc)) from None

    @property
    def queue(self) -> str | None:
        return self._system().get("queue")

    @queue.setter
    def queue(self, queue: str) -> None:
        if not isinstance(queue, str):
            raise JobspecError("attributes.system.queue", "must be a string")
        self.setattr("system.queue", queue)

    @property
    def cwd(self) -> str | None:
        return self._system().get("cwd")

    @cwd.setter
    def cwd(self, cwd: str | os.PathLike) -> None:
        if isinstance(cwd, os.PathLike):
            cwd = os.fspath(cwd)
        if not isinstance(cwd, str):
            raise JobspecError("attributes.system.cwd", "must be a string or path")
        self.setattr("system.cwd", cwd)

    @property
    def environment(self) -> Mapping | None:
        return self._system().get("environment")

    @environment.setter
    def environment(self, environ: Mapping[str, str]) -> None:
        if not isinstance(environ, Mapping):
            raise JobspecError("attributes.system.environment", "must be a mapping")
        self.setattr("system.environment", environ)

    def _get_io_path(self, iotype: str, stream: str) -> str | None:
        try:
            return self.getattr(f"system.shell.options.{iotype}.{stream}.path")
        except KeyError:
            return None

    def _set_io_path(self, iotype: str, stream: str, path: str | os.PathLike) -> None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise JobspecError(
                f"attributes.system.shell.options.{iotype}.{stream}.path",
                f"must be a string or path, not {type(path).__name__}",
            )
        self.setattr_shell_option(f"{iotype}.{stream}.type", "file")
        self.setattr_shell_option(f"{iotype}.{stream}.path", path)

    input = property(
        lambda self: self._get_io_path("input", "stdin"),
        lambda self, p: self._set_io_path("input", "stdin", p),
        doc="Path to read stdin from.",
    )
    output = property(
        lambda self: self._get_io_path("output", "stdout"),
        lambda self, p: self._set_io_path("output", "stdout", p),
        doc="Path for stdout (stderr follows it unless set separately).",
    )
    error = property(
        lambda self: self._get_io_path("output", "stderr"),
        lambda self, p: self._set_io_path("output", "stderr", p),
        doc="Path for stderr.",
    )
    stdin, stdout, stderr = input, output, error

    @property
    def unbuffered(self) -> bool:
        """True if stdout and stderr buffering is off."""
        try:
            return (
                self.getattr("shell.options.output.stdout.buffer.type") == "none"
                and self.getattr("shell.options.output.stderr.buffer.type") == "none"
            )
        except KeyError:
            return False

    @unbuffered.setter
    def unbuffered(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise JobspecError("unbuffered", "must be True or False")
        if value:
            self.setattr_shell_option("output.stdout.buffer.type", "none")
            self.setattr_shell_option("output.stderr.buffer.type", "none")
            self.setattr_shell_option("output.batch-timeout", 0.05)
            self.setattr_shell_option("input.batch-timeout", 0.0)
            return
        try:
            output = self.getattr("shell.options.output")
        except KeyError:
            return
        for stream in ("stdout", "stderr"):
            if isinstance(output.get(stream), dict):
                output[stream].pop("buffer", None)
        if output.get("batch-timeout") == 0.05:
            output.pop("batch-timeout")

    def add_file(
        self, path: str, data: Mapping | str, perms: int | None = None, encoding: str | None = None
    ) -> None:
        """Add an RFC 37 file to ``attributes.system.files``.

        ``data`` is a dict (stored as JSON), text content (when it contains a
        newline or ``encoding`` is given: ``utf-8`` or ``base64``), or
        otherwise the path of a local file to read.
        """
        if not isinstance(path, str) or not path:
            raise JobspecError("attributes.system.files", "file name must be a non-empty string")
        if not isinstance(data, (Mapping, str)):
            raise JobspecError(
                f"attributes.system.files.{path}", "data must be a mapping or string"
            )
        perms = 0o600 if perms is None else perms
        ref: dict[str, Any] = {"mode": perms | 0o100000}
        if isinstance(data, Mapping):
            ref["data"] = dict(data)
        else:
            if encoding is None and "\n" in data:
                encoding = "utf-8"
            if encoding is not None:
                if encoding not in ("utf-8", "base64"):
                    raise JobspecError(
                        f"attributes.system.files.{path}", f"invalid encoding {encoding!r}"
                    )
                ref.update(data=data, encoding=encoding)
            else:
                ref.update(_read_fileref(data, f"attributes.system.files.{path}"))
        try:
            files = self.getattr("system.files")
        except KeyError:
            files = {}
        if not isinstance(files, dict):
            raise JobspecError("attributes.system.files", "must be a mapping")
        files[path] = ref
        self.setattr("system.files", files)

    def dumps(self, **kwargs: Any) -> str:
        """JSON text of the jobspec."""
        return json.dumps(self.jobspec, ensure_ascii=False, **kwargs)

    # -- resources ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Mapping]:
        """Depth-first, pre-order walk over resource vertices."""

        def walk(lst: Any) -> Iterator[Mapping]:
            for res in lst:
                yield res
                yield from walk(res.get("with", []))

        return walk(self.resources)

    def resource_walk(self) -> Iterator[tuple[Mapping | None, Mapping, int]]:
        """Yield ``(parent, resource, count)`` where count includes the
        multipliers of all ancestors.  Ranges and sets count their minimum."""

        def first(res: Mapping) -> int:
            count = res["count"]
            if isinstance(count, int):
                return count
            try:
                return Count.from_json(count).first()
            except CountError:  # validated already; defensive
                return 0

        def walk(lst: Any, parent: Mapping | None, mult: int):
            for res in lst:
                n = mult * first(res)
                yield (parent, res, n)
                yield from walk(res.get("with", []), res, n)

        return walk(self.resources, None, 1)

    def resource_counts(self) -> dict[str, int]:
        """Total count of each resource type, e.g. ``{"slot": 4, "core": 8}``
        (``unit`` is ignored)."""
        counts: dict[str, int] = collections.defaultdict(int)
        for _, res, n in self.resource_walk():
            counts[res["type"]] += n
        return dict(counts)

    def copy(self) -> Jobspec:
        """A deep copy."""
        import copy  # lazily: the CLI's submit path never copies a jobspec

        new = copy.copy(self)
        new.jobspec = copy.deepcopy(self.jobspec)
        return new

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.resources}, {self.tasks}, "
            f"attributes={self.attributes}, version={self.version})"
        )

    def __str__(self) -> str:
        return str(self.jobspec)

    def _repr_html_(self) -> str:  # notebook display, rendered by fluxlab.jupyter.display
        return __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_html(self)

    def _repr_pretty_(self, p, cycle: bool) -> None:  # IPython text form (fluxlab.jupyter.display)
        __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_pretty(self, p, cycle)


def _read_fileref(path: str, where: str) -> dict[str, Any]:
    import base64
    import pathlib

    try:
        p = pathlib.Path(path)
        raw = p.read_bytes()
        mode = p.stat().st_mode
    except OSError as exc:
        raise JobspecError(where, f"cannot read {path}: {exc.strerror}") from None
    try:
        return {"size": len(raw), "mode": mode, "data": raw.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {
            "size": len(raw),
            "mode": mode,
            "data": base64.b64encode(raw).decode(),
            "encoding": "base64",
        }


def validate_jobspec(jobspec: Jobspec | str | bytes | Mapping, require_version: int | None = None):
    """Validate ``jobspec`` (a Jobspec, JSON/YAML text or a dict).

    Uses the V1 rules when ``require_version == 1`` or the document says
    ``version: 1``, else the canonical rules.  Returns ``(True, jobspec_obj)``
    like Flux; raises :class:`JobspecError` when invalid.
    """
    if isinstance(jobspec, Jobspec):
        obj = jobspec.jobspec
    elif isinstance(jobspec, (str, bytes)):
        obj = _load_yaml(jobspec)
    elif isinstance(jobspec, Mapping):
        obj = jobspec
    else:
        raise JobspecError(
            "", f"jobspec must be a Jobspec, string or mapping, not {type(jobspec).__name__}"
        )
    if require_version == 1 or (isinstance(obj, Mapping) and obj.get("version") == 1):
        from fluxlab.job.jobspec_v1 import JobspecV1

        return True, JobspecV1.from_dict(obj)
    if require_version not in (None, 1):
        raise JobspecError("version", f"unsupported required version {require_version!r}")
    return True, Jobspec.from_dict(obj)


def __getattr__(name: str):
    # JobspecV1 (the factories) lives in jobspec_v1.py to keep modules small;
    # it subclasses Jobspec, so it is loaded on first use to avoid a cycle.
    if name == "JobspecV1":
        from fluxlab.job.jobspec_v1 import JobspecV1

        return JobspecV1
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
