"""Command dispatch for ``fluxlab`` (and the ``%flux`` magics).

:func:`run_command` is the single entry point: it parses ``argv`` with the
command's own parser, runs it with a :class:`Context` that supplies the
output streams and a lazily connected handle, and turns errors into a one-line
message and a non-zero status — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any, TextIO

__all__ = ["COMMANDS", "CommandError", "Context", "build_parser", "main", "run_command"]

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("fluxlab.cli.cmd_start", "start an instance of N local broker processes"),
    "shutdown": ("fluxlab.cli.cmd_broker", "shut the instance down"),
    "getattr": ("fluxlab.cli.cmd_attr", "print the value of a broker attribute"),
    "setattr": ("fluxlab.cli.cmd_attr", "set a broker attribute"),
    "lsattr": ("fluxlab.cli.cmd_attr", "list broker attributes"),
    "dmesg": ("fluxlab.cli.cmd_broker", "print the broker log ring buffer"),
    "ping": ("fluxlab.cli.cmd_broker", "send ping requests to a broker service"),
    "uptime": ("fluxlab.cli.cmd_broker", "tell how long the instance has been running"),
    "overlay": ("fluxlab.cli.cmd_overlay", "show the broker tree and each rank's health"),
    "module": ("fluxlab.cli.cmd_module", "list, load or remove broker modules"),
    "event": ("fluxlab.cli.cmd_broker", "publish or subscribe to events"),
    "keygen": ("fluxlab.cli.cmd_broker", "create a CURVE certificate for tcp overlays"),
    "kvs": ("fluxlab.cli.cmd_kvs", "get, put and watch keys in the key-value store"),
    "run": ("fluxlab.cli.cmd_submit", "run a job, streaming its output; exit with its exit code"),
    "submit": ("fluxlab.cli.cmd_submit", "submit a job and print its id"),
    "bulksubmit": ("fluxlab.cli.cmd_submit", "submit one job per input (GNU parallel style)"),
    "jobs": ("fluxlab.cli.cmd_jobs", "list jobs"),
    "job": (
        "fluxlab.cli.cmd_job",
        "job info, eventlog, attach, wait, kill, urgency, last, status, id ...",
    ),
    "cancel": ("fluxlab.cli.cmd_cancel", "cancel jobs"),
    "queue": ("fluxlab.cli.cmd_queue", "enable, disable, start, stop the queue"),
    "resource": ("fluxlab.cli.cmd_resource", "list, show status, drain and undrain resources"),
    "resource-query": (
        "fluxlab.cli.cmd_resource_query",
        "match jobspecs against a resource graph offline",
    ),
}


#: commands whose arguments are passed through unparsed (``run_argv(argv, ctx)``)
_PASSTHROUGH = {"resource-query"}


class CommandError(Exception):
    """A user-facing error: printed as ``fluxlab-CMD: message``, exit status 1."""


def _columns() -> int:
    """Terminal width by ``shutil.get_terminal_size``'s rule (``$COLUMNS``, the
    tty, else 80) without importing shutil: 4 ms on every command."""
    try:
        cols = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        cols = 0
    if cols <= 0:
        try:
            cols = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            cols = 0
    return cols or 80


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, with its default width found without shutil
    (argparse builds one per ``add_argument``, so every command paid for it)."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting (usable in magics)."""

    def __init__(self, *args, out: TextIO | None = None, err: TextIO | None = None, **kw):
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kw)
        self._out, self._err = out, err

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            (self._err or sys.stderr).write(message)
        raise _Exit(status)

    def error(self, message: str):
        self.print_usage(self._err or sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")

    def print_help(self, file=None):
        super().print_help(file or self._out or sys.stdout)

    def print_usage(self, file=None):
        super().print_usage(file or self._err or sys.stderr)


class _Exit(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class Context:
    """What a command needs besides its arguments.

    Parameters
    ----------
    stdout, stderr : text streams
    handle : fluxlab.Flux, optional
        Use this handle instead of connecting to ``$FLUXLAB_URI``.
    uri : str, optional
        Connect here instead of ``$FLUXLAB_URI``.
    """

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        handle: Any = None,
        uri: str | None = None,
        interactive: bool = False,
    ):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._handle = handle
        self._own = False
        self.uri = uri
        self.interactive = interactive

    @property
    def h(self):
        """The handle, connected on first use."""
        if self._handle is None:
            from fluxlab.core.handle import Flux

            self._handle = Flux(self.uri)
            self._own = True
        return self._handle

    def print(self, *args: Any, **kw: Any) -> None:
        print(*args, file=self.stdout, **kw)

    def close(self) -> None:
        if self._own and self._handle is not None:
            self._handle.close()
            self._handle = None


def _make_parser(prog: str, out: TextIO | None, err: TextIO | None, only: str | None) -> _Parser:
    parser = _Parser(
        prog=prog, description="fluxlab: a Jupyter-native HPC workload manager", out=out, err=err
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="_cmd", metavar="COMMAND", parser_class=_Parser)
    loaded = set()
    for name, (modname, helptext) in COMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(modname)
        adder = getattr(mod, f"add_parser_{name.replace('-', '_')}", None) or mod.add_parser
        p = adder(sub, name, helptext)
        p._out, p._err = out, err
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sp in action.choices.values():
                    sp._out, sp._err = out, err
        loaded.add(name)
    return parser


def build_parser(
    prog: str = "fluxlab", stdout: TextIO | None = None, stderr: TextIO | None = None
) -> argparse.ArgumentParser:
    """The full parser with every command (loads every command module)."""
    return _make_parser(prog, stdout, stderr, None)


def _version() -> str:
    from fluxlab._version import __version__

    return f"fluxlab {__version__}"


def run_command(argv: list[str], ctx: Context | None = None, prog: str = "fluxlab") -> int:
    """Parse and run one command; returns its exit status.

    Usage errors print the usage and return 2; :class:`CommandError` and
    fluxlab errors print ``PROG-CMD: message`` and return 1.
    """
    ctx = ctx or Context()
    name = next((a for a in argv if not a.startswith("-")), None)
    only = name if name in COMMANDS else None
    if (
        name is not None
        and only is None
        and not any(a in ("-h", "--help", "--version") for a in argv)
    ):
        ctx.stderr.write(
            f"{prog}: unknown command {name!r}; known commands: {', '.join(sorted(COMMANDS))}\n"
        )
        return 2
    if only in _PASSTHROUGH and argv and argv[0] == only:
        # tools with a command language of their own get their arguments verbatim
        mod = importlib.import_module(COMMANDS[only][0])
        try:
            return int(mod.run_argv(argv[1:], ctx) or 0)
        finally:
            ctx.close()
    try:
        parser = _make_parser(prog, ctx.stdout, ctx.stderr, only)
        args = parser.parse_args(argv)
        if not getattr(args, "_cmd", None):
            parser.print_help(ctx.stdout)
            return 2
        return int(args.func(args, ctx) or 0)
    except _Exit as e:
        return e.status
    except KeyboardInterrupt:
        ctx.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 141
    except CommandError as e:
        ctx.stderr.write(f"{prog}-{name}: {e}\n")
        return 1
    except OSError as e:  # FluxError and friends
        ctx.stderr.write(f"{prog}-{name}: {e.strerror or e}\n")
        return 1
    except ValueError as e:
        ctx.stderr.write(f"{prog}-{name}: {e}\n")
        return 1
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        rc = run_command(argv)
    except BrokenPipeError:
        rc = 1
    _fast_exit(rc)
    return rc


def _fast_exit(rc: int) -> None:
    """Exit without tearing the interpreter down when that is safe.

    Module teardown after pyzmq is loaded costs 10-20 ms, a fifth of a
    ``fluxlab run true``.  With only the main thread left, everything a normal
    exit would still do is: flush the standard streams, run atexit handlers
    (``weakref.finalize`` and instance cleanup among them: a handle's goodbye
    is written to its socket there) and, only where pyzmq was loaded (an
    ``ipc://`` client normally speaks ZMTP without it), let zmq deliver what
    closed sockets still queue.  Do exactly that, then ``os._exit``.
    """
    import atexit
    import os
    import threading

    if threading.active_count() != 1:
        return  # non-daemon threads must be joined by the normal exit path
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # e.g. a closed pipe: let the normal exit report it
    atexit._run_exitfuncs()
    transport = sys.modules.get("fluxlab.transport.base")  # never import zmq here
    if transport is not None:
        transport.context_term()
    os._exit(rc)


if __name__ == "__main__":
    sys.exit(main())
