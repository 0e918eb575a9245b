"""Values shown as what they hold: little-endian integers, text, hex; views per command and
per key prefix; ``:set KEY N`` for a bare integer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from supervm_repl.commands import Outcome
from supervm_repl.views import Views, integer_bytes, value_text

Run = Callable[[str], Outcome]
TextOf = Callable[[Outcome], str]


@pytest.mark.parametrize(("data", "view", "shown"), [
    (bytes.fromhex("1900000000000000"), "auto", "0x1900000000000000 (25)"),
    (bytes.fromhex("ffffffff"), "auto", "0xffffffff (-1)"),
    (bytes.fromhex("ffffffff"), "u32", "4_294_967_295"),
    (bytes.fromhex("1900000000000000"), "u64", "25"),
    (bytes.fromhex("1900000000000000"), "i32", "0x1900000000000000 (25)"),  # does not fit
    (b"abcdefgh", "auto", '"abcdefgh"'),
    (b"ab", "hex", "0x6162"),
    (b"a\xff", "text", '"a\\xff"'),
    (None, "u64", "(absent)"),
])
def test_value_text(data: bytes | None, view: str, shown: str) -> None:
    assert value_text(data, view) == shown


def test_a_long_value_is_cut_with_its_size() -> None:
    shown = value_text(bytes(5000), width=40)
    assert len(shown) <= 40 and shown.endswith("… (5,000 bytes)")


def test_the_longest_prefix_wins() -> None:
    views = Views()
    views.set(b"bal:", "u64")
    views.set(b"bal:x", "hex")
    assert views.view_for(b"bal:bob") == "u64" and views.view_for(b"bal:xy") == "hex"
    views.set(b"bal:", "auto")
    assert views.view_for(b"bal:bob") == "auto"


def test_a_bare_integer_is_an_i64_unless_the_view_says_otherwise() -> None:
    assert integer_bytes("41", "auto") == (41).to_bytes(8, "little")
    assert integer_bytes("-1", "auto") == b"\xff" * 8
    assert integer_bytes("5", "u32") == b"\x05\x00\x00\x00"
    assert integer_bytes("0x05", "auto") is None  # hex is bytes
    assert integer_bytes('"5"', "auto") is None


def test_values_show_their_integer_everywhere(run: Run, text: TextOf, samples: Path) -> None:
    run(f":load {samples / 'token.wat'}")
    called = text(run(":call mint 0 100"))
    assert '"bal:alice": (absent) → 0x6400000000000000 (100)' in called
    assert '0x6400000000000000 (100)' in text(run(":storage"))
    assert '= 0x6400000000000000 (100)' in text(run(':get "bal:alice"'))
    assert "(absent) → 0x6400000000000000 (100)" in text(run(':history "bal:alice"'))
    assert '"bal:alice": (absent) → 0x6400000000000000 (100)' in text(run(":trace"))


def test_views_chosen_per_command_and_per_prefix(run: Run, text: TextOf, samples: Path) -> None:
    run(f":load {samples / 'token.wat'}")
    run(":call mint 0 100")
    assert '"bal:alice"  100' in text(run(":storage --as u64"))
    assert '"bal:alice"  0x6400000000000000\n' in text(run(":storage --as hex"))
    assert run(":view bal: u64").ok  # plain text prefix
    assert run(':view "bal:"').to_json()["view"] == "u64"
    assert '"bal:alice"  100' in text(run(":storage"))
    assert '"supply"     0x6400000000000000 (100)' in text(run(":storage"))
    assert "→ 100" in text(run(':history "bal:alice"'))
    assert run(":view").to_json()["views"] == [{"prefix": {"hex": "62616c3a", "text": "bal:"},
                                                 "view": "u64"}]
    assert "no view" in run(":storage --as float").to_json()["error"]["message"]


def test_set_takes_a_bare_integer(run: Run, text: TextOf) -> None:
    assert run(':set "counter" 41').to_json()["new"]["hex"] == "2900000000000000"
    assert run(':set "counter" i64:41').to_json()["new"]["hex"] == "2900000000000000"
    run(':view "small:" i32')
    assert run(':set "small:a" 7').to_json()["new"]["hex"] == "07000000"
    assert not run(':set "small:a" 99999999999').ok
