"""The session's history: every finished call and direct edit, kept compactly and bounded.

The history observes a :class:`~runtime.Runtime` and records each outcome. From the record it
answers what the time-travel views need, at a cost that follows what changed rather than the
size of the store or the length of the session:

* storage as it was just before any step of any recorded call (a :class:`StorageView`: the live
  store with the keys that differed then laid over it);
* the events, the changes between two steps, every access to a key (an index per key);
* linear memory at a step, by re-running the call from its starting storage
  (:mod:`runtime.rerun`), checked against the recording.

Each call is kept as one object holding a packed copy of its outcome (its trace included):
neither the memory nor the garbage collector's work grows with the objects a trace is made of.
The most recent outcomes are kept unpacked. Past ``max_bytes`` the oldest calls' traces are
dropped first, then the oldest calls themselves; moving to what was dropped says so.
"""

from __future__ import annotations

import pickle
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import abi
from ..config import ChainContext, Limits
from ..errors import UsageError
from ..modules import Contract
from ..outcome import CallResult
from ..rerun import ReplayDivergenceError, compare_traces, re_execute
from ..runtime import Edit, Runtime
from ..trace import EventEmit, HostCall, StorageChange, StorageWrite
from ..values import Value
from .views import StorageView

#: The default bound of a history, in bytes (``--max-history-mb``).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: Unpacked outcomes kept (the calls being looked at).
UNPACKED = 8
#: Bytes counted for an entry besides its packed form (the objects that hold it).
_ENTRY_OVERHEAD = 200
_EDIT_STEP = 0xFFFFFF  # the "step" of a direct edit in the key index


class HistoryDropped(UsageError):
    """The call asked for (or its trace) was dropped to keep the history within its bound."""


@dataclass(frozen=True, slots=True)
class KeyAccess:
    """A read or write of a key by a host call, or by a direct edit (``step`` None)."""

    call_id: int | None
    step: int | None
    func: str
    old: bytes | None
    new: bytes | None
    is_write: bool
    #: The call failed, so its writes were not committed.
    failed: bool = False

    @property
    def is_edit(self) -> bool:
        return self.step is None


class Entry(NamedTuple):
    """One item of the history: a call (``call_id`` set) or a direct edit (``label`` set).

    A tuple of plain values (the call's outcome is in ``packed``), so that a long history adds
    nothing for the garbage collector to walk.
    """

    seq: int
    call_id: int | None = None
    label: str = ""
    export: str = ""
    ok: bool = True
    dry_run: bool = False
    fuel_used: int = 0
    #: Net storage changes, as (key, old, new) tuples (committed calls and edits only).
    changes: tuple[tuple[bytes, bytes | None, bytes | None], ...] = ()
    packed: bytes = b""
    trace_dropped: bool = False
    size: int = 0

    @property
    def is_call(self) -> bool:
        return self.call_id is not None


_CALL_ID = Entry._fields.index("call_id")
_CHANGES = Entry._fields.index("changes")


