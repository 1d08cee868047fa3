"""Unloading cold directories of the working copy changes nothing observable."""

from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn


def _load(m: KVSModel, start: int, n: int) -> None:
    for i in range(start, start + n):
        m.commit(
            Txn()
            .put(f"job.{i % 7:04x}.{i:04x}.jobspec", b'{"x":%d}' % i)
            .append(f"job.{i % 7:04x}.{i:04x}.eventlog", b'{"name":"submit"}\n')
        )


def test_compaction_keeps_roots_values_and_further_writes_identical():
    plain, compacted = KVSModel(), KVSModel()
    for m in (plain, compacted):
        _load(m, 0, 300)
    unloaded = compacted.compact(keep_batches=10)
    assert unloaded > 0
    assert compacted.rootref() == plain.rootref()
    # reads of unloaded directories load them back
    assert compacted.get("job.0003.0003.jobspec") == b'{"x":3}'
    assert sorted(compacted.list_dir("job.0001")) == sorted(plain.list_dir("job.0001"))
    # writes below unloaded directories produce the same new roots
    for m in (plain, compacted):
        m.commit(Txn().append("job.0003.0003.eventlog", b'{"name":"clean"}\n'))
        _load(m, 300, 50)
    assert compacted.rootref() == plain.rootref()
    assert compacted.get("job.0003.0003.eventlog") == plain.get("job.0003.0003.eventlog")
    assert compacted.compact(keep_batches=1) > 0
    assert compacted.rootref() == plain.rootref()


def test_recent_directories_stay_loaded():
    m = KVSModel()
    _load(m, 0, 20)
    assert m.compact(keep_batches=1000) == 0
