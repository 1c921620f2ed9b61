"""The yearly satisfaction survey (서비스 개선 다.) on the time-skipping server, with the
real activities, the real web server and headless Chromium.

A year of closed cases; the survey starts on the policy's day, each resident is
invited once (one who refused is not), answers come in through the page in
Chromium, and the results report equals the answers. A year without a survey warns
ops and the director on the policy's due day, once. A link answers once, and a link
with another secret opens nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import email
import email.policy
import io
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from statistics import mean

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.channels import (
    Channels,
    FileEmail,
    FileSmsOutbox,
    Message,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from activities.notices import NoticeActivities
from activities.surveys import PASS_REFUSED, SurveyActivities
from application.service import Complaints, Intake
from domain.calendar import SEOUL
from domain.commands import Answer, Close
from domain.survey import QUESTIONS
from tests.support.browser import after_submit, chromium, screenshot
from tests.support.survey_history import close_case
from tests.support.survey_history import invitation_events as stored_invitation_events
from tests.support.temporal import sealed_converter
from tests.support.web import WebStack, web_stack
from web.reports import open_read_models
from web.surveys import survey_csv, survey_report, survey_text
from workflows.models import SurveyBatch, SurveyPlan
from workflows.survey import SurveyYearWorkflow, ensure_survey_year, survey_workflow_id

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parents[2]
# The survey's year is the next one, so the test does not depend on today's date: the
# test server's clock is moved into it before any case is filed.
YEAR = datetime.now(SEOUL).year + 1
RESIDENTS = ["kim@example.org", "lee@example.org", "park@example.org", "choi@example.org"]


def policy_with(folder: Path, survey: str) -> Path:
    """The shipped policy with its [survey] table replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "policy" / "ansim.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[survey\]\n(?:[a-z_]+ = .*\n)+", survey, text)
    (folder / "ansim.toml").write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "policy" / "calendar-overrides.toml", folder)
    return folder / "ansim.toml"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebStack]:
    policy = policy_with(
        tmp_path / "policy",
        '[survey]\nstart = "01-12"\ndue = "01-30"\nopen_days = 5\n',
    )
    with web_stack(tmp_path, env={"MINWON_POLICY": str(policy)}, time_skipping=True) as stack:
        yield stack


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(YEAR, month, day, hour, minute, tzinfo=SEOUL)


def sleep_until(web: WebStack, moment: datetime) -> None:
    async def sleep() -> None:
        now = await web.environment.get_current_time()
        if moment > now:
            await web.environment.sleep(moment - now)

    web.run(sleep(), timeout=120)


def close_a_case(web: WebStack, contact: str, category: str = "inquiry") -> str:
    """File a case for `contact`, answer and close it; its receipt code."""
    return web.run(close_case(web.client, web.task_queue, contact, category), timeout=120)


