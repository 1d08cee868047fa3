"""The ``fluxlab`` command set, shared by the CLI and the ``%flux`` magics.

Each command lives in its own module with ``add_parser(subparsers)`` and
``run(args, ctx) -> int``; :mod:`fluxlab.cli.main` loads only the module of
the command being run, which keeps ``fluxlab run true`` fast.
"""

from fluxlab.cli.main import COMMANDS, Context, build_parser, main, run_command

__all__ = ["COMMANDS", "Context", "build_parser", "main", "run_command"]
