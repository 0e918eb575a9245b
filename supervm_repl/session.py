"""The shell's state, without any terminal: the runtime and its debugger, the loaded contract,
the chain context and the snapshots, kept in the store's meta blobs when there is a ``--db``.

The runtime runs, numbers, commits and logs every call, and its debugger (the controller of
:mod:`runtime.debug`) keeps breakpoints, the paused call, the cursor and the history; the
session only adds what belongs to the shell. Storage, the chain context, the event log and
snapshots belong to the session, not to a module: loading another module keeps them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from runtime import (
    CallResult,
    ChainContext,
    Contract,
    MemoryStorage,
    Runtime,
    SqliteStorage,
    Storage,
    StorageChange,
    StorageError,
    Value,
)
from runtime.config import check_fuel
from runtime.debug import Debugger, Paused
from runtime.debug.history import DEFAULT_MAX_BYTES

from .errors import UsageError
from .inputs import Inputs
from .snapshots import Snapshot
from .views import Views
from .worker import Worker

__all__ = ["Session", "Snapshot"]

T = TypeVar("T")

# Names in the store's meta blobs.
_META_CONTEXT = "repl/context"
_META_SNAPSHOT = "repl/snapshot/"  # + snapshot name
#: The loaded module ({"path": …} or {"inline": true}) and the breakpoints, for the next run.
META_MODULE = "repl/module"
META_BREAKPOINTS = "repl/breakpoints"

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
        max_history_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.db = Path(db) if db is not None else None
        self.storage: Storage = SqliteStorage(self.db) if self.db is not None else MemoryStorage()
        try:
            self.runtime = Runtime(self.storage)
            self.debugger = Debugger(self.runtime, max_history_bytes=max_history_bytes)
            self.contract: Contract | None = None
            #: Where the loaded contract came from, for :meth:`reload` (None if typed inline).
            self.contract_path: Path | None = None
            #: Rebuild and reload the loaded file before a call when it changed on disk.
            self.watch = True
            self._loaded_stamp: tuple[int, int] | None = None
            self.snapshots: dict[str, Snapshot] = {}
            #: How values are shown, by key prefix (``:view``); kept for the session.
            self.views = Views()
            #: The commands run in this session (``:history``, ``!N``).
            self.inputs = Inputs()
            self._saved_breakpoints: list[dict[str, object]] | None = None
            self._worker = Worker(self.runtime.interrupt)
            self._load_persisted()
        except BaseException:
            self._close_storage()
            raise
        if block is not None or timestamp is not None:
            self.set_context(block, timestamp)
        if fuel is not None:
            self.set_fuel(fuel)

    # --- persistence ----------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        """Whether the state outlives the session (a ``--db`` file)."""
        return self.db is not None

    def _load_persisted(self) -> None:
        store = self.storage
        name = _META_CONTEXT
        try:
            raw = store.get_meta(name)
            if raw is not None:
                block, ts = json.loads(raw)
                self.runtime.context = ChainContext(block, ts)
            for name, raw in store.meta_items(_META_SNAPSHOT):
                snap_name = name.removeprefix(_META_SNAPSHOT)
                self.snapshots[snap_name] = Snapshot.from_json(snap_name, raw)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError,
                OverflowError) as exc:
            raise StorageError(
                f"cannot open {self.db}: its shell data ({name}) is unreadable: {exc}"
            ) from None
        # Call ids must stay unique: continue after every id still on record.
        self.storage.skip_call_ids(max(
            (e.call_id for s in self.snapshots.values() for e in s.events), default=0))

    def close_paused(self) -> str | None:
        """Abort a paused call (the session or script ends); says which, if one was."""
        paused = self.debugger.close()
        if paused is None:
            return None
        return f"call #{paused.call_id} ({paused.export}) was paused: aborted, nothing committed"

    def close(self) -> str | None:
        """Abort a paused call, stop the worker thread and release the ``--db`` file.

        Returns a message if a paused call was aborted."""
        message = self.close_paused()
        self._worker.close()
        try:
            self.save_breakpoints()
        finally:
            self._close_storage()
        return message

    def save_breakpoints(self) -> None:
        """Keep the breakpoints in the ``--db`` file for the next session (written only when
        they changed since the last time)."""
        if self.db is None:
            return
        saved = [{"spec": bp.spec, "temporary": bp.temporary, "enabled": bp.enabled,
                  "ignore": bp.ignore} for bp in self.debugger.breakpoints]
        if saved == self._saved_breakpoints:
            return
        self.storage.set_meta(META_BREAKPOINTS, json.dumps(saved).encode() if saved else None)
        self._saved_breakpoints = saved

    def saved_state(self) -> tuple[dict[str, object] | None, list[dict[str, object]]]:
        """The module and the breakpoints a previous session with this ``--db`` left (for
        the shell to restore); unreadable entries are left out."""
        if self.db is None:
            return None, []
        try:
            module = json.loads(self.storage.get_meta(META_MODULE) or b"null")
            breakpoints = json.loads(self.storage.get_meta(META_BREAKPOINTS) or b"[]")
        except (ValueError, RecursionError):
            return None, []
        if not isinstance(module, dict):
            module = None
        if not isinstance(breakpoints, list):
            breakpoints = []
        return module, [b for b in breakpoints if isinstance(b, dict)
                        and isinstance(b.get("spec"), str)]

    def _remember_module(self, path: Path | None) -> None:
        if self.db is not None:
            where = {"path": str(path.resolve())} if path is not None else {"inline": True}
            self.storage.set_meta(META_MODULE, json.dumps(where).encode())

    def _close_storage(self) -> None:
        close = getattr(self.storage, "close", None)
        if close is not None:
            close()

    # --- the contract ---------------------------------------------------------------------

    def load_file(self, path: str | Path) -> Contract:
        """Load a ``.wat``/``.wasm`` file; it becomes the contract calls go to."""
        path = Path(path)
        self.debugger.refuse_while_paused("load a module")
        stamp = _stamp(path)
        contract = self.runtime.load_file(path)
        self.contract, self.contract_path, self._loaded_stamp = contract, path, stamp
        self._remember_module(path)
        return contract

    def reload_if_changed(self) -> Contract | None:
        """With :attr:`watch` on, load the module's file again (rebuilding a source) if it
        changed since it was loaded; the new contract, or None if nothing changed."""
        path = self.contract_path
        if not self.watch or path is None or self.debugger.paused is not None:
            return None
        stamp = _stamp(path)
        if stamp is None or stamp == self._loaded_stamp:
            return None
        return self.load_file(path)

    def load_text(self, source: str, name: str = "<inline>") -> Contract:
        """Load a module typed as WebAssembly text."""
        self.debugger.refuse_while_paused("load a module")
        contract = self.runtime.load(source, name=name)
        self.contract, self.contract_path = contract, None
        self._remember_module(None)
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

    def call(self, export: str, args: Sequence[Value], *, dry_run: bool = False,
             step: bool = False) -> CallResult | Paused:
        """Call ``export`` on the loaded contract; the runtime commits it unless ``dry_run``.

        With breakpoints enabled (or ``step``) the call may pause: the debugger then holds it
        until it is continued or aborted. Ctrl-C in this thread stops a running call (it then
        fails with ``CallInterruptedError`` and nothing is committed). A failed call raises its
        :class:`~runtime.CallError`; either way the debugger's history records it.
        """
        contract = self.require_contract()
        return self.run_interruptible(
            lambda: self.debugger.call(contract, export, list(args), dry_run=dry_run,
                                       step=step))

    def resume(self, mode: str) -> CallResult | Paused:
        """Let the paused call go on (``continue`` or ``step``)."""
        return self.run_interruptible(lambda: self.debugger.resume(mode))

    def run_interruptible(self, work: Callable[[], T]) -> T:
        """Run ``work`` so that Ctrl-C in this thread interrupts a running call."""
        return self._worker.run(work)

    def handling_ctrl_c(self) -> contextlib.AbstractContextManager[None]:
        """For a run of many commands (a script): Ctrl-C interrupts the calls made inside,
        at no cost per call, and stops the run between them."""
        return self._worker.handling_ctrl_c()

    # --- context and limits ---------------------------------------------------------------

    @property
    def context(self) -> ChainContext:
        return self.runtime.context

    def set_context(self, block: int | None = None, timestamp: int | None = None) -> ChainContext:
        """Change the block number and/or timestamp later calls execute in.

        Each process has its own context: it is saved in the ``--db`` file (the next session
        starts with it) but another process using the file keeps its own.
        """
        self.debugger.refuse_while_paused("change the chain context")
        context = self.runtime.context
        try:
            context = context.with_(
                **{k: v for k, v in (("block_number", block), ("timestamp", timestamp))
                   if v is not None})
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        self.storage.set_meta(_META_CONTEXT, _encode_context(context))
        self.runtime.context = context
        return context

    @property
    def fuel(self) -> int:
        return self.runtime.limits.fuel

    def set_fuel(self, fuel: int) -> None:
        """The fuel each later call gets."""
        self.debugger.refuse_while_paused("change the fuel")
        self.runtime.limits = self.runtime.limits.with_(fuel=check_fuel(fuel))

    def set_limit(self, name: str, value: int) -> None:
        """Change one limit of later calls, checked as :class:`~runtime.Limits` checks it."""
        self.debugger.refuse_while_paused("change a limit")
        self.runtime.limits = self.runtime.limits.with_(**{name: value})

    # --- storage --------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        return self.storage.get(key)

    def set(self, key: bytes, value: bytes) -> bytes | None:
        """Write a pair directly (not through a contract); returns the old value."""
        self.debugger.refuse_while_paused("change storage")
        self._check_sizes(key, value)
        old = self.storage.get(key)
        self.runtime.edit({key: value}, label=":set")
        return old

    def delete(self, key: bytes) -> bytes | None:
        """Delete a key directly; returns the old value (None if it was absent)."""
        self.debugger.refuse_while_paused("change storage")
        old = self.storage.get(key)
        if old is not None:
            self.runtime.edit({key: None}, label=":del")
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
        snap = Snapshot(name, self.storage.snapshot(), self.context,
                        list(self.runtime.event_log), time.time())
        self.storage.set_meta(_META_SNAPSHOT + name, snap.to_json())
        self.snapshots[name] = snap
        return snap

    def restore(self, name: str) -> Snapshot:
        """Make storage, context and event log what they were when ``name`` was saved."""
        self.debugger.refuse_while_paused("restore a snapshot")
        snap = self.snapshots.get(name)
        if snap is None:
            known = ", ".join(sorted(self.snapshots)) or "none"
            raise UsageError(f"no snapshot {name[:70]!r}; snapshots: {known}")
        self._replace_state(snap.storage, snap.context, snap, f":restore {name}")
        return snap

    def delete_snapshot(self, name: str) -> None:
        self.debugger.refuse_while_paused("delete a snapshot")
        if name not in self.snapshots:
            raise UsageError(f"no snapshot {name[:70]!r}")
        self.storage.set_meta(_META_SNAPSHOT + name, None)
        del self.snapshots[name]

    def reset(self) -> None:
        """Empty storage, the default chain context and an empty event log (snapshots stay)."""
        self.debugger.refuse_while_paused("reset")
        self._replace_state({}, ChainContext(), None, ":reset")

    def _replace_state(self, storage: dict[bytes, bytes], context: ChainContext,
                       snap: Snapshot | None, label: str) -> list[StorageChange]:
        changes = self.runtime.replace_state(
            storage, snap.events if snap is not None else [], label=label,
            meta={_META_CONTEXT: _encode_context(context)})
        self.runtime.context = context
        return changes


def _stamp(path: Path) -> tuple[int, int] | None:
    """When and how big a file is, to notice that it changed (None if it is gone)."""
    try:
        info = os.stat(path)  # not Path.stat: this runs before every call
    except (OSError, ValueError):  # gone, or a path no file can have
        return None
    return info.st_mtime_ns, info.st_size


def _encode_context(context: ChainContext) -> bytes:
    return json.dumps([context.block_number, context.timestamp]).encode()
