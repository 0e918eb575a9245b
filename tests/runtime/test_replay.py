"""Replay bundles: export a call, replay it identically, detect divergence, refuse bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wasmtime

from runtime import MemoryStorage, ReplayError, Runtime, TrapError
from runtime.replay import Bundle, make_bundle, replay, write_bundle
from tests.support import sample


def bundle_for(rt: Runtime, wat: str, export: str, args: tuple, path: Path,
               wasm: bytes | None = None) -> Path:
    contract = rt.load(wasm or wat)
    before = rt.storage.snapshot()
    kwargs = dict(wasm=contract.wasm, name="token.wat", export=export,
                  context=rt.context, limits=rt.limits, fuel_limit=rt.limits.fuel,
                  storage=before)
    try:
        result = rt.call(contract, export, args)
        bundle = make_bundle(args=result.args, result=result, **kwargs)
    except TrapError as exc:
        from runtime.values import convert_args
        bundle = make_bundle(args=convert_args(export, contract.info.function(export).params,
                                               args), error=exc, **kwargs)
    write_bundle(path, bundle)
    return path


def test_replay_of_an_exported_call_is_identical(tmp_path: Path) -> None:
    rt = Runtime(MemoryStorage())
    rt.call(sample("token.wat"), "mint", (0, 100))
    path = bundle_for(rt, sample("token.wat"), "transfer", (0, 1, 30), tmp_path / "t.json")
    report = replay(Bundle.load(path))
    assert report.identical, str(report)
    assert str(report).startswith("identical:")


def test_failed_call_replays_identically(tmp_path: Path) -> None:
    rt = Runtime(MemoryStorage())
    path = bundle_for(rt, sample("token.wat"), "transfer", (0, 1, 30), tmp_path / "t.json")
    assert json.loads(path.read_text())["outcome"]["ok"] is False
    assert replay(Bundle.load(path)).identical


def test_altered_instruction_reports_first_divergent_host_call(tmp_path: Path) -> None:
    rt = Runtime(MemoryStorage())
    rt.call(sample("token.wat"), "mint", (0, 100))
    path = bundle_for(rt, sample("token.wat"), "transfer", (0, 1, 30), tmp_path / "t.json")
    data = json.loads(path.read_text())
    # Alter one instruction: the address of bob's key record in the account table.
    altered = sample("token.wat").replace('(data (i32.const 0x020) "\\07bal:bob")',
                                          '(data (i32.const 0x020) "\\07bal:bOb")')
    assert altered != sample("token.wat")
    wasm = bytes(wasmtime.wat2wasm(altered))
    import base64
    import hashlib
    data["module"] = {"name": "x", "sha256": hashlib.sha256(wasm).hexdigest(),
                      "wasm": base64.b64encode(wasm).decode()}
    path.write_text(json.dumps(data))
    report = replay(Bundle.load(path))
    assert not report.identical
    assert report.divergence.what == "host call"
    bob_read = next(e for e in Bundle.load(path).trace if e.payloads.get("key") == b"bal:bob")
    assert report.divergence.step == bob_read.index
    assert "bal:bOb" in report.divergence.actual


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "is not JSON"), ('{"format": "other"}', "not a SuperVM replay bundle"),
     ('{"format": "supervm-replay", "version": 9}', "unsupported bundle version"),
     ('{"format": "supervm-replay", "version": 1, "module": {}}', "malformed bundle")],
)
def test_malformed_bundles_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(ReplayError, match=message):
        Bundle.load(path)
    with pytest.raises(ReplayError, match="cannot read"):
        Bundle.load(tmp_path / "missing.json")


def test_tampered_module_hash_is_refused(tmp_path: Path) -> None:
    rt = Runtime(MemoryStorage())
    path = bundle_for(rt, sample("token.wat"), "mint", (0, 1), tmp_path / "t.json")
    data = json.loads(path.read_text())
    data["module"]["sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    with pytest.raises(ReplayError, match="does not match its sha256"):
        Bundle.load(path)
