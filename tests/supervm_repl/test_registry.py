"""The registry: one decorated function defines a command; help, dispatch, completion and the
README table all follow from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from supervm_repl.commands import Outcome, default_commands, execute, markdown_table
from supervm_repl.completer import completer_for
from supervm_repl.registry import (
    DEFAULT_COMMANDS,
    Args,
    CommandSet,
    Param,
    Reply,
    command,
    parse_args,
)
from supervm_repl.render import plain
from supervm_repl.session import Session

STANDARD = default_commands()
Run = Callable[[str], Outcome]
TextOf = Callable[[Outcome], str]


@pytest.fixture
def shell() -> CommandSet:
    """A shell's own commands, with a throwaway ``:echo``, as an embedder would add one."""
    commands = default_commands()

    @commands.register("echo", "FUNCTION [WORD...]", group="shell", aliases=("e",),
             flags={"--loud": "shout", "--times N": "repeat"},
             summary="say the words back", example=":echo storage_get hi")
    def echo(session: Session, args: Args) -> Reply:
        """Say the words back, N times."""
        times = int(args.flag("--times") or 1)
        words = " ".join([args.get("FUNCTION") or "", *args.list("WORD")]) * times
        return Reply.say(words.upper() if args.flag("--loud") else words, words=words)

    return commands


def test_one_decorated_function_is_a_whole_command(shell: CommandSet, session: Session) -> None:
    out = execute(session, ":e storage_get a b --times 2 --loud", shell)
    assert out.ok and out.command == ":echo"
    assert out.to_json() == {"command": ":echo", "ok": True,
                             "words": "storage_get a bstorage_get a b"}
    assert plain(execute(session, ":help echo", shell).text()).startswith(
        ":echo FUNCTION [WORD...] [--loud] [--times N]\naliases: :e\n")
    assert ":echo FUNCTION [WORD...]" in plain(execute(session, ":help", shell).text())
    assert "| `:echo FUNCTION [WORD...] [--loud] [--times N]` | `:e` | say the words back |" \
        in shell.markdown_table()
    # Other shells, and the standard set, are untouched.
    assert not execute(session, ":echo x").ok and "echo" not in DEFAULT_COMMANDS
    assert ":echo" not in markdown_table()
    # FUNCTION completes host functions, by its name alone.
    completer = completer_for(session, shell)
    words = [c.text for c in completer.get_completions(Document(":echo storage_g"),
                                                         CompleteEvent(True))]
    assert words == ["storage_get"]
    assert [c.text for c in completer.get_completions(Document(":echo x --t"),
                                                      CompleteEvent(True))] == ["--times"]


def test_registering_twice_is_refused(shell: CommandSet) -> None:
    with pytest.raises(ValueError, match="twice"):
        shell.register("echo", group="shell", summary="", example="")(lambda s, a: Reply())
    with pytest.raises(ValueError, match="twice"):
        command("call", group="shell", summary="", example="")(lambda s, a: Reply())


def test_spec_parsing() -> None:
    cmd = STANDARD.lookup("call")
    assert cmd is not None
    assert cmd.params == (Param("EXPORT"), Param("ARG", optional=True, repeat=True))
    assert cmd.params[0].source == "export" and cmd.params[1].source is None
    args = parse_args(cmd, ["f", "1", "-2", "--dry-run"])
    assert args.get("EXPORT") == "f" and args.list("ARG") == ["1", "-2"]
    assert args.flag("--dry-run") is True
    with pytest.raises(ValueError):
        command("bad", "[X", group="shell", summary="", example="")


def test_every_command_is_documented() -> None:
    names = [c.name for c in STANDARD.commands()]
    for expected in ("load", "reload", "info", "call", "calls", "events", "mem", "block",
                     "timestamp", "ctx", "storage", "get", "set", "del", "fuel", "limits",
                     "snapshot", "restore", "snapshots", "reset", "help", "quit", "host"):
        assert expected in names
    for cmd in STANDARD.commands():
        assert cmd.summary and cmd.details
        assert cmd.example.split()[0] in [f":{n}" for n in (cmd.name, *cmd.aliases)]
    table = markdown_table()
    assert table.startswith("| Command | Aliases | Description | Example |\n|---|---|---|---|\n")
    assert len(table.strip().splitlines()) == len(names) + 2
    assert "| `:timestamp [T]` | `:ts` |" in table


def test_examples_in_help_are_valid_commands(samples: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command's example runs (on a session prepared for it) without a usage error."""
    monkeypatch.chdir(tmp_path)  # :export writes its file here
    base = [f":load {samples / 'counter.wat'}", ":call increment", ":call increment",
            ":call increment", ":snapshot before-transfer"]  # :goto 3.2 goes to call #3
    # The debugger's examples need a cursor, a breakpoint or a paused call.
    setup = {"step": [":first"], "continue": [":break storage_get", ":call increment"],
             "abort": [":break storage_get", ":call increment"],
             "unbreak": [":break storage_get"], "disable": [":break storage_get"],
             "enable": [":break storage_get"], "ignore": [":break storage_get"],
             "condition": [":break storage_get"], "next": [":first"], "into": [":first"],
             "finish": [":first"], "bt": [":first"],
             "list": [f":load {samples / 'c' / 'token.wasm'}"]}
    for cmd in STANDARD.commands():
        if cmd.name in ("load", "quit", "reset"):
            continue
        session = Session()
        try:
            # :snapshot's example would find its snapshot taken (it then needs --force).
            prepare = base[:-1] if cmd.name == "snapshot" else base
            for line in [*prepare, *setup.get(cmd.name, [])]:
                assert execute(session, line).ok, line
            out = execute(session, cmd.example)
            kind = None if out.ok else out.to_json()["error"]["kind"]
            assert kind not in ("usage", "internal"), (cmd.example, out.to_json())
        finally:
            session.close()


def test_readme_command_table_is_the_registrys() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md")
    assert markdown_table() in readme.read_text(encoding="utf-8")


def test_a_lazy_reply_builds_only_what_is_asked_for() -> None:
    built: list[str] = []

    def data() -> dict[str, int]:
        built.append("data")
        return {"n": 1}

    def text() -> list[tuple[str, str]]:
        built.append("text")
        return [("", "one\n")]

    reply = Reply.lazy(data, text)
    assert plain(reply.text) == "one\n" and plain(reply.text) == "one\n"
    assert built == ["text"]
    assert reply.data == {"n": 1} and built == ["text", "data"]
    assert not reply.quit


def test_aliases_come_from_one_table_and_follow_pdb() -> None:
    from supervm_repl.registry import ALIASES

    commands = default_commands()
    for alias, name in commands.aliases().items():
        assert ALIASES[alias] == name
    assert commands.lookup(":c").name == "continue"
    assert commands.lookup(":s").name == "step"
    assert commands.lookup(":b").name == "break"
    assert commands.lookup(":call").aliases == ()


def test_an_alias_of_a_missing_command_is_skipped_until_it_exists() -> None:
    commands = CommandSet(aliases={"z": "zap", "q": "quit"})
    assert commands.lookup(":z") is None and commands.lookup(":q").name == "quit"

    @commands.register("zap", group="debug", summary="zap", example=":zap")
    def zap(session: Session, args: Args) -> Reply:
        return Reply()

    assert commands.lookup(":z").name == "zap"
    assert commands.lookup(":zap").aliases == ("z",)


def test_help_lists_the_aliases(run: Run, text: TextOf) -> None:
    listing = text(run(":help"))
    assert ":c :cont = :continue" in listing and ":b = :break" in listing
    assert "aliases: :c, :cont" in text(run(":help continue"))
