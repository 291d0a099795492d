"""A small observer mechanism, so the Qt side can bridge document changes to signals.

Events are named for what happened (``inserting`` / ``inserted``, ``removed``, ``moved``,
``changed``, ``pixels``, ``selection``, ``history``, ``clean``). Callbacks run synchronously on
the thread that changed the document. A callback that raises does not stop the others; the
error is re-raised after every observer ran, so nothing fails silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from canvas.geometry import Rect


@dataclass(frozen=True)
class DocumentEvent:
    kind: str
    layer_id: str | None = None
    rect: Rect | None = None
    info: dict[str, Any] = field(default_factory=dict)


Callback = Callable[[DocumentEvent], None]


class EventEmitter:
    def __init__(self) -> None:
        self._callbacks: list[Callback] = []
        self._blocked = 0

    def connect(self, callback: Callback) -> Callable[[], None]:
        """Subscribe; returns a function that disconnects again."""
        self._callbacks.append(callback)
        return lambda: self.disconnect(callback)

    def disconnect(self, callback: Callback) -> None:
        try:
            self._callbacks.remove(callback)
        except ValueError:
            pass

    def emit(self, event: DocumentEvent) -> None:
        if self._blocked:
            return
        first_error: BaseException | None = None
        for cb in list(self._callbacks):
            try:
                cb(event)
            except Exception as exc:  # noqa: BLE001 - re-raised below
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error

    def __len__(self) -> int:
        return len(self._callbacks)
