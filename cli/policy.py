"""`minwon policy check FILE`: validate a charter policy and summarise it."""

from __future__ import annotations

import argparse
from typing import Any

from cli.errors import CliError
from domain.calendar import LONGEST_PERIOD_COUNTED_IN_HOURS, WORKING_HOURS_PER_DAY
from domain.policy import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy


def register(subparsers: Any) -> None:
    policy = subparsers.add_parser("policy", help="work with the charter policy file")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a policy file and print a summary")
    check.add_argument(
        "file", nargs="?", default=str(DEFAULT_POLICY_PATH), help="policy TOML (default: shipped)"
    )
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file)
    except PolicyError as error:
        raise CliError(f"invalid policy {error}") from None
    print(summarise(policy, args.file))
    return 0


_HOURS = {"working": "working h", "clock": "clock h"}


def _period(rule: Any) -> str:
    if rule.promised_by_staff:
        return "until the time promised by staff"
    if rule.counting == "calendar":
        return f"{rule.days} calendar days"
    if rule.days <= LONGEST_PERIOD_COUNTED_IN_HOURS:
        return f"{rule.days} day(s) = {rule.days * WORKING_HOURS_PER_DAY} working hours"
    return f"{rule.days} working days"


def summarise(policy: Policy, source: str) -> str:
    lines = [f"{source}: valid policy for {policy.center.name} ({policy.center.timezone})", ""]
    lines.append("categories:")
    for name, category in policy.categories.items():
        flags = [
            label
            for label, on in (
                ("investigated", category.investigated),
                ("apology on fault", category.apology_on_fault),
                ("apology always", category.apology_always),
                ("corrective action", category.corrective_action),
            )
            if on
        ]
        suffix = f" [{', '.join(flags)}]" if flags else ""
        lines.append(f"  {name}: {category.title} → {category.routes_to}{suffix}")
        for rule in category.commitments:
            extra = (
                f", up to {rule.max_extensions} interim extension(s)" if rule.max_extensions else ""
            )
            if rule.max_extensions_with_consent:
                extra += f" and {rule.max_extensions_with_consent} more with consent"
            lines.append(
                f"    {rule.kind}: {_period(rule)}, warn "
                f"{rule.warn_before_hours:g} {_HOURS[rule.warn_counting]} before{extra}"
            )
    lines.append("")
    topics = ", ".join(f"{topic}→{role}" for topic, role in policy.routing.topics.items())
    lines.append(f"routing: {topics}; otherwise {policy.routing.default}")
    chain = " → ".join(
        level.role
        + (
            f" (acts within {level.act_within_hours:g} {_HOURS[level.act_counting]})"
            if level.act_within_hours
            else ""
        )
        for level in policy.escalation.chain
    )
    lines.append(f"escalation: assignee warned → {chain}")
    lines.append(
        f"retention: personal data {policy.retention.personal_data_years_after_close} years "
        f"after closing; access log {policy.retention.access_log_years} years"
    )
    return "\n".join(lines)
