"""The charter as data: categories, commitments, routing, escalation, retention.

Another center with another charter edits its policy file, not this module.
A policy is read from TOML and validated by pydantic; every problem in a file
is reported with its location in one `PolicyError`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.calendar import CountingRule, HourCounting

Role = Literal[
    "case_manager",
    "service_social_worker",
    "tour_social_worker",
    "designated_officer",
    "director",
    "ops",
    "auditor",
    "staff",
]
CommitmentKind = Literal[
    "reply", "result", "investigation", "callback", "expedited", "announcement"
]
# The commitment to announce a closed case's result (헌장 5), started on closing.
ANNOUNCEMENT = "announcement"
Channel = Literal["visit", "phone", "mail", "fax", "email", "homepage", "outreach"]

CHANNELS: tuple[Channel, ...] = ("visit", "phone", "mail", "fax", "email", "homepage", "outreach")

POLICY_ENV = "MINWON_POLICY"
OVERRIDES_ENV = "MINWON_CALENDAR_OVERRIDES"
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "policy" / "ansim.toml"


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` lists (location, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s)"]
        lines += [f"  {location}: {message}" for location, message in problems]
        super().__init__("\n".join(lines))


class _Strict(BaseModel):
    # Unknown keys are typos in a hand-edited file: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommitmentRule(_Strict):
    """One promise with a clock: how long, how counted, when to warn."""

    kind: CommitmentKind
    days: Annotated[int, Field(ge=1, le=365)] | None = None
    promised_by_staff: bool = False
    counting: CountingRule = "business"
    warn_before_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 0
    # Every duration in the policy is working time unless it says otherwise.
    warn_counting: HourCounting = "working"
    max_extensions: Annotated[int, Field(ge=0, le=10)] = 0
    # Further extensions with the resident's consent (민원 처리에 관한 법률 시행령:
    # once more, within the same limit).
    max_extensions_with_consent: Annotated[int, Field(ge=0, le=10)] = 0
    charter: str = ""

    @model_validator(mode="after")
    def _period_or_promise(self) -> Self:
        if self.promised_by_staff and self.days is not None:
            raise ValueError("a commitment promised by staff takes no 'days'")
        if not self.promised_by_staff and self.days is None:
            raise ValueError("'days' is required unless 'promised_by_staff = true'")
        if self.promised_by_staff and (self.max_extensions or self.max_extensions_with_consent):
            raise ValueError("a promised callback cannot be extended")
        return self


class Category(_Strict):
    """A kind of complaint and what the charter promises for it."""

    title: Annotated[str, Field(min_length=1)]
    # One Literal, not a union of two: a union reports a bad value twice, each at a
    # location with pydantic's union tag appended, which is no key in the file.
    routes_to: Literal[Role, "by_topic", "absent_staff"]
    commitments: Annotated[list[CommitmentRule], Field(min_length=1)]
    apology_on_fault: bool = False
    apology_always: bool = False
    corrective_action: bool = False
    investigated: bool = False
    # Closed non-private cases of this category have their result announced
    # (헌장 5) within the policy's [announcement] period, or a decision not to.
    announce: bool = False

    @model_validator(mode="after")
    def _kinds_unique(self) -> Self:
        kinds = [rule.kind for rule in self.commitments]
        duplicates = sorted({kind for kind in kinds if kinds.count(kind) > 1})
        if duplicates:
            raise ValueError(f"commitment kind listed twice: {', '.join(duplicates)}")
        return self

    def commitment(self, kind: str) -> CommitmentRule | None:
        return next((rule for rule in self.commitments if rule.kind == kind), None)


class EscalationLevel(_Strict):
    role: Role
    act_within_hours: Annotated[float, Field(gt=0, le=24 * 30)] | None = None
    act_counting: HourCounting = "working"


class Escalation(_Strict):
    """Who is told on a breach, and how long each level has to act."""

    chain: Annotated[list[EscalationLevel], Field(min_length=1)]

    @model_validator(mode="after")
    def _only_last_level_is_open_ended(self) -> Self:
        for index, level in enumerate(self.chain[:-1]):
            if level.act_within_hours is None:
                raise ValueError(
                    f"chain[{index}] ({level.role}) needs 'act_within_hours': "
                    "otherwise the next level is never reached"
                )
        return self


class Routing(_Strict):
    """First-contact routing (charter 가.⑤): topic → role; holders change yearly."""

    topics: Annotated[dict[str, Role], Field(min_length=1)]
    default: Role


class Retention(_Strict):
    personal_data_years_after_close: Annotated[int, Field(ge=1, le=50)]
    access_log_years: Annotated[int, Field(ge=2, le=50)] = 2


class Monitoring(_Strict):
    """서비스 개선 가.: a monitored call scoring below `low_score_below` (the mean of
    its checklist, 1–5) is low, and may lead to a corrective action."""

    low_score_below: Annotated[float, Field(gt=1, le=5)] = 3.0


MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class Survey(_Strict):
    """서비스 개선 다.: the yearly satisfaction survey. It starts on `start` (MM-DD, 09:00
    Seoul) unless `auto_start` is false (then `minwon survey start` starts it), stays
    open `open_days` calendar days, and asks every resident whose case closed that
    year and who did not refuse survey contact. If none has started by `due`, ops and
    the director are warned."""

    start: MonthDay = "11-01"
    due: MonthDay = "11-30"
    open_days: Annotated[int, Field(ge=1, le=60)] = 14
    auto_start: bool = True

    @model_validator(mode="after")
    def _due_after_start(self) -> Self:
        if self.due < self.start:
            raise ValueError("the survey's due day comes after its start day")
        return self


class Center(_Strict):
    name: Annotated[str, Field(min_length=1)]
    timezone: Literal["Asia/Seoul"] = "Asia/Seoul"
    calendar_overrides: str = "calendar-overrides.toml"


class Announcement(_Strict):
    """The clock of 결과 공지: started when a case that announces is closed."""

    days: Annotated[int, Field(ge=1, le=60)]
    counting: CountingRule = "business"
    warn_before_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 0
    warn_counting: HourCounting = "working"
    charter: str = ""


class Policy(_Strict):
    center: Center
    categories: Annotated[dict[str, Category], Field(min_length=1)]
    announcement: Announcement | None = None
    monitoring: Monitoring = Monitoring()
    survey: Survey = Survey()
    routing: Routing
    escalation: Escalation
    retention: Retention
    linked_complaint_category: str = "late_reply"
    # A complaint of that category about a case answered on time and not rated
    # poorly is filed as this instead, and the resident is told why.
    linked_complaint_fallback: str = "opinion"
    # A calendar change (a closure cancelled) moves open dues earlier only if this
    # says so: a resident who was told a date keeps it.
    recount_earlier: bool = False
    # After closing, a case still takes an announcement, a rating or a reopening.
    keep_open_after_close_days: Annotated[int, Field(ge=0, le=365)] = 30

    @model_validator(mode="after")
    def _linked_category_exists(self) -> Self:
        announcing = sorted(name for name, c in self.categories.items() if c.announce)
        if announcing and self.announcement is None:
            raise ValueError(
                f"categories {', '.join(announcing)} announce their results: "
                "an [announcement] table with its 'days' is needed"
            )
        for key in ("linked_complaint_category", "linked_complaint_fallback"):
            if getattr(self, key) not in self.categories:
                raise ValueError(f"{key} '{getattr(self, key)}' is not one of the categories")
        return self

    def category(self, name: str) -> Category:
        try:
            return self.categories[name]
        except KeyError:
            known = ", ".join(sorted(self.categories))
            raise UnknownCategoryError(f"unknown category '{name}' (known: {known})") from None

    def route(self, category: str, topic: str) -> str:
        """The role a new case goes to."""
        target = self.category(category).routes_to
        if target == "by_topic":
            return self.routing.topics.get(topic, self.routing.default)
        return target


class UnknownCategoryError(ValueError):
    pass


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy TOML text; raise `PolicyError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(source, [("TOML", str(error))]) from None
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        problems = [
            (_location(tuple(item["loc"])), item["msg"].removeprefix("Value error, "))
            for item in error.errors()
        ]
        raise PolicyError(source, problems) from None


def load_policy(path: str | Path = DEFAULT_POLICY_PATH) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(str(path), [("file", error.strerror or str(error))]) from None
    except UnicodeDecodeError as error:
        raise PolicyError(str(path), [("file", f"not UTF-8 text ({error.reason})")]) from None
    return parse_policy(text, source=str(path))


def overrides_path(
    policy: Policy, policy_path: str | Path = DEFAULT_POLICY_PATH, env: Mapping[str, str] = {}
) -> Path:
    """The calendar override file: MINWON_CALENDAR_OVERRIDES if set, else the
    file the policy names, relative to the policy file."""
    if env.get(OVERRIDES_ENV):
        return Path(env[OVERRIDES_ENV])
    return Path(policy_path).resolve().parent / policy.center.calendar_overrides


def policy_path(env: Mapping[str, str] = {}) -> Path:
    """MINWON_POLICY if set, else the shipped policy."""
    return Path(env.get(POLICY_ENV) or DEFAULT_POLICY_PATH)
