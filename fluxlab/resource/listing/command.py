"""Argument handling shared by ``fluxlab resource list/info/R/status``.

:func:`resource_command` takes the words after ``flux resource`` and the
payload text (what ``--from-stdin`` reads) and returns the output text.  The
only I/O is reading ``--config-file`` through the ``read_file`` callable.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from collections.abc import Callable, Sequence

from fluxlab.resource.listing.resource_list import (
    ListingError,
    resource_info_text,
    resource_list_text,
    resource_R_text,
)
from fluxlab.resource.listing.resource_status import resource_status_text

__all__ = ["resource_command"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # never exit the interpreter
        raise ListingError(message)


def _parser(sub: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"flux resource {sub}", add_help=False)
    p.add_argument("-s", "--states")
    p.add_argument("-i", "--include")
    p.add_argument("-q", "--queue", action="append", default=[])
    p.add_argument("--from-stdin", action="store_true")
    p.add_argument("--config-file")
    if sub in ("list", "status", "info"):
        p.add_argument("--skip-empty", action="store_true")
    if sub in ("list", "status"):
        p.add_argument("-o", "--format", default="default")
        p.add_argument("-n", "--no-header", action="store_true")
    if sub == "list" or sub == "info":
        p.add_argument("--no-skip-empty", action="store_true")
    if sub == "status":
        p.add_argument("-L", "--color", nargs="?", const="always", default="never")
    return p


def resource_command(
    argv: Sequence[str],
    stdin_text: str,
    read_file: Callable[[str], str] | None = None,
) -> str:
    """Run ``flux resource SUBCOMMAND ARGS`` on a payload; return its output.

    Raises
    ------
    ListingError
        For unknown subcommands, bad arguments, or bad payloads.
    """
    if not argv or argv[0] not in ("list", "info", "R", "status"):
        raise ListingError("subcommand must be one of list, info, R, status")
    sub, rest = argv[0], list(argv[1:])
    args = _parser(sub).parse_args(rest)
    read = read_file or (lambda path: pathlib.Path(path).read_text())
    config = None
    if args.config_file:
        try:
            config = json.loads(read(args.config_file))
        except (OSError, ValueError) as exc:
            raise ListingError(f"--config-file: {exc}") from None
    try:
        payload = json.loads(stdin_text) if stdin_text.strip() else None
    except ValueError as exc:
        raise ListingError(f"input: invalid JSON: {exc}") from None
    queues = [q for arg in args.queue for q in arg.split(",") if q]
    if sub == "list":
        return resource_list_text(
            payload,
            fmt=args.format,
            states=args.states or "free,allocated,down",
            skip_empty=args.skip_empty,
            no_header=args.no_header,
            config=config,
            queues=queues,
            include=args.include,
        )
    if sub == "info":
        return resource_info_text(
            payload, states=args.states, config=config, queues=queues, include=args.include
        )
    if sub == "R":
        return resource_R_text(
            payload, states=args.states or "all", config=config, queues=queues, include=args.include
        )
    return resource_status_text(
        payload,
        fmt=args.format,
        states=args.states,
        skip_empty=args.skip_empty,
        no_header=args.no_header,
        color=args.color == "always",
        config=config,
        queues=queues,
        include=args.include,
    )
