"""A snapshot: a saved copy of the session's storage, chain context and event log."""

from __future__ import annotations

import json
from dataclasses import dataclass

from runtime import ChainContext, LoggedEvent


@dataclass(frozen=True)
class Snapshot:
    """A saved copy of the session's storage, chain context and event log."""

    name: str
    storage: dict[bytes, bytes]
    context: ChainContext
    events: list[LoggedEvent]
    exports: dict[int, str]
    created: float

    def to_json(self) -> bytes:
        return json.dumps({
            "storage": [[k.hex(), v.hex()] for k, v in self.storage.items()],
            "context": [self.context.block_number, self.context.timestamp],
            "events": [[e.call_id, e.index, e.data.hex()] for e in self.events],
            "exports": {str(k): v for k, v in self.exports.items()},
            "created": self.created,
        }).encode()

    @classmethod
    def from_json(cls, name: str, raw: bytes) -> Snapshot:
        data = json.loads(raw)
        return cls(
            name,
            {bytes.fromhex(k): bytes.fromhex(v) for k, v in data["storage"]},
            ChainContext(*data["context"]),
            [LoggedEvent(int(c), int(i), bytes.fromhex(d)) for c, i, d in data["events"]],
            {int(k): str(v) for k, v in data["exports"].items()},
            float(data["created"]),
        )
