"""supervm-repl: the interactive shell of SuperVM, for loading, calling and inspecting contracts.

The shell is layered on the :mod:`runtime` package: :mod:`.session` holds the state,
:mod:`.commands` runs one line, :mod:`.app` is the interactive prompt and :mod:`.batch` runs
scripts; :mod:`.cli` is the ``supervm-repl`` command.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("supervm")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
