"""The pages in a real browser: headless Chromium driven by Selenium, against a running stack.

A resident submits the Korean form, keeps the receipt code and the secret; staff
sign in with a token, find the case in their queue and answer it; the resident
looks the case up and reads the answer. Chromium and chromedriver are Debian's
(`make browser` installs them, with the CJK fonts); nothing is downloaded here.

Screenshots of each page go to `tmp_path`, or to MINWON_SCREENSHOTS when set
(`MINWON_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/e2e/test_web_browser.py`
refreshes the ones in docs/).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from domain.calendar import SEOUL
from tests.support.browser import PHONE, after_submit, chromium, screenshot
from tests.support.web import WebStack, web_stack

pytestmark = pytest.mark.temporal

ANSWER = "프로그램 신청은 1층 안내데스크나 홈페이지 '사업안내'에서 하실 수 있습니다."


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    with web_stack(tmp_path_factory.mktemp("web-browser")) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("MINWON_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def unlabelled_fields(driver: WebDriver) -> list[str]:
    """Form fields a screen reader could not name."""
    script = """
      return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(field => field.labels.length === 0)
        .map(field => field.name || field.id);
    """
    names: list[str] = driver.execute_script(script)
    return names


def fits_the_screen(driver: WebDriver) -> bool:
    wide: bool = driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    return wide


def reload_until(driver: WebDriver, text: str, seconds: float = 30.0) -> None:
    """Visibility lists cases a moment after they change: reload until the page shows it."""
    deadline = time.monotonic() + seconds
    while text not in driver.page_source:
        if time.monotonic() > deadline:
            pytest.fail(f"{driver.current_url} never showed {text!r}")
        time.sleep(0.3)
        driver.refresh()


def sign_in(driver: WebDriver, web: WebStack, staff: str, then: str = "/staff") -> None:
    driver.delete_all_cookies()
    driver.get(f"{web.url}/staff/login?next={then}")
    driver.find_element(By.ID, "token").send_keys(web.token(staff))
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 30).until(lambda page: "/staff/login" not in page.current_url)


def other_cases_of_lee(web: WebStack) -> tuple[str, str]:
    """A case received by mail 20 days ago (overdue) and a callback promised in 2 hours."""
    now = datetime.now(SEOUL)
    with web.http("han.ops") as ops:
        late = ops.post(
            "/api/staff/cases",
            json={
                "channel": "mail",
                "category": "inquiry",
                "topic": "program",
                "contact": "010-3456-7890",
                "text": "프로그램 환불 규정을 알려주세요",
                "received_at": (now - timedelta(days=20)).isoformat(),
            },
        )
        callback = ops.post(
            "/api/staff/cases",
            json={
                "channel": "phone",
                "category": "callback",
                "contact": "010-4567-8901",
                "text": "담당자와 통화하고 싶습니다",
            },
        )
        code = callback.json()["case"]["receipt_code"]
        promised = (now + timedelta(hours=2)).isoformat()
        ops.post(
            f"/api/staff/cases/{code}/take_message",
            json={"for_staff": "lee.service", "callback_by": promised, "note": "오후 통화 희망"},
        ).raise_for_status()
        ops.post(f"/api/staff/cases/{code}/assign", json={"staff": "lee.service"})
    return late.json()["case"]["receipt_code"], code


def test_a_resident_submits_staff_answer_and_the_resident_reads_the_answer(
    web: WebStack, browser: WebDriver, shots: Path
) -> None:
    # The resident, on a phone first: the form fits the screen, every field is labelled.
    browser.get(f"{web.url}/complaints/new")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    assert unlabelled_fields(browser) == []
    browser.set_window_size(*PHONE)
    assert fits_the_screen(browser)
    screenshot(browser, shots / "submit-phone.png", PHONE)

    Select(browser.find_element(By.ID, "topic")).select_by_value("program")
    browser.find_element(By.ID, "contact").send_keys("resident@example.kr")
    browser.find_element(By.ID, "text").send_keys("방과후 프로그램은 어떻게 신청하나요?")
    browser.find_element(By.ID, "consent").click()
    screenshot(browser, shots / "submit.png")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    code = after_submit(browser, "#receipt-code").text
    secret = browser.find_element(By.ID, "secret").text
    assert code.startswith("MW-") and len(secret) == 11
    assert "답변" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    screenshot(browser, shots / "receipt.png")

    # Staff: sign in, find the case in the queue among the others, answer it.
    others = other_cases_of_lee(web)
    sign_in(browser, web, "lee.service")
    for listed in (code, *others):
        reload_until(browser, listed)
    reload_until(browser, "기한 초과")
    flags = browser.find_element(By.CSS_SELECTOR, "table.queue tbody").text
    assert flags.index(others[0]) < flags.index(others[1]) < flags.index(code)
    assert "기한 임박" in flags
    screenshot(browser, shots / "staff-queue.png")
    browser.find_element(By.LINK_TEXT, code).click()
    assert "resident@example.kr" in browser.page_source  # the assignee sees it all
    assert unlabelled_fields(browser) == []
    # The staff desk speaks Korean: clocks, events and their names, not the code's.
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "처리 기한 시작" in page and "접수" in page and "진행 중" in page
    assert "CommitmentStarted" not in page and "(reply)" not in page
    screenshot(browser, shots / "staff-case.png")
    browser.find_element(By.ID, "answer-text").send_keys(ANSWER)
    browser.find_element(
        By.CSS_SELECTOR, f"form[action='/staff/cases/{code}/answer'] button"
    ).click()
    assert "답변: 처리되었습니다" in after_submit(browser, ".alert.ok").text

    # The resident looks the case up with the code and the secret.
    browser.delete_all_cookies()
    browser.get(f"{web.url}/status")
    assert unlabelled_fields(browser) == []
    browser.find_element(By.ID, "receipt_code").send_keys(code.lower())
    browser.find_element(By.ID, "secret").send_keys(secret)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    assert after_submit(browser, "#answer-text").text == ANSWER
    assert "답변 완료" in browser.find_element(By.ID, "result-title").text
    screenshot(browser, shots / "status.png")


def test_a_wrong_secret_is_told_plainly_in_korean(web: WebStack, browser: WebDriver) -> None:
    browser.get(f"{web.url}/status")
    browser.find_element(By.ID, "receipt_code").send_keys("MW-00000-00000")
    browser.find_element(By.ID, "secret").send_keys("AAAAA-AAAAA")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    alert = after_submit(browser, "[role=alert]").text
    assert "접수번호 또는 비밀번호가 맞지 않습니다" in alert


def test_ops_see_the_overdue_case_and_residents_the_public_notice(
    web: WebStack, browser: WebDriver, shots: Path
) -> None:
    late = (datetime.now(SEOUL) - timedelta(days=20)).isoformat()
    with web.http("han.ops") as ops, web.http("park.officer") as officer:
        filed = ops.post(
            "/api/staff/cases",
            json={
                "channel": "mail",
                "category": "inquiry",
                "topic": "facility",
                "contact": "010-2345-6789",
                "text": "견학 일정을 문의드립니다",
                "received_at": late,
            },
        )
        filed.raise_for_status()
        overdue = filed.json()["case"]["receipt_code"]
        for text in ("주차 공간이 부족합니다", "엘리베이터 안내가 필요합니다"):
            receipt = web.http().post(
                "/api/complaints",
                json={"category": "opinion", "contact": "a@example.kr", "text": text},
            )
            code = receipt.json()["receipt_code"]
            officer.post(f"/api/staff/cases/{code}/answer", json={"text": "검토하겠습니다"})
        officer.post(
            f"/api/staff/cases/{code}/announce",
            json={"summary": "1층 엘리베이터 앞에 층별 안내판을 새로 설치했습니다."},
        ).raise_for_status()

    sign_in(browser, web, "han.ops", then="/ops")
    reload_until(browser, overdue)
    assert "기한 초과" in browser.find_element(By.TAG_NAME, "main").text
    assert unlabelled_fields(browser) == []
    screenshot(browser, shots / "ops.png")

    browser.delete_all_cookies()
    browser.get(f"{web.url}/notices")
    reload_until(browser, "층별 안내판")
    assert "a@example.kr" not in browser.page_source
    screenshot(browser, shots / "notices.png")


def test_residents_find_the_staff_on_duty_and_each_services_promise(
    web: WebStack, browser: WebDriver, shots: Path
) -> None:
    browser.get(f"{web.url}/")
    browser.find_element(By.LINK_TEXT, "직원·서비스 안내").click()

    main = browser.find_element(By.TAG_NAME, "main").text
    officer = web.complaints.roster.staff("park.officer")
    assert officer is not None
    assert "지정책임관" in main and officer.name in main and officer.phone in main
    assert "답변: 7일 이내 (근무일 기준)" in main
    assert "@" not in main  # desk phones only, no work address
    screenshot(browser, shots / "directory.png")


def test_staff_see_todays_and_tomorrows_appointments_with_details_only_on_their_own(
    web: WebStack, browser: WebDriver, shots: Path
) -> None:
    tomorrow = (datetime.now(SEOUL) + timedelta(days=1)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    booked = []
    for staff, purpose in (("lee.service", "서류 작성 도움"), ("choi.tour", "견학 일정 상담")):
        with web.http("kim.casemgr") as desk:
            answer = desk.post(
                "/api/appointments",
                json={"kind": "visit", "start": tomorrow.isoformat(), "staff": staff,
                      "purpose": purpose, "contact": "010-0000-0000"},
            )  # fmt: skip
        assert answer.status_code == 201, answer.text
        booked.append(answer.json()["id"])

    sign_in(browser, web, "lee.service", then="/staff/appointments")
    WebDriverWait(browser, 30).until(lambda page: "/staff/appointments" in page.current_url)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "내일" in main and "내방 상담" in main
    assert "서류 작성 도움" in main  # theirs: the purpose shows
    assert "견학 일정 상담" not in main and "(담당자만)" in main  # a colleague's: hidden
    screenshot(browser, shots / "appointments.png")
    # The details shown are one access-log entry; the colleague's masked line none.
    today = datetime.now(SEOUL).date()
    reads = web.complaints.access_entries(since=today, until=today, actor="lee.service")
    shown = [f"appointment-{one}" for one in booked]
    assert [
        (e["case_id"], e["action"], e["origin"][:4]) for e in reads if e["case_id"] in shown
    ] == [(shown[0], "web appointments page", "web:")]


def test_supervisors_read_the_charters_other_promises_on_one_page(
    web: WebStack, browser: WebDriver, shots: Path
) -> None:
    called = (datetime.now(SEOUL) - timedelta(hours=3)).replace(microsecond=0)
    with web.http("park.officer") as officer:
        low = officer.post(
            "/api/monitoring",
            json={"staff": "choi.tour", "called_at": called.isoformat(),
                  "answered_by_third_ring": 2, "greeting": 1, "courtesy": 3, "handled": 2},
        )  # fmt: skip
        assert low.status_code == 201, low.text
    with web.http("jung.director") as director:
        award = director.post(
            "/api/awards",
            json={"staff": "lee.service", "title": "모범직원포상", "reason": "친절 응대"},
        )
        assert award.status_code == 201, award.text

    sign_in(browser, web, "park.officer", then="/staff/charter")
    WebDriverWait(browser, 30).until(lambda page: "/staff/charter" in page.current_url)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "이용자 만족도조사" in main and "전화 모니터링" in main
    assert "choi.tour" in main and "2.00 (낮음)" in main
    assert "lee.service · 모범직원포상" in main
    assert "친절 응대" not in main  # the director's reason stays sealed in its record
    screenshot(browser, shots / "charter.png")

    # A plain staff member is not shown the evaluations of colleagues.
    browser.delete_all_cookies()
    sign_in(browser, web, "lee.service", then="/staff/charter")
    WebDriverWait(browser, 30).until(lambda page: "/staff/login" not in page.current_url)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "choi.tour" not in main and "모범직원포상" not in main
