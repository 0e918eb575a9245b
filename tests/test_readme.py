"""The README stays true: its generated tables match the definitions they come from."""

from __future__ import annotations

from pathlib import Path

from runtime import abi

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_host_abi_table_is_generated_from_the_table_in_code() -> None:
    assert abi.markdown_table() in README


def test_python_examples_run(monkeypatch) -> None:
    """The README's Python examples run as written, from the checkout's root."""
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    blocks = README.split("```python\n")[1:]
    assert blocks
    namespace: dict[str, object] = {}  # later examples continue earlier ones
    for block in blocks:
        exec(compile(block.split("```")[0], "README.md", "exec"), namespace)
