"""FLUID job ids: generator invariants and every RFC 19 encoding."""

import json

import pytest
from hypothesis import given, strategies as st

from fluxlab.job.jobid import (
    FLUID_MAX,
    FluidError,
    FluidGenerator,
    JobID,
    JobIDError,
    fluid_generator_id,
    fluid_sequence,
    fluid_timestamp,
    id_decode,
    id_encode,
    id_parse,
    job_key,
)


@pytest.fixture(scope="module")
def vectors(conformance):
    return json.loads((conformance / "ids" / "fluid_vectors.json").read_text())


@pytest.fixture
def utf8_f58(monkeypatch):
    monkeypatch.delenv("FLUX_F58_FORCE_ASCII", raising=False)


def test_f58_encode_decode(vectors, utf8_f58, monkeypatch):
    for row in vectors["f58_encode_decode"]:
        assert id_encode(row["id"], "f58") == row["f58"]
        assert id_encode(row["id"], "f58plain") == row["f58_ascii"]
        assert id_parse(row["f58"]) == row["id"]
        assert id_parse(row["f58_ascii"]) == row["id"]
    monkeypatch.setenv("FLUX_F58_FORCE_ASCII", "1")
    for row in vectors["f58_encode_decode"]:
        assert id_encode(row["id"], "f58") == row["f58_ascii"]


def test_f58_decode_only(vectors):
    for row in vectors["f58_decode_only"]:
        assert id_decode(row["f58"], "f58") == row["id"], row


def test_parse_any_format(vectors):
    for row in vectors["fluid_parse_any_format"]:
        assert id_parse(row["input"]) == row["id"], row


def test_parse_must_fail(vectors):
    for row in vectors["fluid_parse_must_fail"]:
        with pytest.raises(JobIDError):
            id_parse(row["input"])


def test_decode_must_fail(vectors):
    names = {"F58": "f58", "DOTHEX": "dothex", "MNEMONIC": "words", "EMOJI": "emoji"}
    for row in vectors["fluid_decode_must_fail"]:
        with pytest.raises(JobIDError):
            id_decode(row["input"], names[row["type"]])


def test_python_jobid_all_encodings(vectors, utf8_f58):
    forms = ("dec", "hex", "dothex", "kvs", "f58", "words", "emoji")
    for row in vectors["python_JobID_all_encodings"]:
        assert JobID(row["int"]) == row["int"]
        for form in forms:
            jobid = JobID(row[form])
            assert jobid == row["int"], (form, row[form])
            assert jobid.orig == row[form]
            assert getattr(JobID(row["int"]), form) == row[form]
        assert str(JobID(row["int"])) == row["f58"]


def test_python_jobid_invalid(vectors):
    for text in vectors["python_JobID_invalid_raise_ValueError"]:
        with pytest.raises(ValueError):
            JobID(text)


def test_min_max(vectors):
    row = vectors["flux_job_id_min_max"]
    for key, text in row.items():
        expected = FLUID_MAX if key.startswith("MAX") else 0
        assert id_parse(text) == expected, key


def test_whitespace_and_repr():
    assert id_parse(" 0xffff   ") == 65535
    assert repr(JobID(42)) == "JobID(42)"
    assert JobID(JobID("ƒ2")).orig == "ƒ2"
    assert JobID(1).f58plain == "f2"


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, None, True, b"12"])
def test_bad_numbers(bad):
    with pytest.raises(JobIDError):
        JobID(bad)


def test_unknown_encoding():
    with pytest.raises(JobIDError, match="unknown job id encoding"):
        id_encode(1, "roman")


def test_generator_fields_and_monotonic_clock():
    now = [1000]
    gen = FluidGenerator(generator_id=5, clock=lambda: now[0])
    a = gen.generate()
    b = gen.generate()
    assert b > a
    assert fluid_generator_id(a) == 5
    assert fluid_sequence(a) == 0 and fluid_sequence(b) == 1
    now[0] += 7
    c = gen()
    assert fluid_timestamp(c) == 7 and fluid_sequence(c) == 0


def test_generator_clock_backwards_stays_increasing():
    now = [50_000]
    gen = FluidGenerator(clock=lambda: now[0])
    ids = []
    for step in (10, -500, 3, -1000, 0, 1):
        now[0] += step
        ids.append(gen.generate())
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_generator_sequence_exhaustion_borrows_next_ms():
    gen = FluidGenerator(clock=lambda: 0)
    ids = [gen.generate() for _ in range(3000)]
    assert ids == sorted(set(ids))
    assert fluid_timestamp(ids[-1]) == 2  # 1024 per ms, no busy wait


def test_generator_seeded_from_max_id_restart():
    first = FluidGenerator(clock=lambda: 0, timestamp=123)
    old = [first.generate() for _ in range(5)]
    restarted = FluidGenerator.from_max_id(max(old), clock=lambda: 0)
    assert restarted.generate() > max(old)


def test_generator_errors():
    with pytest.raises(FluidError):
        FluidGenerator(generator_id=1 << 14)
    gen = FluidGenerator(timestamp=(1 << 40) - 1, clock=lambda: 0)
    for _ in range(1024):
        gen.generate()
    with pytest.raises(FluidError, match="exhausted"):
        gen.generate()


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_job_key_is_the_dothex_kvs_path(n):
    assert job_key(n) == "job." + id_encode(n, "dothex")
    assert job_key(n, "guest", "exec") == f"job.{id_encode(n, 'dothex')}.guest.exec"
    assert job_key(JobID(n)) == job_key(n)  # an int subclass takes the checked path


@pytest.mark.parametrize("bad", [-1, 2**64, True, "1", 1.0])
def test_job_key_rejects_what_id_encode_rejects(bad):
    with pytest.raises(JobIDError):
        job_key(bad)
