"""Telephone monitoring and awards (서비스 개선 가., 나.): the record's rules, the API and
`minwon monitoring|award` on a real SQLite store, who may not record them, and the
report sections.

Every refusal is tried as the person refused, on the real path (the command through
the API, or the API itself), and the store is read afterwards to show nothing was
recorded.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cli.conduct import CHECKLIST_ITEMS
from cli.main import main
from domain.calendar import SEOUL
from domain.conduct import CHECKLIST, ConductError, MonitoringCall, overall
from tests.support.api import ApiServer, api_without_temporal

NOW = datetime.now(SEOUL)
CALLED = (NOW - timedelta(hours=2)).replace(microsecond=0)
GOOD = {"answered_by_third_ring": 5, "greeting": 4, "courtesy": 5, "handled": 4}
POOR = {"answered_by_third_ring": 2, "greeting": 1, "courtesy": 3, "handled": 2}
NOTE = "인사말 없이 받음, 담당자 연결 지연"
REASON = "올해 친절 응대로 여러 차례 칭찬을 받음"


# -- the record's rules ---------------------------------------------------------------------


def _call(scores: dict[str, int | None], staff: str = "lee.service") -> MonitoringCall:
    return MonitoringCall.record(
        request_id="request-1",
        staff=staff,
        evaluator="park.officer",
        called_at=CALLED,
        scores=scores,
        note="",
        low_below=3.0,
        at=NOW,
    )


def test_a_call_scores_the_mean_of_the_items_scored_and_is_low_below_the_policy_line() -> None:
    assert overall({"a": 5, "b": 4, "c": None}) == 4.5
    good, poor = _call(dict(GOOD)), _call(dict(POOR))

    assert (good.score, good.low) == (4.5, False)
    assert (poor.score, poor.low) == (2.0, True)
    # The callback item, not scored, is kept as not applicable.
    assert good.scores["callback_kept"] is None and list(good.scores) == list(CHECKLIST)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"staff": "park.officer"}, "may not evaluate their own calls"),
        ({"called_at": NOW + timedelta(hours=1)}, "in the future"),
        ({"scores": {**GOOD, "smiled": 5}}, "unknown: smiled"),
        ({"scores": {"greeting": 4}}, "missing: answered_by_third_ring, courtesy, handled"),
        ({"scores": {**GOOD, "greeting": 6}}, "a score is 1–5, not 6"),
        ({"scores": {**GOOD, "greeting": None}}, "greeting must be scored"),
    ],
)
def test_a_call_that_breaks_a_rule_is_refused(change: dict[str, object], refusal: str) -> None:
    fields: dict[str, object] = {
        "request_id": "request-1",
        "staff": "lee.service",
        "evaluator": "park.officer",
        "called_at": CALLED,
        "scores": dict(GOOD),
        "note": "",
        "low_below": 3.0,
        "at": NOW,
    } | change
    with pytest.raises(ConductError, match=refusal):
        MonitoringCall.record(**fields)  # type: ignore[arg-type]


def test_a_corrective_action_follows_a_low_score_once_and_never_by_its_subject() -> None:
    with pytest.raises(ConductError, match=r"follows a low score; this call scored 4\.50"):
        _call(dict(GOOD)).take_corrective_action(action="warning", note="", by="x", at=NOW)
    poor = _call(dict(POOR))
    with pytest.raises(ConductError, match="about themselves"):
        poor.take_corrective_action(action="training", note="", by="lee.service", at=NOW)

    assert poor.take_corrective_action(action="training", note="", by="jung.director", at=NOW)
    # The same decision sent again records nothing; another one is refused.
    assert not poor.take_corrective_action(action="training", note="", by="jung.director", at=NOW)
    with pytest.raises(ConductError, match="already led to a training"):
        poor.take_corrective_action(action="warning", note="", by="jung.director", at=NOW)


def test_the_command_lines_checklist_is_the_records() -> None:
    assert list(CHECKLIST_ITEMS) == list(CHECKLIST)


# -- through the API and the command --------------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ApiServer]:
    with api_without_temporal(monkeypatch, tmp_path, "park.officer") as running:
        yield running


def conduct_events(server: ApiServer) -> list[str]:
    """The topics of every monitoring or award event in the store."""
    records = server.complaints.recorder.select_notifications(start=1, limit=100_000)
    return [r.topic for r in records if "MonitoringCall" in r.topic or "Award" in r.topic]


def record(*scores: str, staff: str = "lee.service", extra: tuple[str, ...] = ()) -> int:
    return main(
        ["monitoring", "record", "--staff", staff, "--called-at", CALLED.isoformat(), *scores,
         *extra]
    )  # fmt: skip


def as_options(scores: dict[str, int]) -> list[str]:
    return [arg for item, n in scores.items() for arg in (f"--{item.replace('_', '-')}", str(n))]


def test_the_officer_records_a_monitored_call_and_the_note_is_sealed_in_the_file(
    server: ApiServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = record(*as_options(POOR), extra=("--note", NOTE, "--callback-kept", "2"))

    out = capsys.readouterr().out
    assert code == 0
    assert "lee.service" in out and "evaluated by park.officer: 2.00 — LOW" in out
    assert "callback_kept            2  약속한 시간 안에 회신" in out
    assert conduct_events(server) == ["domain.conduct:MonitoringCall.Recorded"]
    # The evaluator's note is the staff member's personal data: not in the file as written.
    stored = (tmp_path / "events.db").read_bytes()
    assert NOTE.encode() not in stored
    assert "인사말".encode() not in stored
    # ... and it opens for the application, under the staff member's key.
    call_id = json.loads(_listing(capsys))[0]["call_id"]
    assert server.complaints.conduct.call(uuid.UUID(call_id)).note == NOTE


def _listing(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["monitoring", "list", "--json"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("who", ["lee.service", "han.ops", "yoon.audit", "kim.casemgr"])
def test_only_the_officer_or_the_director_records_a_monitored_call(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    who: str,
) -> None:  # fmt: skip
    server.login(monkeypatch, who)
    subject = "choi.tour" if who != "choi.tour" else "lee.service"

    code = record(*as_options(GOOD), staff=subject)

    assert code == 2
    assert f"refused: {who}" in capsys.readouterr().err
    assert conduct_events(server) == []


def test_no_one_evaluates_their_own_calls_and_nothing_is_recorded(
    server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = record(*as_options(GOOD), staff="park.officer")

    assert code == 2
    assert "nothing recorded: park.officer may not evaluate their own calls" in (
        capsys.readouterr().err
    )
    assert conduct_events(server) == []


def test_a_call_about_someone_not_in_the_directory_is_refused(
    server: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert record(*as_options(GOOD), staff="nobody.here") == 2
    assert "'nobody.here' is not in the staff directory" in capsys.readouterr().err
    assert conduct_events(server) == []


def test_a_request_sent_again_records_the_call_once(server: ApiServer) -> None:
    headers = {"Authorization": f"Bearer {server.token('park.officer')}"}
    body = {"request_id": "same-request-1", "staff": "lee.service",
            "called_at": CALLED.isoformat(), **GOOD}  # fmt: skip

    first = server.http.post("/api/monitoring", json=body, headers=headers)
    again = server.http.post("/api/monitoring", json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["recorded"], again.json()["recorded"]) == (True, False)
    assert conduct_events(server) == ["domain.conduct:MonitoringCall.Recorded"]


def test_a_low_score_leads_to_a_corrective_action_decided_by_a_supervisor(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert record(*as_options(POOR)) == 0
    assert record(*as_options(GOOD), staff="choi.tour") == 0
    capsys.readouterr()
    calls = {row["staff"]: row["call_id"] for row in json.loads(_listing(capsys))}

    # A plain staff member cannot decide it, not even about a colleague.
    server.login(monkeypatch, "choi.tour")
    code = main(["monitoring", "correct", calls["lee.service"], "--action", "warning"])
    assert code == 2 and "refused: choi.tour" in capsys.readouterr().err
    # A good score leads to none.
    server.login(monkeypatch, "jung.director")
    assert main(["monitoring", "correct", calls["choi.tour"], "--action", "warning"]) == 2
    assert "follows a low score; this call scored 4.50" in capsys.readouterr().err
    assert conduct_events(server) == ["domain.conduct:MonitoringCall.Recorded"] * 2

    code = main(["monitoring", "correct", calls["lee.service"], "--action", "training",
                 "--note", "전화응대 교육 이수"])  # fmt: skip

    assert code == 0
    assert "corrective action: training" in capsys.readouterr().out
    assert conduct_events(server)[-1] == "domain.conduct:MonitoringCall.CorrectiveActionTaken"
    assert main(["monitoring", "list"]) == 0
    listed = capsys.readouterr().out
    assert "lee.service    2.00  LOW  → training" in listed
    assert main(["monitoring", "correct", str(uuid.uuid4()), "--action", "warning"]) == 2
    assert "no monitoring call" in capsys.readouterr().err


def test_evaluations_are_read_by_supervisors_and_auditors_only(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert record(*as_options(POOR)) == 0
    capsys.readouterr()
    for who in ("lee.service", "han.ops"):
        server.login(monkeypatch, who)
        assert main(["monitoring", "list"]) == 2
        assert f"refused: {who}" in capsys.readouterr().err
        assert main(["award", "list"]) == 2
        capsys.readouterr()
    server.login(monkeypatch, "yoon.audit")
    assert main(["monitoring", "list"]) == 0
    assert "lee.service" in capsys.readouterr().out


def test_a_staff_member_reads_the_calls_about_them_and_no_colleagues(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert record(*as_options(POOR), extra=("--note", NOTE)) == 0
    assert record(*as_options(GOOD), staff="choi.tour") == 0
    capsys.readouterr()
    server.login(monkeypatch, "jung.director")
    calls = {row["staff"]: row["call_id"] for row in json.loads(_listing(capsys))}
    assert main(["monitoring", "correct", calls["lee.service"], "--action", "training"]) == 0
    capsys.readouterr()

    for who, other in (("lee.service", "choi.tour"), ("choi.tour", "lee.service")):
        server.login(monkeypatch, who)
        assert main(["monitoring", "list", "--mine", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [row["call_id"] for row in rows] == [calls[who]]
        # The whole year's list stays the supervisors' and auditors'.
        assert main(["monitoring", "list"]) == 2
        assert f"refused: {who}" in capsys.readouterr().err
        # By the API too: the signed-in member's own calls, none of the colleague's.
        answer = server.http.get(
            "/api/monitoring",
            params={"mine": "true", "format": "json"},
            headers={"Authorization": f"Bearer {server.token(who)}"},
        )
        assert answer.status_code == 200, answer.text
        assert {row["staff"] for row in answer.json()} == {who}
        assert calls[other] not in answer.text
    server.login(monkeypatch, "lee.service")
    assert main(["monitoring", "list", "--mine"]) == 0
    assert "lee.service    2.00  LOW  → training" in capsys.readouterr().out


def test_the_director_gives_an_award_with_the_evidence_of_the_year(
    server: ApiServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert record(*as_options(GOOD)) == 0
    assert record(*as_options({**GOOD, "greeting": 5})) == 0
    capsys.readouterr()
    grant = ["award", "grant", "--staff", "lee.service", "--title", "2026년 모범직원포상",
             "--reason", REASON]  # fmt: skip

    # The officer evaluates, but only the director gives awards; nobody to themselves.
    assert main(grant) == 2
    assert "refused: park.officer" in capsys.readouterr().err
    server.login(monkeypatch, "jung.director")
    assert main([*grant[:3], "jung.director", *grant[4:]]) == 2
    assert "may not give an award to themselves" in capsys.readouterr().err
    assert conduct_events(server) == ["domain.conduct:MonitoringCall.Recorded"] * 2

    assert main([*grant, "--json"]) == 0

    award = json.loads(capsys.readouterr().out)
    assert award["by"] == "jung.director" and award["recorded"] is True
    assert award["evidence"] == {
        "year": NOW.year,
        "ratings": 0,
        "rating_average": None,
        "commendations": 0,
        "monitoring_calls": 2,
        "monitoring_average": 4.62,
    }
    assert REASON.encode() not in (tmp_path / "events.db").read_bytes()
    assert main(["award", "list"]) == 0
    assert "lee.service    2026년 모범직원포상 (by jung.director)" in capsys.readouterr().out


def test_the_reports_have_the_monitoring_and_award_sections_in_text_csv_and_json(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert record(*as_options(POOR), extra=("--callback-kept", "1")) == 0
    assert record(*as_options(GOOD), staff="choi.tour") == 0
    capsys.readouterr()
    server.login(monkeypatch, "jung.director")
    assert main(["award", "grant", "--staff", "choi.tour", "--title", "상반기 모범직원",
                 "--reason", REASON]) == 0  # fmt: skip
    capsys.readouterr()

    assert main(["report", "compliance", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["monitoring"] == {
        "calls": 2,
        "average": round((1.8 + 4.5) / 2, 2),
        "low": 1,
        "low_without_action": 1,
        "by_item": {
            "answered_by_third_ring": 3.5,
            "greeting": 2.5,
            "courtesy": 4.0,
            "handled": 3.0,
            "callback_kept": 1.0,
        },
        "corrective_actions": {"warning": 0, "training": 0},
    }
    assert report["awards"]["total"] == 1
    assert report["awards"]["list"][0]["staff"] == "choi.tour"

    assert main(["report", "compliance"]) == 0
    text = capsys.readouterr().out
    assert "Phone monitoring      2  call(s), average 3.15, 1 low" in text
    assert "상반기 모범직원" in text

    assert main(["report", "compliance", "--format", "csv"]) == 0
    csv_rows = capsys.readouterr().out.splitlines()
    assert "monitoring,all,calls,2" in csv_rows
    assert "monitoring,greeting,average,2.5" in csv_rows
    assert "awards,choi.tour,award,상반기 모범직원" in csv_rows

    assert main(["report", "staff", "--format", "json"]) == 0
    staff = {row["staff"]: row for row in json.loads(capsys.readouterr().out)}
    assert staff["lee.service"]["monitored_calls"] == 1
    assert staff["lee.service"]["monitoring_average"] == 1.8
    assert staff["choi.tour"]["awards"] == 1


def test_a_refused_call_leaves_the_database_file_as_it_was(
    server: ApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = tmp_path / "events.db"

    def rows() -> int:
        with sqlite3.connect(database) as db:
            count: int = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
            return count

    # A read first: the roster is seeded into the store on its first use; and the
    # token is issued before counting.
    assert main(["monitoring", "list"]) == 0
    server.login(monkeypatch, "lee.service")
    before = rows()
    assert record(*as_options(GOOD), staff="choi.tour") == 2
    assert rows() == before