def links(folder: Path) -> dict[str, str]:
    """Each resident's survey link, from the invitations in the mail outbox."""
    found = {}
    for path in (folder / "mail").glob("survey-invitation-*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body().get_content()  # type: ignore[union-attr]
        [link] = re.findall(r"https?://\S+/survey/\S+", body)
        found[str(message["To"])] = link
    return found


def invitation_events(web: WebStack, name: str) -> list[object]:
    return stored_invitation_events(web.complaints, name)


def round_of(web: WebStack) -> object:
    return web.complaints.surveys.round(YEAR)


def wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def answer_in_chromium(
    driver: WebDriver, link: str, scores: dict[str, int], comment: str, shots: Path
) -> str:
    driver.get(link)
    assert "이용자 만족도조사" in driver.find_element(By.TAG_NAME, "h1").text
    for question, score in scores.items():
        driver.find_element(By.ID, f"{question}-{score}").click()
    driver.find_element(By.ID, "comment").send_keys(comment)
    screenshot(driver, shots / "survey.png")
    driver.find_element(By.ID, "survey-submit").click()
    after_submit(driver, "main .alert[role=status]")  # the thanks, not the form again
    return driver.find_element(By.TAG_NAME, "main").text


def test_the_survey_starts_on_its_day_invites_once_and_reports_what_was_answered(
    web: WebStack,
    browser: WebDriver,
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("MINWON_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    sleep_until(web, at(1, 5, 10))
    # A year of closed cases: one resident twice, one who asks for no survey contact.
    codes = [close_a_case(web, contact) for contact in RESIDENTS]
    close_a_case(web, RESIDENTS[0], category="opinion")
    with web.http("lee.service") as staff:
        refused = staff.post("/api/surveys/refusals", json={"receipt_code": codes[3]})
    assert refused.status_code == 200, refused.text

    web.run(ensure_survey_year(web.client, web.task_queue, YEAR))
    sleep_until(web, at(1, 12, 8, 59))
    assert round_of(web) is None  # not before its day

    sleep_until(web, at(1, 12, 9, 1))
    wait_for(lambda: len(invitation_events(web, "Sent")) == 3)
    # Three residents: the one with two cases once, the one who refused not at all.
    assert len(invitation_events(web, "Invited")) == 3
    sent = links(tmp_path)
    assert sorted(sent) == sorted(RESIDENTS[:3])

    answers = {
        RESIDENTS[0]: dict(zip(QUESTIONS, (5, 4, 5, 4, 5, 5), strict=True)),
        RESIDENTS[1]: dict(zip(QUESTIONS, (3, 2, 4, 3, 3, 3), strict=True)),
    }
    for resident, scores in answers.items():
        page = answer_in_chromium(browser, sent[resident], scores, "고맙습니다", shots)
        assert "응답해 주셔서 고맙습니다" in page
    screenshot(browser, shots / "survey-thanks.png")
    # The link answers once: opened again, it says so and records nothing.
    browser.get(sent[RESIDENTS[0]])
    assert "이미 응답하셨습니다" in browser.find_element(By.TAG_NAME, "main").text
    assert len(invitation_events(web, "Answered")) == 2

    with web.http("jung.director") as director:
        report = director.get("/api/reports/survey", params={"year": YEAR, "format": "json"})
    assert report.status_code == 200, report.text
    results = report.json()
    counts = [results[measure] for measure in ("invited", "sent", "unreachable", "answered")]
    assert counts == [3, 3, 0, 2]
    for question in QUESTIONS:
        expected = round(mean(scores[question] for scores in answers.values()), 2)
        assert results["questions"][question]["average"] == expected, question
    assert set(results["by_category"]) == {"opinion", "inquiry"}

    # Each notice went out once; the round closes after its days.
    sleep_until(web, at(1, 17, 9, 2))
    handle = web.client.get_workflow_handle(survey_workflow_id(YEAR), result_type=SurveyPlan)
    plan = web.run(handle.result(), timeout=120)
    assert plan.closed and plan.invitations == 3
    assert len(invitation_events(web, "Sent")) == 3

    # 결과를 반영: what is decided from the results shows in the next year's report.
    improvement = "전화 응대 교육을 분기마다 실시"
    with web.http("lee.service") as staff:
        refused = staff.post(f"/api/surveys/{YEAR}/improvements",
                             json={"year": YEAR, "text": "아무 변경"})  # fmt: skip
        assert refused.status_code == 403
        assert staff.post("/api/surveys/start", json={"year": YEAR}).status_code == 403
    with web.http("jung.director") as director:
        recorded = director.post(f"/api/surveys/{YEAR}/improvements",
                                 json={"year": YEAR, "text": improvement})  # fmt: skip
        assert recorded.status_code == 200, recorded.text
        following = director.get(
            "/api/reports/survey", params={"year": YEAR + 1, "format": "json"}
        ).json()
        compliance = director.get(
            "/api/reports/compliance", params={"year": YEAR, "format": "json"}
        ).json()
    assert following["improvements_from_last_year"] == [improvement]
    assert not following["held"]
    survey = compliance["survey"]
    assert (survey["held"], survey["invited"], survey["answered"]) == (True, 3, 2)
    assert survey["overall"] == round(mean(s["overall"] for s in answers.values()), 2)
    assert survey["improvements"] == [improvement]
    assert web.complaints.surveys.round(YEAR).improvements[0]["by"] == "jung.director"  # type: ignore[union-attr]


def test_a_link_with_another_secret_opens_nothing_and_records_nothing(
    web: WebStack, tmp_path: Path
) -> None:
    sleep_until(web, at(1, 5, 10))
    close_a_case(web, RESIDENTS[0])
    web.run(ensure_survey_year(web.client, web.task_queue, YEAR, now=True))
    wait_for(lambda: len(invitation_events(web, "Sent")) == 1)
    [link] = links(tmp_path).values()
    base, _, secret = link.rpartition("/")
    forged = f"{base}/{secret[:-4]}AAAA"
    form = {question: "1" for question in QUESTIONS}
    with httpx.Client(headers={"Origin": web.url}) as resident:
        assert resident.get(forged).status_code == 404
        assert resident.post(forged, data=form).status_code == 404
        # Another invitation's id with this secret opens nothing either.
        other = link.replace(link.split("/")[-2], str(uuid.uuid4()))
        assert resident.post(other, data=form).status_code == 404
        assert invitation_events(web, "Answered") == []
        assert resident.post(link, data=form).status_code == 200
        assert resident.post(link, data=form).status_code == 409
    assert len(invitation_events(web, "Answered")) == 1


def test_a_year_without_a_survey_warns_ops_and_the_director_on_the_due_day_once(
    tmp_path: Path,
) -> None:
    policy = policy_with(
        tmp_path / "policy",
        '[survey]\nstart = "01-12"\ndue = "01-30"\nopen_days = 5\nauto_start = false\n',
    )
    with web_stack(tmp_path, env={"MINWON_POLICY": str(policy)}, time_skipping=True) as web:
        sleep_until(web, at(1, 2, 10))
        web.run(ensure_survey_year(web.client, web.task_queue, YEAR))
        sleep_until(web, at(1, 30, 8, 59))
        assert not web.complaints.surveys.warned(YEAR)

        sleep_until(web, at(1, 30, 9, 1))
        wait_for(lambda: web.complaints.surveys.warned(YEAR))
        sleep_until(web, at(2, 5, 9))
        records = web.complaints.recorder.select_notifications(start=1, limit=100_000)
        warnings = [r for r in records if r.topic.endswith("SurveyOverdue.Warned")]
        assert len(warnings) == 1
        mails = sorted(p.name for p in (tmp_path / "mail").glob("survey-overdue*.eml"))
        assert mails == [f"survey-overdue-{YEAR}-director.eml", f"survey-overdue-{YEAR}-ops.eml"]
        # Started late by hand, the survey runs: the warning did not end the year.
        plan = web.run(
            web.client.get_workflow_handle(survey_workflow_id(YEAR)).query(SurveyYearWorkflow.plan)
        )
        assert plan is not None and plan.warned and not plan.started


def test_with_nobody_to_ask_no_round_is_recorded_and_it_starts_the_next_morning(
    web: WebStack,
) -> None:
    sleep_until(web, at(1, 5, 10))
    web.run(ensure_survey_year(web.client, web.task_queue, YEAR))
    sleep_until(web, at(1, 12, 9, 1))
    assert round_of(web) is None  # no case closed this year: nobody to ask

    sleep_until(web, at(1, 12, 10))
    close_a_case(web, RESIDENTS[0])
    sleep_until(web, at(1, 13, 8, 59))
    assert round_of(web) is None
    sleep_until(web, at(1, 13, 9, 1))
    wait_for(lambda: len(invitation_events(web, "Sent")) == 1)
    assert round_of(web).invitations == [str(invitation_events(web, "Invited")[0].originator_id)]  # type: ignore[attr-defined]


class FailingEmail:
    """A mail server that is away while `error` is set, and refuses the addresses in
    `refused` for good; it delivers the rest to `folder` and notes every address tried."""

    def __init__(self, folder: Path, error: Exception | None, refused: set[str]) -> None:
        self.error = error
        self.refused = refused
        self.tried: list[str] = []
        self.invitations: list[str] = []  # the addresses survey invitations were tried at
        self.delivered = FileEmail(folder)

    def send(self, to: str, message: Message) -> None:
        self.tried.append(to)
        if message.message_id.startswith("survey-invitation-"):
            self.invitations.append(to)
        if self.error is not None:
            raise self.error
        if to in self.refused:
            raise PermanentDeliveryError("recipient-refused", "550")
        self.delivered.send(to, message)


def closed_cases(folder: Path, contacts: list[str], file: str = "e.db") -> Complaints:
    """A store on a SQLite file in `folder` with one case closed this year per contact."""
    folder.mkdir(exist_ok=True)
    app = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / file)}
    )
    closed_at = datetime(YEAR, 1, 5, 10, tzinfo=SEOUL)
    for number, contact in enumerate(contacts):
        case = app.file(Intake(f"closed-{number}", "email", "inquiry", "program", False,
                               contact, "문의", closed_at))  # fmt: skip
        app.perform(
            case.id, Answer(text="안내", by="lee.service"), at=closed_at, command_id=f"a{number}"
        )
        app.perform(case.id, Close(by="lee.service"), at=closed_at, command_id=f"c{number}")
    return app


