"""Run a program with bounded memory and no core dumps: ``limited.py BYTES PROGRAM ARG...``.

Hostile inputs may make a process allocate without bound (reading ``/dev/zero``, storing
values in a loop). Under RLIMIT_DATA such a process fails in seconds, and the campaign sees
that, instead of the machine running out of memory. RLIMIT_DATA counts only memory in use, not
the address space wasmtime reserves for linear memories and guard pages.
"""

from __future__ import annotations

import os
import resource
import sys


def main() -> None:
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.execv(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
