"""Argument types the commands share: a moment with its offset, a day."""

from __future__ import annotations

import argparse
from datetime import date, datetime


def moment(text: str) -> datetime:
    """An ISO date-time with its offset (a naive one is refused: which zone?)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. {text}+09:00")
    return value


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
