"""An audit bundle: the whole store as stored, and its signed checkpoints, in one
file an auditor verifies offline with nothing but the published public key.

The file is JSON lines: a header, then every record in notification order
(`{"n": id, "topic", "id", "version", "state": base64}`), then every checkpoint
kept in the store (`{"checkpoint": {"statement", "signature"}}`). `minwon admin
export-bundle` writes it; `minwon audit verify --bundle FILE --public-key KEY`
checks:

- every checkpoint: its signature, that it extends the one before, and its root
  over the records up to its position (nothing before the latest checkpoint
  rewritten, reordered, inserted or deleted);
- every case's chain where its records are in the v2 format (the digest of each
  record is computable from its bytes alone; older records are covered by the
  checkpoints only);
- every receipt code issued has its case, and every case its receipt code;
- the access log's days are contiguous up to the latest checkpoint's day.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.chain import CHAIN_FIELD, CHAIN_V2, GENESIS, record_digest
from domain.checkpoint import check_checkpoints, missing_access_days

FORMAT = "minwon-bundle-v1"
RECEIPT_ISSUED = "domain.receipt:ReceiptIndex.Issued"
CASE_RECEIVED = "domain.complaint:Complaint.Received"
ACCESS_DAY_OPENED = "domain.access_log:AccessLog.Opened"


def export_lines(records: Iterable[Any], checkpoints: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The bundle's lines, from notifications as the recorder gives them."""
    yield json.dumps({"format": FORMAT})
    for record in records:
        yield json.dumps(
            {
                "n": record.id,
                "topic": record.topic,
                "id": str(record.originator_id),
                "version": record.originator_version,
                "state": base64.b64encode(record.state).decode("ascii"),
            }
        )
    for checkpoint in checkpoints:
        yield json.dumps({"checkpoint": checkpoint}, ensure_ascii=False)


@dataclass
class BundleReport:
    records: int = 0
    checkpoints: int = 0
    chained: int = 0  # v2 records whose link was checked
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "intact" if self.clean else f"{len(self.problems)} problem(s)"
        return (
            f"bundle: {self.records} record(s), {self.checkpoints} checkpoint(s) verified with "
            f"the public key, {self.chained} chain link(s) checked: {verdict}"
        )


def verify_bundle(path: Path, verifier: Any) -> BundleReport:
    """Check a bundle with the public key alone (`verifier(bytes, signature) -> bool`)."""
    report = BundleReport()
    records: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        header = json.loads(next(lines, "{}") or "{}")
        if header.get("format") != FORMAT:
            report.problems.append(f"not a {FORMAT} file")
            return report
        for number, line in enumerate(lines, start=2):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                report.problems.append(f"line {number}: not JSON ({error})")
                continue
            if "checkpoint" in entry:
                checkpoints.append(entry["checkpoint"])
            else:
                records.append(entry)
    report.records, report.checkpoints = len(records), len(checkpoints)
    digests = [
        (int(r["n"]), record_digest(r["topic"], r["id"], int(r["version"]), _state(r)))
        for r in records
    ]
    found, _ = check_checkpoints(checkpoints, digests, verifier, verifier.key_id)
    report.problems.extend(problem.describe() for problem in found)
    report.chained = _check_chains(records, report.problems)
    _check_receipts(records, report.problems)
    opened = {str(_decoded(r).get("day")) for r in records if r["topic"] == ACCESS_DAY_OPENED}
    report.problems.extend(
        problem.describe() for problem in missing_access_days(checkpoints, opened.__contains__)
    )
    return report


def _state(record: dict[str, Any]) -> bytes:
    return base64.b64decode(record["state"])


def _decoded(record: dict[str, Any]) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(_state(record))
    except (ValueError, UnicodeDecodeError):
        return {}
    return state


def _check_chains(records: list[dict[str, Any]], problems: list[str]) -> int:
    by_originator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_originator[record["id"]].append(record)
    checked = 0
    for originator, chain in by_originator.items():
        chain.sort(key=lambda r: int(r["version"]))
        previous: tuple[str, bool] | None = None  # (digest, v2)
        for expected, record in enumerate(chain, start=1):
            version = int(record["version"])
            if version != expected:
                problems.append(f"{originator} version {expected}: missing or out of order")
                break
            state = _decoded(record)
            is_v2 = state.get(CHAIN_FIELD) == CHAIN_V2
            digest = record_digest(record["topic"], originator, version, _state(record))
            if is_v2:
                wanted = GENESIS if previous is None else previous[0]
                # Only a v2 predecessor's digest is computable from its bytes alone.
                if (previous is None or previous[1]) and state.get("prev_digest") != wanted:
                    problems.append(
                        f"{originator} version {version}: previous-record digest does not match"
                    )
                    break
                checked += 1
            elif previous is not None and previous[1]:
                problems.append(f"{originator} version {version}: old chain format after new")
                break
            previous = (digest, is_v2)
    return checked


def _check_receipts(records: list[dict[str, Any]], problems: list[str]) -> None:
    cases = {r["id"] for r in records if r["topic"] == CASE_RECEIVED}
    issued: dict[str, str] = {}
    for record in records:
        if record["topic"] == RECEIPT_ISSUED:
            state = _decoded(record)
            case = state.get("case_id")
            if isinstance(case, dict):  # a transcoded UUID
                case = case.get("_data_")
            issued[str(state.get("code"))] = str(case or "").replace("-", "")
    found = {case.replace("-", "") for case in cases}
    for code, case in sorted(issued.items()):
        if case not in found:
            problems.append(f"receipt code {code}: its case is not in the bundle")
    named = set(issued.values())
    for case in sorted(found - named):
        problems.append(f"case {case}: no receipt code was issued for it")
