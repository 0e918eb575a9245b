"""The interactive shell: a prompt_toolkit prompt around :func:`~supervm_repl.commands.execute`.

The prompt shows the loaded module and the block number; history persists in the user's state
directory (Ctrl-R searches it, and suggestions come from it); Tab completes; input starting with
``(`` continues over lines until its parentheses balance. Ctrl-C clears the line, or stops a
running call; Ctrl-D (on an empty line) or ``:quit`` leaves. Output longer than the screen is
shown a page at a time.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style

from runtime.debuginfo import SourceLocation

from .commands import Outcome, default_commands, execute
from .completer import ShellCompleter, completer_for
from .inline import needs_more
from .lexer import PYGMENTS_STYLE, ShellLexer
from .progress import Ticker
from .registry import CommandSet
from .render import STYLE, Fragments, plain
from .screen import rendering_width
from .session import Session

Printer = Callable[[Fragments], None]


def history_path() -> Path:
    """``$XDG_STATE_HOME/supervm/history`` (default ``~/.local/state/supervm/history``)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    return Path(state) / "supervm" / "history"


def open_history(path: Path | None) -> History:
    """A file history at ``path``, or an in-memory one if the directory cannot be created."""
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def use_color(stream: object = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set."""
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return not os.environ.get("NO_COLOR") and bool(isatty and isatty())


class Shell:
    """The interactive loop. ``input``/``output`` default to the terminal; tests pass pipes.

    ``printer`` receives each piece of output (default: print it, in colour if ``color``).
    """

    def __init__(
        self,
        session: Session,
        *,
        json_mode: bool = False,
        color: bool | None = None,
        debug: bool = False,
        history: History | None = None,
        input: Input | None = None,
        output: Output | None = None,
        printer: Printer | None = None,
        commands: CommandSet | None = None,
    ) -> None:
        self.session = session
        #: This shell's commands (an embedder may register more).
        self.commands = commands or default_commands()
        self.json_mode = json_mode
        self.color = use_color() if color is None else color
        self.debug = debug
        self.style = Style.from_dict({**PYGMENTS_STYLE, **STYLE})
        self.printer = printer or self._print
        self.prompt = PromptSession(
            message=self._message,
            history=history if history is not None else open_history(history_path()),
            auto_suggest=AutoSuggestFromHistory(),
            completer=completer_for(session, self.commands),
            complete_while_typing=False,
            lexer=ShellLexer(),
            style=self.style,
            include_default_pygments_style=False,
            key_bindings=self._bindings(),
            prompt_continuation=lambda width, line, wrap: "." * (width - 1) + " ",
            input=input,
            output=output,
            color_depth=None if self.color else ColorDepth.DEPTH_1_BIT,
        )
        self._completer = self.prompt.completer
        # A hint below the line (the export's parameters, the command's usage), shown only
        # while there is one: the toolbar is absent when bottom_toolbar is None.
        self.prompt.default_buffer.on_text_changed += self._update_hint

    # --- the prompt -----------------------------------------------------------------------

    def _message(self) -> FormattedText:
        contract = self.session.contract
        module = Path(contract.name).name if contract is not None else "supervm"
        block = self.session.context.block_number
        return FormattedText([("class:prompt.module", module), *self._debug_prompt(),
                              ("class:prompt", f" [block {block}]> ")])

    def _debug_prompt(self) -> Fragments:
        """`` paused #5 step 2`` or `` #3 step 2/7`` when not at the live state."""
        dbg = self.session.debugger
        paused = dbg.paused
        if paused is not None:
            where = f"step {paused.step}"
            if paused.entry is None and paused.stop is not None and paused.stop.location:
                where = _short(paused.stop.location)
            return [("class:prompt.paused", f" paused #{paused.call_id} {where}")]
        position = dbg.position
        if position is None:
            return []
        where = "end" if position.step == position.steps else \
            f"step {position.step}/{position.steps}"
        if position.stop is not None:
            location = dbg.focus.location
            where = _short(location) if location is not None else where
        return [("class:prompt.history", f" #{position.entry.call_id} {where}")]

    def _update_hint(self, buffer: Buffer) -> None:
        hint = self._completer.hint(buffer.document.text_before_cursor) \
            if isinstance(self._completer, ShellCompleter) else None
        self.prompt.bottom_toolbar = FormattedText(hint) if hint else None

    def _bindings(self) -> KeyBindings:
        bindings = KeyBindings()

        @Condition
        def inside_module() -> bool:
            return needs_more(self.prompt.default_buffer.text)

        @bindings.add("enter", filter=inside_module)
        def _(event: KeyPressEvent) -> None:
            # An inline module is still open: Enter continues it on a new line.
            event.current_buffer.insert_text("\n")

        return bindings

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        """Read and run commands until Ctrl-D or ``:quit``; the exit status is 0."""
        while True:
            try:
                line = self.prompt.prompt()
            except KeyboardInterrupt:
                # Ctrl-C at the prompt clears the line; while a call is paused it aborts it.
                if self.session.debugger.paused is not None:
                    self.run_line(":abort")
                continue
            except EOFError:
                self._leave()
                return 0
            try:
                outcome = self.run_line(line)
            except KeyboardInterrupt:
                self.printer([("class:error", "interrupted\n")])
                continue
            if outcome is not None and outcome.quit:
                self._leave()
                return 0

    def _leave(self) -> None:
        """A call still paused when the shell ends is aborted, and said so."""
        message = self.session.close_paused()
        if message:
            self.printer([("class:warning", message + "\n")])

    def run_line(self, line: str) -> Outcome | None:
        """Run one input and show its outcome (nothing for blank or ``#`` lines)."""
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return None
        # Every table and long line of the output is fitted to the screen as it is now.
        with rendering_width(self._columns()):
            with self._ticker():
                outcome = execute(self.session, line, self.commands)
            self.show(outcome)
        return outcome

    def _ticker(self) -> Ticker | contextlib.nullcontext[None]:
        """A status line for a long call (not in --json mode, whose output is for programs)."""
        if self.json_mode:
            return contextlib.nullcontext()
        return Ticker(self.session.runtime.progress, self._write_status, self._columns)

    def _write_status(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _columns(self) -> int | None:
        try:
            return self.prompt.output.get_size().columns or None
        except Exception:  # no terminal size (a pipe): unlimited
            return None

    def show(self, outcome: Outcome) -> None:
        if self.json_mode:
            for chunk in outcome.json_chunks():
                self.printer([("", chunk)])
        else:
            self.page(outcome.text())
        if outcome.traceback and self.debug:
            sys.stderr.write(outcome.traceback)

    # --- output ---------------------------------------------------------------------------

    def _print(self, fragments: Fragments) -> None:
        if self.color:
            print_formatted_text(FormattedText(fragments), end="", style=self.style,
                                 output=self.prompt.output)
        else:
            sys.stdout.write(plain(fragments))
            sys.stdout.flush()

    def page(self, fragments: Fragments) -> None:
        """Print ``fragments``, a screen at a time when they are longer than the screen."""
        lines = _split_lines(fragments)
        try:
            rows = self.prompt.output.get_size().rows
        except Exception:  # no terminal size (a pipe): print everything
            rows = 0
        page = max(rows - 2, 5)
        if rows <= 0 or len(lines) <= rows - 1:
            self.printer(fragments)
            return
        for start in range(0, len(lines), page):
            self.printer([f for line in lines[start : start + page] for f in line])
            if start + page < len(lines) and not self._more(start + page, len(lines)):
                break

    def _more(self, shown: int, total: int) -> bool:
        """Ask whether to show the next page (any key) or stop (q, Escape, Ctrl-C)."""
        bindings = KeyBindings()

        @bindings.add("q")
        @bindings.add("Q")
        @bindings.add("escape", eager=True)
        @bindings.add("c-c")
        def stop(event: KeyPressEvent) -> None:
            event.app.exit(result=False)

        @bindings.add("<any>")
        def more(event: KeyPressEvent) -> None:
            event.app.exit(result=True)

        text = f"-- more: {shown} of {total} lines (any key: next page, q: stop) --"
        app: Application[bool] = Application(
            layout=Layout(Window(FormattedTextControl([("class:muted", text)]), height=1)),
            key_bindings=bindings, style=self.style, erase_when_done=True,
            input=self.prompt.input, output=self.prompt.output,
        )
        try:
            return bool(app.run())
        except (EOFError, KeyboardInterrupt):
            return False


def _split_lines(fragments: Fragments) -> list[Fragments]:
    """``fragments`` as a list of lines, each ending with its newline."""
    lines: list[Fragments] = [[]]
    for style, text in fragments:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines[-1].append((style, "\n"))
                lines.append([])
            if part:
                lines[-1].append((style, part))
    if not lines[-1]:
        lines.pop()
    return lines


def _short(location: SourceLocation) -> str:
    """``token.c:144``: the prompt names the file without its directories."""
    return f"{location.file.rsplit('/', 1)[-1]}:{location.line}"
