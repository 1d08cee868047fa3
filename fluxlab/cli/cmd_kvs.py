"""``fluxlab kvs get|put|ls|dir|unlink|link|readlink|mkdir|watch|version|wait|namespace``."""

from __future__ import annotations

import errno
import json

from fluxlab.cli.main import CommandError
from fluxlab.core.errors import FluxError


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="kvs_cmd", metavar="SUBCOMMAND", required=True)

    def ns(x):
        x.add_argument("-N", "--namespace", default=None, help="KVS namespace (default primary)")

    g = s.add_parser("get", help="print the values of keys")
    ns(g)
    g.add_argument("-w", "--watch", action="store_true", help="print each new value")
    g.add_argument("-W", "--waitcreate", action="store_true", help="wait for the key to exist")
    g.add_argument("-u", "--uniq", action="store_true", help="with --watch: only changed values")
    g.add_argument("-A", "--append", action="store_true", help="with --watch: only appended data")
    g.add_argument("-c", "--count", type=int, default=0, help="with --watch: stop after N values")
    g.add_argument(
        "-a", "--at", type=int, default=None, metavar="VERSION", help="read at a version"
    )
    g.add_argument("-t", "--treeobj", action="store_true", help="print the tree object")
    g.add_argument("keys", nargs="+", metavar="KEY")
    g.set_defaults(func=run_get)

    w = s.add_parser("watch", help="print a key's value now and after every change")
    ns(w)
    w.add_argument("-W", "--waitcreate", action="store_true")
    w.add_argument("-A", "--append", action="store_true")
    w.add_argument("-u", "--uniq", action="store_true")
    w.add_argument("-c", "--count", type=int, default=0)
    w.add_argument("key")
    w.set_defaults(func=run_watch)

    pt = s.add_parser("put", help="store values (KEY=VALUE ...)")
    ns(pt)
    pt.add_argument("-A", "--append", action="store_true", help="append to the existing value")
    pt.add_argument(
        "-j", "--json", action="store_true", help="values must be JSON (stored as such)"
    )
    pt.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    pt.set_defaults(func=run_put)

    for cmd, helptext2 in (
        ("ls", "list a directory"),
        ("dir", "print keys and values below a directory"),
    ):
        x = s.add_parser(cmd, help=helptext2)
        ns(x)
        x.add_argument("-R", "--recursive", action="store_true")
        x.add_argument("-d", "--directory", action="store_true", help="list the directory itself")
        x.add_argument("-F", "--classify", action="store_true", help="append . to directories")
        x.add_argument("-1", "--one", action="store_true", help="one name per line")
        x.add_argument("keys", nargs="*", default=["."], metavar="KEY")
        x.set_defaults(func=run_ls if cmd == "ls" else run_dir)

    u = s.add_parser("unlink", help="remove keys")
    ns(u)
    u.add_argument("-R", "--recursive", action="store_true", help="remove directories too")
    u.add_argument("-f", "--force", action="store_true", help="no error for missing keys")
    u.add_argument("keys", nargs="+", metavar="KEY")
    u.set_defaults(func=run_unlink)

    ln = s.add_parser("link", help="make LINKNAME a symlink to TARGET")
    ns(ln)
    ln.add_argument("-T", "--target-namespace", default=None)
    ln.add_argument("target")
    ln.add_argument("linkname")
    ln.set_defaults(func=run_link)

    rl = s.add_parser("readlink", help="print symlink targets")
    ns(rl)
    rl.add_argument("keys", nargs="+", metavar="KEY")
    rl.set_defaults(func=run_readlink)

    mk = s.add_parser("mkdir", help="create empty directories")
    ns(mk)
    mk.add_argument("keys", nargs="+", metavar="KEY")
    mk.set_defaults(func=run_mkdir)

    v = s.add_parser("version", help="print the namespace's version")
    ns(v)
    v.set_defaults(func=run_version)

    wt = s.add_parser("wait", help="wait until the namespace reaches VERSION")
    ns(wt)
    wt.add_argument("version", type=int)
    wt.set_defaults(func=run_wait)

    n = s.add_parser("namespace", help="create, remove or list namespaces")
    nsub = n.add_subparsers(dest="ns_cmd", metavar="create|remove|list", required=True)
    c = nsub.add_parser("create")
    c.add_argument("names", nargs="+")
    c.set_defaults(func=run_ns_create)
    r = nsub.add_parser("remove")
    r.add_argument("names", nargs="+")
    r.set_defaults(func=run_ns_remove)
    lst = nsub.add_parser("list")
    lst.set_defaults(func=run_ns_list)
    return p