def test_a_resident_whose_contact_no_channel_takes_is_invited_as_unreachable_never_sent(
    tmp_path: Path,
) -> None:
    unusable = "홍길동 (연락처 없음)"
    app = closed_cases(tmp_path / "alone", [unusable])
    # Nobody who can be reached: no round, nothing recorded, as with nobody at all.
    stored = len(app.recorder.select_notifications(start=1, limit=1000))
    assert app.surveys.start(YEAR, opens_at=at(1, 12, 9), closes_at=at(1, 17, 9), by="s") is None
    assert len(app.recorder.select_notifications(start=1, limit=1000)) == stored
    app.close()

    app = closed_cases(tmp_path / "with", [RESIDENTS[0], unusable])
    started = app.surveys.start(YEAR, opens_at=at(1, 12, 9), closes_at=at(1, 17, 9), by="s")
    assert started is not None and len(started.invitations) == 2
    mail = FailingEmail(tmp_path / "mail", None, refused=set())
    notices = NoticeActivities(app, Channels(mail, FileSmsOutbox(tmp_path / "sms.jsonl")))
    batch = SurveyBatch(year=YEAR, offset=0, limit=50)
    activities = SurveyActivities(app, notices)
    assert ActivityEnvironment().run(activities.send_survey_invitations, batch) == 1
    assert mail.tried == [RESIDENTS[0]]
    with open_read_models(app, ("survey_results",)) as models:
        report = survey_report(models.survey_results, YEAR)
    assert (report["invited"], report["sent"], report["unreachable"]) == (2, 1, 1)
    assert report["response_rate"] == 0.0  # of the one who could be asked
    # The unusable contact was not copied into its invitation.
    contacts = sorted(app.surveys.invitation(uuid.UUID(i)).contact for i in started.invitations)
    assert contacts == ["", RESIDENTS[0]]
    app.close()


