"""Running one line of input: dispatch through the registry, and the shell's own commands.

:func:`execute` is the boundary where every failure becomes an error :class:`Outcome`: no
exception escapes it (a KeyboardInterrupt outside a call included), so a bad line never ends the
shell and never changes its state. The handlers live in :mod:`contract_commands` and
:mod:`state_commands`; importing this module registers them all.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import json
import re
import textwrap
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
    source_commands,
    state_commands,
    testing_commands,
)
from .errors import InternalError, Interrupted, UsageError
from .inputs import rerun_number, rerun_target
from .registry import (
    GROUPS,
    Args,
    Command,
    CommandSet,
    Reply,
    command,
    parse_args,
)
from .render import (
    Fragments,
    Out,
    error_json,
    error_text,
    output_width,
    rendering_width,
    table,
    wrap_to_width,
)
from .session import Session
from .tokens import split_tokens

__all__ = ["CommandSet", "Outcome", "default_commands", "execute", "is_comment",
           "markdown_table"]

# The handler modules register on import; naming them here keeps that import visible.
_HANDLER_MODULES = (contract_commands, state_commands, debug_commands, source_commands,
                    replay_commands, testing_commands)


#: The option every command takes: output in full, not fitted to the screen.
WIDE = "--wide"

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
    #: ``--wide`` was given: the output is not fitted to the screen.
    wide: bool = False

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
        """The human output: fitted to :func:`~supervm_repl.render.output_width` (unless
        ``--wide`` was given), lines too long for it broken at spaces."""
        width = None if self.wide else output_width()
        with rendering_width(width, wide=self.wide or None):
            if self.error is not None:
                return wrap_to_width(error_text(self.error), width)
            return wrap_to_width(self.reply.text if self.reply is not None else [], width)


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
    # Every line is kept for :history, except a re-run: it is kept as the command it runs.
    record = bool(stripped)
    try:
        if stripped.startswith("!"):
            number = rerun_target(stripped)
            if number is not None:
                stripped, name, record = f":rerun {number}", ":rerun", False
        if stripped.startswith("("):
            return Outcome(":load", contract_commands.load_inline(session, stripped))
        tokens = split_tokens(stripped)
        if not tokens:
            raise UsageError("empty command; :help lists the commands")
        cmd = _find(commands, tokens[0], stripped, session)
        name = f":{cmd.name}"
        record = record and cmd.name != "rerun"
        # --wide is every command's: it shows tables in full, however wide (see Outcome.text).
        wide = WIDE in tokens[1:] and all(f.name != WIDE for f in cmd.flags)
        args = parse_args(cmd, [t for t in tokens[1:] if t != WIDE] if wide else tokens[1:])
        args.commands = commands
        if wide:
            with rendering_width(None, wide=True):
                return Outcome(name, cmd.handler(session, args), wide=True)
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
    finally:
        if record:
            session.inputs.add(line.strip())
        if session.persistent:
            _keep_breakpoints(session)


def _keep_breakpoints(session: Session) -> None:
    """With --db, the breakpoints are kept as they change (a killed shell keeps them too)."""
    # A file that cannot be written now is tried again after the next command.
    with contextlib.suppress(SuperVMError):
        session.save_breakpoints()


def _find(commands: CommandSet, word: str, line: str = "",
          session: Session | None = None) -> Command:
    """The command ``word`` names; else a usage error saying what to type instead (the
    whole ``line`` corrected when it is a command or a call missing its ``:``)."""
    if not word.startswith(":"):
        found = commands.lookup(word) if len(word) <= 40 else None
        if found is not None and found.name == "help":
            # "did you mean :??" would read as a question about a question mark.
            raise UsageError(f"{shorten(word)!r} is not a command: commands start with ':'; "
                             "type :help to list them")
        hint = ""
        if found is not None:
            hint = f"; type :{shorten(line, 60)}"
        elif session is not None and session.contract is not None and len(word) <= 200:
            export = word.split("(", 1)[0]
            if session.contract.info.function(export) is not None:
                hint = f"; to call the export, type :call {shorten(line, 60)}"
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


@command("help", "[COMMAND]", group="shell",
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
            rows = [("", c.usage, c.summary + (" (" + ", ".join(f":{a}" for a in c.aliases)
                                               + ")" if c.aliases else "")) for c in members]
            out.extend(table(["", "", ""], rows, ["", "name", ""], wrap_last=True))
            data += [_command_json(c) for c in members]
        by_command: dict[str, list[str]] = {}
        for alias, target in shell_commands.aliases().items():
            by_command.setdefault(target, []).append(f":{alias}")
        if by_command:
            out.line("Aliases (pdb's and gdb's where they exist; each means one thing "
                     "everywhere): " + ", ".join(f"{' '.join(a)} = :{n}"
                                                 for n, a in by_command.items()), "muted")
        out.line("Values: integers and floats in WebAssembly text syntax (7, 0xff, 1_000, -1.5, "
                 "inf, nan:0x1); keys and values \"text\", 0x… bytes or i64:N (:set KEY 41 "
                 "stores an i64); timestamps also as dates (2024-01-01T12:00:00Z, UTC).",
                 "muted")
        out.line("Any command followed by --wide shows its output in full, not fitted to the "
                 "screen. !N runs command N of :history again.", "muted")
        out.line(":help COMMAND shows details and an example.", "muted")
        return Reply({"commands": data}, out.fragments)
    cmd = _find(shell_commands, name if name.startswith(":") else ":" + name)
    out = Out().line(cmd.usage, "name")
    if cmd.aliases:
        out.line("aliases: " + ", ".join(f":{a}" for a in cmd.aliases), "muted")
    width = min(output_width() or HELP_WIDTH, HELP_WIDTH)
    out.line(cmd.summary).line().line(reflow(plain_help(cmd.details), width))
    if cmd.flags:
        out.line().line("options", "header")
        for flag in cmd.flags:
            out.add(f"  {flag}", "name").line(f"  {flag.help}")
    out.line().add("example: ", "muted").line(cmd.example)
    return Reply({**_command_json(cmd), "details": plain_help(cmd.details)}, out.fragments)


#: Longest line of a command's help text (longer lines are hard to read).
HELP_WIDTH = 88


def reflow(text: str, width: int) -> str:
    """Paragraphs (separated by blank lines) re-wrapped to ``width``; indented lines kept."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.startswith(" "):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(textwrap.fill(" ".join(paragraph.split()), width,
                                            break_on_hyphens=False, break_long_words=False))
    return "\n\n".join(paragraphs)


