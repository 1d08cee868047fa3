"""A content store in one sqlite file, ``<statedir>/content.sqlite``.

Layout (see ``docs/spec/kvs.md``)::

    meta(name TEXT PRIMARY KEY, value TEXT)          -- format, hash name
    objects(hash TEXT PRIMARY KEY, object BLOB)      -- blobref -> blob
    checkpoints(namespace TEXT PRIMARY KEY, owner INTEGER,
                version INTEGER, rootref TEXT)       -- namespace heads
    roots(namespace TEXT, version INTEGER, rootref TEXT,
          PRIMARY KEY (namespace, version))          -- bounded root history

The database runs in WAL mode.  :meth:`SqliteContentStore.write` is one sqlite
transaction, so a merged commit is durable as a whole or not at all; with
``synchronous=NORMAL`` (the default) a power loss may drop the newest commits but
never leaves a torn one.  Reads go through a small LRU of raw blobs.

The store is not thread-safe: like the model, it belongs to one service thread
(the connection is opened with ``check_same_thread=False`` only so the service
may create it on another thread than the one that uses it).
"""

from __future__ import annotations

import os
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fluxlab.kvs.content import DEFAULT_MAX_BLOB_SIZE, Checkpoint, ContentStore
from fluxlab.kvs.errors import BlobNotFoundError, KVSError, StoreError

__all__ = ["SQLITE_FILENAME", "SqliteContentStore"]

SQLITE_FILENAME = "content.sqlite"
_FORMAT = "fluxlab-content-1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (hash TEXT PRIMARY KEY, object BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    namespace TEXT PRIMARY KEY, owner INTEGER NOT NULL,
    version INTEGER NOT NULL, rootref TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (
    namespace TEXT NOT NULL, version INTEGER NOT NULL, rootref TEXT NOT NULL,
    PRIMARY KEY (namespace, version)) WITHOUT ROWID;
