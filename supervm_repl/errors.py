"""The shell's own errors; like the runtime's, each has a stable ``kind`` for ``--json``."""

from __future__ import annotations

from runtime import SuperVMError
from runtime.errors import UsageError as RuntimeUsageError

# The input is not a valid command (unknown name, wrong arguments, malformed literal): the
# runtime's own class, so that its usage errors and the shell's are one kind.
UsageError = RuntimeUsageError


class Interrupted(SuperVMError):
    """Ctrl-C arrived while a command (not a call) was running; the command did nothing."""

    kind = "interrupted"


class Unfinished(SuperVMError):
    """A script ended while a call was paused in the debugger; the call was aborted."""

    kind = "interrupted"


class InternalError(SuperVMError):
    """An unexpected failure inside the shell itself (a bug); ``--debug`` shows the traceback."""

    kind = "internal"