class History:
    """The finished calls and direct edits of a runtime, oldest first."""

    def __init__(self, runtime: Runtime, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.runtime = runtime
        self.max_bytes = max_bytes
        # Entries by position; seq = _base + position. Dropped entries are cut off the front
        # of the list in batches (_start: the first kept one).
        # Plain tuples (an Entry's fields): the collector untracks those, never a subclass.
        self._entries: list[tuple[Any, ...]] = []
        # What an entry refers to that is not a plain value: the contract a call ran (by id,
        # shared by many calls) and a failed call's error (by seq).
        self._contracts: dict[int, Contract] = {}
        self._call_contract: dict[int, int] = {}
        self._errors: dict[int, object] = {}
        self._base = 0
        self._start = 0
        self._traces_from = 0  # position of the oldest entry whose trace may still be kept
        self._seq = 0
        self._by_call: dict[int, int] = {}  # call id -> seq
        self._keys: dict[bytes, array[int]] = {}
        self._unpacked: OrderedDict[int, CallResult] = OrderedDict()
        self._overlays: OrderedDict[int, dict[bytes, bytes | None]] = OrderedDict()
        self.size = 0
        self.dropped_calls = 0
        runtime.observers.append(self.record)

    # --- recording ----------------------------------------------------------------------------

    def record(self, event: CallResult | Edit) -> None:
        """Add a finished call or an edit (the runtime calls this)."""
        seq = self._seq
        self._seq += 1
        if isinstance(event, Edit):
            changes = tuple((c.key, c.old, c.new) for c in event.changes)
            for c in event.changes:
                self._index(c.key, seq, _EDIT_STEP)
            entry = Entry(seq, label=event.label, changes=changes,
                          size=_ENTRY_OVERHEAD + sum(map(_change_size, changes)))
        else:
            changes = tuple((c.key, c.old, c.new) for c in event.storage_changes) \
                if event.committed else ()
            for e in event.trace:
                key = e.payloads.get("key")
                if key is not None:
                    self._index(key, seq, e.index)
            packed = _pack(event)
            entry = Entry(seq, event.call_id, "", event.export, event.ok, event.dry_run,
                          event.fuel_used, changes, packed,
                          size=_ENTRY_OVERHEAD + len(packed) + (1000 if event.error else 0))
            if event.contract is not None:
                self._contracts.setdefault(id(event.contract), event.contract)
                self._call_contract[seq] = id(event.contract)
            if event.error is not None:
                self._errors[seq] = event.error
            self._by_call[event.call_id] = seq
            self._keep_unpacked(seq, event)
        self._entries.append(tuple(entry))
        self._overlays.clear()
        self.size += entry.size
        if self.size > self.max_bytes:
            self._shrink()

    def _index(self, key: bytes, seq: int, step: int) -> None:
        accesses = self._keys.get(key)
        if accesses is None:
            accesses = self._keys[key] = array("Q")
        accesses.append(seq << 24 | step)

    def _keep_unpacked(self, seq: int, outcome: CallResult) -> None:
        self._unpacked[seq] = outcome
        self._unpacked.move_to_end(seq)
        while len(self._unpacked) > UNPACKED:
            self._unpacked.popitem(last=False)

    def _shrink(self) -> None:
        """Drop the oldest traces, then the oldest entries, until within ``max_bytes``.

        Both go oldest first, so each entry is visited once over the whole session.
        """
        entries = self._entries
        while self.size > self.max_bytes and self._traces_from < len(entries) - 1:
            entry = Entry._make(entries[self._traces_from])
            if entry.is_call and not entry.trace_dropped:
                outcome = self.outcome_of(entry)
                outcome.trace = []
                packed = _pack(outcome)
                shrunk = len(entry.packed) - len(packed)
                entries[self._traces_from] = tuple(entry._replace(
                    packed=packed, trace_dropped=True, size=entry.size - shrunk))
                self.size -= shrunk
                self._unpacked.pop(entry.seq, None)
            self._traces_from += 1
        dropped = False
        while self.size > self.max_bytes and self._start < len(entries) - 1:
            entry = Entry._make(entries[self._start])
            entries[self._start] = ()
            self._start += 1
            dropped = True
            self.size -= entry.size
            self._errors.pop(entry.seq, None)
            self._call_contract.pop(entry.seq, None)
            if entry.call_id is not None:
                self._by_call.pop(entry.call_id, None)
                self.dropped_calls += 1
        if dropped and self._start > len(entries) // 2:
            del entries[:self._start]
            self._base += self._start
            self._traces_from = max(self._traces_from - self._start, 0)
            self._start = 0
            first = self._base
            for key in [k for k, a in self._keys.items() if a[-1] >> 24 < first]:
                del self._keys[key]

    # --- looking things up --------------------------------------------------------------------

    @property
    def _first_seq(self) -> int:
        return self._base + self._start

    def _live(self) -> list[Entry]:
        return [Entry._make(t) for t in self._entries[self._start:]]

    def _reversed(self) -> Iterator[Entry]:
        entries, start = self._entries, self._start
        for i in range(len(entries) - 1, start - 1, -1):
            yield Entry._make(entries[i])

    def __len__(self) -> int:
        return len(self._entries) - self._start

    def entries(self) -> list[Entry]:
        return list(self._live())

    def calls(self, limit: int | None = None) -> list[Entry]:
        """The recorded calls, oldest first (the last ``limit`` of them)."""
        found: list[Entry] = []
        for entry in self._reversed():
            if entry.is_call:
                found.append(entry)
                if limit is not None and len(found) >= limit:
                    break
        return found[::-1]

    @property
    def call_count(self) -> int:
        return len(self._by_call)

    @property
    def last(self) -> Entry | None:
        """The latest entry (a call or an edit)."""
        return Entry._make(self._entries[-1]) if len(self) else None

    @property
    def last_call(self) -> Entry | None:
        return next((e for e in self._reversed() if e.is_call), None)

    def entry(self, call_id: int) -> Entry:
        """The call numbered ``call_id`` (a :class:`UsageError` if there is none)."""
        seq = self._by_call.get(call_id)
        if seq is not None:
            return Entry._make(self._entries[seq - self._base])
        if self.dropped_calls and len(self) and self._first_call_id() > call_id:
            raise HistoryDropped(
                f"call #{call_id} was dropped from the history to keep it under "
                f"{self.max_bytes // (1024 * 1024)} MB (--max-history-mb)")
        raise UsageError(f"no call #{call_id} in this session")

    def _first_call_id(self) -> int:
        first = next((Entry._make(t) for t in self._entries[self._start:]
                      if t[_CALL_ID] is not None), None)
        return first.call_id if first is not None else 0  # type: ignore[return-value]

    def outcome_of(self, entry: Entry) -> CallResult:
        """The call's whole outcome (its trace included, unless dropped)."""
        outcome = self._unpacked.get(entry.seq)
        if outcome is None:
            contract = self._contracts.get(self._call_contract.get(entry.seq, -1))
            outcome = _unpack(entry, contract, self._errors.get(entry.seq))
            self._keep_unpacked(entry.seq, outcome)
        else:
            self._unpacked.move_to_end(entry.seq)
        return outcome

    def trace_of(self, entry: Entry) -> list[HostCall]:
        if entry.trace_dropped:
            raise HistoryDropped(
                f"the trace of call #{entry.call_id} was dropped to keep the history under "
                f"{self.max_bytes // (1024 * 1024)} MB (--max-history-mb); its outcome is kept")
        return self.outcome_of(entry).trace

    def after(self, entry: Entry) -> Entry | None:
        """The entry recorded after ``entry``."""
        i = entry.seq - self._base + 1
        return Entry._make(self._entries[i]) if i < len(self._entries) else None

    def is_latest(self, entry: Entry) -> bool:
        return len(self) > 0 and self._entries[-1][0] == entry.seq

    # --- state at a step ----------------------------------------------------------------------

    def before(self, entry: Entry) -> dict[bytes, bytes | None]:
        """Keys whose value just before ``entry`` differs from now: key -> value then."""
        overlay = self._overlays.get(entry.seq)
        if overlay is not None:
            return overlay
        overlay = {}
        for later in reversed(self._entries[entry.seq - self._base:]):
            for key, old, _ in reversed(later[_CHANGES]):
                overlay[key] = old
        self._overlays[entry.seq] = overlay
        while len(self._overlays) > 4:
            self._overlays.popitem(last=False)
        return overlay

    def storage_at(self, entry: Entry, step: int) -> StorageView:
        """Storage as the call saw it just before step ``step`` (``len(trace)``: after it)."""
        overlay = dict(self.before(entry))
        if step:
            for e in self.trace_of(entry)[:step]:
                if isinstance(e.effect, StorageWrite):
                    overlay[e.effect.key] = e.effect.new
        return StorageView(self.runtime.storage, overlay)

    def starting_storage(self, entry: Entry) -> dict[bytes, bytes]:
        """The whole storage a call started from (for re-running or exporting it)."""
        view = self.storage_at(entry, 0)
        return dict(view.scan(b""))

    def events_at(self, entry: Entry, step: int) -> list[bytes]:
        """The events the call had emitted before step ``step``."""
        return [e.effect.data for e in self.trace_of(entry)[:step]
                if isinstance(e.effect, EventEmit)]

    def diff(self, entry: Entry, a: int, b: int) -> tuple[list[StorageChange], list[bytes]]:
        """Storage changes and events between step ``a`` and step ``b`` of one call, from the
        trace alone (the store is not read)."""
        lo, hi = sorted((a, b))
        trace = self.trace_of(entry)[lo:hi]
        first: dict[bytes, bytes | None] = {}
        last: dict[bytes, bytes | None] = {}
        events = []
        for e in trace:
            if isinstance(e.effect, StorageWrite):
                first.setdefault(e.effect.key, e.effect.old)
                last[e.effect.key] = e.effect.new
            elif isinstance(e.effect, EventEmit):
                events.append(e.effect.data)
        changes = [StorageChange(k, first[k], last[k]) for k in sorted(last)
                   if first[k] != last[k]]
        if a > b:
            changes = [StorageChange(c.key, c.new, c.old) for c in changes]
        return changes, events

    def key_history(self, key: bytes, limit: int | None = None) -> tuple[list[KeyAccess], int]:
        """The accesses to ``key`` (the last ``limit``), oldest first, and how many there are."""
        found = self._keys.get(key)
        if found is None:
            return [], 0
        # Accesses are in seq order: those of dropped entries are a prefix.
        first = bisect_left(found, self._first_seq << 24)
        total = len(found) - first
        start = first if limit is None else max(len(found) - limit, first)
        chosen = found[start:]
        out = []
        for packed in chosen:
            entry = Entry._make(self._entries[(packed >> 24) - self._base])
            step = packed & 0xFFFFFF
            if step == _EDIT_STEP:
                out += [KeyAccess(None, None, entry.label, old, new, True)
                        for k, old, new in entry.changes if k == key]
                continue
            if entry.trace_dropped:
                continue
            e = self.outcome_of(entry).trace[step]
            fn = abi.BY_QUALNAME.get(e.func)
            if isinstance(e.effect, StorageWrite):
                out.append(KeyAccess(entry.call_id, step, e.func, e.effect.old, e.effect.new,
                                     True, not entry.ok))
            else:
                value = e.payloads.get("value")
                writes = fn is not None and fn.effect in ("write", "delete")
                out.append(KeyAccess(entry.call_id, step, e.func, value, value, writes,
                                     not entry.ok))
        return out, total

    def memory_at(self, entry: Entry, step: int, limits: Limits) -> bytes:
        """Linear memory as it was when step ``step`` was entered (``len(trace)``: at the end).

        Re-runs the call deterministically from its starting storage, without committing, and
        raises :class:`ReplayDivergenceError` if the re-run does not reproduce the trace.
        """
        outcome = self.outcome_of(entry)
        trace = self.trace_of(entry)
        if outcome.contract is None:
            raise UsageError(f"call #{entry.call_id} has no module to re-run")
        rerun = re_execute(outcome.contract, outcome.export, outcome.args,
                           storage=self.starting_storage(entry), context=outcome.context,
                           limits=limits, fuel=outcome.fuel_limit,
                           stop_at=step if step < len(trace) else None, keep_memory=True)
        divergence = compare_traces(trace, rerun.trace, upto=step)
        if divergence is not None:
            raise ReplayDivergenceError(
                f"re-running call #{entry.call_id} diverged at {divergence}", divergence)
        return rerun.memory or b""

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._live()))


