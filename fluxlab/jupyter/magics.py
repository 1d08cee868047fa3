"""IPython magics: ``%flux CMD ...`` and ``%%flux CMD`` (``%load_ext fluxlab``).

Every ``fluxlab`` command works as ``%flux CMD`` with the same options and
output — the magic splits the line like a shell and hands it to
:func:`fluxlab.cli.run_command`, so there is one parser per command and any
command added to the CLI is a magic too.  Session commands are handled here:

``%flux start [--test-size N] [--persist] [-S NAME=VALUE]``
    embed an instance in the kernel (or start a persistent one);
``%flux connect URI`` / ``%flux stop`` / ``%flux status``.

A command that needs an instance when none is in use first connects to
``$FLUXLAB_URI`` or starts the embedded default, and says so.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from IPython.core.magic import Magics, line_cell_magic, magics_class

from fluxlab.jupyter.session import get_session

__all__ = ["FluxMagics", "load_ipython_extension"]

#: commands that do not need a running instance
_NO_INSTANCE = {"keygen", "start", "--help", "-h", "--version", "resource-query"}


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
    elif name == "connect":
        p.add_argument("uri")
    return p


@magics_class
class FluxMagics(Magics):
    """The ``%flux`` / ``%%flux`` magic."""

    @line_cell_magic
    def flux(self, line: str, cell: str | None = None):
        try:
            argv = shlex.split(line)
        except ValueError as e:
            print(f"%flux: {e}", file=sys.stderr)
            return None
        if not argv:
            print("usage: %flux COMMAND [ARGS ...]   (try %flux --help)", file=sys.stderr)
            return None
        name = argv[0]
        if name in ("start", "connect", "stop", "status"):
            return self._session_command(name, argv[1:])
        from fluxlab.cli.main import Context, run_command

        session = get_session()
        handle = None
        if name not in _NO_INSTANCE:
            note = session.ensure()
            if note:
                print(f"fluxlab: {note}")
            handle = session.h
        ctx = Context(stdout=sys.stdout, stderr=sys.stderr, handle=handle, interactive=True)
        ctx.cell = cell
        ctx.user_ns = self.shell.user_ns if self.shell is not None else {}
        rc = run_command(argv, ctx, prog="%flux")
        result = getattr(ctx, "result", None)
        if rc not in (0, None) and result is None:
            return None
        return result

    def _session_command(self, name: str, args: list[str]):
        session = get_session()
        try:
            if name == "stop":
                print(f"fluxlab: {session.stop()}")
                return None
            if name == "status":
                st = session.status()
                if not st["active"]:
                    print("fluxlab: no instance in use (run `%flux start`)")
                else:
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
            uri = session.start(opts.test_size, persist=opts.persist, attrs=attrs)
            what = "persistent" if opts.persist else "embedded"
            print(f"fluxlab: started {what} instance of size {opts.test_size}; FLUXLAB_URI={uri}")
        except OSError as e:
            print(f"%flux {name}: {e.strerror or e}", file=sys.stderr)
        return None


def load_ipython_extension(ipython) -> None:
    """Register the ``%flux`` magics (``%load_ext fluxlab``)."""
    ipython.register_magics(FluxMagics)
