"""Job ids: FLUID generation and every RFC 19 string encoding.

A FLUID ("Flux Locally Unique ID") is an unsigned 64-bit integer laid out as::

    [ timestamp: 40 bits | generator id: 14 bits | sequence: 10 bits ]

The timestamp counts milliseconds since the generator's epoch (the start of
the instance), so ids issued by one generator sort by submission time.  See
``docs/spec/job-ids.md`` for the encodings and the parsing rules.

Encodings (``id_encode(jobid, encoding)``):

``dec``       decimal, ``"6731191091817518"``
``hex``       ``"0x17e9fb8df16c2e"``
``dothex``    four 16-bit groups, ``"0017.e9fb.8df1.6c2e"``
``kvs``       ``"job."`` + dothex, the job's KVS directory
``f58``       base58 with the ``ƒ`` prefix (``f`` when ``FLUX_F58_FORCE_ASCII``
              is set), ``"ƒuZZybuNNy"``
``f58plain``  base58 with the ASCII ``f`` prefix
``words``     mnemonicode, ``"cake-plume-nepal--neuron-pencil-academy"``
``emoji``     base 576 over a fixed emoji table

:func:`id_parse` accepts any of them (auto-detected); :class:`JobID` is an
``int`` that remembers the string it came from and encodes itself on demand.
All functions here are pure; :class:`FluidGenerator` takes its clock as an
argument so tests can drive it.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable

from fluxlab.job._emoji import EMOJI
from fluxlab.job._mnemonic_words import MN_BASE, WORDS

__all__ = [
    "ENCODINGS",
    "FLUID_MAX",
    "FluidError",
    "FluidGenerator",
    "JobID",
    "JobIDError",
    "fluid_generator_id",
    "fluid_sequence",
    "fluid_timestamp",
    "id_decode",
    "id_encode",
    "id_parse",
    "job_key",
]

TS_BITS = 40
GENERATOR_BITS = 14
SEQ_BITS = 10
FLUID_MAX = 2**64 - 1

ENCODINGS = ("dec", "hex", "dothex", "kvs", "f58", "f58plain", "words", "emoji")

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_F58_PREFIX = "ƒ"
_F58_MAXLEN = 12
_EMOJI_INDEX = {c: i for i, c in enumerate(EMOJI)}
_EMOJI_MAXLEN = 7
_WORD_INDEX = {w: i for i, w in enumerate(WORDS)}

_DEC = re.compile(r"[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_DOTHEX_GROUP = re.compile(r"[0-9a-fA-F]{1,4}")
_WORD_SPLIT = re.compile(r"[^A-Za-z]+")


class JobIDError(ValueError):
    """A string or number that is not a valid job id (RFC 19)."""


class FluidError(RuntimeError):
    """A FLUID generator cannot issue an id (bad generator id, or its 40-bit
    timestamp space is exhausted)."""


# -- field access -------------------------------------------------------------


def fluid_timestamp(fluid: int) -> int:
    """Millisecond timestamp field (top 40 bits) of ``fluid``."""
    return fluid >> (GENERATOR_BITS + SEQ_BITS)


def fluid_generator_id(fluid: int) -> int:
    """Generator id field (middle 14 bits) of ``fluid``."""
    return (fluid >> SEQ_BITS) & ((1 << GENERATOR_BITS) - 1)


def fluid_sequence(fluid: int) -> int:
    """Sequence field (low 10 bits) of ``fluid``."""
    return fluid & ((1 << SEQ_BITS) - 1)


# -- generator ----------------------------------------------------------------


def _monotonic_ms() -> int:
    return int(time.monotonic() * 1000)


class FluidGenerator:
    """Issue strictly increasing FLUIDs for one generator id.

    Parameters
    ----------
    generator_id : int
        0 .. 16383; Flux uses the broker rank.  Two generators with different
        ids never issue the same FLUID.
    timestamp : int
        Starting timestamp (ms).  A restarted instance passes one more than
        the timestamp of the largest id it ever issued (see :meth:`from_max_id`)
        so new ids sort after old ones.
    clock : callable returning int milliseconds, optional
        Defaults to the monotonic clock.  Only differences between readings
        matter.

    Notes
    -----
    Invariant: every id returned is greater than the previous one.  If the
    clock stands still or goes backwards the timestamp is simply not
    advanced; when the 1024 sequence numbers of one millisecond are used up
    the generator borrows the next millisecond instead of busy-waiting (Flux
    spins on the clock), so a stuck or fake clock can never hang it.
    """

    def __init__(
        self,
        generator_id: int = 0,
        timestamp: int = 0,
        clock: Callable[[], int] | None = None,
    ):
        if not isinstance(generator_id, int) or not 0 <= generator_id < (1 << GENERATOR_BITS):
            raise FluidError(f"generator id must be 0..{(1 << GENERATOR_BITS) - 1}")
        if not isinstance(timestamp, int) or not 0 <= timestamp < (1 << TS_BITS):
            raise FluidError(f"timestamp must be 0..{(1 << TS_BITS) - 1}")
        self._clock = clock or _monotonic_ms
        self.generator_id = generator_id
        self._clock_zero = self._clock()
        self._offset = timestamp
        self.timestamp = timestamp
        self._seq = 0

    @classmethod
    def from_max_id(
        cls, max_id: int, generator_id: int = 0, clock: Callable[[], int] | None = None
    ) -> FluidGenerator:
        """A generator whose ids all exceed ``max_id`` (restart after a crash)."""
        if not isinstance(max_id, int) or not 0 <= max_id <= FLUID_MAX:
            raise FluidError("max_id must be a 64-bit unsigned integer")
        return cls(generator_id, fluid_timestamp(max_id) + 1, clock)

    def _advance(self) -> None:
        now = self._clock() - self._clock_zero + self._offset
        if now > self.timestamp:
            self.timestamp = now
            self._seq = 0

    def generate(self) -> int:
        """Return the next FLUID."""
        self._advance()
        if self._seq >= (1 << SEQ_BITS):
            self.timestamp += 1  # borrow the next millisecond
            self._seq = 0
        if self.timestamp >= (1 << TS_BITS):
            raise FluidError("FLUID timestamp space exhausted (40 bits of milliseconds)")
        fluid = (
            (self.timestamp << (GENERATOR_BITS + SEQ_BITS))
            | (self.generator_id << SEQ_BITS)
            | self._seq
        )
        self._seq += 1
        return fluid

    __call__ = generate


# -- encoders -----------------------------------------------------------------


def _force_ascii() -> bool:
    return bool(os.environ.get("FLUX_F58_FORCE_ASCII"))


def _b58(n: int) -> str:
    if n == 0:
        return _B58[0]
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "".join(reversed(out))


@functools.lru_cache(maxsize=4096)  # several services make keys for each job in turn
def _dothex(n: int) -> str:
    h = f"{n:016x}"  # n < 2**64 (checked by the callers)
    return f"{h[0:4]}.{h[4:8]}.{h[8:12]}.{h[12:16]}"


def _words(n: int) -> str:
    groups = []
    for half in (n & 0xFFFFFFFF, n >> 32):
        x = half
        group = []
        for _ in range(3):
            x, r = divmod(x, MN_BASE)
            group.append(WORDS[r])
        groups.append("-".join(group))
    return "--".join(groups)


def _emoji(n: int) -> str:
    if n == 0:
        return EMOJI[0]
    out = []
    while n:
        n, r = divmod(n, 576)
        out.append(EMOJI[r])
    return "".join(reversed(out))


def job_key(jobid: int, *parts: str) -> str:
    """KVS key of a job (RFC 16): ``job.<dothex>[.part...]``.

    Computed for every job several times (ingest, job-manager, exec), so the
    common case, a valid ``int``, skips :func:`id_encode`'s dispatch.
    """
    if type(jobid) is int and 0 <= jobid <= FLUID_MAX:
        key = "job." + _dothex(jobid)
    else:
        key = "job." + id_encode(jobid, "dothex")
    return ".".join((key, *parts)) if parts else key


def id_encode(jobid: int, encoding: str = "f58") -> str:
    """Encode ``jobid`` as a string (``flux.job.id_encode``).

    ``encoding`` is one of :data:`ENCODINGS`, case-insensitive.
    """
    n = _check_int(jobid)
    if not isinstance(encoding, str):
        raise JobIDError(f"unknown job id encoding {encoding!r}")
    enc = encoding.lower()
    if enc == "dec":
        return str(n)
    if enc == "hex":
        return hex(n)
    if enc == "dothex":
        return _dothex(n)
    if enc == "kvs":
        return "job." + _dothex(n)
    if enc == "f58":
        return ("f" if _force_ascii() else _F58_PREFIX) + _b58(n)
    if enc == "f58plain":
        return "f" + _b58(n)
    if enc == "words":
        return _words(n)
    if enc == "emoji":
        return _emoji(n)
    raise JobIDError(
        f"unknown job id encoding {encoding!r} (expected one of {', '.join(ENCODINGS)})"
    )


def _check_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobIDError(f"job id must be an integer, not {type(value).__name__}")
    if not 0 <= value <= FLUID_MAX:
        raise JobIDError(f"job id {value} is outside 0..2**64-1")
    return int(value)


# -- decoders -----------------------------------------------------------------


def _decode_f58(s: str, orig: str) -> int:
    if s.startswith(_F58_PREFIX):
        digits = s[len(_F58_PREFIX) :]
    elif s.startswith("f"):
        digits = s[1:]
    else:
        raise JobIDError(f"invalid job id {orig!r}: F58 ids start with 'ƒ' or 'f'")
    if not digits or len(digits) > _F58_MAXLEN:
        raise JobIDError(f"invalid job id {orig!r}: F58 needs 1 to {_F58_MAXLEN} digits")
    n = 0
    for c in digits:
        try:
            n = n * 58 + _B58_INDEX[c]
        except KeyError:
            raise JobIDError(f"invalid job id {orig!r}: {c!r} is not a base58 digit") from None
    if n > FLUID_MAX:
        raise JobIDError(f"invalid job id {orig!r}: value exceeds 64 bits")
    return n


def _decode_dothex(s: str, orig: str) -> int:
    groups = s.split(".")
    if len(groups) != 4 or not all(_DOTHEX_GROUP.fullmatch(g) for g in groups):
        raise JobIDError(
            f"invalid job id {orig!r}: dothex is four groups of 1-4 hex digits (xxxx.xxxx.xxxx.xxxx)"
        )
    n = 0
    for g in groups:
        n = (n << 16) | int(g, 16)
    return n


def _decode_words(s: str, orig: str) -> int:
    words = [w.lower() for w in _WORD_SPLIT.split(s) if w]
    if len(words) != 6:
        raise JobIDError(f"invalid job id {orig!r}: the words encoding has exactly 6 words")
    n = 0
    for gi in range(2):
        x = 0
        for wi in range(3):
            w = words[gi * 3 + wi]
            idx = _WORD_INDEX.get(w)
            if idx is None or idx >= MN_BASE:
                raise JobIDError(f"invalid job id {orig!r}: {w!r} is not a mnemonic word")
            x += idx * MN_BASE**wi
        if x > 0xFFFFFFFF:
            raise JobIDError(f"invalid job id {orig!r}: word group overflows 32 bits")
        n |= x << (32 * gi)
    return n


def _decode_emoji(s: str, orig: str) -> int:
    if not s or len(s) > _EMOJI_MAXLEN:
        raise JobIDError(f"invalid job id {orig!r}: emoji ids have 1 to {_EMOJI_MAXLEN} emoji")
    n = 0
    for c in s:
        idx = _EMOJI_INDEX.get(c)
        if idx is None:
            raise JobIDError(f"invalid job id {orig!r}: {c!r} is not in the FLUID emoji table")
        n = n * 576 + idx
    if n > FLUID_MAX:
        raise JobIDError(f"invalid job id {orig!r}: value exceeds 64 bits")
    return n


def _decode_int(s: str, orig: str) -> int:
    if _HEX.fullmatch(s):
        n = int(s, 16)
    elif _DEC.fullmatch(s):
        n = int(s)
    else:
        raise JobIDError(f"invalid job id {orig!r}: not a recognised job id encoding")
    if n > FLUID_MAX:
        raise JobIDError(f"invalid job id {orig!r}: value exceeds 2**64-1")
    return n


def _is_emoji(s: str) -> bool:
    return bool(s) and 0x1F000 <= ord(s[0]) <= 0x1FFFF


def id_decode(text: str, encoding: str) -> int:
    """Decode ``text`` as one named encoding (no auto-detection).

    Raises
    ------
    JobIDError
        If ``text`` is not a valid id in that encoding.
    """
    if not isinstance(text, str):
        raise JobIDError(f"job id must be a string, not {type(text).__name__}")
    enc = encoding.lower() if isinstance(encoding, str) else encoding
    s = text.strip()
    if enc == "f58" or enc == "f58plain":
        return _decode_f58(s, text)
    if enc == "dothex":
        return _decode_dothex(s, text)
    if enc == "kvs":
        if not s.startswith("job."):
            raise JobIDError(f"invalid job id {text!r}: kvs ids start with 'job.'")
        return _decode_dothex(s[4:], text)
    if enc == "words":
        return _decode_words(s, text)
    if enc == "emoji":
        return _decode_emoji(s, text)
    if enc == "hex":
        if not _HEX.fullmatch(s):
            raise JobIDError(f"invalid job id {text!r}: hex ids look like 0x1f")
        return _decode_int(s, text)
    if enc == "dec":
        if not _DEC.fullmatch(s):
            raise JobIDError(f"invalid job id {text!r}: not a decimal number")
        return _decode_int(s, text)
    raise JobIDError(f"unknown job id encoding {encoding!r}")


def id_parse(jobid_str: str) -> int:
    """Parse a job id in any encoding (``flux.job.id_parse``).

    Detection order follows Flux: surrounding blanks are ignored and a
    ``job.`` prefix is dropped; then a ``.`` means dothex, a ``-`` means
    words, a leading ``ƒ``/``f`` means F58, a leading emoji means emoji,
    ``0x`` means hex, and anything else must be a decimal number.
    """
    if not isinstance(jobid_str, str):
        raise JobIDError(f"job id must be a string, not {type(jobid_str).__name__}")
    s = jobid_str.strip()
    if not s:
        raise JobIDError("invalid job id '': empty string")
    if s.startswith("job."):
        s = s[4:]
    if "." in s:
        return _decode_dothex(s, jobid_str)
    if "-" in s:
        return _decode_words(s, jobid_str)
    if s.startswith((_F58_PREFIX, "f")):
        return _decode_f58(s, jobid_str)
    if _is_emoji(s):
        return _decode_emoji(s, jobid_str)
    return _decode_int(s, jobid_str)


class JobID(int):
    """A job id: an ``int`` built from any RFC 19 encoding (``flux.job.JobID``).

    ``str(jobid)`` is the F58 form; the properties give every other form.
    ``orig`` keeps the string (or number) the id was made from.
    """

    def __new__(cls, value: int | str) -> JobID:
        if isinstance(value, str):
            n = id_parse(value)
        else:
            n = _check_int(value)
        self = super().__new__(cls, n)
        self._orig = value.orig if isinstance(value, JobID) else str(value)
        return self

    def encode(self, encoding: str = "dec") -> str:
        """Encode in ``encoding`` (see :data:`ENCODINGS`)."""
        return id_encode(int(self), encoding)

    @property
    def dec(self) -> str:
        return self.encode("dec")

    @property
    def f58(self) -> str:
        return self.encode("f58")

    @property
    def f58plain(self) -> str:
        return self.encode("f58plain")

    @property
    def hex(self) -> str:
        return self.encode("hex")

    @property
    def dothex(self) -> str:
        return self.encode("dothex")

    @property
    def words(self) -> str:
        return self.encode("words")

    @property
    def emoji(self) -> str:
        return self.encode("emoji")

    @property
    def kvs(self) -> str:
        return self.encode("kvs")

    @property
    def orig(self) -> str:
        return self._orig

    def __str__(self) -> str:
        return self.f58

    def __repr__(self) -> str:
        return f"JobID({int(self)})"

    def _repr_html_(self) -> str:  # notebook display, rendered by fluxlab.jupyter.display
        return __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_html(self)

    def _repr_pretty_(self, p, cycle: bool) -> None:  # IPython text form (fluxlab.jupyter.display)
        __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_pretty(self, p, cycle)

    def __reduce__(self):
        return (JobID, (int(self),))
