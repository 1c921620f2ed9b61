"""`minwon survey`: the yearly satisfaction survey (이용자 만족도조사, 서비스 개선 다.).

- `start [--year Y]`: start the year's survey now (ops, the director); it otherwise
  starts on the policy's day;
- `report [--year Y] [--format text|csv|json]`: the results per question and
  category, against the year before, with the improvements decided from them;
- `improve --year Y --text TEXT`: record an improvement decided from a year's results
  (the director, the officer): the next year's report shows it;
- `refuse CODE`: the case's resident asked for no survey contact.

Each command is one call to the API as the token's person; the server renders what
is printed.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli import remote


def register(subparsers: Any) -> None:
    survey = subparsers.add_parser("survey", help="이용자 만족도조사: start, results, improvements")
    actions = survey.add_subparsers(dest="survey_command", required=True, metavar="ACTION")

    start = actions.add_parser("start", help="start the year's survey now (ops, director)")
    start.add_argument("--year", type=int, help="default: this year (Seoul)")
    start.set_defaults(handler=run_start)

    report = actions.add_parser("report", help="the results, against the year before")
    report.add_argument("--year", type=int, help="default: this year (Seoul)")
    report.add_argument("--format", choices=("text", "csv", "json"), default="text")
    report.set_defaults(handler=run_report)

    improve = actions.add_parser("improve", help="record an improvement decided from results")
    improve.add_argument("--year", type=int, required=True, help="the survey's year")
    improve.add_argument("--text", required=True, help="what will change")
    improve.set_defaults(handler=run_improve)

    refuse = actions.add_parser("refuse", help="a case's resident wants no survey contact")
    refuse.add_argument("code", help="receipt code")
    refuse.set_defaults(handler=run_refuse)


def run_start(args: argparse.Namespace) -> int:
    answer = remote.request("POST", "/api/surveys/start", json={"year": args.year}).json()
    print(answer["detail"])
    return 0


def run_report(args: argparse.Namespace) -> int:
    params = {"year": args.year, "format": args.format}
    return remote.printed(remote.request("GET", "/api/reports/survey", params=params))


def run_improve(args: argparse.Namespace) -> int:
    body = {"year": args.year, "text": args.text}
    answer = remote.request("POST", f"/api/surveys/{args.year}/improvements", json=body).json()
    print(f"recorded: {answer['improvements']} improvement(s) from the {args.year} survey")
    return 0


def run_refuse(args: argparse.Namespace) -> int:
    answer = remote.request(
        "POST", "/api/surveys/refusals", json={"receipt_code": args.code}
    ).json()
    done = "recorded" if answer["recorded"] else "was recorded before"
    print(f"{args.code}: no more survey contact for its resident ({done})")
    return 0