def plain_help(text: str) -> str:
    """A docstring as people read it: ````x```` (reST literal) as x, ``\\`` as ``\\``."""
    return re.sub(r"``(.+?)``", r"\1", text, flags=re.DOTALL)


def _command_json(cmd: Command) -> dict[str, Any]:
    return {"name": f":{cmd.name}", "aliases": [f":{a}" for a in cmd.aliases],
            "usage": cmd.usage, "summary": cmd.summary, "example": cmd.example}


@command("rerun", "[N]", group="shell",
         summary="run command N of :history again (!N; !! or no N: the last)",
         example=":rerun 1")
def rerun(session: Session, args: Args) -> Reply:
    """Run again the command numbered N in ``:history`` (a negative N counts back: -1 is the
    last). ``!N`` is the same, and ``!!`` runs the last command again. The command is shown,
    then its output; it is kept in the history as itself."""
    line = session.inputs.get(rerun_number(args))
    if rerun_target(line.strip()) is not None or line.strip().startswith(":rerun"):
        raise UsageError("that command is itself a re-run")
    outcome = execute(session, line, args.commands)
    if outcome.error is not None:
        raise outcome.error
    reply = outcome.reply or Reply()
    echo = Out().line(shorten(" ".join(line.split()), 200), "muted").fragments
    return Reply.lazy(lambda: {**reply.data, "rerun": line}, lambda: echo + reply.text,
                      reply.weight)


@command("quit", group="shell", summary="leave the shell (or Ctrl-D)",
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
