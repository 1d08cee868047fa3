"""Convenience reads of :class:`~fluxlab.kvs.model.KVSModel` (internal mixin).

Each helper is a thin wrapper over the model's path resolution or
:meth:`~fluxlab.kvs.model.KVSModel.lookup`, kept apart so ``model.py`` holds
the state-changing core.  All accept ``version=`` or ``root=`` like ``lookup``.
"""

from __future__ import annotations

import json
from typing import Any

from fluxlab.kvs import flags as _flags
from fluxlab.kvs._nodes import Symlink
from fluxlab.kvs._reader import is_dir_node
from fluxlab.kvs.errors import KeyNotFoundError, NotDirError, NotSymlinkError, ValueDecodeError
from fluxlab.kvs.keys import PRIMARY_NAMESPACE


class ReadHelpers:
    """Mixin: needs ``get``, ``lookup``, ``_resolve`` and ``_reader`` from the model."""

    def get_json(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> Any:
        """The value at ``key`` decoded from JSON (``ValueDecodeError`` if it is not)."""
        data = self.get(key, namespace, version=version, root=root)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ValueDecodeError(f"value of {key!r} is not JSON: {exc}") from None

    def get_treeobj(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> dict[str, Any]:
        """The tree object stored at ``key`` (``lookup`` with ``TREEOBJ``)."""
        return self.lookup(key, namespace, flags=_flags.TREEOBJ, version=version, root=root)

    def list_dir(
        self,
        key: str = ".",
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Entries of directory ``key``: name -> tree object (``ENOTDIR`` if a value)."""
        node = self._resolve(key, namespace, version, root, True)
        if not is_dir_node(node):
            raise NotDirError(f"key {key!r} is not a directory")
        return {n: e.treeobj() for n, e in self._reader.entries(node).items()}

    def readlink(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> tuple[str | None, str]:
        """``(namespace or None, target)`` of the symlink at ``key``."""
        node = self._resolve(key, namespace, version, root, False)
        if type(node) is not Symlink:
            raise NotSymlinkError(f"key {key!r} is not a symlink")
        return node.namespace, node.target

    def exists(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> bool:
        """True if ``key`` resolves (a dangling symlink does not)."""
        try:
            self._resolve(key, namespace, version, root, True)
        except KeyNotFoundError:
            return False
        return True

    def isdir(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> bool:
        """True if ``key`` resolves to a directory."""
        try:
            node = self._resolve(key, namespace, version, root, True)
        except KeyNotFoundError:
            return False
        return is_dir_node(node)