def test_an_invitation_the_mail_server_defers_is_sent_on_the_retry_and_a_refused_one_counted(
    tmp_path: Path,
) -> None:
    app = closed_cases(tmp_path, RESIDENTS[:3])
    app.surveys.start(YEAR, opens_at=at(1, 12, 9), closes_at=at(1, 17, 9), by="system")
    refused = RESIDENTS[2]
    mail = FailingEmail(
        tmp_path / "mail", TemporaryDeliveryError("mail-deferred", "421"), refused={refused}
    )
    notices = NoticeActivities(app, Channels(mail, FileSmsOutbox(tmp_path / "sms.jsonl")))
    activities = SurveyActivities(app, notices)
    batch = SurveyBatch(year=YEAR, offset=0, limit=50)
    environment = ActivityEnvironment()
    started = app.surveys.round(YEAR)
    assert started is not None
    ids = [uuid.UUID(text) for text in started.invitations]

    def outcome() -> list[str]:
        found = [app.surveys.invitation(i) for i in ids]
        return sorted(
            "sent" if i.sent_at else "unreachable" if i.undeliverable_at else "-" for i in found
        )

    # Away: the activity fails to be retried; nothing counts as sent or unreachable.
    with pytest.raises(ApplicationError) as deferred:
        environment.run(activities.send_survey_invitations, batch)
    assert not deferred.value.non_retryable
    assert outcome() == ["-", "-", "-"]
    # The server's own setup refused (a failed login): nobody counts as unreachable, and
    # the batch fails for good after the first try, so the workflow ends its pass.
    mail.error = PermanentDeliveryError("mail-setup-refused", "SMTP 535 5.7.8")
    tries = len(mail.tried)
    with pytest.raises(ApplicationError) as refused_setup:
        environment.run(activities.send_survey_invitations, batch)
    assert refused_setup.value.non_retryable and refused_setup.value.type == PASS_REFUSED
    assert len(mail.tried) == tries + 1
    assert outcome() == ["-", "-", "-"]
    # A message refused at DATA may be refused for itself: each is tried, none counted.
    mail.error = PermanentDeliveryError("mail-refused", "SMTP 554 5.7.1")
    tries = len(mail.tried)
    assert environment.run(activities.send_survey_invitations, batch) == 0
    assert len(mail.tried) == tries + 3
    assert outcome() == ["-", "-", "-"]
    # Mended, and one address refused for good: the batch does not fail on one
    # resident, who is recorded as unreachable; the others are sent, each once.
    mail.error = None
    tries = len(mail.tried)
    assert environment.run(activities.send_survey_invitations, batch) == 2
    assert outcome() == ["sent", "sent", "unreachable"]
    assert mail.tried[tries:].count(refused) == 1
    # Run again: nothing more goes out, and the refused address is not tried again.
    tries = len(mail.tried)
    assert environment.run(activities.send_survey_invitations, batch) == 0
    assert mail.tried[tries:] == []
    # The report counts who could not be asked.
    with open_read_models(app, ("survey_results",)) as models:
        report = survey_report(models.survey_results, YEAR)
    assert (report["invited"], report["sent"], report["unreachable"]) == (3, 2, 1)
    assert "invited 3, sent 2, unreachable 1, answered 0" in survey_text(report)
    assert ["survey", "all", "unreachable", "1"] in csv.reader(io.StringIO(survey_csv(report)))
    app.close()


