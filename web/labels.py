"""The code's words as staff and residents read them: one dict for each kind of value.

The API answers with the code's own names; the pages show these. A value with no
label is shown as it is: staff ids, receipt codes and category codes are
identifiers, and a value added later is better shown raw than not at all.
"""

from __future__ import annotations

from typing import Any

from activities.notices import COMMITMENT_LABELS
from domain.complaint import ANNOUNCEMENT

CASE_STATUS_LABELS = {
    "received": "접수",
    "assigned": "담당자 배정, 처리 중",
    "answered": "답변 완료",
    "closed": "처리 완료",
    "withdrawn": "취하",
}
# First-contact topics as the charter names them (가.⑤).
TOPIC_LABELS = {
    "intake": "인테이크 상담",
    "program": "프로그램 이용 상담",
    "service": "서비스 이용 상담",
    "facility": "시설 이용 안내",
    "tour": "견학 안내",
}
# Each role as residents and staff read it.
ROLE_LABELS = {
    "case_manager": "사례관리자",
    "service_social_worker": "서비스제공팀 사회복지사",
    "tour_social_worker": "견학담당 사회복지사",
    "designated_officer": "지정책임관",
    "director": "관장",
    "ops": "운영지원",
    "auditor": "감사",
    "staff": "직원",
}
# The case's clocks: the promises made to the resident, and the center's own duty
# to announce a closed case's result, which no notice to a resident names.
CLOCK_KIND_LABELS = COMMITMENT_LABELS | {ANNOUNCEMENT: "결과 공지"}
# How a complaint came in, and how a notice went out.
CHANNEL_LABELS = {
    "visit": "방문",
    "phone": "전화",
    "mail": "우편",
    "fax": "팩스",
    "email": "이메일",
    "homepage": "홈페이지",
    "outreach": "찾아가는 상담",
    "sms": "문자",
}
# The notices sent to residents and staff (templates/notices/).
NOTICE_LABELS = {
    "receipt": "접수 안내",
    "reminder": "기한 임박 알림",
    "breach": "기한 초과 알림",
    "escalation": "상향 보고 요청",
    "overdue": "처리 지연 안내",
    "interim_reply": "중간회신",
    "rescheduled": "기한 변경 안내",
    "investigation_result": "조사 결과 안내",
    "apology": "사과",
    "answer": "처리 결과 안내",
    "appointment_booked": "예약 안내",
    "appointment_reminder": "예약 전날 알림",
    "appointment_reminder_staff": "예약 전날 알림 (직원)",
    "appointment_outcome_due": "예약 결과 기록 요청",
    "survey_invitation": "만족도조사 안내",
    "survey_overdue": "만족도조사 미실시 알림",
}
# How a due, a warning or an extension's limit is counted (domain.calendar), and
# the callback's time promised by staff.
COUNTING_LABELS = {
    "business": "근무일 기준",
    "calendar": "달력일 기준",
    "working_days": "근무일",
    "working_hours": "근무시간",
    "calendar_days": "달력일",
    "working": "근무시간",
    "clock": "시간",
    "promised": "약속한 시각",
}
# How the resident agreed to a second extension.
CONSENT_LABELS = {"phone": "전화", "writing": "서면"}
APOLOGY_LABELS = {"in_person": "직접 방문", "phone": "전화", "public": "홈페이지 공개 사과"}
CORRECTIVE_LABELS = {"warning": "주의", "training": "교육"}
INVESTIGATION_LABELS = {"none": "없음", "open": "진행 중", "concluded": "완료"}
# Who did it, when not a staff member: the names the engine records.
ACTOR_LABELS = {
    "intake": "접수 창구",
    "system": "시스템",
    "resident": "민원인",
    "retention-sweep": "보존기간 만료 파기",
}
# What the reconciler found of a case's workflow before starting it again.
WORKFLOW_LABELS = {
    "missing": "없음",
    "completed": "완료됨",
    "failed": "실패",
    "canceled": "취소됨",
    "terminated": "강제 종료됨",
    "timed_out": "시간 초과",
    "continued_as_new": "새 실행으로 이어짐",
}
# The fields of a case's events, as its history shows them.
FIELD_LABELS = {
    "intake_ref": "접수 참조",
    "receipt_code": "접수번호",
    "channel": "경로",
    "category": "분류",
    "topic": "상담 주제",
    "private": "비공개",
    "contact": "연락처",
    "text": "내용",
    "apology_on_fault": "잘못 확인 시 사과",
    "apology_always": "사과 필수",
    "corrective_action": "직원 조치 대상",
    "investigated": "조사 대상",
    "linked_to": "관련 민원",
    "staff": "직원",
    "role": "역할",
    "previous": "이전 담당",
    "for_staff": "담당 직원",
    "taken_by": "받은 직원",
    "callback_by": "연락 약속 시각",
    "note": "메모",
    "kind": "종류",
    "due": "기한",
    "rule": "기한 계산",
    "days": "일수",
    "warn_at": "미리 알림",
    "max_extensions": "연장 한도",
    "warn_hours": "미리 알림 시간",
    "warn_counting": "미리 알림 계산",
    "max_consented_extensions": "동의 시 연장 한도",
    "reason": "사유",
    "new_due": "새 기한",
    "consent": "동의 방법",
    "previous_due": "이전 기한",
    "limit_rule": "연장 한도 계산",
    "added": "추가된 휴일",
    "removed": "취소된 휴일",
    "on_time": "기한 내",
    "level": "단계",
    "to_role": "보고 대상",
    "to_staff": "보고 대상 직원",
    "trigger": "계기",
    "act_by": "조치 기한",
    "act_counting": "조치 기한 계산",
    "fault_confirmed": "잘못 확인",
    "finding": "조사 결과",
    "mode": "방법",
    "action": "조치",
    "summary": "공지 요약",
    "score": "점수",
    "comment": "의견",
    "recipient": "받는 사람",
    "notice_id": "알림 번호",
    "detail": "알림 대상 기한·직책",
    "found": "발견 상태",
    "appointment_id": "예약 번호",
    "start": "예약 시각",
    "outcome": "결과",
}
# The case history's events and the escalation triggers, as staff read them.
EVENT_LABELS = {
    "Received": "접수",
    "Assigned": "담당자 지정",
    "Reassigned": "담당자 변경",
    "MessageTaken": "부재 직원 용건 전달",
    "CommitmentStarted": "처리 기한 시작",
    "CommitmentWarned": "기한 임박 알림",
    "CommitmentBreached": "기한 초과",
    "CommitmentExtended": "기한 연장",
    "CommitmentRescheduled": "휴일 지정에 따른 기한 변경",
    "CommitmentMet": "약속 이행",
    "InterimReplySent": "중간회신",
    "Escalated": "상향 보고",
    "InvestigationOpened": "조사 시작",
    "InvestigationConcluded": "조사 결과",
    "ApologyMade": "사과",
    "CorrectiveActionRecorded": "직원 조치",
    "CalledBack": "약속한 연락",
    "Answered": "답변",
    "ResultAnnounced": "결과 공지",
    "AnnouncementDeclined": "결과 미공지 결정",
    "Closed": "종결",
    "Reopened": "재개",
    "Withdrawn": "취하",
    "SatisfactionRated": "만족도",
    "NoteAdded": "처리 메모",
    "NoticeQueued": "알림 대기",
    "NoticeSent": "알림 발송",
    "NoticeFailed": "알림 실패",
    "WorkflowRestored": "처리 흐름 복구",
    "PersonalDataErased": "개인정보 파기",
    "AppointmentRecorded": "예약 결과",
}
TRIGGER_LABELS = {"deadline": "기한 초과로 자동", "manual": "직접"}
# Appointments (domain.appointment): their kinds and how they ended.
APPOINTMENT_KIND_LABELS = {"visit": "내방 상담", "home": "가정 방문"}
APPOINTMENT_STATUS_LABELS = {
    "booked": "예약",
    "done": "완료",
    "no_show": "불참",
    "moved": "일정 변경",
}
# Which labels a field's values take.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "channel": CHANNEL_LABELS,
    "topic": TOPIC_LABELS,
    "role": ROLE_LABELS,
    "to_role": ROLE_LABELS,
    "rule": COUNTING_LABELS,
    "warn_counting": COUNTING_LABELS,
    "act_counting": COUNTING_LABELS,
    "limit_rule": COUNTING_LABELS,
    "consent": CONSENT_LABELS,
    "mode": APOLOGY_LABELS,
    "action": CORRECTIVE_LABELS,
    "investigation": INVESTIGATION_LABELS,
    "by": ACTOR_LABELS,
    "recipient": ACTOR_LABELS,
    "found": WORKFLOW_LABELS,
    "trigger": TRIGGER_LABELS,
    "outcome": APPOINTMENT_STATUS_LABELS,
    # A queued notice's: the clock it is about, or the role an escalation reached.
    "detail": CLOCK_KIND_LABELS | ROLE_LABELS,
}
# A `kind` names a clock, but a notice in the notices' events.
EVENT_KINDS = {
    "NoticeQueued": NOTICE_LABELS,
    "NoticeSent": NOTICE_LABELS,
    "NoticeFailed": NOTICE_LABELS,
    "AppointmentRecorded": APPOINTMENT_KIND_LABELS,
}


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def value_label(field: str, value: Any, event: str = "") -> Any:
    """A field's value as staff read it: other values (a moment, a number, an id) as they are."""
    if not isinstance(value, str):
        return value
    if field == "kind":
        names = EVENT_KINDS.get(event, CLOCK_KIND_LABELS)
    else:
        names = VALUE_LABELS.get(field, {})
    return names.get(value, value)
