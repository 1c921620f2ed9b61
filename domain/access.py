"""Who may do what: least privilege by role (개인정보의 안전성 확보조치 기준 §5).

Roles come from the roster on the day of the action: every staff member in the
directory is `staff`; the holders of `designated_officer`, `director`, `ops`
and `auditor` have those roles too. A case's assignee may see its personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

STAFF = "staff"
OFFICER = "designated_officer"
DIRECTOR = "director"
OPS = "ops"
AUDITOR = "auditor"
# The roles the charter's routing, escalation and the tools use: the one list of them.
ROLES: tuple[str, ...] = (
    "case_manager",  # 인테이크 상담: 사례관리자
    "service_social_worker",  # 프로그램 및 서비스 이용 상담: 서비스제공팀 사회복지사
    "tour_social_worker",  # 시설이용 및 견학: 견학담당 사회복지사
    OFFICER,  # 지정책임관
    DIRECTOR,  # 관장
    OPS,
    AUDITOR,
)

# Whoever is on the roster on the day, in any role.
ANY_ROLE = frozenset({STAFF, *ROLES})
# The supervisors: every case is theirs to act on.
SUPERVISORS = frozenset({OFFICER, DIRECTOR})


@dataclass(frozen=True)
class Rule:
    """Who may do one thing: any of `roles` on the day. `case_bound`: a grant by the
    plain staff role reaches only the case's own people (its assignee, whoever it
    was escalated to); the supervisors' roles reach every case. `command` names
    the aggregate's command an action runs, or the read itself."""

    command: str
    roles: frozenset[str]
    case_bound: bool = False


def _read(name: str, *roles: str) -> Rule:
    return Rule(command=name, roles=frozenset(roles))


# What is not an action on a case (those are in domain.commands): filing, reads,
# and what the center's administration does.
PERMISSIONS: dict[str, Rule] = {
    "file": _read("file", STAFF),
    "show": _read("show", STAFF, OFFICER, DIRECTOR, OPS, AUDITOR),
    "notices": _read("notices", STAFF, OFFICER, DIRECTOR, OPS, AUDITOR),
    "list_cases": _read("list_cases", STAFF, OFFICER, DIRECTOR, OPS, AUDITOR),
    "audit": _read("audit", AUDITOR, DIRECTOR),
    "report": _read("report", AUDITOR, DIRECTOR, OFFICER, OPS),
    "erase_person": _read("erase_person", DIRECTOR, OFFICER),
    "roster": _read("roster", OPS, DIRECTOR),
    # Evaluations of staff (monitoring scores, awards): the supervisors and auditors.
    "read_conduct": _read("read_conduct", OFFICER, DIRECTOR, AUDITOR),
    # Their own: every staff member may read the monitored calls about them, and what
    # followed (the scores and corrective actions are about them; 정보주체의 열람).
    "read_own_conduct": _read("read_own_conduct", STAFF),
    # Sign-in tokens for the web desk and the API are handed out by ops or the director.
    "manage_tokens": _read("manage_tokens", OPS, DIRECTOR),
    # Reference reads that show nothing about a case or a person.
    "compute_deadline": _read("compute_deadline", *ANY_ROLE),
    "check_policy": _read("check_policy", *ANY_ROLE),
    "read_roster": _read("read_roster", *ANY_ROLE),
}
# Personal data is shown to whom the case needs: its own people, the officer, auditors.
PERSONAL_DATA_ROLES = frozenset({OFFICER, AUDITOR})
PRIVATE_CASE_ROLES = frozenset({OFFICER, AUDITOR})
SYSTEM_ACTORS = frozenset({"system", "retention-sweep"})
# Tokens for these roles carry the most power: only the director hands them out.
DIRECTOR_ISSUED_ROLES = frozenset({OFFICER, DIRECTOR})


class AccessDeniedError(PermissionError):
    pass


class RosterView(Protocol):
    def roles_of(self, staff: str, at: datetime) -> Sequence[str]: ...
    def staff(self, staff_id: str) -> object | None: ...


