"""The public surface of fluxlab.kvs is what docs/spec/kvs.md and the service rely on."""

import importlib
import subprocess
import sys

import fluxlab.kvs

PUBLIC_MODULES = [
    "content",
    "errors",
    "flags",
    "keys",
    "model",
    "results",
    "sqlite_store",
    "treeobj",
    "txn",
    "watch",
]


def test_package_exports():
    assert sorted(fluxlab.kvs.__all__) == sorted(
        [
            "PRIMARY_NAMESPACE",
            "BatchResult",
            "Checkpoint",
            "CommitResult",
            "ContentStore",
            "KVSError",
            "KVSModel",
            "MemoryContentStore",
            "NamespaceInfo",
            "Op",
            "SqliteContentStore",
            "Txn",
            "WatchEvent",
            "WatchRegistry",
            "join_key",
            "normalize_key",
            # the flux.kvs client API (lazy, from fluxlab.kvs.client)
            "KVSDir",
            "KVSTxn",
            "KVSWatchFuture",
            "commit",
            "commit_async",
            "exists",
            "get",
            "get_dir",
            "isdir",
            "join",
            "kvs_watch_async",
            "namespace_create",
            "namespace_list",
            "namespace_remove",
            "put",
            "put_mkdir",
            "put_symlink",
            "put_unlink",
            "walk",
        ]
    )
    for name in fluxlab.kvs.__all__:
        assert getattr(fluxlab.kvs, name) is not None


def test_every_module_declares_its_surface():
    for mod in PUBLIC_MODULES:
        module = importlib.import_module(f"fluxlab.kvs.{mod}")
        assert module.__doc__, mod
        for name in module.__all__:
            assert hasattr(module, name), (mod, name)


def test_errors_all_carry_errno():
    from fluxlab.kvs import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.KVSError)
        assert isinstance(cls.errno, int) and cls.errno > 0


def test_import_is_light():
    code = "import sys, fluxlab.kvs; print(sorted(m for m in sys.modules if m.split('.')[0] in ('zmq', 'fluxlab')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "zmq" not in out.stdout
    assert "fluxlab.broker" not in out.stdout and "fluxlab.core" not in out.stdout