def _nsd(args) -> dict:
    return {"namespace": args.namespace} if args.namespace else {}


def _text(resp: dict) -> str:
    from fluxlab.kvs.client import raw_bytes

    return raw_bytes(resp).decode(errors="replace")


def run_get(args, ctx) -> int:
    if args.watch:
        if len(args.keys) != 1:
            raise CommandError("--watch takes exactly one key")
        return _watch(ctx, args.keys[0], args)
    for key in args.keys:
        req = {"key": key, **_nsd(args)}
        if args.at is not None:
            req["version"] = args.at
        if args.waitcreate:
            _watch(ctx, key, args, count=1)
            continue
        if args.treeobj:
            req["treeobj"] = True
            ctx.print(json.dumps(ctx.h.rpc("kvs.lookup", req).get()["treeobj"]))
            continue
        try:
            resp = ctx.h.rpc("kvs.lookup", req).get()
        except FluxError as e:
            if e.errno == errno.EISDIR:
                raise CommandError(f"{key}: is a directory (use `kvs dir` or `kvs ls`)") from None
            if e.errno == errno.ENOENT:
                raise CommandError(f"{key}: no such key") from None
            raise
        ctx.print(_text(resp))
    return 0


def _watch(ctx, key: str, args, count: int | None = None) -> int:
    from fluxlab._proto import FLAG_STREAMING

    req = {
        "key": key,
        "waitcreate": args.waitcreate,
        "append": getattr(args, "append", False),
        "uniq": getattr(args, "uniq", False),
        **_nsd(args),
    }
    limit = count if count is not None else args.count
    fut = ctx.h.rpc("kvs.watch", req, flags=FLAG_STREAMING)
    n = 0
    try:
        for resp in fut.stream():
            text = _text(resp)
            ctx.print(text, end="" if req["append"] and text.endswith("\n") else "\n", flush=True)
            n += 1
            if limit and n >= limit:
                fut.cancel()
                break
    except KeyboardInterrupt:
        fut.cancel()
    except FluxError as e:
        if e.errno == errno.ENOENT:
            raise CommandError(f"{key}: no such key (use -W to wait for it)") from None
        raise
    return 0


def run_watch(args, ctx) -> int:
    return _watch(ctx, args.key, args)


def run_put(args, ctx) -> int:
    from fluxlab.kvs.client import encode_value

    ops = []
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"expected KEY=VALUE, not {pair!r}")
        if args.json:
            try:
                json.loads(value)
            except ValueError as e:
                raise CommandError(f"{key}: value is not valid JSON: {e}") from None
        ops.append(
            {"op": "append" if args.append else "put", "key": key, **encode_value(value, raw=True)}
        )
    ctx.h.rpc("kvs.commit", {"ops": ops, **_nsd(args)}).get()
    return 0


def _entries(ctx, key: str, args) -> dict:
    try:
        return ctx.h.rpc("kvs.lookup", {"key": key, "dir": True, **_nsd(args)}).get()["entries"]
    except FluxError as e:
        if e.errno == errno.ENOTDIR:
            return {}
        if e.errno == errno.ENOENT:
            raise CommandError(f"{key}: no such key") from None
        raise


def _is_dir(t: str) -> bool:
    return t in ("dir", "dirref")


