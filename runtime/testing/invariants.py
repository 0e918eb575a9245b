"""Invariant campaigns: random sequences of calls to a contract's exports, with invariants over
its storage, events and results checked after every call, built on hypothesis's stateful
testing (its generation, its shrinking to a minimal sequence, its seeds).

>>> from runtime.testing.invariants import campaign, SumEquals
>>> report = campaign("samples/flawed_token.wat", exports=["mint", "transfer"],
...                   invariants=[SumEquals(prefix=b"bal:", total=b"supply")], seed=1)
>>> len(report.failure.steps) <= 2
True

A campaign runs ``runs`` sequences (hypothesis examples) of up to ``depth`` calls, each on a
fresh in-memory store (``storage`` if given) in ``context``. Calls commit as they would on a
chain; a failed call commits nothing and, unless ``fail_on_error``, is no failure. The first
failure is shrunk, and :meth:`InvariantFailure.save` writes the minimal sequence as a script
that ``supervm-repl --script FILE -i`` runs, leaving the shell at the failing call.

Needs hypothesis (``pip install 'supervm[testing]'``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ChainContext, Limits
from ..errors import CallError, NoSuchExportError
from ..files import write_file
from ..modules import Contract
from ..outcome import CallResult
from ..runtime import Runtime
from ..storage import MemoryStorage
from ..values import NUMERIC, Value, format_number
from .coverage import Coverage
from .inputs import edge_values, module_constants
from .parallel import check_workers, run_shards

#: Sequences tried and calls per sequence by default.
DEFAULT_RUNS = 100
DEFAULT_DEPTH = 20
#: A campaign is cut into this many shards, whatever the number of workers, so that a seed
#: gives the same campaign with any number of workers.
SHARDS = 8


class ContractState:
    """What an invariant looks at: the contract's storage now, the events committed so far,
    and the calls of this sequence (``last`` the one just made)."""

    def __init__(self, runtime: Runtime, contract: Contract) -> None:
        self.runtime, self.contract = runtime, contract
        self.calls: list[CallResult] = []
        self.events: list[bytes] = []

    @property
    def last(self) -> CallResult | None:
        """The call just made (failed ones carry their ``error``), None before the first."""
        return self.calls[-1] if self.calls else None

    @property
    def storage(self) -> dict[bytes, bytes]:
        return self.runtime.storage.snapshot()

    def get(self, key: bytes | str) -> bytes | None:
        """The stored value of a key (text keys are UTF-8)."""
        return self.runtime.storage.get(key.encode() if isinstance(key, str) else key)

    def u64(self, key: bytes | str) -> int:
        """A stored 8-byte little-endian unsigned integer; 0 if absent."""
        value = self.get(key)
        return int.from_bytes(value, "little") if value else 0

    def scan(self, prefix: bytes | str) -> dict[bytes, bytes]:
        """The stored keys starting with ``prefix``, and their values."""
        p = prefix.encode() if isinstance(prefix, str) else prefix
        return dict(self.runtime.storage.scan(p, 1 << 62))


#: An invariant: true (or None) when it holds; False or an AssertionError when it does not.
Invariant = Callable[[ContractState], Any]


@dataclass(frozen=True)
class SumEquals:
    """The 8-byte integers stored under ``prefix`` add up to the one stored under ``total``
    (a token's balances and its supply)."""

    prefix: bytes = b"bal:"
    total: bytes = b"supply"

    @property
    def __name__(self) -> str:
        return f"sum of {self.prefix.decode(errors='replace')}* == " \
               f"{self.total.decode(errors='replace')}"

    def __call__(self, state: ContractState) -> bool:
        values = state.scan(self.prefix)
        return sum(int.from_bytes(v, "little") for v in values.values()) == state.u64(self.total)


@dataclass(frozen=True)
class Step:
    """One call of a sequence: what was called and how it ended."""

    export: str
    args: tuple[Value, ...]
    ok: bool
    results: tuple[Value, ...] = ()
    error: str | None = None
    fuel_used: int = 0

    @property
    def line(self) -> str:
        """The shell command making this call."""
        return " ".join([":call", self.export, *(format_number(v) for v in self.args)])

    def __str__(self) -> str:
        args = ", ".join(format_number(v) for v in self.args)
        end = ", ".join(format_number(v) for v in self.results) if self.ok else self.error
        return f"{self.export}({args}) -> {end}"


@dataclass
class InvariantFailure:
    """The minimal failing sequence: its calls, the invariant that failed after the last one
    (or ``call failed`` with ``fail_on_error``) and why."""

    invariant: str
    message: str
    steps: list[Step]
    context: ChainContext
    module: str | None = None

    def script(self, module: str | Path | None = None) -> str:
        """The sequence as a ``supervm-repl`` script (``module``: the file to load)."""
        path = module if module is not None else self.module
        lines = [f"# invariant {self.invariant!r} fails after the last call: {self.message}"]
        if path is not None:
            lines.append(':load "' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"')
        lines += [f":block {self.context.block_number}",
                  f":timestamp {self.context.timestamp}"]
        lines += [s.line for s in self.steps]
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path, module: str | Path | None = None) -> Path:
        """Write :meth:`script` to ``path``; ``supervm-repl --script PATH -i`` opens it."""
        write_file(path, self.script(module).encode("utf-8"), what="script")
        return Path(path)


@dataclass
class InvariantReport:
    """A campaign's result: passed, or its shrunk failure."""

    exports: list[str]
    runs: int
    depth: int
    seed: int
    workers: int
    failure: InvariantFailure | None = None
    calls: int = 0
    coverage: Coverage | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return self.failure is None


class _Violation(Exception):
    """Raised inside hypothesis when an invariant fails: it carries the sequence so far."""

    def __init__(self, invariant: str, message: str, steps: list[Step]) -> None:
        super().__init__(f"{invariant}: {message}")
        self.invariant, self.message, self.steps = invariant, message, steps


def _name(fn: Any) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


def value_strategy(type_: str, constants: Iterable[int] = ()) -> Any:
    """A hypothesis strategy of :class:`Value` of a wasm type: small numbers first (what
    shrinking goes to), edge values and the module's constants, or any value."""
    from hypothesis import strategies as st

    if type_[0] == "f":
        width = 32 if type_ == "f32" else 64
        return st.floats(width=width).map(lambda v: Value.of(type_, v))
    bits = 32 if type_ == "i32" else 64
    low, high = -(1 << (bits - 1)), (1 << bits) - 1
    known = [v.value for v in edge_values(type_)]
    known += [c for c in sorted(constants, key=abs) if low <= c <= high][:256]
    # Most draws are the first few numbers: ids, indexes and amounts contracts take, so that
    # calls often succeed and two arguments (a transfer's accounts) often meet.
    # (An explicit draw of the branch: hypothesis's one_of favours the widest strategy.)
    branches = (st.integers(0, 3), st.sampled_from(list(dict.fromkeys(known))),
                st.integers(low, high))
    pick = st.integers(0, 9).map(lambda r: 0 if r < 6 else 1 if r < 9 else 2)
    return pick.flatmap(lambda b: branches[b]).map(lambda v: Value.of(type_, v))


@dataclass(frozen=True)
class _Spec:
    """A campaign, as a worker process receives it (picklable when its parts are)."""

    wasm: bytes
    name: str
    path: str | None
    exports: tuple[str, ...]
    invariants: tuple[Invariant, ...]
    strategies: Mapping[str, Sequence[Any]] | None
    storage: Mapping[bytes, bytes]
    context: ChainContext
    limits: Limits
    depth: int
    fail_on_error: bool
    coverage: bool


def campaign(module: str | Path | Contract, *, invariants: Sequence[Invariant],
             exports: Sequence[str] | None = None,
             strategies: Mapping[str, Sequence[Any]] | None = None,
             runs: int = DEFAULT_RUNS, depth: int = DEFAULT_DEPTH, seed: int = 0,
             storage: Mapping[bytes, bytes] | None = None,
             context: ChainContext | None = None, limits: Limits | None = None,
             fail_on_error: bool = False, workers: int = 1,
             coverage: Coverage | None = None) -> InvariantReport:
    """Run an invariant campaign on ``module`` (a file path or a loaded contract).

    ``exports`` default to every exported function with numeric parameters; ``strategies``
    maps an export to one hypothesis strategy of :class:`Value` per parameter (default: from
    the signature and the module's constants, :func:`value_strategy`). With ``workers`` > 1
    the shards run in that many processes (the invariants and strategies must then be
    picklable: module-level functions, or objects such as :class:`SumEquals`); the report is
    the same. ``coverage`` collects the lines and functions the calls executed.
    """
    check_workers(workers)
    if runs < 1 or depth < 1:
        raise ValueError("runs and depth must be at least 1")
    contract = module if isinstance(module, Contract) else \
        Runtime(limits=limits).load_file(module)
    available = [f.name for f in contract.info.functions
                 if all(t in NUMERIC for t in (*f.params, *f.results))]
    chosen = list(exports) if exports is not None else available
    for name in chosen:
        if name not in available:
            raise NoSuchExportError(name, available)
    if not chosen:
        raise ValueError("no export to call")
    path = str(contract.path) if contract.path is not None else None
    spec = _Spec(contract.wasm, contract.name, path, tuple(chosen), tuple(invariants),
                 strategies, dict(storage or {}), context or ChainContext(), limits or Limits(),
                 depth, fail_on_error, coverage is not None)
    shards = [(spec, _shard_seed(seed, k), runs * (k + 1) // SHARDS - runs * k // SHARDS)
              for k in range(SHARDS)]
    shards = [s for s in shards if s[2] > 0]
    if workers == 1:
        results = []
        for shard in shards:
            results.append(_run_shard(shard, contract, coverage))
            if results[-1]["failure"] is not None:
                break
    else:
        results = run_shards(_run_shard_task, shards, workers)
    report = InvariantReport(chosen, runs, depth, seed, workers, coverage=coverage)
    for result in results:
        report.calls += result["calls"]
        if coverage is not None and workers > 1:
            coverage.add_probes(contract, result["probes"])
        if result["failure"] is not None:
            report.failure = result["failure"]
            break
    if coverage is not None:
        coverage.calls += report.calls
    return report


def _shard_seed(seed: int, shard: int) -> int:
    digest = hashlib.sha256(f"{seed}/{shard}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _run_shard_task(shard: tuple[_Spec, int, int]) -> dict[str, Any]:
    spec = shard[0]
    contract = Runtime(limits=spec.limits).load(spec.wasm, name=spec.name)
    return _run_shard(shard, contract, Coverage() if spec.coverage else None)


def _run_shard(shard: tuple[_Spec, int, int], contract: Contract,
               coverage: Coverage | None) -> dict[str, Any]:
    """One shard: a hypothesis run of ``examples`` sequences with its own seed."""
    import hypothesis
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st
    from hypothesis.reporting import with_reporter
    from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

    spec, seed, examples = shard
    constants = module_constants(contract)
    target, probe_hook = (contract, None) if coverage is None else coverage.runner(contract)
    counter = {"calls": 0}

    class Campaign(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.runtime = Runtime(MemoryStorage(spec.storage), limits=spec.limits,
                                   context=spec.context, trace=False)
            self.state = ContractState(self.runtime, contract)
            self.steps: list[Step] = []
            self._check()

        def _call(self, export: str, args: tuple[Value, ...]) -> None:
            counter["calls"] += 1
            try:
                result = self.runtime.call(target, export, args, probe_hook=probe_hook)
                step = Step(export, args, True, tuple(result.results or ()),
                            fuel_used=result.fuel_used)
                self.state.events.extend(result.events)
            except CallError as exc:
                assert exc.outcome is not None
                result = exc.outcome
                step = Step(export, args, False, error=" ".join(str(exc).split()),
                            fuel_used=exc.fuel_used)
            self.state.calls.append(result)
            self.steps.append(step)
            if not step.ok and spec.fail_on_error:
                raise _Violation("call failed", step.error or "", list(self.steps))
            self._check()

        def _check(self) -> None:
            for inv in spec.invariants:
                try:
                    holds = inv(self.state)
                except AssertionError as exc:
                    raise _Violation(_name(inv), str(exc) or "assertion failed",
                                     list(self.steps)) from None
                if holds is False:
                    raise _Violation(_name(inv), "returned False", list(self.steps))

    for export in spec.exports:
        info = contract.info.function(export)
        assert info is not None
        given = (spec.strategies or {}).get(export)
        strategy = st.tuples(*given) if given is not None else st.tuples(
            *(value_strategy(t, constants) for t in info.params))

        def make(name: str) -> Callable[..., None]:
            def call(self: Campaign, args: tuple[Value, ...]) -> None:
                self._call(name, args)

            call.__name__ = name
            return call

        setattr(Campaign, export, rule(args=strategy)(make(export)))

    machine = hypothesis.seed(seed)(Campaign)
    config = settings(max_examples=examples, stateful_step_count=spec.depth, database=None,
                      deadline=None, derandomize=False, print_blob=False,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.generate, Phase.shrink])
    failure = None
    with with_reporter(lambda _message: None):
        try:
            run_state_machine_as_test(machine, settings=config)
        except _Violation as found:
            found = _fewer_steps(found, Campaign)
            failure = InvariantFailure(found.invariant, found.message, found.steps,
                                       spec.context, spec.path)
    probes = coverage.probes_of(contract) if coverage is not None else []
    return {"failure": failure, "calls": counter["calls"], "probes": probes}


def _fewer_steps(found: _Violation, machine: Callable[[], Any]) -> _Violation:
    """Drop calls from hypothesis's minimal sequence while the same invariant still fails
    (its shrinking keeps a call now and then that the failure does not need)."""
    best = found
    i = 0
    while i < len(best.steps):
        trial = best.steps[:i] + best.steps[i + 1:]
        again = _replay(machine, trial)
        if again is not None and again.invariant == best.invariant:
            best = again
        else:
            i += 1
    return best


def _replay(machine: Callable[[], Any], steps: Sequence[Step]) -> _Violation | None:
    """Run ``steps`` again on a fresh machine: the violation they cause, if any."""
    try:
        m = machine()
        for step in steps:
            m._call(step.export, step.args)
    except _Violation as again:
        return again
    return None