@contextmanager
def refusing_mail_server(tmp_path: Path) -> Iterator[tuple[WebStack, FailingEmail]]:
    """The survey's stack with a mail server whose own setup refuses every message
    (`mail-setup-refused`: a failed login) until the test mends it, on 5 January."""
    policy = policy_with(
        tmp_path / "policy",
        '[survey]\nstart = "01-12"\ndue = "01-30"\nopen_days = 5\n',
    )
    mail = FailingEmail(
        tmp_path / "mail", PermanentDeliveryError("mail-setup-refused", "SMTP 535 5.7.8"), set()
    )
    channels = Channels(mail, FileSmsOutbox(tmp_path / "sms.jsonl"))
    with web_stack(
        tmp_path, env={"MINWON_POLICY": str(policy)}, channels=channels, time_skipping=True
    ) as stack:
        sleep_until(stack, at(1, 5, 10))
        yield stack, mail


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[tuple[WebStack, FailingEmail, list[str]]]:
    """`refusing_mail_server`, two residents' cases closed, their receipt codes."""
    with refusing_mail_server(tmp_path) as (stack, mail):
        codes = [close_a_case(stack, resident) for resident in RESIDENTS[:2]]
        stack.run(ensure_survey_year(stack.client, stack.task_queue, YEAR))
        yield stack, mail, codes


def test_invitations_the_mail_server_refused_go_out_once_it_is_mended_not_to_who_refused_since(
    refusing: tuple[WebStack, FailingEmail, list[str]], tmp_path: Path
) -> None:
    web, mail, codes = refusing
    sleep_until(web, at(1, 12, 9, 5))
    # One failed login ends the pass: the second would fail the same way.
    wait_for(lambda: len(mail.invitations) == 1)
    # Refused for the server's setup: nobody recorded as sent or as unreachable.
    assert invitation_events(web, "Sent") == invitation_events(web, "Undeliverable") == []
    # Still refused the next morning: tried again, still nothing recorded.
    sleep_until(web, at(1, 13, 9, 5))
    wait_for(lambda: len(mail.invitations) == 2)
    assert invitation_events(web, "Sent") == []
    # The second resident asks staff for no survey contact; then ops mend the server.
    with web.http("lee.service") as staff:
        refused = staff.post("/api/surveys/refusals", json={"receipt_code": codes[1]})
    assert refused.status_code == 200, refused.text
    mail.error = None
    sleep_until(web, at(1, 14, 9, 5))
    wait_for(lambda: len(invitation_events(web, "Sent")) == 1)
    assert sorted(links(tmp_path)) == [RESIDENTS[0]]
    # Sent once, the one who refused never tried again: the days left try nothing more.
    sleep_until(web, at(1, 18, 10))
    wait_for(lambda: not round_of(web).is_open)  # type: ignore[attr-defined]
    assert mail.invitations[2:] == [RESIDENTS[0]]
    assert len(invitation_events(web, "Sent")) == 1


