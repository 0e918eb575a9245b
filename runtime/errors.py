"""SuperVM's error hierarchy.

Every failure the runtime reports is a :class:`SuperVMError`; the facts are attributes, and
``kind`` is a stable machine-readable name (the REPL's ``--json`` output uses it). Errors that end
a call (:class:`CallError` and its subclasses) also carry what the call did before it failed: its
host-call ``trace`` and ``fuel_used``. Nothing a failed call wrote is ever committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcome import CallResult
    from .trace import HostCall


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(message: str, *, lines: bool = False) -> str:
    """``message`` with control characters escaped (``\\n``, ``\\x1b``): an error is one line,
    whatever the names, paths and values it quotes contain. With ``lines``, its line breaks
    stay (a compiler's diagnostics, one per line) and only the rest is escaped."""
    if _CONTROL.search(message) is None:
        return message
    return _CONTROL.sub(lambda m: m[0] if lines and m[0] == "\n"
                        else m[0].encode("unicode_escape").decode("ascii"), message)


class SuperVMError(Exception):
    """Base of every error SuperVM raises on purpose; each subclass names its ``kind``.

    SuperVM itself raises only subclasses: an error of this base class would be a bug.
    """

    kind = "internal"
    #: Whether the message is lines of their own (a compiler's diagnostics).
    multiline = False

    def __init__(self, message: str) -> None:
        message = one_line(message, lines=self.multiline)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: ``kind``, ``message`` and the kind's own facts."""
        return {"kind": self.kind, "message": self.message}


class UsageError(SuperVMError):
    """The request itself is wrong: a malformed literal or condition, a step or call that does
    not exist, an operation that does not apply in the current state."""

    kind = "usage"


# --- loading a module -------------------------------------------------------------------------


class ModuleError(SuperVMError):
    """A module could not be loaded."""


class WatSyntaxError(ModuleError):
    """The WebAssembly text could not be parsed; ``line``/``col`` are 1-based (0 if unknown)."""

    kind = "wat_syntax"

    def __init__(self, message: str, line: int = 0, col: int = 0, source: str = "") -> None:
        where = f"{source or 'line'} {line}:{col}: " if line else ""
        super().__init__(f"WAT syntax error: {where}{message}")
        self.reason, self.line, self.col, self.source = message, line, col, source

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "line": self.line, "col": self.col}


class InvalidModuleError(ModuleError):
    """The bytes are not a valid WebAssembly module for SuperVM's engine."""

    kind = "invalid_module"


class MissingImportError(ModuleError):
    """The module imports something SuperVM does not provide."""

    kind = "missing_import"

    def __init__(self, module: str, name: str, available: Sequence[str], detail: str = "") -> None:
        what = f"{module}.{name}"
        problem = detail.strip().removeprefix("(").removesuffix(")") or \
            "SuperVM provides no such import"
        super().__init__(
            f"module imports {what}: {problem}; host functions: {', '.join(available)}")
        self.module, self.name, self.available = module, name, list(available)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "import": f"{self.module}.{self.name}",
                "available": self.available}


# --- calling an export ------------------------------------------------------------------------


class NoSuchExportError(SuperVMError):
    """The module has no exported function of that name."""

    kind = "no_such_export"

    def __init__(self, name: str, exports: Sequence[str]) -> None:
        listed = ", ".join(exports) if exports else "none"
        super().__init__(f"no exported function {name!r}; exports: {listed}")
        self.name, self.exports = name, list(exports)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "name": self.name, "exports": self.exports}


class BadArgumentsError(SuperVMError):
    """The arguments do not match the export's signature."""

    kind = "bad_arguments"


class CallError(SuperVMError):
    """A call started and ended without returning normally; nothing it did was committed.

    ``trace`` holds the host calls it made before failing and ``fuel_used`` the fuel it burnt.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.trace: list[HostCall] = []
        self.trace_truncated = False
        self.fuel_used = 0
        self.export = ""
        self.memory: bytes | None = None
        #: Where in wasm the call was when it ended (innermost first), if known.
        self.frames: list[Frame] = []
        #: The finished call this error ended (set by the runtime).
        self.outcome: CallResult | None = None


@dataclass(frozen=True)
class Frame:
    """One wasm frame of a trap's backtrace, innermost first."""

    func_index: int
    func_name: str | None
    module_offset: int

    def __str__(self) -> str:
        name = self.func_name or f"func[{self.func_index}]"
        return f"{name} @ 0x{self.module_offset:x}"


