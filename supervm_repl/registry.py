"""The command registry: each ``:command`` is defined once, by decorating its handler.

The decorator records the name, aliases, argument spec, flags, one-line summary, longer help
(the handler's docstring) and an example; each argument's name picks its completion source
(:data:`SOURCES`). Dispatch, ``:help``, completion and the README's command table all read a
:class:`CommandSet`, a shell's own copy of :data:`DEFAULT_COMMANDS` (as pgspecial gives each
instance its own copy). A handler takes the session and the parsed :class:`Args` and returns a
:class:`Reply` (data for ``--json`` and fragments for people); it never prints.

Adding a command::

    @command("frames", "[COUNT]", group="calls", summary="the last trap's wasm backtrace",
             example=":frames 5")
    def frames(session: Session, args: Args) -> Reply:
        \"\"\"Longer help, shown by ``:help frames``.\"\"\"
        ...

A new module of commands is listed in :mod:`supervm_repl.commands`, which imports it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.literals import shorten

from .errors import UsageError
from .render import Fragments, Out

if TYPE_CHECKING:
    from .session import Session

#: The completion source of an argument, by the argument's name in a spec.
SOURCES: dict[str, str] = {
    "EXPORT": "export",
    "PATH": "path",
    "KEY": "key",
    "PREFIX": "key",
    "SNAPSHOT": "snapshot",
    "COMMAND": "command",
    "FUNCTION": "host_function",
    "LOCATION": "location",
    "FILE": "bundle",
}

#: Every alias of the standard commands, alias → command name: the one place they are
#: decided. They follow pdb and gdb habits (``c`` continues, ``s`` steps, ``b`` sets a
#: breakpoint, ``n`` next, ``bt`` backtrace, ``l`` list) and each means one thing in every
#: state of the shell (``:call`` has no one-letter alias: ``c`` is ``continue``). An alias of
#: a command the set does not have, or one that is already a name, is skipped.
ALIASES: dict[str, str] = {
    "c": "continue",
    "cont": "continue",
    "s": "step",
    "n": "next",
    "fin": "finish",
    "b": "break",
    "l": "list",
    "ts": "timestamp",
    "hist": "history",
    "delete": "del",
    "h": "help",
    "?": "help",
    "q": "quit",
    "exit": "quit",
}

#: Groups, in the order ``:help`` lists them.
GROUPS = {
    "module": "Modules",
    "calls": "Calls",
    "context": "Chain context and limits",
    "storage": "Storage",
    "snapshots": "Snapshots",
    "debug": "Debugging",
    "testing": "Contract testing",
    "shell": "The shell",
}


@dataclass(frozen=True)
class Param:
    """A positional argument: ``NAME``, ``[NAME]`` (optional) or ``[NAME...]`` (any number)."""

    name: str
    optional: bool = False
    repeat: bool = False

    @property
    def source(self) -> str | None:
        """What completes this argument (see :data:`SOURCES`), or None."""
        return SOURCES.get(self.name)

    def __str__(self) -> str:
        text = self.name + ("..." if self.repeat else "")
        return f"[{text}]" if self.optional else text


@dataclass(frozen=True)
class Flag:
    """An option such as ``--all`` or ``--limit N``."""

    name: str
    value: str | None
    help: str

    def __str__(self) -> str:
        return f"{self.name} {self.value}" if self.value else self.name


class Reply:
    """What a handler returns: JSON-ready ``data`` and human ``text``.

    A reply made by :meth:`lazy` builds each of them on first use: output shows only one.
    """

    __slots__ = ("_build_data", "_build_text", "_data", "_text", "quit", "weight")

    def __init__(self, data: dict[str, Any] | None = None, text: Fragments | None = None,
                 quit: bool = False, weight: int = 0) -> None:
        self._data: dict[str, Any] = {} if data is None else data
        self._text: Fragments = [] if text is None else text
        self._build_data: Callable[[], dict[str, Any]] | None = None
        self._build_text: Callable[[], Fragments] | None = None
        self.quit = quit
        #: Bytes of contract data (values, events, payloads) the reply carries: a heavy reply
        #: is written out as it is encoded rather than built as one string first.
        self.weight = weight

    @classmethod
    def say(cls, text: str, style: str = "", **data: Any) -> Reply:
        """A one-line reply."""
        return cls(data, Out().line(text, style).fragments)

    @classmethod
    def lazy(cls, data: Callable[[], dict[str, Any]], text: Callable[[], Fragments],
             weight: int = 0) -> Reply:
        """A reply whose data and text are built when first asked for (a call's reply: in a
        batch of calls, building the form that is not printed would cost as much as the call).
        """
        reply = cls(weight=weight)
        reply._build_data, reply._build_text = data, text
        return reply

    @property
    def data(self) -> dict[str, Any]:
        if self._build_data is not None:
            self._data, self._build_data = self._build_data(), None
        return self._data

    @property
    def text(self) -> Fragments:
        if self._build_text is not None:
            self._text, self._build_text = self._build_text(), None
        return self._text

    def __repr__(self) -> str:
        return f"Reply(data={self.data!r}, text={self.text!r}, quit={self.quit!r})"


Handler = Callable[["Session", "Args"], Reply]


@dataclass(frozen=True)
class Command:
    """One shell command, as registered."""

    name: str
    params: tuple[Param, ...]
    flags: tuple[Flag, ...]
    aliases: tuple[str, ...]
    group: str
    summary: str
    details: str
    example: str
    handler: Handler

    @property
    def usage(self) -> str:
        parts = [f":{self.name}", *map(str, self.params), *(f"[{f}]" for f in self.flags)]
        return " ".join(parts)

    @property
    def arguments(self) -> str:
        return " ".join([*map(str, self.params), *(f"[{f}]" for f in self.flags)])


class Args:
    """A command's parsed arguments: raw tokens by parameter name, flags by name."""

    def __init__(self, values: dict[str, Any], flags: dict[str, str | bool],
                 commands: CommandSet | None = None) -> None:
        self._values, self._flags = values, flags
        #: The commands of the shell running this one (``:help`` lists them).
        self.commands = commands

    def get(self, name: str) -> str | None:
        """The token given for ``name`` (None if the optional argument was left out)."""
        return self._values.get(name)

    def list(self, name: str) -> list[str]:
        """The tokens given for a repeated argument."""
        return list(self._values.get(name) or [])

    def flag(self, name: str) -> str | bool:
        """``True``/``False`` for a switch, the value (or ``False``) for an option."""
        return self._flags.get(name, False)


