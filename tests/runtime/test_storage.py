"""The Storage interface and MemoryStorage."""

from __future__ import annotations

import sys

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from runtime.storage import MemoryStorage, Storage
from tests.support import MyStorage


def test_memory_storage() -> None:
    storage = MemoryStorage()
    storage.set(b"key1", b"value1")
    assert storage.get(b"key1") == b"value1"
    assert storage.get(b"missing") is None

    storage.set(b"key1", b"value2")
    assert storage.get(b"key1") == b"value2"

    storage.delete(b"key1")
    assert storage.get(b"key1") is None
    storage.delete(b"key1")  # deleting an absent key is not an error

    storage.set(b"prefix_a", b"1")
    storage.set(b"prefix_b", b"2")
    storage.set(b"prefix_c", b"3")
    storage.set(b"other", b"4")
    assert storage.scan(b"prefix_", 10) == [
        (b"prefix_a", b"1"),
        (b"prefix_b", b"2"),
        (b"prefix_c", b"3"),
    ]
    assert storage.scan(b"prefix_", 2) == [(b"prefix_a", b"1"), (b"prefix_b", b"2")]
    assert storage.scan(b"nothing", 10) == []


# --- scanning ---------------------------------------------------------------------------------

BINARY_KEYS = [
    b"",
    b"\x00",
    b"\x00\x00",
    b"\x00\xff",
    b"\x01",
    b"\x7f",
    b"\x80",
    b"a",
    b"ab",
    b"b",
    b"\xfe\xff",
    b"\xff",
    b"\xff\x00",
    b"\xff\xff",
    b"\xff\xff\xff",
]


def _filled(keys: list[bytes]) -> MemoryStorage:
    storage = MemoryStorage()
    # Insert in reverse so the order of the result cannot come from the order of insertion.
    for index, key in reversed(list(enumerate(keys))):
        storage.set(key, bytes([index]))
    return storage


def test_scan_orders_binary_keys_by_their_bytes() -> None:
    storage = _filled(BINARY_KEYS)
    keys = [key for key, _ in storage.scan(b"", 100)]
    assert keys == sorted(BINARY_KEYS)
    assert [key for key, _ in storage.items()] == sorted(BINARY_KEYS)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b"", sorted(BINARY_KEYS)),
        (b"\x00", [b"\x00", b"\x00\x00", b"\x00\xff"]),
        (b"a", [b"a", b"ab"]),
        (b"\xff", [b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\xff"]),
        (b"\xff\xff", [b"\xff\xff", b"\xff\xff\xff"]),
        (b"\xff\xff\xff\xff", []),
        (b"\xfe", [b"\xfe\xff"]),
        (b"c", []),
    ],
)
def test_scan_prefix_edge_cases(prefix: bytes, expected: list[bytes]) -> None:
    storage = _filled(BINARY_KEYS)
    assert [key for key, _ in storage.scan(prefix, sys.maxsize)] == expected
    assert [key for key, _ in storage.scan(prefix, 1)] == expected[:1]


def test_scan_limit_zero_and_bad_limits() -> None:
    storage = _filled(BINARY_KEYS)
    assert storage.scan(b"", 0) == []
    assert len(storage.scan(b"", 2**70)) == len(BINARY_KEYS)
    with pytest.raises(ValueError, match="non-negative"):
        storage.scan(b"", -1)
    for bad in (1.5, "3", True, None):
        with pytest.raises(TypeError, match="limit must be an int"):
            storage.scan(b"", bad)  # type: ignore[arg-type]


# --- types ------------------------------------------------------------------------------------


def test_bytes_like_keys_and_values_are_stored_as_bytes() -> None:
    storage = MemoryStorage()
    key, value = bytearray(b"k"), bytearray(b"v")
    storage.set(key, value)
    key[0], value[0] = ord("x"), ord("x")  # later changes to the caller's buffers do not leak in
    assert storage.get(b"k") == b"v"
    assert type(storage.get(b"k")) is bytes
    storage.set(memoryview(b"m"), memoryview(b"mv"))
    assert storage.get(memoryview(b"m")) == b"mv"
    assert all(type(k) is bytes and type(v) is bytes for k, v in storage.items())


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.set("key", b"v"),
        lambda s: s.set(b"key", "value"),
        lambda s: s.set(b"key", 5),
        lambda s: s.set(b"key", None),
        lambda s: s.get("key"),
        lambda s: s.delete(["key"]),
        lambda s: s.scan("pre", 1),
    ],
)
def test_other_types_are_rejected_with_a_clear_message(call) -> None:
    storage = MemoryStorage({b"key": b"old"})
    with pytest.raises(TypeError, match="must be bytes, bytearray or memoryview, not"):
        call(storage)
    assert storage.snapshot() == {b"key": b"old"}


# --- batches ----------------------------------------------------------------------------------


def test_apply_writes_in_order() -> None:
    storage = MemoryStorage({b"gone": b"x"})
    storage.apply([(b"a", b"1"), (b"a", None), (b"b", b"1"), (b"b", b"2"), (b"gone", None)])
    assert storage.snapshot() == {b"b": b"2"}


