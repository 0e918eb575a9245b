"""Reading the files SuperVM is given: modules, replay bundles, scripts, configurations.

Every read goes through :func:`read_file`: the path must name a regular file (a device such as
``/dev/zero``, a FIFO, a socket or a directory is refused before anything is read, and opening
never blocks), and at most ``limit`` bytes are read, so a file that is too large (or grows while
it is read) is an error rather than a memory exhaustion.
"""

from __future__ import annotations

import contextlib
import os
import stat

from .errors import FileError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def describe_size(size: int) -> str:
    """``1.5 MiB``, ``300 bytes``: a size for a message."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} byte{'' if size == 1 else 's'}"


#: The longest file name and path the usual file systems take (Linux: NAME_MAX, PATH_MAX).
NAME_MAX = 255
PATH_MAX = 4096


def check_path(path: str | os.PathLike[str], what: str = "file") -> str:
    """``path`` as a string, or :class:`FileError` if it cannot name a file (a NUL byte, a
    name or a path too long for the file system)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\0" in text:
        raise FileError(text, f"the {what} path contains a NUL byte")
    if not text:
        raise FileError(text, f"the {what} path is empty")
    longest = max((len(os.fsencode(part)) for part in text.split(os.sep)), default=0)
    if longest > NAME_MAX:
        raise FileError(shorten_path(text), f"the {what} path has a name of {longest:,} bytes; "
                                            f"file names have at most {NAME_MAX}")
    if len(os.fsencode(text)) >= PATH_MAX:
        raise FileError(shorten_path(text), f"the {what} path is {len(os.fsencode(text)):,} "
                                            f"bytes long; paths have at most {PATH_MAX - 1:,}")
    return text


def shorten_path(text: str, keep: int = 60) -> str:
    """A path short enough for a one-line message."""
    return text if len(text) <= keep else f"{text[:keep // 2]}…{text[-keep // 2:]}"


def read_file(path: str | os.PathLike[str], *, limit: int, what: str = "file") -> bytes:
    """The contents of the regular file at ``path``, at most ``limit`` bytes.

    Raises :class:`FileError` (kind ``io``) naming the path and the problem: missing,
    unreadable, not a regular file, or larger than ``limit`` (``what`` names the file in
    messages: ``"module"``, ``"replay bundle"``...).
    """
    name = check_path(path, what)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(name, flags)
    except OSError as exc:
        raise FileError(name, _reason(exc)) from None
    try:
        info = os.fstat(fd)
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise FileError(name, f"it is {kind}, not a {what} file")
        if not stat.S_ISREG(info.st_mode):
            raise FileError(name, f"not a regular {what} file")
        if info.st_size > limit:
            raise FileError(name, f"the {what} is {describe_size(info.st_size)}; at most "
                                  f"{describe_size(limit)} is read")
        chunks: list[bytes] = []
        left = limit + 1  # one byte more than allowed tells a file that grew past the limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileError(name, _reason(exc)) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileError(name, f"the {what} is larger than {describe_size(limit)}")
    return data


def read_text(path: str | os.PathLike[str], *, limit: int, what: str = "file") -> str:
    """:func:`read_file` decoded as UTF-8 (a :class:`FileError` if it is not UTF-8)."""
    data = read_file(path, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(check_path(path, what),
                        f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
                        ) from None


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def write_file(path: str | os.PathLike[str], data: bytes, *, what: str = "file") -> None:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename).

    An existing target that is not a regular file (``/dev/null``, a FIFO, a directory) is
    refused: writing would block, or replace something that is not ours.
    """
    name = check_path(path, what)
    try:
        info = os.stat(name)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise FileError(name, _reason(exc), verb="write") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = next((k for test, k in _KINDS if test(info.st_mode)), "not a regular file")
        raise FileError(name, f"it is {kind}, not a regular file", verb="write")
    directory = os.path.dirname(name) or "."
    tmp = os.path.join(directory, f".{os.path.basename(name)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            file.write(data)
        os.replace(tmp, name)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileError(name, _reason(exc), verb="write") from None
