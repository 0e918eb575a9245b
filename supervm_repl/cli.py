"""``supervm-repl``: the command line. Exit status 0 (all commands succeeded), 1 (a command
failed, or the ``--db`` file cannot be used), 2 (the command line itself is wrong)."""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import traceback
from collections.abc import Iterator, Sequence

from runtime import SuperVMError
from runtime.config import check_fuel
from runtime.errors import FileError
from runtime.files import read_file
from runtime.literals import parse_int, parse_integer, parse_timestamp

from . import __version__
from .app import Shell
from .batch import MAX_SCRIPT, Batch, columns, read_lines, script_lines
from .render import plain
from .saved import restore_saved
from .screen import rendering_width
from .session import Session
from .state_commands import parse_block
from .testing_commands import gas_reports

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_EPILOG = """\
Without -c or --script, and with stdin a terminal, an interactive shell starts (:help lists
its commands). Otherwise commands run in order with no prompt and no colour: -c commands
first, then --script, else the lines of stdin.

exit status: 0 every command succeeded, 1 a command failed (or the --db file cannot be used),
2 the command line is wrong.

examples:
  supervm-repl samples/counter.wat
  supervm-repl samples/events.wat --block 12345 --timestamp 1704067200 -c ':call run'
  supervm-repl --db state.db --json --script checks.svm
  supervm-repl --replay transfer.json
"""


