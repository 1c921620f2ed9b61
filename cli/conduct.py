"""`minwon monitoring` and `minwon award`: the staff's conduct record (서비스 개선 가., 나.).

- `monitoring record`: a monitored call, scored 1–5 on each item of the charter's
  telephone standard (`--callback-kept` only when a callback was promised); the
  designated officer or the director, never about themselves;
- `monitoring correct CALL_ID --action warning|training`: what a low score led to;
- `monitoring list`, `award list`: the year's records (supervisors, auditors);
  `monitoring list --mine`: the calls about oneself (any staff member);
- `award grant`: a 모범직원포상 (the director); the server records the evidence of the
  year with it (ratings and monitoring scores).

Each command is one call to the API as the token's person; the server renders what
is printed. A request carries an id of its own, so sending it again records nothing twice.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from cli import remote
from cli.args import moment

# The checklist's items, as the server names them (domain.conduct.CHECKLIST; the
# tests check they agree), each an option of `monitoring record`.
CHECKLIST_ITEMS = {
    "answered_by_third_ring": "벨이 세 번 울리기 전에 받음",
    "greeting": "기관명과 자신의 이름을 밝힘",
    "courtesy": "상냥하고 정중한 태도",
    "handled": "직접 답변, 담당자 연결 또는 회신 약속",
    "callback_kept": "약속한 시간 안에 회신 (회신을 약속한 통화만)",
}
OPTIONAL_ITEMS = ("callback_kept",)


def register(subparsers: Any) -> None:
    monitoring = subparsers.add_parser(
        "monitoring", help="전화 모니터링: monitored calls, scores, corrective actions"
    )
    actions = monitoring.add_subparsers(dest="monitoring_command", required=True, metavar="ACTION")

    record = actions.add_parser("record", help="record a monitored call and its scores (1–5)")
    record.add_argument("--staff", required=True, help="who answered the call (staff id)")
    record.add_argument(
        "--called-at", required=True, type=moment, help="when, e.g. 2026-12-04T10:30+09:00"
    )
    for item, label in CHECKLIST_ITEMS.items():
        record.add_argument(
            f"--{item.replace('_', '-')}",
            dest=item,
            type=int,
            choices=range(1, 6),
            metavar="1-5",
            required=item not in OPTIONAL_ITEMS,
            help=label,
        )
    record.add_argument("--note", help="what the evaluator noticed (sealed)")
    _text_option(record)
    record.set_defaults(handler=run_record)

    correct = actions.add_parser("correct", help="the corrective action a low score led to")
    correct.add_argument("call_id", help="the monitoring call's id")
    correct.add_argument("--action", required=True, choices=("warning", "training"))
    correct.add_argument("--note", help="what was decided, and why (sealed)")
    _text_option(correct)
    correct.set_defaults(handler=run_correct)

    listing = actions.add_parser("list", help="the year's monitored calls")
    listing.add_argument("--year", type=int, help="default: this year (Seoul)")
    listing.add_argument(
        "--mine", action="store_true", help="only the calls about you (any staff member)"
    )
    _text_option(listing)
    listing.set_defaults(handler=_lister("/api/monitoring"))

    award = subparsers.add_parser("award", help="모범직원포상: awards and their evidence")
    award_actions = award.add_subparsers(dest="award_command", required=True, metavar="ACTION")
    grant = award_actions.add_parser("grant", help="record an award (the director)")
    grant.add_argument("--staff", required=True, help="staff id")
    grant.add_argument("--title", required=True, help="e.g. 2026년 모범직원포상")
    grant.add_argument("--reason", required=True, help="the conduct it recognises (sealed)")
    _text_option(grant)
    grant.set_defaults(handler=run_grant)

    awards = award_actions.add_parser("list", help="the year's awards")
    awards.add_argument("--year", type=int, help="default: this year (Seoul)")
    _text_option(awards)
    awards.set_defaults(handler=_lister("/api/awards"))


def _text_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _format(args: argparse.Namespace) -> dict[str, str]:
    return {"format": "json" if args.json else "text"}


def _request_id() -> str:
    return uuid.uuid4().hex


def run_record(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "request_id": _request_id(),
        "staff": args.staff,
        "called_at": args.called_at.isoformat(),
        "note": args.note,
    }
    body |= {item: getattr(args, item) for item in CHECKLIST_ITEMS}
    return remote.printed(
        remote.request("POST", "/api/monitoring", params=_format(args), json=body)
    )


def run_correct(args: argparse.Namespace) -> int:
    body = {"request_id": _request_id(), "action": args.action, "note": args.note}
    path = f"/api/monitoring/{args.call_id}/corrective-action"
    return remote.printed(remote.request("POST", path, params=_format(args), json=body))


def run_grant(args: argparse.Namespace) -> int:
    body = {
        "request_id": _request_id(),
        "staff": args.staff,
        "title": args.title,
        "reason": args.reason,
    }
    return remote.printed(remote.request("POST", "/api/awards", params=_format(args), json=body))


def _lister(path: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        params = _format(args) | ({"year": str(args.year)} if args.year else {})
        if getattr(args, "mine", False):
            params["mine"] = "true"
        return remote.printed(remote.request("GET", path, params=params))

    return run
