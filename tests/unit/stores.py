"""Test doubles for the stores the pure cores keep their state in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class TopLevelOnlyStore(dict[str, Any]):
    """Like a Faust table: keeps a JSON copy of each value set, so an in-place change to a value read back is lost."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, json.dumps(value))

    def __getitem__(self, key: str) -> Any:
        return json.loads(super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return ((k, self[k]) for k in list(self.keys()))
