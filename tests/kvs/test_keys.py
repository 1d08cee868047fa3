"""Key normalisation (Flux kvs_util_normalize_key) and namespace names."""

import pytest

from fluxlab.kvs.errors import InvalidKeyError, InvalidNamespaceError
from fluxlab.kvs.keys import join_key, normalize_key, split_key, validate_namespace_name


@pytest.mark.parametrize(
    ("key", "norm"),
    [
        ("a", "a"),
        ("a.b.c", "a.b.c"),
        ("a..b", "a.b"),
        ("a...b....c", "a.b.c"),
        (".a", "a"),
        ("a.", "a"),
        (".a.b.", "a.b"),
        ("..a..", "a"),
        (".", "."),
        ("..", "."),
        ("....", "."),
        ("job.0000.0004.b200.0000.eventlog", "job.0000.0004.b200.0000.eventlog"),
        ("ünïcødé.ключ", "ünïcødé.ключ"),
        ("with space.x", "with space.x"),
    ],
)
def test_normalize(key, norm):
    assert normalize_key(key) == norm


def test_split_root_is_empty_tuple():
    assert split_key(".") == ()
    assert split_key("a..b.") == ("a", "b")


@pytest.mark.parametrize("bad", ["", "a\0b", "\ud800", None, 5, b"a.b", ["a"]])
def test_invalid_keys(bad):
    with pytest.raises(InvalidKeyError) as exc:
        normalize_key(bad)
    assert exc.value.errno == 22
    assert isinstance(exc.value, ValueError)


def test_error_names_the_key():
    with pytest.raises(InvalidKeyError, match="NUL"):
        split_key("x\0y")
    with pytest.raises(InvalidKeyError, match="symlink target"):
        split_key("", "symlink target")


def test_join_key():
    assert join_key("a.", ".b", "c") == "a.b.c"
    assert join_key(".", "x") == "x"


@pytest.mark.parametrize("name", ["primary", "job-1234", "a.b:c_d", "x" * 255])
def test_valid_namespace_names(name):
    assert validate_namespace_name(name) == name


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "tab\t", "x" * 256, None, 3, "\x01"])
def test_invalid_namespace_names(bad):
    with pytest.raises(InvalidNamespaceError):
        validate_namespace_name(bad)


def test_key_depth_limit():
    assert len(split_key(".".join(["x"] * 256))) == 256
    with pytest.raises(InvalidKeyError, match="257 components"):
        split_key(".".join(["x"] * 257))
