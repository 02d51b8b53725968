"""Test doubles for the model catalog: a lister whose answer a test controls, and a `simulated`
provider that also lists models (as OpenRouter's provider does), for end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.sora.simulated import SimulatedProvider

FIXTURE = Path(__file__).parent / "fixtures" / "openrouter_video_models.json"


def snapshot_records() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["data"]


class Listing:
    """`list_models` that returns `answer`, or raises it when it is an exception; counts its calls."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls = 0
        self.name = "listing"

    async def list_models(self) -> Any:
        self.calls += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class ListingSimulatedProvider(SimulatedProvider):
    """The simulated renderer with a models endpoint: what the catalog refresh reads in e2e tests."""

    def __init__(self, *args: Any, records: list[dict[str, Any]] | None = None,
                 down: BaseException | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records = snapshot_records() if records is None else records
        self.down = down  # raised by list_models while set: the models endpoint is unreachable
        self.list_calls = 0

    async def list_models(self) -> list[dict[str, Any]]:
        self.list_calls += 1
        if self.down is not None:
            raise self.down
        return self.records
