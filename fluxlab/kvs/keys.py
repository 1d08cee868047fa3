"""KVS keys and namespace names.

A key is a ``.``-separated path.  Normalisation follows Flux
(``kvs_util_normalize_key``): runs of dots collapse to one, leading and trailing
dots are dropped, and a key made only of dots is the root directory ``"."``.
So ``"a..b."`` is ``"a.b"`` and ``"..."`` is ``"."``.

Refused (:class:`~fluxlab.kvs.errors.InvalidKeyError`): anything that is not a
``str``, the empty string, keys containing NUL, keys that cannot be encoded as
UTF-8 (lone surrogates) because they could not travel in a JSON message, and
keys of more than :data:`MAX_KEY_DEPTH` components (directory trees are
processed recursively).

:func:`split_key` is on every lookup's hot path, so it keeps a bounded cache of
recent results; the cache holds only immutable tuples.
"""

from __future__ import annotations

from fluxlab.kvs.errors import InvalidKeyError, InvalidNamespaceError

__all__ = [
    "MAX_KEY_DEPTH",
    "PRIMARY_NAMESPACE",
    "ROOT_KEY",
    "join_key",
    "normalize_key",
    "split_key",
    "validate_namespace_name",
]

ROOT_KEY = "."
#: Most path components a key may have.
MAX_KEY_DEPTH = 256
PRIMARY_NAMESPACE = "primary"
_NAMESPACE_MAX = 255
_SPLIT_CACHE_MAX = 8192
_split_cache: dict[str, tuple[str, ...]] = {}


def _check(key: object, what: str) -> str:
    if not isinstance(key, str):
        raise InvalidKeyError(f"{what} must be a string, not {type(key).__name__}")
    if key == "":
        raise InvalidKeyError(f"{what} must not be empty (use '.' for the root directory)")
    if "\0" in key:
        raise InvalidKeyError(f"{what} {key!r} contains a NUL character")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKeyError(f"{what} {key!r} is not encodable as UTF-8: {exc.reason}") from None
    return key


def split_key(key: str, what: str = "key") -> tuple[str, ...]:
    """Return the path components of ``key``; ``()`` for the root directory.

    Raises
    ------
    InvalidKeyError
        If ``key`` is not a valid key (see module docstring).
    """
    try:
        return _split_cache[key]
    except (KeyError, TypeError):
        pass
    _check(key, what)
    comps = tuple(p for p in key.split(".") if p)
    if len(comps) > MAX_KEY_DEPTH:
        raise InvalidKeyError(f"{what} has {len(comps)} components, more than {MAX_KEY_DEPTH}")
    if len(_split_cache) >= _SPLIT_CACHE_MAX:
        _split_cache.clear()
    _split_cache[key] = comps
    return comps


def normalize_key(key: str, what: str = "key") -> str:
    """Return the normal form of ``key`` (``"."`` for the root directory)."""
    return ".".join(split_key(key, what)) or ROOT_KEY


def join_key(*parts: str) -> str:
    """Join key fragments with ``.`` and normalise, e.g. ``join_key("a.", "b") == "a.b"``."""
    return normalize_key(".".join(parts))


def validate_namespace_name(name: object) -> str:
    """Return ``name`` if it is a valid namespace name.

    A namespace name is a non-empty string of at most 255 printable characters
    without whitespace or ``/`` (Flux guest namespaces look like ``job-1234``).

    Raises
    ------
    InvalidNamespaceError
        Naming the problem (errno ``EINVAL``).
    """
    if not isinstance(name, str):
        raise InvalidNamespaceError(f"namespace name must be a string, not {type(name).__name__}")
    if not name:
        raise InvalidNamespaceError("namespace name must not be empty")
    if len(name) > _NAMESPACE_MAX:
        raise InvalidNamespaceError(f"namespace name is longer than {_NAMESPACE_MAX} characters")
    bad = [c for c in name if c == "/" or c.isspace() or not c.isprintable()]
    if bad:
        raise InvalidNamespaceError(
            f"namespace name {name!r} contains invalid character {bad[0]!r}"
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNamespaceError(f"namespace name {name!r} is not encodable as UTF-8") from None
    return name
