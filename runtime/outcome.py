"""What a finished call did: one type for calls that returned and calls that failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import ChainContext
from .trace import HostCall, StorageChange
from .values import Value

if TYPE_CHECKING:
    from .errors import CallError
    from .modules import Contract


@dataclass(slots=True, kw_only=True, eq=False)
class CallResult:
    """The outcome of a finished call, successful or failed.

    :meth:`Runtime.call <runtime.Runtime.call>` returns it for a call that returned normally;
    for a call that failed it raises the :class:`~runtime.CallError`, whose ``outcome`` is this
    with ``error`` set and ``results`` None. ``storage_changes`` and ``events`` are what was
    committed (with ``dry_run``: what would have been); a failed call commits nothing, and its
    ``events`` are those it emitted before failing.
    """

    call_id: int
    export: str
    args: list[Value]
    context: ChainContext
    fuel_limit: int
    fuel_used: int
    elapsed: float
    results: list[Value] | None = None
    error: CallError | None = None
    events: list[bytes] = field(default_factory=list)
    storage_changes: list[StorageChange] = field(default_factory=list)
    trace: list[HostCall] = field(default_factory=list)
    trace_truncated: bool = False
    committed: bool = False
    dry_run: bool = False
    #: How many times the call ran again because another process changed a key it had read
    #: before it could commit (0 or 1: the second run holds the store).
    reruns: int = 0
    #: The contract called (None for a call that could not be prepared).
    contract: Contract | None = field(default=None, repr=False)
    #: The final linear memory, only with ``keep_memory=True``.
    memory: bytes | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def value(self) -> int | float | tuple[int | float, ...] | None:
        """The single result as a Python number, a tuple for multi-value, ``None`` for none."""
        if not self.results:
            return None
        if len(self.results) == 1:
            return self.results[0].value
        return tuple(v.value for v in self.results)


#: The name the outcome of any finished call goes by.
CallOutcome = CallResult


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event of the event log: emitted by call ``call_id`` (of ``export``) as its
    ``index``-th event."""

    call_id: int
    index: int
    data: bytes
    export: str = ""
