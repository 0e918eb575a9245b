"""Every error SuperVM can report has a documented kind (the README's table of error kinds)."""

from __future__ import annotations

import importlib
import pkgutil

import runtime
import supervm_repl
from runtime import SuperVMError
from tests.support import documented_kinds


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_error_class_has_a_documented_kind() -> None:
    for package in (runtime, supervm_repl):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith("__main__"):
                continue
            importlib.import_module(module.name)
    kinds = documented_kinds()
    assert {"usage", "io", "trap", "internal"} <= kinds
    undocumented = {f"{c.__module__}.{c.__qualname__}: {c.kind}"
                    for c in _subclasses(SuperVMError) if c.kind not in kinds
                    and c.__module__.split(".")[0] in ("runtime", "supervm_repl")}
    assert not undocumented


def test_an_error_is_one_line_whatever_it_quotes() -> None:
    from runtime import MissingImportError, Runtime
    from supervm_repl.commands import execute
    from supervm_repl.session import Session

    # A path, a string and an import name holding line breaks and terminal codes.
    session = Session()
    try:
        for line in (':load "a\\nb"', ':b "\r --temporary', ':get "\x1b[31m'):
            error = execute(session, line).to_json()["error"]
            assert "\n" not in error["message"] and "\r" not in error["message"], line
            assert "\x1b" not in error["message"]
    finally:
        session.close()
    wat = '(module (import "chain_api" "block\\0anumber" (func)) (func (export "b")))'
    rt = Runtime()
    try:
        rt.call(rt.load(wat), "b", ())
    except MissingImportError as error:
        assert "\n" not in str(error) and "block\\nnumber" in str(error)
    else:
        raise AssertionError("a module importing what SuperVM lacks loaded")