def roles_of(roster: RosterView, actor: str, at: datetime) -> frozenset[str]:
    # Two questions of the roster: callers holding the stored roster pass the roster
    # as it stands (`StoredRoster.current()`), read once, so both answers come from
    # the same version of it and neither reads the store.
    roles = set(roster.roles_of(actor, at))
    # Auditors read; they are not case workers unless the directory says so.
    if roster.staff(actor) is not None or roles - {AUDITOR}:
        roles.add(STAFF)
    return frozenset(roles)


class Escalated(Protocol):
    @property
    def to_staff(self) -> str | None: ...


class CaseFacts(Protocol):
    """What authorisation needs to know of a case (the aggregate and the workflow's
    view both have it)."""

    @property
    def receipt_code(self) -> str: ...
    @property
    def assignee(self) -> str | None: ...
    @property
    def private(self) -> bool: ...
    @property
    def escalations(self) -> Sequence[Escalated]: ...


@dataclass(frozen=True)
class Grant:
    """An actor allowed to do something; `personal_data`: may see the case's."""

    actor: str
    roles: frozenset[str]
    personal_data: bool = False


def own_people(case: CaseFacts) -> frozenset[str]:
    """The case's assignee and whoever it was escalated to."""
    people = {e.to_staff for e in case.escalations if e.to_staff}
    if case.assignee:
        people.add(case.assignee)
    return frozenset(people)


def authorize(
    roster: RosterView,
    actor: str,
    rule: Rule,
    at: datetime,
    case: CaseFacts | None = None,
    *,
    what: str | None = None,
) -> Grant:
    """The one decision on who may do what, for every path (web, API, CLI, Temporal).

    The actor's roles are those the roster gives them on the day `at`. A private
    (비공개) case is for its own people, the officer and auditors only; an action
    granted only by the plain staff role, when `rule.case_bound`, is for the case's
    own people (any supervisor may act on every case). AccessDeniedError otherwise.
    """
    label = (what or rule.command).replace("_", " ")
    if not actor:
        raise AccessDeniedError(f"nobody is named as acting: to {label} needs a person")
    if actor in SYSTEM_ACTORS:
        raise AccessDeniedError(f"{actor!r} is the engine's own actor, not a person's")
    roles = roles_of(roster, actor, at)
    if not roles:
        raise AccessDeniedError(f"{actor!r} is not on the roster")
    granted = roles & rule.roles
    if not granted:
        raise AccessDeniedError(
            f"{actor} ({', '.join(sorted(roles))}) may not {label}: "
            f"that needs {' or '.join(sorted(rule.roles)) or 'the engine itself'}"
        )
    if case is None:
        return Grant(actor, roles)
    own = actor in own_people(case)
    if not may_see_case(roles, actor, case):
        raise AccessDeniedError(
            f"case {case.receipt_code} is private (비공개): it is for its assignee, whoever "
            "it was escalated to, the designated officer and auditors"
        )
    if rule.case_bound and granted <= {STAFF} and not (own or roles & SUPERVISORS):
        raise AccessDeniedError(
            f"{actor} may not {label}: case {case.receipt_code} is not theirs; it is handled "
            "by its assignee, whoever it was escalated to, the designated officer or the "
            "director (ops can reassign it)"
        )
    return Grant(actor, roles, personal_data=may_see_personal_data(roles, actor, case))


def require(roster: RosterView, actor: str, action: str, at: datetime) -> frozenset[str]:
    """The actor's roles, if they may do `action` (one of PERMISSIONS); AccessDeniedError
    otherwise."""
    rule = PERMISSIONS.get(action)
    if rule is None:
        raise AccessDeniedError(f"no permission is defined for {action!r}")
    return authorize(roster, actor, rule, at).roles


def may_see_personal_data(roles: Iterable[str], actor: str, case: CaseFacts) -> bool:
    return actor in own_people(case) or bool(set(roles) & PERSONAL_DATA_ROLES)


def may_see_case(roles: Iterable[str], actor: str, case: CaseFacts) -> bool:
    return not case.private or actor in own_people(case) or bool(set(roles) & PRIVATE_CASE_ROLES)
