"""Tab completion from the live session: commands, exports, paths, storage keys, snapshots and
host functions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from supervm_repl.commands import default_commands
from supervm_repl.completer import completer_for, split_partial
from supervm_repl.session import Session

Complete = Callable[[str], list[str]]


@pytest.fixture
def complete(session: Session) -> Complete:
    completer = completer_for(session, default_commands())

    def words(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent(True))]

    return words


def test_command_names(complete: Complete) -> None:
    assert complete(":ca") == [":call", ":calls"]
    assert complete(":c") == [":call", ":calls", ":ctx", ":condition", ":continue", ":c",
                              ":cont", ":coverage"]
    assert ":snapshots" in complete(":snap")
    assert len(complete("")) > 20
    assert complete("ca") == []


def test_exports_after_call(session: Session, complete: Complete, samples: Path) -> None:
    assert complete(":call ") == []
    session.load_file(samples / "token.wat")
    assert complete(":call ") == ["mint", "balance_of", "total_supply", "transfer"]
    assert complete(":call tr") == ["transfer"]
    assert complete(":call transfer 1 ") == []  # arguments are numbers


def test_paths_after_load(complete: Complete, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.wat").write_text("(module)")
    (tmp_path / "b.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert sorted(complete(":load ")) == ["a.wat", "b.wasm", "sub/"]
    assert complete(":load a") == ["a.wat"]
    (tmp_path / "sub" / "c.wat").write_text("(module)")
    assert complete(":load su") == ["sub/"]  # with its slash: the next Tab goes on inside
    assert complete(":load sub/") == ["sub/c.wat"]
    assert complete(":load sub/c") == ["sub/c.wat"]
    assert complete(f":load {tmp_path}/su") == [f"{tmp_path}/sub/"]


def test_storage_keys(session: Session, complete: Complete) -> None:
    session.set(b"bal:alice", b"1")
    session.set(b"bal:bob", b"2")
    session.set(b"\x00raw", b"3")
    assert complete(":get ") == ["0x00726177", '"bal:alice"', '"bal:bob"']
    assert complete(':get "bal:b') == ['"bal:bob"']
    assert complete(':del "bal:a') == ['"bal:alice"']
    assert complete(':storage "b') == ['"bal:alice"', '"bal:bob"']
    assert complete(':set "bal:bob" ') == []  # VALUE has no source


def test_snapshots_commands_and_host_functions(session: Session, complete: Complete) -> None:
    session.snapshot("before")
    session.snapshot("after")
    assert complete(":restore ") == ["after", "before"]
    assert complete(":help sto") == ["storage"]
    assert complete(":host emit") == ["emit_event"]
    assert complete(":host chain_api.ev") == ["chain_api.events_len"]
    assert complete(":events --") == ["--all"]
    assert complete(":storage --limit ") == []
    assert complete(":nope ") == []
    assert complete("(module (fu") == []


def test_split_partial_never_fails() -> None:
    assert split_partial(':get "a b') == ([":get"], '"a b')
    assert split_partial(":call f ") == ([":call", "f"], "")
    assert split_partial("") == ([], "")


def test_debugger_arguments(complete: Complete, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert complete(":break storage_s") == ["storage_set"]
    assert complete(":trace emit") == ["emit_event"]
    assert complete(':break storage_set if key == "') == []  # conditions are free text
    (tmp_path / "transfer.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    monkeypatch.chdir(tmp_path)
    assert complete(":replay tr") == ["transfer.json"]
    assert complete(":export no") == []


def test_breakpoint_locations(session: Session, complete: Complete, samples: Path) -> None:
    """:break and :list complete host functions and the loaded contract's functions."""
    assert complete(":break tr") == []
    session.load_file(samples / "token.wat")
    assert complete(":break tr") == ["transfer"]
    assert complete(":break storage_s") == ["storage_set"]
    assert complete(":list mi") == ["mint"]
