"""Tab completion: command names, then each argument from the source its name declares.

The sources (:data:`~supervm_repl.registry.SOURCES`) are the loaded module's exports, paths of
``.wat``/``.wasm`` files, storage keys, snapshot names, command names and the host functions of
the ABI table. A new command gets completion by naming its arguments.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from runtime import HOST_FUNCTIONS, ExportInfo
from runtime.literals import quote_bytes

from .inline import starts_module
from .registry import Command, CommandSet
from .session import Session

#: What :load completes: modules, and the contract sources it builds.
MODULE_FILES = (".wat", ".wasm", ".ts", ".c", ".rs")

#: Storage keys offered at most (a large store would make Tab slow).
MAX_KEYS = 500


def split_partial(text: str) -> tuple[list[str], str]:
    """The finished words of ``text`` and the word being typed (``""`` after a space).

    Unlike :func:`~supervm_repl.tokens.split_tokens` this never fails: an unclosed ``"``
    just makes the rest of the line the current word.
    """
    words: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            if current:
                words.append("".join(current))
                current = []
            i += 1
        elif char == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            current.append(text[i : end + 1])
            i = end + 1
        else:
            current.append(char)
            i += 1
    return words, "".join(current)


class ShellCompleter(Completer):
    """Completes the shell's input. Its sources are narrow callables (as ptpython's completer
    takes ``get_globals``), asked at each Tab: the commands, the loaded module's exported
    functions, ``keys(limit)`` (the first storage keys with their values) and the snapshot
    names."""

    def __init__(self, commands: CommandSet, *,
                 exports: Callable[[], Iterable[ExportInfo]] = lambda: (),
                 keys: Callable[[int], Iterable[tuple[bytes, bytes]]] = lambda limit: (),
                 snapshots: Callable[[], Iterable[str]] = lambda: ()) -> None:
        self.commands = commands
        self._get_exports, self._get_keys, self._get_snapshots = exports, keys, snapshots
        self._sources: dict[str, Callable[[str], Iterable[Completion]]] = {
            "export": self._exports,
            "path": self._path,
            "key": self._keys,
            "snapshot": self._snapshots,
            "command": self._command_names,
            "host_function": self._host_functions,
            "location": self._locations,
            "bundle": self._bundle,
        }

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if starts_module(text) or "\n" in text:
            return
        words, current = split_partial(text)
        if not words:
            yield from self._commands(current)
            return
        cmd = self.commands.lookup(words[0])
        if cmd is None:
            return
        if current.startswith("-"):
            yield from _matching(current, [str(f.name) for f in cmd.flags],
                                 {f.name: f.help for f in cmd.flags})
            return
        source = _source_at(cmd, words[1:])
        if source is not None:
            yield from self._sources[source](current)

    def hint(self, text: str) -> list[tuple[str, str]] | None:
        """What to show below the line being typed: the parameters of the export after
        ``:call EXPORT `` (the one being typed marked), else the command's usage; None when
        there is nothing to say."""
        if starts_module(text) or "\n" in text:
            return None
        words, current = split_partial(text)
        if not words:
            return None
        cmd = self.commands.lookup(words[0])
        if cmd is None:
            return None
        if cmd.name == "call" and len(words) >= 2:
            export = words[1].split("(", 1)[0]
            func = next((f for f in self._get_exports() if f.name == export), None)
            if func is not None:
                typing = len([w for w in words[2:] if not w.startswith("--")]) + (
                    1 if current else 0)
                index = max(typing - (1 if current else 0), 0)
                out = [("class:hint.name", func.name), ("class:hint", "(")]
                for i, param in enumerate(func.parameters):
                    if i:
                        out.append(("class:hint", ", "))
                    out.append(("class:hint.current" if i == index else "class:hint", param))
                results = ", ".join(func.results)
                out.append(("class:hint", ")" + (f" -> {results}" if results else "")))
                return out
        return [("class:hint.name", cmd.usage), ("class:hint", "  " + cmd.summary)]

    def _commands(self, current: str) -> Iterator[Completion]:
        if current and not current.startswith(":"):
            return
        for cmd in self.commands.commands():
            for name in (cmd.name, *cmd.aliases):
                word = f":{name}"
                if word.startswith(current):
                    yield Completion(word, -len(current), display_meta=cmd.summary)

    def _command_names(self, current: str) -> Iterator[Completion]:
        bare = current.removeprefix(":")
        for cmd in self.commands.commands():
            if cmd.name.startswith(bare):
                yield Completion(cmd.name, -len(current), display_meta=cmd.summary)

    def _exports(self, current: str) -> Iterator[Completion]:
        for func in self._get_exports():
            word = func.name if _plain(func.name) else quote_bytes(func.name.encode())
            if word.startswith(current):
                yield Completion(word, -len(current), display_meta=func.described)

    def _path(self, current: str) -> Iterable[Completion]:
        return path_completions(current, lambda name: name.endswith(MODULE_FILES)
                                or name == "Cargo.toml")

    def _bundle(self, current: str) -> Iterable[Completion]:
        return path_completions(current, lambda name: name.endswith(".json"))

    def _keys(self, current: str) -> Iterator[Completion]:
        for key, value in self._get_keys(MAX_KEYS):
            word = quote_bytes(key)
            if word.startswith(current):
                yield Completion(word, -len(current), display_meta=f"{len(value)} bytes")

    def _snapshots(self, current: str) -> Iterator[Completion]:
        yield from _matching(current, sorted(self._get_snapshots()))

    def _host_functions(self, current: str) -> Iterator[Completion]:
        names = [f.name for f in HOST_FUNCTIONS] + [f.qualname for f in HOST_FUNCTIONS]
        meta = {name: f.signature for f in HOST_FUNCTIONS for name in (f.name, f.qualname)}
        yield from _matching(current, names, meta)


    def _locations(self, current: str) -> Iterator[Completion]:
        """Where a breakpoint can be: a host function or a function of the module (a
        ``FILE:LINE`` is typed)."""
        yield from self._host_functions(current)
        yield from self._exports(current)


#: Directory entries listed at most for one Tab (a huge directory would make Tab slow).
MAX_ENTRIES = 1000


def path_completions(current: str, wanted: Callable[[str], bool]) -> Iterator[Completion]:
    """The files ``wanted`` accepts and the directories (with their ``/``, so that the next
    Tab goes on inside) whose path starts with ``current``; ``~`` is the home directory.
    Quoted paths are left to the user."""
    if current.startswith('"'):
        return
    folder, _, start = current.rpartition("/")
    if folder:
        where, shown_folder = os.path.expanduser(folder), folder + "/"
    elif current.startswith("/"):
        where, shown_folder = "/", "/"
    else:
        where, shown_folder = ".", ""
    try:
        with os.scandir(where) as entries:
            found = []
            for entry in itertools.islice(entries, MAX_ENTRIES):
                name = entry.name
                if not name.startswith(start) or (name.startswith(".") and not
                                                  start.startswith(".")):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir or wanted(name):
                    found.append(name + "/" if is_dir else name)
    except OSError:
        return
    for name in sorted(found):
        yield Completion(shown_folder + name, -len(current), display=name)


def _source_at(cmd: Command, words: list[str]) -> str | None:
    """The completion source of the positional argument after ``words``."""
    index = 0
    flags = {f.name: f for f in cmd.flags}
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in flags:
            skip = bool(flags[word].value)
        else:
            index += 1
    if skip:
        return None  # typing a flag's value
    params = cmd.params
    if not params:
        return None
    if index >= len(params):
        return params[-1].source if params[-1].repeat else None
    return params[index].source


def _matching(current: str, words: Iterable[str],
              meta: dict[str, str] | None = None) -> Iterator[Completion]:
    for word in words:
        if word.startswith(current):
            yield Completion(word, -len(current), display_meta=(meta or {}).get(word, ""))


def _plain(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == '"' for c in name)


def completer_for(session: Session, commands: CommandSet) -> ShellCompleter:
    """The completer of a shell on ``session``: each source reads the session when asked."""
    return ShellCompleter(
        commands,
        exports=lambda: session.contract.info.functions if session.contract else (),
        keys=lambda limit: session.scan(b"", limit),
        snapshots=lambda: session.snapshots)