@pytest.mark.parametrize(
    "bad",
    [(b"k", "text"), ("k", b"v"), (b"k",), b"kv", (b"k", b"v", b"extra")],
)
def test_apply_with_an_invalid_change_leaves_the_store_unchanged(bad) -> None:
    storage = MemoryStorage({b"a": b"1", b"b": b"2"})
    with pytest.raises(TypeError):
        storage.apply([(b"a", None), (b"c", b"3"), bad, (b"d", b"4")])
    assert storage.snapshot() == {b"a": b"1", b"b": b"2"}


def test_apply_accepts_a_generator() -> None:
    storage = MemoryStorage()
    storage.apply((bytes([i]), bytes([i])) for i in range(5))
    assert len(storage) == 5


# --- snapshots, copies ------------------------------------------------------------------------


def test_snapshot_is_an_ordered_copy_and_restore_brings_it_back() -> None:
    storage = MemoryStorage({b"b": b"2", b"a": b"1", b"c": b"3"})
    saved = storage.snapshot()
    assert list(saved) == [b"a", b"b", b"c"]

    storage.set(b"a", b"changed")
    storage.delete(b"b")
    storage.set(b"d", b"new")
    assert saved == {b"a": b"1", b"b": b"2", b"c": b"3"}

    storage.restore(saved)
    assert storage.snapshot() == saved
    storage.restore({})
    assert len(storage) == 0


def test_restore_rejects_bad_data_without_changing_anything() -> None:
    storage = MemoryStorage({b"a": b"1"})
    with pytest.raises(TypeError):
        storage.restore({b"b": b"2", b"c": None})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        storage.restore({"b": b"2"})  # type: ignore[dict-item]
    assert storage.snapshot() == {b"a": b"1"}


def test_copy_equality_and_repr() -> None:
    storage = MemoryStorage({b"a": b"1"})
    clone = storage.copy()
    assert clone == storage
    clone.set(b"b", b"2")
    assert clone != storage
    assert storage.get(b"b") is None
    assert storage != {b"a": b"1"}
    assert repr(storage) == "<MemoryStorage: 1 key>"
    assert repr(clone) == "<MemoryStorage: 2 keys>"


def test_an_empty_store_is_still_truthy() -> None:
    storage = MemoryStorage()
    assert len(storage) == 0
    assert (storage or None) is storage


# --- a user-defined backend -------------------------------------------------------------------


class DictStorage(MyStorage):
    """A backend with only the four abstract methods, recording the batches applied to it."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[list[tuple[bytes, bytes | None]]] = []

    def apply(self, changes) -> None:  # records batches, to see restore() uses one
        changes = list(changes)
        self.applied.append(changes)
        super().apply(changes)


def test_storage_is_abstract() -> None:
    with pytest.raises(TypeError):
        Storage()  # type: ignore[abstract]


def test_a_backend_with_only_the_four_methods_gets_the_rest() -> None:
    storage = DictStorage()
    storage.apply([(b"b", b"2"), (b"a", b"1"), (b"c", b"3"), (b"c", None)])
    assert list(storage.items()) == [(b"a", b"1"), (b"b", b"2")]
    assert len(storage) == 2
    assert storage

    saved = storage.snapshot()
    assert list(saved) == [b"a", b"b"]
    storage.set(b"a", b"changed")
    storage.set(b"z", b"26")

    storage.applied.clear()
    storage.restore(saved)
    assert storage.snapshot() == saved
    # One batch, holding only what differs: the changed key and the extra one.
    assert storage.applied == [[(b"z", None), (b"a", b"1")]]


def test_the_default_apply_checks_the_batch_before_writing() -> None:
    storage = DictStorage()
    storage.set(b"a", b"1")
    with pytest.raises(TypeError):
        storage.apply([(b"b", b"2"), (b"c", "three")])
    assert storage.data == {b"a": b"1"}


# --- MemoryStorage against a model ------------------------------------------------------------

# A small alphabet with the edge bytes, so keys often share prefixes and reach 0xFF.
keys = st.lists(st.sampled_from([0x00, 0x01, 0x7F, 0xFE, 0xFF]), max_size=4).map(bytes)
values = st.binary(max_size=4)


class MemoryStorageMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.storage = MemoryStorage()
        self.model: dict[bytes, bytes] = {}

    @rule(key=keys, value=values)
    def set(self, key: bytes, value: bytes) -> None:
        self.storage.set(key, value)
        self.model[key] = value

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self.storage.delete(key)
        self.model.pop(key, None)

    @rule(key=keys)
    def get(self, key: bytes) -> None:
        assert self.storage.get(key) == self.model.get(key)

    @rule(changes=st.lists(st.tuples(keys, st.none() | values), max_size=6))
    def apply(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        self.storage.apply(changes)
        for key, value in changes:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule(prefix=keys, limit=st.integers(min_value=0, max_value=8))
    def scan(self, prefix: bytes, limit: int) -> None:
        expected = sorted((k, v) for k, v in self.model.items() if k.startswith(prefix))[:limit]
        assert self.storage.scan(prefix, limit) == expected

    @rule(data=st.dictionaries(keys, values, max_size=5))
    def restore(self, data: dict[bytes, bytes]) -> None:
        self.storage.restore(data)
        self.model = dict(data)

    @invariant()
    def holds_the_model(self) -> None:
        assert self.storage.snapshot() == dict(sorted(self.model.items()))
        assert len(self.storage) == len(self.model)


MemoryStorageMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, derandomize=True, database=None, deadline=None
)
TestMemoryStorageMachine = MemoryStorageMachine.TestCase
