"""Reading and writing the files SuperVM is given: bounded, and never a special file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from runtime import MemoryStorage, Runtime
from runtime.errors import FileError
from runtime.files import read_file, read_text, write_file


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "character device"),
                                            ("/dev/urandom", "character device"),
                                            ("/", "directory")])
def test_special_files_are_refused_before_reading(path: str, kind: str) -> None:
    with pytest.raises(FileError, match=f"it is a {kind}, not a module file"):
        read_file(path, limit=1 << 20, what="module")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done: list[BaseException] = []

    def read() -> None:
        try:
            read_file(fifo, limit=100)
        except FileError as exc:
            done.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert done and "FIFO" in str(done[0])


def test_size_bound_and_missing_file(tmp_path: Path) -> None:
    big = tmp_path / "big.wasm"
    big.write_bytes(b"x" * 1001)
    assert read_file(big, limit=1001) == b"x" * 1001
    with pytest.raises(FileError, match="at most 1000 bytes is read"):
        read_file(big, limit=1000)
    with pytest.raises(FileError, match="No such file"):
        read_file(tmp_path / "missing", limit=10)


def test_nul_bytes_and_bad_text(tmp_path: Path) -> None:
    with pytest.raises(FileError, match=r"cannot read a\\x00b: the module path contains a NUL"):
        read_file("a\0b", limit=10, what="module")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(FileError, match="not UTF-8 text"):
        read_text(tmp_path / "latin1.txt", limit=10)


def test_writes_are_atomic_and_refuse_special_targets(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_file(target, b"one")
    write_file(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for bad, message in [(fifo, "FIFO"), (tmp_path, "directory"), ("/dev/null", "device"),
                         ("x\0y", "NUL byte"), (tmp_path / "no" / "such" / "dir", "No such")]:
        with pytest.raises(FileError, match=message):
            write_file(bad, b"data")


def test_runtime_load_file_is_bounded(tmp_path: Path) -> None:
    rt = Runtime(MemoryStorage())
    with pytest.raises(FileError, match="character device"):
        rt.load_file("/dev/zero")
    with pytest.raises(FileError, match="directory"):
        rt.load_file(tmp_path)


@pytest.mark.parametrize(("path", "message"), [
    ("x" * 256, "a name of 256 bytes; file names have at most 255"),
    ("/tmp/" + "é" * 128 + "/a.wat", "a name of 256 bytes"),
    ("/".join(["d" * 200] * 21), "paths have at most 4,095"),
])
def test_paths_too_long_for_the_file_system(path: str, message: str) -> None:
    with pytest.raises(FileError, match=message) as caught:
        read_file(path, limit=10)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200
