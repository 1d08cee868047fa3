"""Namespaces: create, list, remove, ownership, isolation."""

import errno

import pytest

from fluxlab.kvs.errors import (
    InvalidArgumentError,
    InvalidNamespaceError,
    KeyNotFoundError,
    NamespaceExistsError,
    NamespaceNotFoundError,
    NamespacePermissionError,
)
from fluxlab.kvs.model import NamespaceInfo
from fluxlab.kvs.txn import Txn


def test_create_list_remove(model):
    info = model.namespace_create("job-1", 42)
    assert info == NamespaceInfo("job-1", 42, 0, model.rootref("job-1"))
    assert [n.name for n in model.namespace_list()] == ["job-1", "primary"]
    assert model.has_namespace("job-1")
    model.namespace_remove("job-1")
    assert [n.name for n in model.namespace_list()] == ["primary"]
    assert not model.has_namespace("job-1")


def test_namespaces_are_isolated_with_own_versions(model):
    model.namespace_create("a", 1)
    model.commit(Txn().put("k", b"primary"))
    model.commit(Txn().put("k", b"in a"), "a")
    model.commit(Txn().put("k2", b"in a"), "a")
    assert model.get("k") == b"primary" and model.get("k", "a") == b"in a"
    assert model.version() == 1 and model.version("a") == 2
    with pytest.raises(KeyNotFoundError):
        model.get("k2")


def test_missing_namespace_errors(model):
    for call in (
        lambda: model.get("k", "nope"),
        lambda: model.commit(Txn().put("k", b"1"), "nope"),
        lambda: model.namespace_remove("nope"),
        lambda: model.namespace_info("nope"),
        lambda: model.version("nope"),
    ):
        with pytest.raises(NamespaceNotFoundError, match="'nope' does not exist") as exc:
            call()
        assert exc.value.errno == errno.ENOTSUP


def test_create_errors(model):
    model.namespace_create("x", 1)
    with pytest.raises(NamespaceExistsError) as exc:
        model.namespace_create("x", 1)
    assert exc.value.errno == errno.EEXIST
    with pytest.raises(NamespaceExistsError):
        model.namespace_create("primary", 1)
    with pytest.raises(InvalidNamespaceError):
        model.namespace_create("bad name", 1)
    with pytest.raises(InvalidArgumentError, match="owner"):
        model.namespace_create("y", -1)
    with pytest.raises(InvalidArgumentError, match="owner"):
        model.namespace_create("y", True)
    with pytest.raises(InvalidNamespaceError, match="primary namespace cannot be removed"):
        model.namespace_remove("primary")


def test_create_with_root_and_recreate(model):
    model.commit(Txn().put("seed.a", b"1"))
    seed = model.get_treeobj("seed")["data"][0]
    model.namespace_create("guest", 7, rootref=seed)
    assert model.get("a", "guest") == b"1"
    model.commit(Txn().put("b", b"2"), "guest")
    model.namespace_remove("guest")
    model.namespace_create("guest", 7)  # fresh again
    assert model.list_dir(".", "guest") == {}
    assert model.version("guest") == 0


def test_authorize(model):
    model.namespace_create("job-9", 500)
    model.authorize("job-9", 500, instance_owner=False)
    model.authorize("job-9", 1, instance_owner=True)
    with pytest.raises(NamespacePermissionError) as exc:
        model.authorize("job-9", 501, instance_owner=False)
    assert exc.value.errno == errno.EPERM
    with pytest.raises(NamespacePermissionError):
        model.authorize("primary", 500, instance_owner=False)
    model.authorize("primary", 1000, instance_owner=False)  # primary owner