class TrapError(CallError):
    """The guest trapped: a wasm trap, or a fault the guest caused inside a host function.

    ``code`` is wasmtime's trap code name in lower case (``unreachable``,
    ``memory_out_of_bounds``, ...) or ``host`` for a guest fault detected by a host function,
    whose name is then in ``host_function``.
    """

    kind = "trap"

    def __init__(
        self,
        code: str,
        message: str,
        frames: Sequence[Frame] = (),
        host_function: str | None = None,
    ) -> None:
        super().__init__(f"trap ({code}): {message}")
        self.code, self.reason, self.frames = code, message, list(frames)
        self.host_function = host_function

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "code": self.code,
                "backtrace": [str(f) for f in self.frames]}


class OutOfFuelError(CallError):
    """The call used all the fuel it was given (an infinite loop ends here)."""

    kind = "out_of_fuel"

    def __init__(self, fuel_limit: int) -> None:
        super().__init__(f"out of fuel: the call used all {fuel_limit:,} units it was given")
        self.fuel_limit = fuel_limit


class LimitExceededError(CallError):
    """A configured limit was exceeded (``limit`` names it, e.g. ``max_value_size``)."""

    kind = "limit"

    def __init__(self, limit: str, value: int, maximum: int, where: str = "") -> None:
        at = f"{where}: " if where else ""
        super().__init__(f"{at}{limit} exceeded: {value:,} > {maximum:,}")
        self.limit, self.value, self.maximum, self.where = limit, value, maximum, where

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "limit": self.limit, "value": self.value,
                "maximum": self.maximum}


class AbortError(CallError):
    """The guest called ``env.abort`` (AssemblyScript's ``abort()``/failed ``assert``)."""

    kind = "abort"

    def __init__(self, reason: str | None, file: str | None, line: int, col: int) -> None:
        where = f" at {file or '?'}:{line}:{col}"
        super().__init__(f"abort: {reason if reason is not None else '(no message)'}{where}")
        self.reason, self.file, self.line, self.col = reason, file, line, col

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reason": self.reason, "file": self.file,
                "line": self.line, "col": self.col}


class CallInterruptedError(CallError):
    """The call was stopped from outside (``Runtime.interrupt()``, the REPL's Ctrl-C).

    ``fuel_used`` counts fuel only up to the call's last host call: wasmtime does not report
    the fuel a loop burnt before an epoch interruption.
    """

    kind = "interrupted"

    def __init__(self, message: str = "call interrupted") -> None:
        super().__init__(message)


class HostFaultError(CallError):
    """A host function failed for a reason that is not the guest's fault (e.g. storage I/O).

    The original exception is ``__cause__`` and ``original``.
    """

    kind = "host_fault"

    def __init__(self, host_function: str, original: BaseException) -> None:
        super().__init__(
            f"host fault in {host_function}: {type(original).__name__}: {original}"
        )
        self.host_function, self.original = host_function, original


# --- storage ----------------------------------------------------------------------------------


class StorageError(SuperVMError):
    """A storage backend cannot be opened or used (corrupt, foreign or unreadable file)."""

    kind = "io"


class FileError(SuperVMError):
    """A file SuperVM was given cannot be read (or written): ``path`` and ``reason`` say why."""

    kind = "io"

    def __init__(self, path: str, reason: str, verb: str = "read") -> None:
        shown = path if path.isprintable() else path.encode("unicode_escape").decode("ascii")
        super().__init__(f"cannot {verb} {shown}: {reason}")
        self.path, self.reason = path, reason


class ReplayError(SuperVMError):
    """A replay bundle is malformed or cannot be used."""

    kind = "io"
