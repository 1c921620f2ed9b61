"""The charter as data: the shipped policy, validation of broken files, `minwon policy check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from domain.policy import (
    DEFAULT_POLICY_PATH,
    Policy,
    PolicyError,
    UnknownCategoryError,
    load_policy,
    parse_policy,
)

SHIPPED_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
CATEGORIES = ("inquiry", "opinion", "late_reply", "repeat_visit", "unkind_service", "callback")


def edited(*changes: tuple[str, str]) -> str:
    """The shipped policy text with each (old, new) change made exactly once."""
    text = SHIPPED_TEXT
    for old, new in changes:
        assert text.count(old) == 1, f"the shipped policy no longer contains {old!r} once"
        text = text.replace(old, new)
    return text


def problems_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="edited.toml")
    return info.value.problems


def locations_of(text: str) -> list[str]:
    return [location for location, _ in problems_of(text)]


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy()


# -- the shipped policy carries the charter's numbers --------------------------------


def test_the_shipped_policy_has_every_charter_category(shipped: Policy) -> None:
    assert tuple(shipped.categories) == CATEGORIES
    assert shipped.center.name == "안심종합사회복지관"
    assert shipped.center.timezone == "Asia/Seoul"


def test_a_written_inquiry_is_answered_in_seven_working_days_with_one_interim_reply(
    shipped: Policy,
) -> None:
    reply = shipped.category("inquiry").commitment("reply")

    assert reply is not None
    assert reply.days == 7
    assert reply.counting == "business"
    assert reply.max_extensions == 1


def test_an_opinion_or_dissatisfaction_gets_a_result_in_fifteen_days(shipped: Policy) -> None:
    result = shipped.category("opinion").commitment("result")

    assert result is not None
    assert result.days == 15
    assert shipped.category("opinion").routes_to == "designated_officer"


def test_a_late_or_careless_reply_is_investigated_in_three_days_and_apologised_for_on_fault(
    shipped: Policy,
) -> None:
    late_reply = shipped.category("late_reply")
    investigation = late_reply.commitment("investigation")

    assert investigation is not None
    assert investigation.days == 3
    assert late_reply.investigated
    assert late_reply.apology_on_fault
    assert late_reply.corrective_action
    assert shipped.linked_complaint_category == "late_reply"


def test_a_repeat_visit_always_needs_an_apology_and_unkind_service_an_investigation(
    shipped: Policy,
) -> None:
    assert shipped.category("repeat_visit").apology_always
    assert shipped.category("unkind_service").investigated
    assert shipped.category("unkind_service").corrective_action


def test_the_callback_is_due_when_staff_promised_it_not_after_a_number_of_days(
    shipped: Policy,
) -> None:
    callback = shipped.category("callback").commitment("callback")

    assert callback is not None
    assert callback.promised_by_staff is True
    assert callback.days is None
    assert callback.max_extensions == 0


def test_escalation_goes_to_the_designated_officer_then_the_director(shipped: Policy) -> None:
    chain = shipped.escalation.chain

    assert [level.role for level in chain] == ["designated_officer", "director"]
    assert chain[0].act_within_hours == 24
    assert chain[-1].act_within_hours is None


def test_first_contact_is_routed_by_topic_with_the_case_manager_as_default(
    shipped: Policy,
) -> None:
    assert shipped.route("inquiry", "intake") == "case_manager"
    assert shipped.route("inquiry", "program") == "service_social_worker"
    assert shipped.route("inquiry", "tour") == "tour_social_worker"
    assert shipped.route("inquiry", "something else") == "case_manager"
    assert shipped.route("unkind_service", "tour") == "designated_officer"


def test_an_unknown_category_is_refused_with_the_known_ones_named(shipped: Policy) -> None:
    with pytest.raises(UnknownCategoryError, match="late_reply"):
        shipped.category("praise")


# -- broken policy text: every problem, each with its location -----------------------


def test_every_problem_in_a_broken_policy_is_listed_with_its_location() -> None:
    text = edited(
        ('kind = "reply"\ndays = 7', 'kind = "reply"\ndays = 0'),
        (
            "warn_before_hours = 48\nmax_extensions = 1",
            "warn_before_hours = 48\nmax_extensions = 11",
        ),
        ('kind = "expedited"', 'kind = "hurry"'),
        ("personal_data_years_after_close = 3", "personal_data_years_after_close = 0"),
    )

    problems = problems_of(text)

    assert [location for location, _ in problems] == [
        "categories.inquiry.commitments[0].days",
        "categories.opinion.commitments[0].max_extensions",
        "categories.repeat_visit.commitments[0].kind",
        "retention.personal_data_years_after_close",
    ]
    assert all(message for _, message in problems)
    assert "greater than or equal to 1" in problems[0][1]


def test_the_error_text_names_the_source_and_every_problem() -> None:
    text = edited(
        ('kind = "reply"\ndays = 7', 'kind = "reply"\ndays = 0'),
        ('name = "안심종합사회복지관"', 'name = ""'),
    )

    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="edited.toml")

    message = str(info.value)
    assert message.startswith("edited.toml: 2 problem(s)")
    assert "  center.name: " in message
    assert "  categories.inquiry.commitments[0].days: " in message


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (('title = "의견·불만', 'colour = "red"\ntitle = "의견·불만'), "categories.opinion.colour"),
        (("[retention]\n", "[retention]\nkeep_forever = true\n"), "retention.keep_forever"),
        (
            ('linked_complaint_category = "late_reply"', 'linked_complaint_categry = "late_reply"'),
            "linked_complaint_categry",
        ),
        (("days = 3\n", "day = 3\ndays = 3\n"), "categories.late_reply.commitments[0].day"),
    ],
)
def test_an_unknown_key_is_refused_as_a_probable_typo(
    change: tuple[str, str], location: str
) -> None:
    problems = problems_of(edited(change))

    assert (location, "Extra inputs are not permitted") in problems


def test_a_routing_target_that_is_no_role_is_one_problem_at_that_key() -> None:
    text = edited(
        (
            'title = "의견·불만 (불친절, 불만족)"\nroutes_to = "designated_officer"',
            'title = "의견·불만 (불친절, 불만족)"\nroutes_to = "chairman"',
        )
    )

    problems = problems_of(text)

    assert len(problems) == 1
    location, message = problems[0]
    assert location == "categories.opinion.routes_to"
    assert "designated_officer" in message
    assert "by_topic" in message


def test_an_escalation_level_before_the_last_without_a_time_to_act_is_refused() -> None:
    text = edited(
        (
            '{ role = "designated_officer", act_within_hours = 24 }',
            '{ role = "designated_officer" }',
        )
    )

    [(location, message)] = problems_of(text)

    assert location == "escalation"
    assert "chain[0]" in message
    assert "act_within_hours" in message


def test_the_last_escalation_level_may_be_open_ended_and_earlier_ones_timed() -> None:
    text = edited(
        (
            '{ role = "director" },',
            '{ role = "director", act_within_hours = 48 },\n  { role = "ops" },',
        )
    )

    policy = parse_policy(text)

    assert [level.role for level in policy.escalation.chain] == [
        "designated_officer",
        "director",
        "ops",
    ]


@pytest.mark.parametrize(
    ("change", "location", "words"),
    [
        (
            ('kind = "callback"\n', 'kind = "callback"\ndays = 2\n'),
            "categories.callback.commitments[0]",
            "takes no 'days'",
        ),
        (
            ('kind = "result"\ndays = 15\n', 'kind = "result"\n'),
            "categories.opinion.commitments[0]",
            "'days' is required",
        ),
        (
            ("promised_by_staff = true\n", "promised_by_staff = true\nmax_extensions = 1\n"),
            "categories.callback.commitments[0]",
            "cannot be extended",
        ),
        (
            ('linked_complaint_category = "late_reply"', 'linked_complaint_category = "late"'),
            "(top level)",
            "'late' is not one of the categories",
        ),
    ],
)
def test_a_rule_that_spans_several_fields_is_reported_on_the_table_that_breaks_it(
    change: tuple[str, str], location: str, words: str
) -> None:
    [(found_location, message)] = problems_of(edited(change))

    assert found_location == location
    assert words in message


def test_a_commitment_kind_listed_twice_in_one_category_is_refused() -> None:
    duplicate = '\n[[categories.inquiry.commitments]]\nkind = "reply"\ndays = 3\n'
    text = edited(
        ('charter = "서비스 이행표준 다.①"\n', f'charter = "서비스 이행표준 다.①"\n{duplicate}')
    )

    [(location, message)] = problems_of(text)

    assert location == "categories.inquiry"
    assert "listed twice: reply" in message


def test_text_that_is_not_toml_is_one_problem_naming_the_line() -> None:
    [(location, message)] = problems_of('[center]\nname = "안심\n')

    assert location == "TOML"
    assert "line 2" in message


def test_an_empty_file_lists_each_missing_section() -> None:
    locations = locations_of("")

    assert sorted(locations) == ["categories", "center", "escalation", "retention", "routing"]


def test_reading_a_missing_file_is_a_policy_error_about_the_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nowhere.toml")

    assert info.value.problems == [("file", "No such file or directory")]


# -- `minwon policy check FILE` -----------------------------------------------------


@pytest.fixture
def staff_member_on_a_scratch_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The command runs as someone on the roster, which it reads from the event store.
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", str(tmp_path / "events.db"))
    monkeypatch.delenv("MINWON_ROSTER", raising=False)
    monkeypatch.delenv("MINWON_POLICY", raising=False)
    monkeypatch.setenv("MINWON_ACTOR", "lee.service")


def run_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["policy", "check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("staff_member_on_a_scratch_store")
def test_checking_the_shipped_policy_succeeds_and_summarises_every_category(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_check(capsys, str(DEFAULT_POLICY_PATH))

    assert code == 0
    assert err == ""
    assert out.startswith(f"{DEFAULT_POLICY_PATH}: valid policy for 안심종합사회복지관")
    for name in CATEGORIES:
        assert f"  {name}: " in out
    assert "reply: 7 working days" in out
    assert "result: 15 working days" in out
    assert "investigation: 3 day(s) = 24 working hours" in out
    assert "callback: until the time promised by staff" in out
    assert "designated_officer (acts within 24 working h) → director" in out


@pytest.mark.usefixtures("staff_member_on_a_scratch_store")
def test_checking_without_a_file_checks_the_shipped_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_check(capsys)

    assert code == 0
    assert "valid policy" in out


@pytest.mark.usefixtures("staff_member_on_a_scratch_store")
def test_checking_a_broken_file_prints_every_problem_and_exits_with_two(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        edited(
            ('kind = "reply"\ndays = 7', 'kind = "reply"\ndays = 0'),
            ('title = "의견·불만', 'colour = "red"\ntitle = "의견·불만'),
            (
                '{ role = "designated_officer", act_within_hours = 24 }',
                '{ role = "designated_officer" }',
            ),
        ),
        encoding="utf-8",
    )

    code, out, err = run_check(capsys, str(broken))

    assert code == 2
    assert out == ""
    assert err.startswith(f"minwon: invalid policy {broken}: 3 problem(s)")
    assert "categories.inquiry.commitments[0].days: " in err
    assert "categories.opinion.colour: Extra inputs are not permitted" in err
    assert "escalation: chain[0] (designated_officer) needs 'act_within_hours'" in err
    assert "Traceback" not in out + err


@pytest.mark.usefixtures("staff_member_on_a_scratch_store")
def test_checking_a_file_that_is_not_toml_exits_with_two_and_no_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[center\nname = 1\n", encoding="utf-8")

    code, out, err = run_check(capsys, str(broken))

    assert code == 2
    assert "TOML: " in err
    assert "Traceback" not in out + err


@pytest.mark.usefixtures("staff_member_on_a_scratch_store")
def test_checking_a_file_that_is_not_utf8_exits_with_two(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "euc-kr.toml"
    broken.write_bytes('[center]\nname = "안심종합사회복지관"\n'.encode("euc-kr"))

    code, _, err = run_check(capsys, str(broken))

    assert code == 2
    assert "not UTF-8" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("staff_member_on_a_scratch_store")
def test_checking_a_missing_file_exits_with_two_and_says_the_file_is_not_there(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"

    code, out, err = run_check(capsys, str(missing))

    assert code == 2
    assert out == ""
    assert str(missing) in err
    assert "No such file or directory" in err
    assert err.count("\n") <= 2
    assert "Traceback" not in err