def _change_size(change: tuple[bytes, bytes | None, bytes | None]) -> int:
    key, old, new = change
    return len(key) + len(old or b"") + len(new or b"") + 64


# --- packing an outcome -------------------------------------------------------------------------
# A tuple of plain values, pickled: one bytes object per call. The outcome's error and contract
# stay objects (kept on the entry); everything else is rebuilt from the tuple.


def _pack(o: CallResult) -> bytes:
    trace = [(e.index, e.func, e.args, e.fuel, e.result, tuple(e.payloads.items()),
              _pack_effect(e.effect), e.error) for e in o.trace]
    return pickle.dumps((
        o.call_id, o.export, [(v.type, v.bits) for v in o.args],
        (o.context.block_number, o.context.timestamp), o.fuel_limit, o.fuel_used, o.elapsed,
        None if o.results is None else [(v.type, v.bits) for v in o.results],
        list(o.events), [(c.key, c.old, c.new) for c in o.storage_changes], trace,
        o.trace_truncated, o.committed, o.dry_run, o.reruns), protocol=pickle.HIGHEST_PROTOCOL)


def _pack_effect(effect: object) -> tuple[object, ...] | None:
    if isinstance(effect, StorageWrite):
        return ("s", effect.key, effect.old, effect.new)
    if isinstance(effect, EventEmit):
        return ("e", effect.index, effect.data)
    return None