#: The shell's own commands, by name and by alias (without the colon), as the decorator
#: defines them. A :class:`CommandSet` starts from a copy: nothing mutates this afterwards.
DEFAULT_COMMANDS: dict[str, Command] = {}


def define(
    name: str, spec: str = "", *, group: str, summary: str, example: str,
    aliases: tuple[str, ...] = (), flags: dict[str, str] | None = None,
    handler: Handler,
) -> Command:
    """A command from its definition (see :func:`command`)."""
    params = tuple(_param(word) for word in spec.split())
    for i, p in enumerate(params):
        if p.repeat and i != len(params) - 1:
            raise ValueError(f":{name}: only the last argument may repeat")
    parsed_flags = tuple(
        Flag(words[0], words[1] if len(words) > 1 else None, text)
        for words, text in ((key.split(), text) for key, text in (flags or {}).items())
    )
    if group not in GROUPS:
        raise ValueError(f":{name}: unknown group {group!r}")
    details = inspect.cleandoc(handler.__doc__ or summary)
    return Command(name, params, parsed_flags, aliases, group, summary, details, example,
                   handler)


def _add(table: dict[str, Command], cmd: Command) -> None:
    for key in (cmd.name, *cmd.aliases):
        if key in table:
            raise ValueError(f"command :{key} is registered twice")
    for key in (cmd.name, *cmd.aliases):
        table[key] = cmd


def command(
    name: str,
    spec: str = "",
    *,
    group: str,
    summary: str,
    example: str,
    aliases: tuple[str, ...] = (),
    flags: dict[str, str] | None = None,
) -> Callable[[Handler], Handler]:
    """Define the decorated handler as the shell command ``:name``. ``flags`` maps
    ``"--limit N"`` to its help. The handler's docstring is the command's longer help."""
    for word in spec.split():
        _param(word)  # a malformed spec is refused where it is written

    def register(handler: Handler) -> Handler:
        _add(DEFAULT_COMMANDS, define(name, spec, group=group, summary=summary,
                                      example=example, aliases=aliases, flags=flags,
                                      handler=handler))
        return handler

    return register


