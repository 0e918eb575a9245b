"""What a ``--db`` file brings back besides storage, context, event log and snapshots: the
module the last session had loaded and its breakpoints, restored through the commands that
set them, and a line for each thing that could not be restored."""

from __future__ import annotations

from runtime.literals import shorten

from .commands import Outcome, execute
from .render import plain
from .session import Session


def restore_saved(session: Session, *, load_module: bool = True) -> tuple[list[str], list[str]]:
    """Load the saved module (unless ``load_module`` is false: a FILE was given) and set the
    saved breakpoints again. Returns what was restored and what was not, one line each."""
    module, breakpoints = session.saved_state()
    restored: list[str] = []
    missed: list[str] = []
    typed = len(session.inputs.lines)
    if module is not None and load_module:
        path = module.get("path")
        if module.get("inline"):
            missed.append("the module typed inline last time (type or :load it again)")
        elif isinstance(path, str):
            outcome = execute(session, ':load "' + path.replace("\\", "\\\\")
                              .replace('"', '\\"') + '"')
            if outcome.ok:
                restored.append(f"module {path}")
            else:
                missed.append(f"module {path}: {_message(outcome)}")
    count = 0
    for saved in breakpoints:
        spec = str(saved["spec"])
        outcome = execute(session, f":break {spec}"
                          + (" --temporary" if saved.get("temporary") else ""))
        if not outcome.ok:
            missed.append(f"breakpoint {shorten(spec, 60)}: {_message(outcome)}")
            continue
        count += 1
        number = outcome.to_json().get("number")
        ignore = saved.get("ignore")
        if isinstance(ignore, int) and ignore > 0:
            execute(session, f":ignore {number} {ignore}")
        if saved.get("enabled") is False:
            execute(session, f":disable {number}")
    if count:
        restored.append(f"{count} breakpoint{'s' if count != 1 else ''}")
    # Restoring is not the user's typing: it is not in :history.
    session.inputs.forget_after(typed)
    return restored, missed


def _message(outcome: Outcome) -> str:
    """The first line of a failed outcome's error, without ``error:``."""
    text = plain(outcome.text()).strip().splitlines()
    return (text[0] if text else "failed").removeprefix("error: ")
