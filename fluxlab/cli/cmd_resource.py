"""``fluxlab resource list|status|info|R|drain|undrain`` (output as ``flux resource``).

Text comes from the conformance-tested models in
:mod:`fluxlab.resource.listing`; this module only gathers the payloads
(``fluxlab.resource.client``) and sends drain requests.
"""

from __future__ import annotations

import errno

from fluxlab.cli.main import CommandError
from fluxlab.core.errors import FluxError

#: ``flux resource drain`` (no targets) formats.
DRAIN_FORMATS = {
    "default": "{timestamp!d:%b%d %R::<12} {state:<8.8} {reason:<30.30+} {nodelist}",
    "long": ("{timestamp!d:%b%d %R::<12} {state:<8.8} {ranks:<8.8+} +:{reason:<30.30} {nodelist}"),
}
_NOT_LOADED = "the resource module is not loaded (fluxlab module load -r all resource)"


def _listing_options(p, states_default: str | None, fmt: bool = True) -> None:
    if fmt:
        p.add_argument("-o", "--format", default="default", help="format name or string")
        p.add_argument("-n", "--no-header", action="store_true", help="suppress the header")
    p.add_argument(
        "-s",
        "--states",
        metavar="STATE,...",
        default=states_default,
        help=f"show only resources in these states (default: {states_default or 'all'})",
    )
    p.add_argument(
        "-i", "--include", metavar="TARGETS", help="only these ranks (idset) or hosts (hostlist)"
    )


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="resource_cmd", metavar="list|status|info|R|drain|undrain")
    s.required = True
    ls = s.add_parser("list", help="list resources by scheduler state")
    _listing_options(ls, "free,allocated,down")
    ls.add_argument("--skip-empty", action="store_true", help="skip states with no resources")
    ls.set_defaults(func=run_list)
    st = s.add_parser("status", help="show the status of every rank")
    _listing_options(st, None)
    st.add_argument("--skip-empty", action="store_true", help="skip empty lines")
    st.add_argument(
        "-L",
        "--color",
        nargs="?",
        const="always",
        default="auto",
        choices=["never", "always", "auto"],
        metavar="WHEN",
        help="use color: never, always or auto (default)",
    )
    st.set_defaults(func=run_status)
    info = s.add_parser("info", help="one-line summary of resources")
    _listing_options(info, None, fmt=False)
    info.set_defaults(func=run_info)
    r = s.add_parser("R", help="print R for the resources in the given states")
    _listing_options(r, None, fmt=False)
    r.set_defaults(func=run_R)
    dr = s.add_parser("drain", help="drain ranks, or list drained ranks")
    dr.add_argument(
        "-f",
        "--force",
        action="count",
        default=0,
        help="overwrite an existing drain reason (twice: also its timestamp)",
    )
    dr.add_argument(
        "-u", "--update", action="store_true", help="leave already drained targets alone"
    )
    dr.add_argument("-o", "--format", default="default", help="listing format (no TARGETS)")
    dr.add_argument("-n", "--no-header", action="store_true", help="suppress the header")
    dr.add_argument("targets", nargs="?", help="ranks (idset) or hosts (hostlist)")
    dr.add_argument("reason", nargs="*", help="why the targets are drained")
    dr.set_defaults(func=run_drain)
    ud = s.add_parser("undrain", help="return drained ranks to service")
    ud.add_argument("-f", "--force", action="store_true", help="ignore targets not drained")
    ud.add_argument("targets", help="ranks (idset) or hosts (hostlist)")
    ud.add_argument("reason", nargs="*", help="why (logged)")
    ud.set_defaults(func=run_undrain)
    return p


def _get(fut):
    try:
        return fut.get()
    except FluxError as exc:
        if exc.errno == errno.ENOSYS:
            raise CommandError(_NOT_LOADED) from None
        raise


def _list_payload(ctx) -> dict:
    from fluxlab.resource.client import resource_list

    fut = resource_list(ctx.h)
    try:
        return fut.get_payload()
    except FluxError as exc:
        if exc.errno == errno.ENOSYS:
            raise CommandError(_NOT_LOADED) from None
        raise


def _status_payload(ctx) -> tuple[dict, object]:
    from fluxlab.resource.client import resource_status

    fut = resource_status(ctx.h)
    payload = _get(fut.status_future)
    return payload, fut.allocated_ranks()


def run_list(args, ctx) -> int:
    from fluxlab.resource.listing import resource_list_text

    text = resource_list_text(
        _list_payload(ctx),
        fmt=args.format,
        states=args.states,
        skip_empty=args.skip_empty,
        no_header=args.no_header,
        include=args.include,
    )
    ctx.stdout.write(text)
    return 0


def _color(args, ctx) -> bool:
    if args.color == "auto":
        isatty = getattr(ctx.stdout, "isatty", None)
        return bool(isatty and isatty())
    return args.color == "always"


def run_status(args, ctx) -> int:
    from fluxlab.resource.listing import resource_status_text

    payload, allocated = _status_payload(ctx)
    text = resource_status_text(
        payload,
        fmt=args.format,
        states=args.states,
        skip_empty=args.skip_empty,
        no_header=args.no_header,
        color=_color(args, ctx),
        include=args.include,
        allocated_ranks=allocated,
    )
    ctx.stdout.write(text)
    return 0


def run_info(args, ctx) -> int:
    from fluxlab.resource.listing import resource_info_text

    ctx.stdout.write(
        resource_info_text(_list_payload(ctx), states=args.states, include=args.include)
    )
    return 0


def run_R(args, ctx) -> int:
    from fluxlab.resource.listing import resource_R_text

    ctx.stdout.write(
        resource_R_text(_list_payload(ctx), states=args.states or "all", include=args.include)
    )
    return 0


def run_drain(args, ctx) -> int:
    if args.targets is None:
        from fluxlab.resource.listing import resource_status_text

        payload, allocated = _status_payload(ctx)
        ctx.stdout.write(
            resource_status_text(
                payload,
                fmt=DRAIN_FORMATS.get(args.format, args.format),
                states="drain",
                skip_empty=True,
                no_header=args.no_header,
                allocated_ranks=allocated,
            )
        )
        return 0
    if args.update and args.force:
        raise CommandError("only one of --force and --update may be given")
    payload: dict = {"targets": args.targets}
    if args.update:
        payload["mode"] = "update"
    elif args.force:
        payload["mode"] = "overwrite" if args.force == 1 else "force-overwrite"
    if args.reason:
        payload["reason"] = " ".join(args.reason)
    try:
        _get(ctx.h.rpc("resource.drain", payload, nodeid=0))
    except FluxError as exc:
        if exc.errno == errno.EEXIST:
            raise CommandError(
                f"{exc.strerror} (use --force to overwrite the existing reason)"
            ) from None
        raise
    return 0


def run_undrain(args, ctx) -> int:
    payload: dict = {"targets": args.targets}
    if args.force:
        payload["mode"] = "force"
    if args.reason:
        payload["reason"] = " ".join(args.reason)
    _get(ctx.h.rpc("resource.undrain", payload, nodeid=0))
    return 0