def _unpack(entry: Entry, contract: Contract | None, error: object) -> CallResult:
    (call_id, export, args, context, fuel_limit, fuel_used, elapsed, results, events, changes,
     trace, truncated, committed, dry_run, reruns) = pickle.loads(entry.packed)
    return CallResult(
        call_id=call_id, export=export, args=[Value(t, b) for t, b in args],
        context=ChainContext(*context), fuel_limit=fuel_limit, fuel_used=fuel_used,
        elapsed=elapsed, results=None if results is None else [Value(t, b) for t, b in results],
        error=error,  # type: ignore[arg-type]
        events=events, storage_changes=[StorageChange(*c) for c in changes],
        trace=[HostCall(i, func, a, fuel, result, dict(payloads), _unpack_effect(effect), error)
               for i, func, a, fuel, result, payloads, effect, error in trace],
        trace_truncated=truncated, committed=committed, dry_run=dry_run, reruns=reruns,
        contract=contract)


def _unpack_effect(packed: tuple[object, ...] | None) -> StorageWrite | EventEmit | None:
    if packed is None:
        return None
    if packed[0] == "s":
        return StorageWrite(packed[1], packed[2], packed[3])  # type: ignore[arg-type]
    return EventEmit(packed[1], packed[2])  # type: ignore[arg-type]
