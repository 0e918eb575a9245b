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
    created: float

    def to_json(self) -> bytes:
        return json.dumps({
            "storage": [[k.hex(), v.hex()] for k, v in self.storage.items()],
            "context": [self.context.block_number, self.context.timestamp],
            "events": [[e.call_id, e.index, e.data.hex(), e.export] for e in self.events],
            "created": self.created,
        }).encode()

    @classmethod
    def from_json(cls, name: str, raw: bytes) -> Snapshot:
        """Read one back (``ValueError``/``KeyError``/``TypeError`` if it is not one).

        Snapshots of 0.2.0 kept the exports beside the events (``"exports"``); they are read
        too.
        """
        data = json.loads(raw)
        exports = {int(k): str(v) for k, v in data.get("exports", {}).items()}
        events = []
        for event in data["events"]:
            call_id, index, hex_data = int(event[0]), int(event[1]), str(event[2])
            export = str(event[3]) if len(event) > 3 else exports.get(call_id, "")
            events.append(LoggedEvent(call_id, index, bytes.fromhex(hex_data), export))
        return cls(
            name,
            {bytes.fromhex(k): bytes.fromhex(v) for k, v in data["storage"]},
            ChainContext(*data["context"]),
            events,
            float(data["created"]),
        )
