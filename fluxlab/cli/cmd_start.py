"""``fluxlab start``: an instance of N local broker processes."""

from __future__ import annotations

import argparse

from fluxlab.cli.main import CommandError


def _attr(s: str) -> tuple[str, str]:
    name, sep, value = s.partition("=")
    if not sep or not name:
        raise ValueError(f"-S/--setattr expects NAME=VALUE, not {s!r}")
    return name, value


def add_parser(sub, name, helptext):
    p = sub.add_parser(
        name,
        help=helptext,
        description=(
            "Start --test-size broker processes on this machine, run COMMAND with FLUXLAB_URI set, "
            "and exit with COMMAND's status. Without COMMAND, print the URI and stay up until "
            "`fluxlab shutdown`, Ctrl-C or SIGTERM."
        ),
    )
    p.add_argument(
        "-s", "--test-size", type=int, default=1, metavar="N", help="number of brokers (default 1)"
    )
    p.add_argument(
        "--fanout", type=int, default=2, metavar="K", help="tree fanout (tbon.fanout, default 2)"
    )
    p.add_argument(
        "--transport",
        choices=["ipc", "tcp"],
        default="ipc",
        help="overlay transport between brokers (default ipc)",
    )
    p.add_argument(
        "--cert",
        metavar="PATH",
        help="CURVE certificate for --transport=tcp (see `fluxlab keygen`)",
    )
    p.add_argument(
        "--statedir", metavar="DIR", help="keep instance state (KVS) here across restarts"
    )
    p.add_argument(
        "--rundir", metavar="DIR", help="directory for sockets (default: a temporary one)"
    )
    p.add_argument(
        "-S",
        "--setattr",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a broker attribute (repeatable)",
    )
    p.add_argument(
        "--cores-per-node",
        type=int,
        default=None,
        metavar="N",
        help="fake resources: N cores on every rank (default: this host's)",
    )
    p.add_argument(
        "--gpus-per-node",
        type=int,
        default=None,
        metavar="N",
        help="fake resources: N GPUs on every rank",
    )
    p.add_argument(
        "--hostnames",
        default=None,
        metavar="HOSTLIST",
        help="fake host names for the ranks, e.g. node[0-3]",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for start-up")
    p.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="initial program and its arguments",
    )
    p.set_defaults(func=run)
    return p


def run(args, ctx) -> int:
    from fluxlab.instance.local import run_start

    if args.test_size < 1:
        raise CommandError(f"--test-size must be at least 1, not {args.test_size}")
    if args.fanout < 0:
        raise CommandError(f"--fanout must be non-negative, not {args.fanout}")
    attrs = dict(_attr(s) for s in args.setattr)
    resource = {}
    for key, value in (
        ("cores-per-node", args.cores_per_node),
        ("gpus-per-node", args.gpus_per_node),
    ):
        if value is not None:
            if value < (1 if key == "cores-per-node" else 0):
                raise CommandError(
                    f"--{key} must be {'positive' if key == 'cores-per-node' else 'non-negative'}"
                )
            resource[key] = value
    if args.hostnames:
        resource["hostnames"] = args.hostnames
    return run_start(
        args.test_size,
        args.command,
        out=ctx.stdout,
        fanout=args.fanout,
        transport=args.transport,
        statedir=args.statedir,
        rundir=args.rundir,
        attrs=attrs,
        cert_path=args.cert,
        timeout=args.timeout,
        conf={"resource": resource} if resource else None,
    )
