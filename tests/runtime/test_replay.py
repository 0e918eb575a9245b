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


def _valid(tmp_path: Path) -> dict:
    rt = Runtime(MemoryStorage())
    rt.call(sample("token.wat"), "mint", (0, 100))
    return json.loads(bundle_for(rt, sample("token.wat"), "transfer", (0, 1, 30),
                                 tmp_path / "t.json").read_text())


def _without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [(lambda d: _without(d, "outcome"), "outcome is missing"),
     (lambda d: {**d, "outcome": []}, r"outcome: expected an object, got \[\]"),
     (lambda d: {**d, "outcome": "ok"}, 'outcome: expected an object, got "ok"'),
     (lambda d: {**d, "outcome": 7}, "outcome: expected an object, got 7"),
     (lambda d: {**d, "outcome": None}, "outcome: expected an object, got null"),
     (lambda d: {**d, "args": [{"type": "i32", "bits": "0x10000000000"}, *d["args"][1:]]},
      r"args\[0\].bits: expected the i32 bits as hex \(0x0 to 0xffffffff\)"),
     (lambda d: {**d, "args": [{"type": "i32", "bits": "-0x1"}, *d["args"][1:]]},
      r"args\[0\].bits"),
     (lambda d: {**d, "fuel_limit": 1e400}, "fuel_limit: expected an integer, got inf"),
     (lambda d: {**d, "fuel_limit": 2**64}, "fuel_limit: expected an integer from 1"),
     (lambda d: {**d, "storage": [["zz", "00"]]}, r"storage\[0\]\[0\]: expected a hex string"),
     (lambda d: {**d, "trace": [{**d["trace"][0], "args": "x"}]}, r"trace\[0\].args"),
     (lambda d: {**d, "context": {"block_number": 2**63, "timestamp": 0}},
      "context.block_number"),
     (lambda d: {**d, "limits": {"fuel": -1}}, "fuel must be between 1 and 2"),
     (lambda d: {**d, "limits": {"fuel": 2**64 + 5}}, "fuel must be between 1 and 2"),
     (lambda d: {**d, "outcome": {**d["outcome"], "ok": "yes"}}, "outcome.ok: expected true"),
     (lambda d: {**d, "module": {**d["module"], "wasm": "!!"}}, "module.wasm: expected base64")],
)
def test_each_malformed_field_is_named(tmp_path: Path, mutate, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        Bundle.from_dict(mutate(_valid(tmp_path)), "b.json")


def test_special_and_huge_bundle_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="character device"):
        Bundle.load("/dev/zero")
    with pytest.raises(ReplayError, match="nested too deeply"):
        path = tmp_path / "deep.json"
        path.write_text("[" * 100_000 + "]" * 100_000)
        Bundle.load(path)


def test_a_different_outcome_shows_the_difference(tmp_path: Path) -> None:
    data = _valid(tmp_path)
    data["outcome"]["fuel_used"] += 1
    report = replay(Bundle.from_dict(data))
    assert not report.identical and report.divergence.what == "fuel_used"
    assert report.divergence.expected != report.divergence.actual
    data = _valid(tmp_path)
    data["outcome"]["events"] = ["00"]
    report = replay(Bundle.from_dict(data))
    assert report.divergence.what == "events"
    assert report.divergence.expected == "[0x00]"
    assert report.divergence.actual == '["transfer:alice->bob:30"]'


def test_divergent_host_calls_are_shown_in_the_shell_format(tmp_path: Path) -> None:
    data = _valid(tmp_path)
    data["trace"][0]["payloads"]["value"] = "1e00000000000000"
    report = replay(Bundle.from_dict(data))
    assert report.divergence.what == "host call"
    assert "value=0x1e00000000000000" in report.divergence.expected
    assert 'key="bal:alice"' in report.divergence.actual and "b'" not in str(report)
