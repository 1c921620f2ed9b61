"""Read models fed from the event store, with tracking: each event counted once.

- `case_board` — one row per case: status, assignee, next due, breached, escalated;
- `sla_report` — commitments by month and kind, with working-hour percentiles;
- `public_notices` — anonymised results and public apologies, never a private case;
- `staff_record` — per staff member: cases, breaches, commendations, corrective actions;
- `compliance` — escalations, apologies, corrective actions and ratings, by year;
- `conduct` — monitoring calls (scores, what low ones led to) and awards, by year;
- `appointment_book` — every appointment's time, kind, staff member and status;
- `survey_results` — the yearly survey: invited, answered, scores by question and category.

`ReadModels` opens them on the application's store and keeps them up to date
(`projections.runner`); `minwon projections run` and `rebuild` drive it.
"""

from projections.base import AlreadyTracked, View
from projections.runner import NAMES, READ_MODELS, Progress, ReadModels, UnsupportedStoreError

__all__ = [
    "NAMES",
    "READ_MODELS",
    "AlreadyTracked",
    "Progress",
    "ReadModels",
    "UnsupportedStoreError",
    "View",
]
