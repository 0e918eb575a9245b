"""Running one line of input: dispatch through the registry, and the shell's own commands.

:func:`execute` is the boundary where every failure becomes an error :class:`Outcome`: no
exception escapes it (a KeyboardInterrupt outside a call included), so a bad line never ends the
shell and never changes its state. The handlers live in :mod:`contract_commands` and
:mod:`state_commands`; importing this module registers them all.
"""

from __future__ import annotations

import difflib
import itertools
import json
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runtime import HOST_FUNCTIONS, SuperVMError
from runtime.abi import find as find_host_function
from runtime.literals import shorten, unquote

from . import (
    contract_commands,
    debug_commands,
    replay_commands,
    state_commands,
    testing_commands,
)
from .errors import InternalError, Interrupted, UsageError
from .registry import (
    GROUPS,
    Args,
    Command,
    CommandSet,
    Reply,
    command,
    parse_args,
)
from .render import Fragments, Out, error_json, error_text, table
from .session import Session
from .tokens import split_tokens

__all__ = ["CommandSet", "Outcome", "default_commands", "execute", "is_comment",
           "markdown_table"]

# The handler modules register on import; naming them here keeps that import visible.
_HANDLER_MODULES = (contract_commands, state_commands, debug_commands, replay_commands,
                    testing_commands)


#: Replies carrying more contract data than this (bytes) are encoded as they are written.
HEAVY_REPLY = 1 << 20
_STREAMING = json.JSONEncoder()


@dataclass
class Outcome:
    """The result of one line: a reply, or an error; ``traceback`` only for internal errors."""

    command: str
    reply: Reply | None = None
    error: SuperVMError | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def quit(self) -> bool:
        return self.reply is not None and self.reply.quit

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: ``command``, ``ok``, then the data or the ``error``."""
        out: dict[str, Any] = {"command": self.command, "ok": self.ok}
        if self.error is not None:
            out["error"] = error_json(self.error)
        elif self.reply is not None:
            out.update(self.reply.data)
        return out

    def json_chunks(self) -> Iterable[str]:
        """The ``--json`` line (with its newline), in pieces when the reply is heavy: a call
        holding tens of megabytes is then never one string, nor all of its encoding at once."""
        data = self.to_json()
        if self.reply is not None and self.reply.weight > HEAVY_REPLY:
            return itertools.chain(_STREAMING.iterencode(data), ("\n",))
        return (json.dumps(data) + "\n",)

    def text(self) -> Fragments:
        if self.error is not None:
            return error_text(self.error)
        return self.reply.text if self.reply is not None else []


def is_comment(line: str) -> bool:
    """Blank lines and lines starting with ``#`` are skipped."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def execute(session: Session, line: str, commands: CommandSet | None = None) -> Outcome:
    """Run one command line (or an inline ``(module …)``) with ``commands`` (by default the
    shell's standard set) and return its outcome."""
    commands = commands or _DEFAULT
    stripped = line.strip()
    name = ":load" if stripped.startswith("(") else shorten(stripped.split(None, 1)[0], 40) \
        if stripped else ""
    try:
        if stripped.startswith("("):
            return Outcome(":load", contract_commands.load_inline(session, stripped))
        tokens = split_tokens(stripped)
        if not tokens:
            raise UsageError("empty command; :help lists the commands")
        cmd = _find(commands, tokens[0])
        name = f":{cmd.name}"
        args = parse_args(cmd, tokens[1:])
        args.commands = commands
        return Outcome(name, cmd.handler(session, args))
    except SuperVMError as error:
        return Outcome(name, error=error)
    except KeyboardInterrupt:
        return Outcome(name, error=Interrupted("interrupted"))
    except RecursionError as exc:
        return Outcome(name, error=UsageError(f"input too deeply nested ({exc})"))
    except MemoryError:
        return Outcome(name, error=InternalError("out of memory"))
    except Exception as exc:
        return Outcome(
            name,
            error=InternalError(f"internal error: {type(exc).__name__}: "
                                f"{shorten(str(exc), 200)} (--debug shows the traceback)"),
            traceback=traceback.format_exc(),
        )


def _find(commands: CommandSet, word: str) -> Command:
    if not word.startswith(":"):
        hint = f"; did you mean :{word}?" if len(word) <= 40 and commands.lookup(word) else ""
        raise UsageError(
            f"{shorten(word)!r} is not a command: commands start with ':' (:help lists them)"
            f"{hint}")
    cmd = commands.lookup(word)
    if cmd is None:
        # Only a plausible command name is worth comparing (difflib is slow on long input).
        close = difflib.get_close_matches(word[1:], commands.names(), n=3, cutoff=0.7) \
            if len(word) <= 40 else []
        hint = "; did you mean " + " or ".join(f":{c}" for c in close) + "?" if close else \
            "; :help lists the commands"
        raise UsageError(f"unknown command {shorten(word)}{hint}")
    return cmd