def run_ls(args, ctx) -> int:
    from fluxlab.kvs.client import join

    def show(key: str, header: bool) -> None:
        entries = _entries(ctx, key, args)
        if header:
            ctx.print(f"{key}:")
        names = [
            n + ("." if args.classify and _is_dir(t) else "") for n, t in sorted(entries.items())
        ]
        if args.one or not ctx.interactive:
            for n in names:
                ctx.print(n)
        else:
            ctx.print("  ".join(names))
        if args.recursive:
            for n, t in sorted(entries.items()):
                if _is_dir(t):
                    ctx.print()
                    show(join(key, n) if key != "." else n, True)

    for i, key in enumerate(args.keys):
        if args.directory:
            ctx.print(key)
            continue
        show(key, len(args.keys) > 1 or (args.recursive and i > 0))
    return 0


def run_dir(args, ctx) -> int:
    from fluxlab.kvs.client import join

    def show(key: str) -> None:
        entries = _entries(ctx, key, args)
        for n, t in sorted(entries.items()):
            full = join(key, n) if key != "." else n
            if _is_dir(t):
                if args.recursive:
                    show(full)
                else:
                    ctx.print(f"{full}.")
            elif t == "symlink":
                target = ctx.h.rpc(
                    "kvs.lookup", {"key": full, "readlink": True, **_nsd(args)}
                ).get()
                ctx.print(f"{full} -> {target['target']}")
            else:
                resp = ctx.h.rpc("kvs.lookup", {"key": full, **_nsd(args)}).get()
                ctx.print(f"{full} = {_text(resp)}")

    for key in args.keys:
        show(key)
    return 0


def run_unlink(args, ctx) -> int:
    ops = []
    for key in args.keys:
        try:
            t = ctx.h.rpc("kvs.lookup", {"key": key, "treeobj": True, **_nsd(args)}).get()[
                "treeobj"
            ]
        except FluxError as e:
            if e.errno == errno.ENOENT and args.force:
                continue
            if e.errno == errno.ENOENT:
                raise CommandError(f"{key}: no such key") from None
            raise
        if _is_dir(t.get("type", "")) and not args.recursive:
            raise CommandError(f"{key}: is a directory (use -R)")
        ops.append({"op": "unlink", "key": key})
    if ops:
        ctx.h.rpc("kvs.commit", {"ops": ops, **_nsd(args)}).get()
    return 0


def run_link(args, ctx) -> int:
    op = {"op": "symlink", "key": args.linkname, "target": args.target}
    if args.target_namespace:
        op["target_namespace"] = args.target_namespace
    ctx.h.rpc("kvs.commit", {"ops": [op], **_nsd(args)}).get()
    return 0


def run_readlink(args, ctx) -> int:
    for key in args.keys:
        try:
            r = ctx.h.rpc("kvs.lookup", {"key": key, "readlink": True, **_nsd(args)}).get()
        except FluxError as e:
            if e.errno == errno.EINVAL:
                raise CommandError(f"{key}: not a symlink") from None
            raise
        ns = r.get("namespace")
        ctx.print(f"{ns}::{r['target']}" if ns else r["target"])
    return 0


def run_mkdir(args, ctx) -> int:
    ctx.h.rpc(
        "kvs.commit", {"ops": [{"op": "mkdir", "key": k} for k in args.keys], **_nsd(args)}
    ).get()
    return 0


def run_version(args, ctx) -> int:
    ctx.print(ctx.h.rpc("kvs.getroot", _nsd(args)).get()["version"])
    return 0


def run_wait(args, ctx) -> int:
    ctx.h.rpc("kvs.wait-version", {"version": args.version, **_nsd(args)}).get()
    return 0


def run_ns_create(args, ctx) -> int:
    for n in args.names:
        ctx.h.rpc("kvs.namespace-create", {"namespace": n}).get()
    return 0


def run_ns_remove(args, ctx) -> int:
    for n in args.names:
        ctx.h.rpc("kvs.namespace-remove", {"namespace": n}).get()
    return 0


def run_ns_list(args, ctx) -> int:
    rows = ctx.h.rpc("kvs.namespace-list").get()["namespaces"]
    ctx.print(f"{'NAMESPACE':<24} {'OWNER':>6} {'VERSION':>8}")
    for r in rows:
        ctx.print(f"{r['namespace']:<24} {r['owner']:>6} {r['version']:>8}")
    return 0