"""


class SqliteContentStore(ContentStore):
    """Content store backed by a sqlite database file.

    Parameters
    ----------
    path
        Database file; created (with its parent directory) if missing.
    hash_name, max_blob_size
        As for :class:`~fluxlab.kvs.content.ContentStore`.  ``hash_name`` must
        match the one the file was created with.
    cache_size
        Number of raw blobs kept in the read cache.
    synchronous
        sqlite ``PRAGMA synchronous`` level: ``"OFF"``, ``"NORMAL"`` or ``"FULL"``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hash_name: str = "sha1",
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
        cache_size: int = 4096,
        synchronous: str = "NORMAL",
    ) -> None:
        super().__init__(hash_name, max_blob_size)
        if synchronous not in ("OFF", "NORMAL", "FULL"):
            raise KVSError(f"synchronous must be OFF, NORMAL or FULL, not {synchronous!r}")
        self.path = Path(path)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        if type(cache_size) is not int or cache_size < 0:
            raise KVSError(f"cache_size must be a non-negative integer, not {cache_size!r}")
        self._cache_size = cache_size
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._check_meta()
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise StoreError(f"cannot open content store {self.path}: {exc}") from exc
        except StoreError:
            self.close()
            raise

    @classmethod
    def open_statedir(cls, statedir: str | os.PathLike[str], **kwargs) -> SqliteContentStore:
        """Open (or create) ``<statedir>/content.sqlite``."""
        return cls(Path(statedir) / SQLITE_FILENAME, **kwargs)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"content store {self.path} is closed")
        return self._conn

    def _check_meta(self) -> None:
        rows = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        if not rows:
            self._db.executemany(
                "INSERT INTO meta (name, value) VALUES (?, ?)",
                [("format", _FORMAT), ("hash", self.hash_name)],
            )
            return
        if rows.get("format") != _FORMAT:
            raise StoreError(f"{self.path}: unknown content store format {rows.get('format')!r}")
        if rows.get("hash") != self.hash_name:
            raise StoreError(
                f"{self.path}: content store uses hash {rows.get('hash')!r}, not {self.hash_name!r}"
            )

    def _remember(self, ref: str, data: bytes) -> None:
        if self._cache_size:
            self._cache[ref] = data
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def load(self, ref: str) -> bytes:
        try:
            data = self._cache[ref]
        except KeyError:
            pass
        except TypeError:
            raise BlobNotFoundError(f"blobref must be a string, not {type(ref).__name__}") from None
        else:
            self._cache.move_to_end(ref)
            return data
        try:
            row = self._db.execute("SELECT object FROM objects WHERE hash = ?", (ref,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"content store read of {ref} failed: {exc}") from exc
        if row is None:
            raise BlobNotFoundError(f"blob {ref} is not in the content store")
        data = bytes(row[0])
        self._remember(ref, data)
        return data

    def contains(self, ref: str) -> bool:
        if not isinstance(ref, str):
            return False
        if ref in self._cache:
            return True
        try:
            row = self._db.execute("SELECT 1 FROM objects WHERE hash = ?", (ref,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"content store read of {ref} failed: {exc}") from exc
        return row is not None

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One sqlite transaction: committed on success, rolled back on any error."""
        db = self._db
        try:
            db.execute("BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"content store {what} of {self.path} failed: {exc}") from exc

    def write(self, blobs, checkpoints=(), removed=(), history=0) -> None:
        with self._transaction("write") as db:
            db.executemany(
                "INSERT OR IGNORE INTO objects (hash, object) VALUES (?, ?)", blobs.items()
            )
            for name in removed:
                db.execute("DELETE FROM checkpoints WHERE namespace = ?", (name,))
                db.execute("DELETE FROM roots WHERE namespace = ?", (name,))
            for cp in checkpoints:
                db.execute(
                    "INSERT OR REPLACE INTO checkpoints (namespace, owner, version, rootref) "
                    "VALUES (?, ?, ?, ?)",
                    (cp.namespace, cp.owner, cp.version, cp.rootref),
                )
                db.execute(
                    "INSERT OR REPLACE INTO roots (namespace, version, rootref) VALUES (?, ?, ?)",
                    (cp.namespace, cp.version, cp.rootref),
                )
                if history > 0:
                    db.execute(
                        "DELETE FROM roots WHERE namespace = ? AND version <= ?",
                        (cp.namespace, cp.version - history),
                    )
        for ref, data in blobs.items():
            self._remember(ref, data)

    def checkpoints(self) -> dict[str, Checkpoint]:
        rows = self._db.execute(
            "SELECT namespace, owner, version, rootref FROM checkpoints"
        ).fetchall()
        return {r[0]: Checkpoint(r[0], r[1], r[2], r[3]) for r in rows}

    def history(self, namespace: str, limit: int) -> list[tuple[int, str]]:
        if limit <= 0:
            return []
        rows = self._db.execute(
            "SELECT version, rootref FROM roots WHERE namespace = ? ORDER BY version DESC LIMIT ?",
            (namespace, limit),
        ).fetchall()
        return [(v, r) for v, r in reversed(rows)]

    def refs(self) -> Iterator[str]:
        return iter([r[0] for r in self._db.execute("SELECT hash FROM objects").fetchall()])

    def delete(self, refs: Iterable[str]) -> int:
        refs = list(refs)
        with self._transaction("delete") as db:
            count = db.executemany(
                "DELETE FROM objects WHERE hash = ?", ((r,) for r in refs)
            ).rowcount
        for ref in refs:
            self._cache.pop(ref, None)
        return count

    def stats(self) -> dict[str, int]:
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(object)), 0) FROM objects"
        ).fetchone()
        return {"count": count, "bytes": size, "cached": len(self._cache)}

    def close(self) -> None:
        self._cache.clear()
        db = self._conn
        if db is not None:
            self._conn = None
            try:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            db.close()