def test_invitations_never_sent_are_tried_each_day_of_the_round_and_no_longer(
    refusing: tuple[WebStack, FailingEmail, list[str]],
) -> None:
    web, mail, _ = refusing
    # The round runs from 12 January 09:00 for five days: one pass on each of them,
    # each ended by its first refusal.
    sleep_until(web, at(1, 25, 10))
    wait_for(lambda: not round_of(web).is_open)  # type: ignore[attr-defined]
    assert len(mail.invitations) == 5
    assert invitation_events(web, "Sent") == invitation_events(web, "Undeliverable") == []
    # The year's workflow ended with the round closed, and its history, daily passes
    # included, replays on the current code.
    handle = web.client.get_workflow_handle(survey_workflow_id(YEAR), result_type=SurveyPlan)
    plan = web.run(handle.result(), timeout=60)
    assert plan.closed and plan.invitations == 2
    replayed_history(web, handle)


def replayed_history(web: WebStack, handle: WorkflowHandle) -> WorkflowHistory:  # type: ignore[type-arg]
    """The year's workflow history so far, once it replayed on the current code."""
    history = web.run(handle.fetch_history(), timeout=60)
    replayer = Replayer(workflows=[SurveyYearWorkflow], data_converter=sealed_converter())
    web.run(replayer.replay_workflow(history), timeout=60)
    return history


def pass_refused(web: WebStack, handle: WorkflowHandle) -> str | None:  # type: ignore[type-arg]
    """The type of the first failed batch, once a timer was started after it (the pass
    over, the workflow waiting for the next day); None before."""
    events = web.run(handle.fetch_history(), timeout=60).events
    for number, event in enumerate(events):
        if event.HasField("activity_task_failed_event_attributes"):
            waiting = any(
                later.HasField("timer_started_event_attributes") for later in events[number:]
            )
            failure = event.activity_task_failed_event_attributes.failure
            return failure.application_failure_info.type if waiting else None
    return None


def test_the_first_batch_the_mail_server_refuses_ends_the_pass_and_the_next_sends_them_all(
    tmp_path: Path,
) -> None:
    """Two batches to send (51 residents, 50 a batch) and a failed login: one try in
    the pass, not one per batch; mended, the next pass sends both batches."""
    residents = [f"resident{number:02}@example.org" for number in range(51)]
    closed_cases(tmp_path, residents, file="events.db").close()
    with refusing_mail_server(tmp_path) as (web, mail):
        web.run(ensure_survey_year(web.client, web.task_queue, YEAR))
        sleep_until(web, at(1, 12, 9, 5))
        handle = web.client.get_workflow_handle(survey_workflow_id(YEAR), result_type=SurveyPlan)
        # The pass is over once the batch failed and the workflow waits for the next day.
        wait_for(lambda: pass_refused(web, handle) is not None)
        assert pass_refused(web, handle) == PASS_REFUSED
        assert len(mail.invitations) == 1  # the second batch was never tried
        assert invitation_events(web, "Sent") == invitation_events(web, "Undeliverable") == []
        # Mended: the next morning's pass sends every invitation, each once.
        mail.error = None
        sleep_until(web, at(1, 13, 9, 5))
        wait_for(lambda: len(invitation_events(web, "Sent")) == 51)
        assert sorted(mail.invitations[1:]) == residents
        # Its history, the failed batch included, replays on the current code.
        history = replayed_history(web, handle)
    failed = [
        event for event in history.events if event.HasField("activity_task_failed_event_attributes")
    ]
    assert len(failed) == 1


def test_a_batch_tried_at_or_after_the_close_sends_nothing(tmp_path: Path) -> None:
    """A pass whose tries outlast the round (the mail server away until after the
    close) ends without sending: the link would open a closed survey."""
    app = closed_cases(tmp_path, RESIDENTS[:2])
    app.surveys.start(YEAR, opens_at=at(1, 12, 9), closes_at=at(1, 17, 9), by="system")
    mail = FailingEmail(tmp_path / "mail", None, refused=set())
    notices = NoticeActivities(app, Channels(mail, FileSmsOutbox(tmp_path / "sms.jsonl")))
    activities = SurveyActivities(app, notices)
    batch = SurveyBatch(year=YEAR, offset=0, limit=50)
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(
        environment.info, current_attempt_scheduled_time=at(1, 17, 9)
    )
    assert environment.run(activities.send_survey_invitations, batch) == 0
    assert mail.tried == []
    # A minute before the close, the same batch goes out.
    environment.info = dataclasses.replace(
        environment.info, current_attempt_scheduled_time=at(1, 17, 8, 59)
    )
    assert environment.run(activities.send_survey_invitations, batch) == 2
    assert sorted(mail.tried) == RESIDENTS[:2]
    app.close()