class CommandSet:
    """The commands of one shell: a copy of the defaults, which an embedder (or a test) may
    extend with :meth:`register` without touching any other shell."""

    def __init__(self, table: dict[str, Command] | None = None,
                 aliases: dict[str, str] | None = None) -> None:
        self._table = dict(DEFAULT_COMMANDS if table is None else table)
        self._aliases = dict(ALIASES if aliases is None else aliases)
        self._apply_aliases()

    def _apply_aliases(self) -> None:
        """Give each command its aliases from the alias table (skipping those that point at
        a command this set does not have, or that are taken)."""
        for alias, name in self._aliases.items():
            cmd = self._table.get(name)
            if cmd is None or cmd.name != name or alias in self._table:
                continue
            cmd = dataclasses.replace(cmd, aliases=(*cmd.aliases, alias))
            for key, value in list(self._table.items()):
                if value.name == name:
                    self._table[key] = cmd
            self._table[alias] = cmd

    def aliases(self) -> dict[str, str]:
        """The aliases in effect, alias → command name."""
        return {key: cmd.name for key, cmd in self._table.items() if key != cmd.name}

    def register(self, name: str, spec: str = "", *, group: str, summary: str, example: str,
                 aliases: tuple[str, ...] = (), flags: dict[str, str] | None = None
                 ) -> Callable[[Handler], Handler]:
        """Add the decorated handler as ``:name`` to this set only (as :func:`command`)."""

        def register(handler: Handler) -> Handler:
            _add(self._table, define(name, spec, group=group, summary=summary,
                                     example=example, aliases=aliases, flags=flags,
                                     handler=handler))
            self._apply_aliases()
            return handler

        return register

    def lookup(self, name: str) -> Command | None:
        """The command called ``name`` (with or without its colon), by name or alias."""
        return self._table.get(name.removeprefix(":"))

    def names(self) -> list[str]:
        """Every name and alias."""
        return list(self._table)

    def commands(self) -> list[Command]:
        """Each command once, by group (in :data:`GROUPS` order), then in definition order."""
        seen: dict[str, Command] = {}
        for cmd in self._table.values():
            seen.setdefault(cmd.name, cmd)
        order = list(GROUPS)
        return sorted(seen.values(), key=lambda c: order.index(c.group))

    def markdown_table(self) -> str:
        """The command table of the README, in Markdown."""
        lines = ["| Command | Aliases | Description | Example |", "|---|---|---|---|"]
        for cmd in self.commands():
            aliases = ", ".join(f"`:{a}`" for a in cmd.aliases)
            usage = cmd.usage.replace("|", "\\|")
            lines.append(f"| `{usage}` | {aliases} | {cmd.summary} | `{cmd.example}` |")
        return "\n".join(lines) + "\n"


def _param(word: str) -> Param:
    match = re.fullmatch(r"(\[)?([A-Z_]+)(\.\.\.)?(\])?", word)
    if match is None or bool(match[1]) != bool(match[4]):
        raise ValueError(f"bad argument spec {word!r}")
    return Param(match[2], optional=bool(match[1]), repeat=bool(match[3]))


def parse_args(cmd: Command, tokens: list[str]) -> Args:
    """Match ``tokens`` (after the command name) to the command's spec."""
    flags: dict[str, str | bool] = {}
    positional: list[str] = []
    known = {f.name: f for f in cmd.flags}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            flag = known.get(token)
            if flag is None:
                offered = ", ".join(known) or "none"
                raise UsageError(f":{cmd.name} has no option {shorten(token)} (options: {offered})")
            if flag.value:
                if i + 1 >= len(tokens):
                    raise UsageError(f"{flag.name} needs a value ({flag})")
                flags[flag.name] = tokens[i + 1]
                i += 1
            else:
                flags[flag.name] = True
        else:
            positional.append(token)
        i += 1
    values: dict[str, Any] = {}
    for p in cmd.params:
        if p.repeat:
            values[p.name], positional = positional, []
        elif positional:
            values[p.name] = positional.pop(0)
        elif not p.optional:
            raise UsageError(f"missing {p.name}; usage: {cmd.usage}")
    if positional:
        raise UsageError(
            f"too many arguments ({shorten(' '.join(positional))}); usage: {cmd.usage}")
    return Args(values, flags)
