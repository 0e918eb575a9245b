"""SuperVM runtime: run WebAssembly smart contracts against pluggable storage.

>>> from runtime import Runtime, MemoryStorage
>>> Runtime(MemoryStorage()).execute_add(open("samples/add.wat").read(), 7, 8)
15
"""

from .abi import HOST_FUNCTIONS, HostFunction
from .config import ChainContext, Limits
from .errors import (
    AbortError,
    BadArgumentsError,
    CallError,
    CallInterruptedError,
    Frame,
    HostFaultError,
    InvalidModuleError,
    LimitExceededError,
    MissingImportError,
    ModuleError,
    NoSuchExportError,
    OutOfFuelError,
    ReplayError,
    StorageError,
    SuperVMError,
    TrapError,
    WatSyntaxError,
)
from .modules import Contract, ExportInfo, ImportInfo, MemoryInfo, ModuleInfo
from .outcome import CallOutcome, CallResult, LoggedEvent
from .runtime import Edit, Runtime
from .sqlite_storage import SqliteStorage
from .storage import MemoryStorage, Storage
from .trace import EventEmit, HostCall, StorageChange, StorageWrite
from .values import Value

__all__ = [
    "HOST_FUNCTIONS",
    "AbortError",
    "BadArgumentsError",
    "CallError",
    "CallInterruptedError",
    "CallOutcome",
    "CallResult",
    "ChainContext",
    "Contract",
    "Edit",
    "EventEmit",
    "ExportInfo",
    "Frame",
    "HostCall",
    "HostFaultError",
    "HostFunction",
    "ImportInfo",
    "InvalidModuleError",
    "LimitExceededError",
    "Limits",
    "LoggedEvent",
    "MemoryInfo",
    "MemoryStorage",
    "MissingImportError",
    "ModuleError",
    "ModuleInfo",
    "NoSuchExportError",
    "OutOfFuelError",
    "ReplayError",
    "Runtime",
    "SqliteStorage",
    "Storage",
    "StorageChange",
    "StorageError",
    "StorageWrite",
    "SuperVMError",
    "TrapError",
    "Value",
    "WatSyntaxError",
]
