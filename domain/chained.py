"""An aggregate whose events form a hash chain (see domain.chain)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from domain.chain import GENESIS, event_digest


class ChainedAggregate(Aggregate):
    """Every event carries `prev_digest`, the digest of the event before it."""

    class Event(Aggregate.Event):
        prev_digest: str

        def mutate(self, aggregate: Any) -> Any:
            # After the event's own `apply` (which need not call this class's), on
            # every replay. The digest itself is computed only when the next event
            # is triggered, so loading a long history does not hash every event.
            mutated = super().mutate(aggregate)
            assert mutated is not None
            mutated.last_event = self
            return mutated

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, prev_digest=self.head_digest, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> ChainedAggregate:
        """A private copy for one command (the repository copies what it caches).

        Only the containers are copied: what they hold (strings, moments, frozen
        dataclasses, events) is never changed in place, so it is shared. A generic
        deep copy walks every note and command id of a long case on every load.
        """
        copy = object.__new__(type(self))
        copy.__dict__.update({name: _copied(value) for name, value in self.__dict__.items()})
        return copy

    @property
    def head_digest(self) -> str:
        """The digest of the latest event: what the next event must carry."""
        last = self.__dict__.get("last_event")
        return GENESIS if last is None else event_digest(last)


def _copied(value: Any) -> Any:
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, set):
        return set(value)
    return value
