"""The shell's own errors; like the runtime's, each has a stable ``kind`` for ``--json``."""

from __future__ import annotations

from runtime import SuperVMError


class UsageError(SuperVMError):
    """The input is not a valid command: unknown name, wrong arguments, malformed literal."""

    kind = "usage"


class FileProblem(SuperVMError):
    """A file could not be read or written (missing, unreadable, a directory, ...)."""

    kind = "io"


class Interrupted(SuperVMError):
    """Ctrl-C arrived while a command (not a call) was running; the command did nothing."""

    kind = "interrupted"


class Unfinished(SuperVMError):
    """A script ended while a call was paused in the debugger; the call was aborted."""

    kind = "interrupted"


class InternalError(SuperVMError):
    """An unexpected failure inside the shell itself (a bug); ``--debug`` shows the traceback."""

    kind = "internal"


def file_problem(path: object, exc: OSError) -> FileProblem:
    """A one-line :class:`FileProblem` for an ``OSError`` about ``path``."""
    reason = exc.strerror or type(exc).__name__
    return FileProblem(f"cannot read {path}: {reason}")