# --- the shell's own commands -------------------------------------------------------------------


@command("help", "[COMMAND]", group="shell", aliases=("h", "?"),
         summary="list the commands, or show one command's help", example=":help call")
def help_(session: Session, args: Args) -> Reply:
    """Without an argument, list every command with its one-line summary. With a command name
    (with or without the colon), show its usage, aliases, options, details and an example."""
    name = args.get("COMMAND")
    shell_commands = args.commands or _DEFAULT
    if name is None:
        out = Out()
        data = []
        for group, title in GROUPS.items():
            members = [c for c in shell_commands.commands() if c.group == group]
            if not members:
                continue
            out.line(title, "header")
            rows = [(c.usage, c.summary) for c in members]
            width = max(len(u) for u, _ in rows)
            for usage, summary in rows:
                out.add("  ").add(usage.ljust(width), "name").line("  " + summary)
            data += [_command_json(c) for c in members]
        out.line("Values: integers and floats in WebAssembly text syntax (7, 0xff, 1_000, -1.5, "
                 "inf, nan:0x1); keys and values \"text\" or 0x… bytes.", "muted")
        out.line(":help COMMAND shows details and an example.", "muted")
        return Reply({"commands": data}, out.fragments)
    cmd = _find(shell_commands, name if name.startswith(":") else ":" + name)
    out = Out().line(cmd.usage, "name")
    if cmd.aliases:
        out.line("aliases: " + ", ".join(f":{a}" for a in cmd.aliases), "muted")
    out.line(cmd.summary).line().line(cmd.details)
    if cmd.flags:
        out.line().line("options", "header")
        for flag in cmd.flags:
            out.add(f"  {flag}", "name").line(f"  {flag.help}")
    out.line().add("example: ", "muted").line(cmd.example)
    return Reply({**_command_json(cmd), "details": cmd.details}, out.fragments)


def _command_json(cmd: Command) -> dict[str, Any]:
    return {"name": f":{cmd.name}", "aliases": [f":{a}" for a in cmd.aliases],
            "usage": cmd.usage, "summary": cmd.summary, "example": cmd.example}


@command("quit", group="shell", aliases=("q", "exit"), summary="leave the shell (or Ctrl-D)",
         example=":quit")
def quit_(session: Session, args: Args) -> Reply:
    """Leave the shell. With --db, everything is already saved; without it, the session's
    state is gone."""
    return Reply(quit=True)


@command("host", "[FUNCTION]", group="shell",
         summary="list the host functions contracts can import", example=":host storage_get")
def host(session: Session, args: Args) -> Reply:
    """Without an argument, list every host function with its import name and signature. With
    a name (``storage_get`` or ``storage_api.storage_get``), describe that one."""
    name = args.get("FUNCTION")
    if name is not None:
        fn = find_host_function(unquote(name))
        if fn is None:
            close = difflib.get_close_matches(
                unquote(name), [f.name for f in HOST_FUNCTIONS], n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else "; :host lists them"
            raise UsageError(f"no host function {shorten(name)!r}{hint}")
        chosen = [fn]
    else:
        chosen = list(HOST_FUNCTIONS)
    data = [{"module": f.module, "name": f.name, "params": [list(p) for p in f.params],
             "results": list(f.results), "doc": f.doc} for f in chosen]
    if name is None:
        text = table(["import", "signature"], [(f.qualname, f.signature) for f in chosen],
                     ["name", "type"])
        return Reply({"host_functions": data}, text)
    fn = chosen[0]
    params = ", ".join(f"{n}: {t}" for n, t in fn.params)
    out = Out().add(fn.qualname, "name").line(f"({params})" + (
        f" -> {' '.join(fn.results)}" if fn.results else ""), "type").line(fn.doc)
    out.add("import as: ", "muted").line(
        f'(import "{fn.module}" "{fn.name}" (func {fn.signature}))')
    return Reply({"host_functions": data}, out.fragments)


# Defined last: every handler module above (and the shell's own commands) has registered.
_DEFAULT = CommandSet()


def default_commands() -> CommandSet:
    """A fresh copy of the shell's standard commands (a shell or an embedder owns one)."""
    return CommandSet()


def markdown_table() -> str:
    """The README's command table: the standard commands."""
    return _DEFAULT.markdown_table()
