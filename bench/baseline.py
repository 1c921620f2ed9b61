"""The bare baseline the benchmarks compare against: the smallest aggregate there is."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event


class Tally(Aggregate):
    """The smallest aggregate that records something."""

    @event("Created")
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1
