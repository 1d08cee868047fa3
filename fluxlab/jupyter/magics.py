"""IPython magics: ``%flux CMD ...`` and ``%%flux CMD`` (``%load_ext fluxlab``).

Every ``fluxlab`` command works as ``%flux CMD`` with the same options and
output — the magic splits the line like a shell and hands it to
:func:`fluxlab.cli.run_command`, so there is one parser per command and any
command added to the CLI is a magic too.  Usage errors print the CLI's usage
message (never a traceback).  Session commands are handled here:

``%flux start [--test-size N] [--persist] [-S NAME=VALUE] [--cores-per-node N] ...``
    embed an instance in the kernel (or start a persistent one); fake
    resources with ``--cores-per-node``, ``--gpus-per-node``, ``--hostnames``;
``%flux connect URI`` / ``%flux stop`` / ``%flux status``.

Options of the magic itself come *before* the command (after it they belong
to the command: ``-o`` there is ``--setopt``, as in Flux):

``%flux -o NAME CMD ...``
    store the command's result (a ``JobID`` for ``run``/``submit``, a list of
    ids for bulk submissions) in the variable ``NAME`` instead of showing it.

Cell mode: ``%%flux run [OPTIONS]`` and ``%%flux submit [OPTIONS]`` take the
cell body as a script run by ``/bin/sh`` (or by the interpreter of a ``#!``
line); for every other command the body is the command's standard input
(``%%flux bulksubmit echo {}`` submits one job per line).

A command that needs an instance when none is in use first connects to
``$FLUXLAB_URI`` or starts the embedded default, and says so.  While a
command blocks on jobs (``run``, ``--wait``, ``--watch``, ``job attach``),
live widgets keep updating and a progress bar appears for multi-job waits
longer than a second; interrupting the cell cancels the jobs (first
interrupt) or detaches (second).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import sys
import time

from IPython.core.magic import Magics, line_cell_magic, magics_class

from fluxlab.core.errors import FluxError
from fluxlab.jupyter.session import get_session

__all__ = ["FluxMagics", "JobIDList", "load_ipython_extension"]

#: commands that do not need a running instance
_NO_INSTANCE = {"keygen", "start", "--help", "-h", "--version", "resource-query"}
#: commands whose cell body is the job script
_SCRIPT_COMMANDS = {"run", "submit", "batch", "alloc"}
#: interpreters that take a script with -c / -e
_INLINE_FLAG = {"perl": "-e", "ruby": "-e", "node": "-e", "Rscript": "-e"}
#: seconds a command must block before a multi-job progress bar appears
_PROGRESS_AFTER = 1.0


class JobIDList(list):
    """The ids of a bulk submission: a list, shown compactly in notebooks."""

    def _text(self) -> str:
        ids = [getattr(j, "f58", str(j)) for j in self]
        shown = ", ".join(ids[:4]) + (f", ... {ids[-1]}" if len(ids) > 5 else "")
        if len(ids) == 5:
            shown = ", ".join(ids)
        return f"[{shown}] ({len(ids)} job ids)"

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(self._text())

    def _repr_html_(self) -> str:
        import html

        return f"<code>{html.escape(self._text())}</code>"


def _session_parser(name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"%flux {name}", add_help=True, exit_on_error=False)
    if name == "start":
        p.add_argument("-s", "--test-size", type=int, default=1, metavar="N")
        p.add_argument(
            "--persist",
            action="store_true",
            help="start broker processes that survive a kernel restart",
        )
        p.add_argument("-S", "--setattr", action="append", default=[], metavar="NAME=VALUE")
        g = p.add_argument_group("fake resources (embedded instances)")
        g.add_argument("--cores-per-node", type=int, metavar="N", help="N cores on every rank")
        g.add_argument("--gpus-per-node", type=int, metavar="N", help="N GPUs on every rank")
        g.add_argument("--hostnames", metavar="HOSTLIST", help="one host name per rank")
    elif name == "connect":
        p.add_argument("uri")
    return p


def _magic_options(argv: list[str]) -> tuple[dict, list[str]]:
    """Split ``-o NAME`` / ``--out NAME`` off the front of ``argv``.

    Raises
    ------
    ValueError
        For ``-o`` without a valid Python identifier.
    """
    opts: dict = {"out": None}
    while argv and argv[0] in ("-o", "--out") or (argv and argv[0].startswith("--out=")):
        if argv[0].startswith("--out="):
            name, argv = argv[0][len("--out=") :], argv[1:]
        elif len(argv) < 2:
            raise ValueError(f"{argv[0]} needs a variable name")
        else:
            name, argv = argv[1], argv[2:]
        if not name.isidentifier():
            raise ValueError(f"-o: {name!r} is not a valid Python variable name")
        opts["out"] = name
    return opts, argv


def script_command(cell: str) -> list[str]:
    """The job command that runs a cell body as a script.

    ``#!`` picks the interpreter (``#!/usr/bin/env python3``, ``#!/bin/bash -e``);
    without one the body runs under ``/bin/sh``.

    Raises
    ------
    ValueError
        For an empty body or an interpreter that cannot take an inline script.
    """
    body = cell.strip("\n")
    if not body.strip():
        raise ValueError("the cell body is empty: write the job's script below the magic")
    if not body.startswith("#!"):
        return ["/bin/sh", "-c", body]
    first, _, rest = body.partition("\n")
    interp = shlex.split(first[2:].strip())
    if not interp:
        raise ValueError("the #! line names no interpreter")
    prog = os.path.basename(interp[-1] if os.path.basename(interp[0]) == "env" else interp[0])
    if prog in _INLINE_FLAG:
        flag = _INLINE_FLAG[prog]
    elif prog.startswith(("python", "pypy")) or prog in ("sh", "bash", "zsh", "ksh", "dash"):
        flag = "-c"
    else:
        raise ValueError(
            f"#!{first[2:].strip()}: cannot pass a script inline to {prog!r} "
            "(use a shell, Python, perl, ruby, node or Rscript)"
        )
    return [*interp, flag, rest]


def _line_has_command(name: str, argv: list[str]) -> bool:
    """True if ``argv`` (for command ``name``) already names a job command."""
    from fluxlab.cli.main import build_parser

    sink = io.StringIO()
    parser = build_parser(prog="%flux", stdout=sink, stderr=sink)
    try:
        args, _ = parser.parse_known_args(argv)
    except Exception:  # noqa: BLE001 - the real parse reports the error
        return False
    return bool(getattr(args, "command", None))


def _in_kernel(shell) -> bool:
    return getattr(shell, "kernel", None) is not None


class _BlockingTicker:
    """While a command blocks the kernel's loop, keep widgets alive.

    A repeating timer on the command's handle: the command's reactor runs it
    in the cell's own thread.  Each tick pumps the live widgets' handle and,
    once the command has blocked for a while on several jobs, shows a
    progress bar for them.
    """

    def __init__(self, shell, session, ctx, interval: float = 0.25):
        self.shell, self.session, self.ctx = shell, session, ctx
        self.t0 = time.monotonic()
        self.progress = None
        self.timer = None
        self.interval = interval

    def __enter__(self):
        if _in_kernel(self.shell) and self.session.active:
            h = self.session.h
            self.timer = h.timer_watcher_create(self.interval, self._tick, repeat=self.interval)
            self.timer.start()
        return self

    def __exit__(self, *exc):
        if self.timer is not None:
            self.timer.stop()
        return False

    def _tick(self, h, w, revents, args) -> None:
        from fluxlab.jupyter.live import _LIVE

        ids = getattr(self.ctx, "result", None)
        if (
            self.progress is None
            and isinstance(ids, list)
            and len(ids) > 1
            and time.monotonic() - self.t0 > _PROGRESS_AFTER
        ):
            self.progress = _show_progress(ids)
        live = _LIVE.get(self.session.uri)
        if live is not None:
            live.pump(0.0)


def _show_progress(ids):
    from IPython.display import display

    from fluxlab.jupyter.board import JobProgress

    try:
        bar = JobProgress(ids)
    except (FluxError, OSError):
        return None
    display(bar)
    return bar


@magics_class
class FluxMagics(Magics):
    """The ``%flux`` / ``%%flux`` magic."""

    #: exit status of the last command (0 ok, 1 error, 2 usage, 130 interrupted)
    last_rc: int | None = None

    @line_cell_magic
    def flux(self, line: str, cell: str | None = None):
        try:
            argv = shlex.split(line)
        except ValueError as e:
            print(f"%flux: {e}", file=sys.stderr)
            return None
        try:
            opts, argv = _magic_options(argv)
        except ValueError as e:
            print(f"%flux: error: {e}", file=sys.stderr)
            return None
        if not argv:
            from fluxlab.cli.main import run_command

            run_command([], prog="%flux")
            return None
        name = argv[0]
        if name in ("start", "connect", "stop", "status"):
            return self._session_command(name, argv[1:])
        stdin_text = None
        if cell is not None:
            if name in _SCRIPT_COMMANDS:
                if _line_has_command(name, argv):
                    print(
                        f"%%flux {name}: error: give the job either on the magic line "
                        "or as the cell body, not both",
                        file=sys.stderr,
                    )
                    return None
                try:
                    argv = [*argv, *script_command(cell)]
                except ValueError as e:
                    print(f"%%flux {name}: error: {e}", file=sys.stderr)
                    return None
            else:
                stdin_text = cell
        return self._run(name, argv, stdin_text, opts)

    def _run(self, name: str, argv: list[str], stdin_text: str | None, opts: dict):
        from fluxlab.cli.main import COMMANDS, Context, run_command

        session = get_session()
        handle = None
        if name in COMMANDS and name not in _NO_INSTANCE:
            try:
                note = session.ensure()
                handle = session.h
            except (FluxError, OSError) as e:
                print(f"%flux {name}: {e.strerror or e}", file=sys.stderr)
                self.last_rc = 1
                return None
            if note:
                print(f"fluxlab: {note}")
        ctx = Context(stdout=sys.stdout, stderr=sys.stderr, handle=handle, interactive=True)
        ctx.result = None
        stdin = io.StringIO(stdin_text) if stdin_text is not None else None
        with _BlockingTicker(self.shell, session, ctx) as ticker:
            with contextlib.ExitStack() as stack:
                if stdin is not None:
                    stack.enter_context(_swap_stdin(stdin))
                rc = run_command(argv, ctx, prog="%flux")
        self.last_rc = rc
        result = ctx.result
        if isinstance(result, list):
            result = JobIDList(result)
            if ticker.progress is None and len(result) > 1 and _in_kernel(self.shell):
                _show_progress(result)
        if opts["out"] and self.shell is not None:
            self.shell.user_ns[opts["out"]] = result
            return None
        return result

    def _session_command(self, name: str, args: list[str]):
        session = get_session()
        try:
            if name == "stop":
                print(f"fluxlab: {session.stop()}")
                return None
            if name == "status":
                if not session.active:
                    hint = (
                        f" (the one at {session.stopped_uri} was stopped)"
                        if session.stopped_uri
                        else ""
                    )
                    print(f"fluxlab: no instance in use{hint}; run `%flux start`")
                    return None
                if not session.alive():
                    print(
                        f"fluxlab: the {session.kind} instance at {session.uri} is not running; "
                        "run `%flux stop`, then `%flux start`"
                    )
                    return None
                st = session.status()
                print(
                    f"fluxlab: {st['kind']} instance, size {st['size']}, state {st['state']}, "
                    f"uri {st['uri']}"
                )
                return None
            p = _session_parser(name)
            try:
                opts = p.parse_args(args)
            except SystemExit:
                return None
            except argparse.ArgumentError as e:
                p.print_usage(sys.stderr)
                print(f"{p.prog}: error: {e}", file=sys.stderr)
                return None
            if name == "connect":
                print(f"fluxlab: connected to {session.connect(opts.uri)}")
                return None
            if opts.test_size < 1:
                print(
                    f"%flux start: error: --test-size must be at least 1, not {opts.test_size}",
                    file=sys.stderr,
                )
                return None
            attrs = {}
            for s in opts.setattr:
                k, sep, v = s.partition("=")
                if not sep:
                    print(f"%flux start: error: -S expects NAME=VALUE, not {s!r}", file=sys.stderr)
                    return None
                attrs[k] = v
            resource = {
                key: value
                for key, value in (
                    ("cores-per-node", opts.cores_per_node),
                    ("gpus-per-node", opts.gpus_per_node),
                    ("hostnames", opts.hostnames),
                )
                if value is not None
            }
            if resource and opts.persist:
                print(
                    "%flux start: error: --cores-per-node, --gpus-per-node and --hostnames "
                    "need an embedded instance (not --persist)",
                    file=sys.stderr,
                )
                return None
            kwargs = {"conf": {"resource": resource}} if resource else {}
            t0 = time.monotonic()
            uri = session.start(opts.test_size, persist=opts.persist, attrs=attrs, **kwargs)
            what = "persistent" if opts.persist else "embedded"
            print(
                f"fluxlab: started {what} instance of size {opts.test_size} "
                f"in {time.monotonic() - t0:.2f}s; FLUXLAB_URI={uri}"
            )
        except OSError as e:
            print(f"%flux {name}: {e.strerror or e}", file=sys.stderr)
        return None


@contextlib.contextmanager
def _swap_stdin(stream):
    old = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = old


def load_ipython_extension(ipython) -> None:
    """Register the ``%flux`` magics (``%load_ext fluxlab``)."""
    ipython.register_magics(FluxMagics)
