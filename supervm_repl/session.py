"""The shell's state, without any terminal: one runtime, one storage, the loaded contract, the
chain context, snapshots, the call history, and their persistence in a ``--db`` file.

Storage, the chain context, the event log and snapshots belong to the session, not to a module:
loading another module keeps them. With a :class:`~runtime.SqliteStorage` the context, the event
log and the snapshots are kept in the file's meta table, each change in the same transaction as
the storage writes it goes with.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from runtime import (
    CallError,
    CallResult,
    ChainContext,
    Contract,
    LoggedEvent,
    MemoryStorage,
    Runtime,
    SqliteStorage,
    Storage,
    StorageChange,
    StorageError,
    Value,
)
from runtime.config import check_fuel
from runtime.debug import CallRecord, History, Paused

from .debugger import Debugger
from .errors import UsageError
from .snapshots import Snapshot
from .worker import Worker

__all__ = ["CallRecord", "Session", "Snapshot"]

T = TypeVar("T")

# Names in the --db file's meta table.
_META_CONTEXT = "repl/context"
_META_EVENTS = "repl/events/"  # + call id, zero-padded so names sort in call order
_META_SNAPSHOT = "repl/snapshot/"  # + snapshot name

_SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class Session:
    """Everything the shell works on. Methods raise :class:`~runtime.SuperVMError` subclasses
    and leave the session unchanged when they do.
    """

    def __init__(
        self,
        db: str | Path | None = None,
        *,
        block: int | None = None,
        timestamp: int | None = None,
        fuel: int | None = None,
    ) -> None:
        self.db = Path(db) if db is not None else None
        self.storage: Storage = SqliteStorage(self.db) if self.db is not None else MemoryStorage()
        self.runtime = Runtime(self.storage)
        self.contract: Contract | None = None
        #: Where the loaded contract came from, for :meth:`reload` (None if typed inline).
        self.contract_path: Path | None = None
        self.snapshots: dict[str, Snapshot] = {}
        #: Every call (and direct storage edit) of the session, with its trace: time travel
        #: rebuilds storage at any step of them from it.
        self.history = History(self.storage)
        self.debugger = Debugger(self)
        self._last_call: CallRecord | None = None
        #: Which export emitted each logged event's call (for the event log's display).
        self.exports: dict[int, str] = {}
        self._worker = Worker(self.runtime.interrupt)
        try:
            self._load_persisted()
        except BaseException:
            self.close()
            raise
        if block is not None or timestamp is not None:
            self.set_context(block, timestamp)
        if fuel is not None:
            self.set_fuel(fuel)

    # --- persistence ----------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        return isinstance(self.storage, SqliteStorage)

    def _load_persisted(self) -> None:
        if not isinstance(self.storage, SqliteStorage):
            return
        store = self.storage
        name = "?"
        try:
            name = _META_CONTEXT
            raw = store.get_meta(name)
            if raw is not None:
                block, ts = json.loads(raw)
                self.runtime.context = ChainContext(block, ts)
            for name in store.meta_names(_META_EVENTS):
                call_id, export, events = _decode_events(store.get_meta(name) or b"")
                self.exports[call_id] = export
                self.runtime.event_log.extend(
                    LoggedEvent(call_id, i, d) for i, d in enumerate(events))
            for name in store.meta_names(_META_SNAPSHOT):
                snap_name = name.removeprefix(_META_SNAPSHOT)
                self.snapshots[snap_name] = Snapshot.from_json(
                    snap_name, store.get_meta(name) or b"")
        except (ValueError, TypeError, KeyError) as exc:
            raise StorageError(
                f"cannot open {self.db}: its shell data ({name}) is unreadable: {exc}"
            ) from None
        # Call ids must stay unique across restarts: continue after every id still on record.
        ids = [e.call_id for e in self.runtime.event_log]
        ids += [e.call_id for s in self.snapshots.values() for e in s.events]
        self.runtime.calls_made = max(ids, default=0)

    def _events_meta(self, events: Sequence[LoggedEvent]) -> dict[str, bytes | None]:
        """Meta writes that store ``events`` (grouped per call)."""
        by_call: dict[int, list[bytes]] = {}
        for event in events:
            by_call.setdefault(event.call_id, []).append(event.data)
        return {
            f"{_META_EVENTS}{call_id:012d}": json.dumps(
                [call_id, self.exports.get(call_id, ""), [d.hex() for d in datas]]
            ).encode()
            for call_id, datas in by_call.items()
        }

    def _write(self, changes: list[tuple[bytes, bytes | None]],
               meta: dict[str, bytes | None]) -> None:
        """Apply storage ``changes`` and ``meta`` writes together (meta only with ``--db``)."""
        if isinstance(self.storage, SqliteStorage):
            self.storage.apply(changes, meta=meta)
        elif changes:
            self.storage.apply(changes)

    def close(self) -> str | None:
        """Abort a paused call, stop the worker thread and release the ``--db`` file.

        Returns a message if a paused call was aborted."""
        aborted = self.debugger.close()
        self._worker.close()
        if isinstance(self.storage, SqliteStorage):
            self.storage.close()
        return aborted

    # --- the contract ---------------------------------------------------------------------

    def load_file(self, path: str | Path) -> Contract:
        """Load a ``.wat``/``.wasm`` file; it becomes the contract calls go to."""
        path = Path(path)
        self.debugger.refuse_while_paused("load a module")
        contract = self.runtime.load_file(path)
        self.contract, self.contract_path = contract, path
        return contract

    def load_text(self, source: str, name: str = "<inline>") -> Contract:
        """Load a module typed as WebAssembly text."""
        self.debugger.refuse_while_paused("load a module")
        contract = self.runtime.load(source, name=name)
        self.contract, self.contract_path = contract, None
        return contract

    def reload(self) -> Contract:
        """Load the current contract's file again (after editing it)."""
        if self.contract is None:
            raise UsageError("no module loaded; use :load PATH")
        if self.contract_path is None:
            raise UsageError("the module was typed inline: there is no file to reload")
        return self.load_file(self.contract_path)

    def require_contract(self) -> Contract:
        if self.contract is None:
            raise UsageError("no module loaded; use :load PATH or type (module ...)")
        return self.contract

    # --- calls ----------------------------------------------------------------------------

    def call(self, export: str, args: Sequence[Value], *, dry_run: bool = False) -> CallResult:
        """Call ``export`` on the loaded contract and commit what it did (unless ``dry_run``).

        The call runs in a worker thread so that a KeyboardInterrupt (Ctrl-C) in the calling
        thread can stop it: the call then fails with ``CallInterruptedError`` and nothing is
        committed. A failed call raises its :class:`~runtime.CallError`; either way it is
        recorded in :attr:`calls`.
        """
        contract = self.require_contract()
        self.debugger.refuse_while_paused("call")
        self.debugger.live()
        started = time.perf_counter()

        def run() -> CallResult:
            # Committed here, in the worker, so an interrupt never splits a commit in two.
            result = self.runtime.call(contract, export, list(args), dry_run=True,
                                       keep_memory=True)
            if not dry_run:
                self.commit(result)
            return result

        try:
            result = self.run_interruptible(run)
        except CallError as error:
            self.record_failure(export, list(args), error, time.perf_counter() - started,
                                dry_run)
            raise
        self.record_result(result, dry_run)
        return result

    def call_or_pause(self, export: str, args: Sequence[Value], *,
                      dry_run: bool = False) -> CallResult | Paused:
        """Like :meth:`call`, but with breakpoints set the call may pause at one
        (:attr:`debugger` then holds it until it is continued or aborted)."""
        if not self.debugger.breakpoints:
            return self.call(export, args, dry_run=dry_run)
        self.require_contract()
        self.debugger.refuse_while_paused("call")
        return self.debugger.start(export, args, dry_run)

    # --- the call history -----------------------------------------------------------------

    def _add(self, record: CallRecord) -> None:
        if record.is_call:
            # Only the last call's memory is kept (memory at a step is rebuilt by re-runs).
            if self._last_call is not None:
                self._last_call.memory = None
            self._last_call = record
        self.history.add(record)

    def record_result(self, result: CallResult, dry_run: bool) -> CallRecord:
        """Record a call that returned (its changes only if they were committed)."""
        memory, result.memory = result.memory, None
        record = CallRecord(
            result.call_id, self.contract, result.export, result.args, result.context,
            result.fuel_limit, result.trace, result.events,
            [] if dry_run else result.storage_changes, result, None, result.elapsed, dry_run,
            memory)
        self._add(record)
        return record

    def record_failure(self, export: str, args: Sequence[Value], error: CallError,
                       elapsed: float, dry_run: bool) -> CallRecord:
        """Record a call that failed (nothing was committed)."""
        record = CallRecord(
            self.runtime.calls_made, self.contract, export, list(args), self.context,
            self.fuel, list(error.trace or []), [], [], None, error, elapsed, dry_run,
            error.memory)
        self._add(record)
        return record

    def _record_edit(self, edit: str, changes: list[StorageChange]) -> None:
        if changes:
            self._add(CallRecord(0, None, "", [], self.context, 0, [], [], changes, edit=edit))

    @property
    def calls(self) -> list[CallRecord]:
        """The calls made this session, in order (direct edits left out)."""
        return [r for r in self.history.records if r.is_call]

    def commit(self, result: CallResult) -> None:
        if not result.events and not result.storage_changes:
            return  # nothing to write (most calls of a script): no transaction either
        logged = [LoggedEvent(result.call_id, i, d) for i, d in enumerate(result.events)]
        if logged:
            self.exports[result.call_id] = result.export
        try:
            self._write([(c.key, c.new) for c in result.storage_changes],
                        self._events_meta(logged) if self.persistent else {})
        except BaseException:
            self.exports.pop(result.call_id, None)
            raise
        self.runtime.event_log.extend(logged)

    def run_interruptible(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the worker thread; Ctrl-C in this thread interrupts the running call."""
        return self._worker.run(work)

    @property
    def last_call(self) -> CallRecord | None:
        return self._last_call

    # --- context and limits ---------------------------------------------------------------

    @property
    def context(self) -> ChainContext:
        return self.runtime.context

    def set_context(self, block: int | None = None, timestamp: int | None = None) -> ChainContext:
        """Change the block number and/or timestamp later calls execute in."""
        self.debugger.refuse_while_paused("change the chain context")
        context = self.runtime.context
        try:
            context = context.with_(
                **{k: v for k, v in (("block_number", block), ("timestamp", timestamp))
                   if v is not None})
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        self._write([], {_META_CONTEXT: _encode_context(context)})
        self.runtime.context = context
        return context

    @property
    def fuel(self) -> int:
        return self.runtime.limits.fuel

    def set_fuel(self, fuel: int) -> None:
        """The fuel each later call gets."""
        self.debugger.refuse_while_paused("change the fuel")
        self.runtime.limits = self.runtime.limits.with_(fuel=check_fuel(fuel))

    # --- storage --------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        return self.storage.get(key)

    def set(self, key: bytes, value: bytes) -> bytes | None:
        """Write a pair directly (not through a contract); returns the old value."""
        self.debugger.refuse_while_paused("change storage")
        self._check_sizes(key, value)
        old = self.storage.get(key)
        self.storage.set(key, value)
        self._record_edit(":set", [StorageChange(key, old, value)])
        return old

    def delete(self, key: bytes) -> bytes | None:
        """Delete a key directly; returns the old value (None if it was absent)."""
        self.debugger.refuse_while_paused("change storage")
        old = self.storage.get(key)
        if old is not None:
            self.storage.delete(key)
            self._record_edit(":del", [StorageChange(key, old, None)])
        return old

    def scan(self, prefix: bytes = b"", limit: int | None = None) -> list[tuple[bytes, bytes]]:
        """The pairs whose key starts with ``prefix``, in key order (at most ``limit``)."""
        return self.storage.scan(prefix, limit if limit is not None else 2**62)

    def _check_sizes(self, key: bytes, value: bytes) -> None:
        limits = self.runtime.limits
        if len(key) > limits.max_key_size:
            raise UsageError(f"key is {len(key)} bytes; max_key_size is {limits.max_key_size}")
        if len(value) > limits.max_value_size:
            raise UsageError(
                f"value is {len(value)} bytes; max_value_size is {limits.max_value_size}")

    # --- snapshots ------------------------------------------------------------------------

    def snapshot(self, name: str | None = None) -> Snapshot:
        """Save storage, context and event log under ``name`` (default: snap1, snap2, ...)."""
        if name is None:
            taken = [int(m[1]) for n in self.snapshots if (m := re.fullmatch(r"snap(\d+)", n))]
            name = f"snap{max(taken, default=0) + 1}"
        self.debugger.refuse_while_paused("take a snapshot")
        if not _SNAPSHOT_NAME.fullmatch(name):
            raise UsageError(
                f"snapshot names are 1-64 letters, digits, '_', '.' or '-', not {name[:70]!r}")
        log = list(self.runtime.event_log)
        snap = Snapshot(name, self.storage.snapshot(), self.context, log,
                        {e.call_id: self.exports.get(e.call_id, "") for e in log}, time.time())
        self._write([], {_META_SNAPSHOT + name: snap.to_json()})
        self.snapshots[name] = snap
        return snap

    def restore(self, name: str) -> Snapshot:
        """Make storage, context and event log what they were when ``name`` was saved."""
        self.debugger.refuse_while_paused("restore a snapshot")
        snap = self.snapshots.get(name)
        if snap is None:
            known = ", ".join(sorted(self.snapshots)) or "none"
            raise UsageError(f"no snapshot {name[:70]!r}; snapshots: {known}")
        self._replace_state(snap.storage, snap.context, snap.events, snap.exports,
                            f":restore {name}")
        return snap

    def delete_snapshot(self, name: str) -> None:
        self.debugger.refuse_while_paused("delete a snapshot")
        if name not in self.snapshots:
            raise UsageError(f"no snapshot {name[:70]!r}")
        self._write([], {_META_SNAPSHOT + name: None})
        del self.snapshots[name]

    def reset(self) -> None:
        """Empty storage, the default chain context and an empty event log (snapshots stay)."""
        self.debugger.refuse_while_paused("reset")
        self._replace_state({}, ChainContext(), [], {}, ":reset")

    def _replace_state(self, storage: dict[bytes, bytes], context: ChainContext,
                       events: list[LoggedEvent], exports: dict[int, str], edit: str) -> None:
        current = self.storage.snapshot()
        changes: list[tuple[bytes, bytes | None]] = [(k, None) for k in current if k not in storage]
        changes += [(k, v) for k, v in storage.items() if current.get(k) != v]
        meta: dict[str, bytes | None] = {}
        if isinstance(self.storage, SqliteStorage):
            meta = {name: None for name in self.storage.meta_names(_META_EVENTS)}
        saved_exports, self.exports = self.exports, dict(exports)
        try:
            meta.update(self._events_meta(events))
            meta[_META_CONTEXT] = _encode_context(context)
            self._write(changes, meta)
        except BaseException:
            self.exports = saved_exports
            raise
        self._record_edit(edit, [StorageChange(k, current.get(k), v) for k, v in changes])
        self.runtime.context = context
        self.runtime.event_log[:] = events
        self.runtime.calls_made = max([self.runtime.calls_made, *(e.call_id for e in events)])


def _encode_context(context: ChainContext) -> bytes:
    return json.dumps([context.block_number, context.timestamp]).encode()


def _decode_events(raw: bytes) -> tuple[int, str, list[bytes]]:
    call_id, export, events = json.loads(raw)
    return int(call_id), str(export), [bytes.fromhex(e) for e in events]
