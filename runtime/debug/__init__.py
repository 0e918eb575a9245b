"""Debugging contract calls: the controller (:class:`Debugger`), its breakpoints, pausing a
running call, the history of finished calls and the focus (where the user is)."""

from ..rerun import ReplayDivergenceError
from .breakpoints import Breakpoint, BreakpointError, Breakpoints
from .controller import Debugger, Position
from .focus import Focus
from .history import Entry, History, HistoryDropped, KeyAccess
from .pausing import Finished, PausableCall, Paused, live_storage, read_inputs
from .views import StorageView

__all__ = [
    "Breakpoint",
    "BreakpointError",
    "Breakpoints",
    "Debugger",
    "Entry",
    "Finished",
    "Focus",
    "History",
    "HistoryDropped",
    "KeyAccess",
    "PausableCall",
    "Paused",
    "Position",
    "ReplayDivergenceError",
    "StorageView",
    "live_storage",
    "read_inputs",
]