def _i64(text: str) -> int:
    try:
        return parse_int(text, "i64")
    except SuperVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _block(text: str) -> int:
    try:
        return parse_block(text)
    except SuperVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _timestamp(text: str) -> int:
    try:
        return parse_timestamp(text)
    except SuperVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fuel(text: str) -> int:
    try:
        return check_fuel(parse_integer(text))
    except SuperVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _megabytes(text: str) -> int:
    try:
        value = parse_integer(text)
    except SuperVMError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 1 <= value <= 1 << 20:
        raise argparse.ArgumentTypeError("must be between 1 and 1048576 (MB)")
    return value


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0 <= value <= 1e6:
        raise argparse.ArgumentTypeError("must be between 0 and 1000000 (percent)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supervm-repl",
        description="Interactive shell for SuperVM contracts: load WebAssembly modules, set "
                    "the chain context, call exports, inspect storage and events.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", metavar="FILE",
                        help="a .wat or .wasm module to load at start")
    parser.add_argument("--db", metavar="PATH",
                        help="keep storage, chain context, event log and snapshots in this "
                             "SQLite file (created if missing); default: in memory")
    parser.add_argument("--block", type=_block, metavar="N", help="block number for calls")
    parser.add_argument("--timestamp", type=_timestamp, metavar="T",
                        help="block timestamp for calls: seconds, or an ISO date or time "
                             "(UTC unless it has an offset): 2024-01-01T12:00:00Z")
    parser.add_argument("--fuel", type=_fuel, metavar="N",
                        help="fuel each call gets (default 10,000,000)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per command (JSON Lines)")
    parser.add_argument("-c", dest="commands", action="append", default=[], metavar="CMD",
                        help="run this command (repeatable), then exit")
    parser.add_argument("--script", metavar="FILE", help="run the commands in FILE, then exit")
    parser.add_argument("--keep-going", action="store_true",
                        help="in scripts, continue after a failed command (still exit 1)")
    parser.add_argument("--replay", metavar="BUNDLE",
                        help="re-execute a replay bundle (written by :export) and compare it "
                             "with its recording; exit 0 if identical, 1 if it diverged or "
                             "the file is not a valid bundle")
    parser.add_argument("--max-history-mb", type=_megabytes, metavar="N", default=256,
                        help="memory the debugger's history of calls may use (default 256 MB); "
                             "past it the oldest calls' traces are dropped first")
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="after the -c commands or the --script, stay in the interactive "
                             "shell (e.g. at the failing call of a saved campaign)")
    parser.add_argument("--gas-report", action="store_true",
                        help="at the end of a script run, print per export the calls and their "
                             "min/median/max fuel")
    parser.add_argument("--gas-snapshot", metavar="FILE",
                        help="at the end of a script run, write the fuel per export to FILE")
    parser.add_argument("--gas-check", metavar="FILE",
                        help="at the end of a script run, compare the fuel per export with "
                             "the snapshot FILE; exit 1 on a regression, with the differences")
    parser.add_argument("--gas-tolerance", type=_percent, metavar="PCT", default=0.0,
                        help="with --gas-check, how many percent more fuel is not a "
                             "regression (default 0)")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks of internal errors on stderr")
    parser.add_argument("--version", action="version", version=f"supervm-repl {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the shell; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # Output must never fail on a terminal or pipe that cannot encode a character.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    args = build_parser().parse_args(argv)
    # argparse turns the value of ``-c=--`` into an empty list (it drops the "--"): that command
    # was "--", and is answered as any other line.
    args.commands = ["--" if isinstance(c, list) else c for c in args.commands]
    try:
        return _run(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say.
        return EXIT_FAILED


def _replay(args: argparse.Namespace) -> int:
    from .commands import Outcome
    from .registry import Reply
    from .replay_commands import replay_file

    try:
        data, text = replay_file(None, args.replay)
        outcome = Outcome(":replay", Reply(data, [("", text + "\n")]))
    except SuperVMError as exc:
        outcome = Outcome(":replay", error=exc)
    if args.json:
        sys.stdout.write(json.dumps(outcome.to_json()) + "\n")
    elif outcome.ok:
        sys.stdout.write(plain(outcome.text()))
    else:
        sys.stderr.write(f"supervm-repl: {plain(outcome.text())}")
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    if args.replay is not None:
        return _replay(args)
    script: list[str] | None = None
    if args.script is not None:
        try:
            data = read_file(args.script, limit=MAX_SCRIPT, what="script")
        except FileError as exc:
            sys.stderr.write(f"supervm-repl: error: cannot read script {exc.path}: "
                             f"{exc.reason}\n")
            return EXIT_USAGE
        script = list(script_lines(args.script, read_lines(io.BytesIO(data))))
    try:
        session = Session(args.db, block=args.block, timestamp=args.timestamp, fuel=args.fuel,
                          max_history_bytes=args.max_history_mb * 1024 * 1024)
    except SuperVMError as exc:
        sys.stderr.write(f"supervm-repl: error: {exc}\n")
        return EXIT_FAILED
    except Exception as exc:  # never a traceback, even for an unforeseen storage problem
        sys.stderr.write(f"supervm-repl: error: cannot start: {type(exc).__name__}: {exc}\n")
        if args.debug:
            traceback.print_exc()
        return EXIT_FAILED
    try:
        batch_mode = bool(args.commands) or script is not None or not sys.stdin.isatty()
        restored, missed = restore_saved(session, load_module=args.file is None)
        # What exists by now (the imported modules, the engine) lives as long as the session:
        # frozen, it is not traversed again by every full collection of a long session.
        gc.freeze()
        if batch_mode:
            for line in missed:
                sys.stderr.write(f"supervm-repl: not restored from {args.db}: {line}\n")
            status = _run_commands(session, args, script)
            status = max(status, gas_reports(session, args))
            if args.interactive and sys.stdin.isatty():
                args.file = None  # loaded already
                return max(status, _run_interactive(session, args, [], []))
            return status
        status = _run_interactive(session, args, restored, missed)
        return max(status, gas_reports(session, args))
    finally:
        gc.unfreeze()
        try:
            session.close()
        except SuperVMError as exc:
            sys.stderr.write(f"supervm-repl: error: {exc}\n")


def _load_line(path: str) -> str:
    return ':load "' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'




def _run_commands(session: Session, args: argparse.Namespace, script: list[str] | None) -> int:
    # Input known ahead (-c, --script) needs no answer per command: output is buffered.
    batch = Batch(session, json_mode=args.json, keep_going=args.keep_going, debug=args.debug,
                  buffered=bool(args.commands) or script is not None)
    if args.file is not None:
        try:
            with rendering_width(columns()):
                outcome = batch.run_one(_load_line(args.file))
        finally:
            batch.flush()
        if not outcome.ok and not args.keep_going:
            return EXIT_FAILED

    def lines() -> Iterator[str]:
        yield from args.commands
        if script is not None:
            yield from script
        elif not args.commands:
            yield from read_lines(sys.stdin.buffer)

    return batch.run(lines())


def _run_interactive(session: Session, args: argparse.Namespace, restored: list[str],
                     missed: list[str]) -> int:
    shell = Shell(session, json_mode=args.json, debug=args.debug)
    if not args.json:
        shell.printer([("class:muted", f"SuperVM shell {__version__}: :help lists the commands, "
                                       "Ctrl-D leaves\n")])
        if restored:
            shell.printer([("class:muted", f"restored from {args.db}: {', '.join(restored)}\n")])
        for line in missed:
            shell.printer([("class:warning", f"not restored from {args.db}: {line}\n")])
    if args.file is not None:
        shell.run_line(_load_line(args.file))
    return shell.run()

