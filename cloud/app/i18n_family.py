"""The family pages' words (editors, messages to the robot, 30-day charts), Korean and English.

Kept apart from `cloud.app.i18n.MESSAGES` (which merges them) so the pages of other roles and
these can grow without touching one long table; a key may not be defined twice.
"""

from collections.abc import Mapping

FAMILY_MESSAGES: Mapping[str, tuple[str, str]] = {
    "care_settings": ("돌봄 설정", "Care settings"),
    "care_intro": (
        "연락처, 비상 연락 순서, 알림(약, 식사)과 조용한 시간을 바꿉니다.",
        "Change contacts, the escalation order, reminders and quiet hours.",
    ),
    "back_to_senior": ("어르신 페이지로", "Back to the senior's page"),
    "save": ("저장", "Save"),
    "add": ("추가", "Add"),
    "delete": ("삭제", "Delete"),
    "saved": ("저장했습니다.", "Saved."),
    "deleted": ("삭제했습니다.", "Deleted."),
    "fix_errors": ("아래 표시된 칸을 고쳐 주세요.", "Please fix the fields marked below."),
    # contacts
    "contacts": ("연락처", "Contacts"),
    "no_contacts": ("연락처가 없습니다.", "No contacts yet."),
    "new_contact": ("새 연락처", "New contact"),
    "contact_n": ("연락처 {n}", "Contact {n}"),
    "c_name": ("이름", "Name"),
    "c_relation": ("관계 (예: 딸)", "Relation (e.g. daughter)"),
    "c_channel": ("알림 방법", "How to reach"),
    "c_target": (
        "주소 (이메일, 웹훅 URL 또는 앱 아이디)",
        "Address (e-mail, webhook URL or app username)",
    ),
    "c_language": ("알림 언어", "Language of the notices"),
    "lang_ko": ("한국어", "Korean"),
    "lang_en": ("영어", "English"),
    "ch_email_opt": ("이메일", "E-mail"),
    "ch_webhook_opt": ("웹훅 (문자·전화 게이트웨이)", "Webhook (SMS or phone gateway)"),
    "ch_sse_opt": ("앱 실시간 알림", "Live in the app"),
    "ch_push_opt": ("휴대폰 알림 (앱 아이디)", "Phone notification (app username)"),
    "contact_added": ("연락처를 추가했습니다.", "Contact added."),
    # escalation policy
    "policy": ("비상 연락 순서", "Escalation order"),
    "policy_intro": (
        "경보가 나면 1단계부터 알립니다."
        " 아무도 확인하지 않으면 정한 시간 뒤 다음 단계로 넘어갑니다.",
        "An alert goes to tier 1 first; if nobody acknowledges in time, the next tier is told.",
    ),
    "policy_readonly": (
        "비상 연락 순서는 관리자나 주 보호자만 바꿀 수 있습니다.",
        "Only an admin or the senior's primary caregiver can change the escalation order.",
    ),
    "no_policy": ("아직 정하지 않았습니다.", "Not set yet."),
    "tier_n": ("{n}단계", "Tier {n}"),
    "tier_contacts": ("알릴 연락처", "Contacts to tell"),
    "tier_timeout": ("다음 단계까지 (분)", "Minutes before the next tier"),
    "tier_renotify": ("다시 알림 간격 (분, 선택)", "Remind every (minutes, optional)"),
    "tier_blank_hint": (
        "빈 단계는 저장하지 않습니다. 연락처를 먼저 추가하세요.",
        "Empty tiers are not saved. Add contacts first.",
    ),
    "policy_saved": ("비상 연락 순서를 저장했습니다.", "Escalation order saved."),
    # reminders
    "reminders": ("알림 (약, 식사)", "Reminders"),
    "no_reminders": ("알림이 없습니다.", "No reminders yet."),
    "new_reminder": ("새 알림", "New reminder"),
    "reminder_n": ("알림 {n}", "Reminder {n}"),
    "r_kind": ("종류", "Kind"),
    "r_label": ("로봇이 할 말 (예: 혈압약)", "What the robot names (e.g. blood pressure pill)"),
    "r_times": ("시각 (예: 08:00, 20:00)", "Times (e.g. 08:00, 20:00)"),
    "r_days": ("요일", "Days"),
    "r_active": ("사용", "Active"),
    "rk_medicine": ("약", "Medicine"),
    "rk_meal": ("식사", "Meal"),
    "rk_water": ("물", "Water"),
    "rk_walk": ("산책", "Walk"),
    "rk_other": ("기타", "Other"),
    "day_0": ("월", "Mon"),
    "day_1": ("화", "Tue"),
    "day_2": ("수", "Wed"),
    "day_3": ("목", "Thu"),
    "day_4": ("금", "Fri"),
    "day_5": ("토", "Sat"),
    "day_6": ("일", "Sun"),
    "reminder_sent": (
        "저장했습니다. 로봇 {n}대에 새 일정을 보냈습니다.",
        "Saved. The new schedule was sent to {n} robot(s).",
    ),
    "reminder_not_sent": (
        "저장했지만 로봇에 전하지 못했습니다. 다음 변경 때 다시 보냅니다.",
        "Saved, but the robot could not be told; it gets the next change.",
    ),
    # quiet hours
    "quiet_hours": ("조용한 시간", "Quiet hours"),
    "quiet_intro": (
        "이 시간에는 위급하지 않은 경보를 끝날 때까지 미룹니다. 둘 다 비우면 끕니다.",
        "Non-critical alerts wait until these hours end. Leave both empty to turn them off.",
    ),
    "quiet_start": ("시작", "From"),
    "quiet_end": ("끝", "Until"),
    "quiet_off": ("꺼짐", "off"),
    # field errors
    "err_required": ("꼭 적어 주세요.", "This is required."),
    "err_too_long": ("{max}자 이하로 적어 주세요.", "At most {max} characters."),
    "err_too_many": ("{max}개까지만 됩니다.", "At most {max} entries."),
    "err_format": ("형식이 맞지 않습니다.", "This is not in the right format."),
    "err_time": ("시각은 07:30처럼 적어 주세요.", "Write times like 07:30."),
    "err_choice": ("목록에서 골라 주세요.", "Pick one from the list."),
    "err_number": (
        "{lo}부터 {hi} 사이의 정수를 적어 주세요.",
        "Enter a whole number from {lo} to {hi}.",
    ),
    "err_duplicates": ("같은 값이 두 번 있습니다.", "The same value appears twice."),
    "err_invalid": ("올바르지 않은 값입니다.", "This value is not valid."),
    "err_email": ("이메일 주소를 적어 주세요 (예: name@example.com).", "Enter an e-mail address."),
    "err_push_target": (
        "이 어르신을 볼 수 있는 보호자나 기관 직원의 앱 아이디를 적어 주세요.",
        "Enter the app username of a caregiver or staff member who can see this senior.",
    ),
    "err_webhook_url": (
        "http:// 또는 https://로 시작하는 주소를 적어 주세요.",
        "Enter a URL that starts with http:// or https://.",
    ),
    "err_blocked_target": (
        "이 주소로는 보낼 수 없습니다 (내부망 주소).",
        "Notices cannot be sent to this address (a private network).",
    ),
    "err_contact_in_policy": (
        "비상 연락 순서에 들어 있는 연락처입니다. 먼저 순서에서 빼 주세요.",
        "This contact is in the escalation order: take it out of the order first.",
    ),
    "err_not_primary": (
        "관리자나 주 보호자만 바꿀 수 있습니다.",
        "Only an admin or the senior's primary caregiver can change this.",
    ),
    "err_contacts_foreign": (
        "이 어르신의 연락처만 고를 수 있습니다.",
        "Pick only this senior's contacts.",
    ),
    "err_policy_empty": (
        "연락처와 시간을 넣은 단계가 하나 이상 있어야 합니다.",
        "At least one tier with contacts and minutes is needed.",
    ),
    "err_quiet_both": (
        "시작과 끝을 모두 적거나 둘 다 비워 주세요.",
        "Give both times, or leave both empty.",
    ),
    "err_quiet_same": ("시작과 끝이 같을 수 없습니다.", "Start and end cannot be the same."),
    "err_days": ("요일을 하나 이상 골라 주세요.", "Pick at least one day."),
    "error_label": ("오류", "Error"),
    # a message to the robot
    "msg_title": ("로봇에게 메시지", "Message to the robot"),
    "msg_link": ("메시지 보내기", "Send a message"),
    "msg_intro": (
        "로봇이 어르신이 곁에 계실 때 읽어 드립니다. 조용한 시간과 안전 확인 중에는 기다립니다.",
        "The robot says it when the senior is there; it waits out quiet hours and safety checks.",
    ),
    "msg_text": ("메시지 (200자까지)", "Message (up to 200 characters)"),
    "msg_text_hint": ("예: 엄마, 저녁에 전화할게요", "e.g. Mom, I'll call you tonight"),
    "msg_sender": (
        "보낸 사람 (로봇이 이렇게 부릅니다, 예: 딸 지영)",
        "From (the robot says this name, e.g. your daughter Jiyoung)",
    ),
    "msg_valid": ("이 시간 안에 못 전하면 취소", "Cancel if not said within"),
    "msg_hours": ("{n}시간", "{n} hours"),
    "msg_send": ("보내기", "Send"),
    "msg_sent": (
        "로봇에 보냈습니다. 어르신이 곁에 계실 때 읽어 드립니다.",
        "Sent to the robot. It says it when the senior is there.",
    ),
    "msg_not_sent": (
        "저장했지만 로봇에 보내지 못했습니다 (로봇 없음 또는 연결 끊김).",
        "Saved, but the robot could not be reached (no robot, or offline).",
    ),
    "msg_too_many": (
        "오늘은 메시지를 더 보낼 수 없습니다 (하루 20건).",
        "No more messages today (20 a day).",
    ),
    "msg_sent_list": ("보낸 메시지", "Sent messages"),
    "msg_none": ("보낸 메시지가 없습니다.", "No messages sent yet."),
    "msg_sent_at": ("보냄 {at}", "sent {at}"),
    "msg_heard_at": ("✓ 어르신이 들으셨어요 {at}", "✓ Heard at {at}"),
    "msg_state_waiting": ("좋은 때를 기다리는 중", "Waiting for a good moment"),
    "msg_state_expired": ("시간 안에 전하지 못했습니다", "Expired before it could be said"),
    "msg_state_dropped": (
        "로봇에 메시지가 너무 많이 쌓여 전하지 못했습니다",
        "Not said: too many messages were waiting on the robot",
    ),
    "msg_state_not_sent": ("로봇에 보내지 못했습니다", "Could not be sent to the robot"),
    "ev_message": ("보호자 메시지", "Caregiver's message"),
    # 7- and 30-day trends
    "trends": ("추이", "Trends"),
    "tr_link": ("7일·30일 추이", "7- and 30-day trends"),
    "tr_period": ("기간", "Period"),
    "tr_days": ("최근 {n}일", "Last {n} days"),
    "tr_intro": (
        "하루 단위, 어르신 시간대 기준입니다. 막대가 없는 날은 기록이 없는 날입니다.",
        "By day, in the senior's time zone. A day without a bar has no data.",
    ),
    "tr_numbers": ("숫자로 보기", "Show the numbers"),
    "tr_activity": (
        "움직인 시간 (하루 분, 최근 {n}일)",
        "Minutes of movement a day, last {n} days",
    ),
    "tr_mood": (
        "기분 (0 나쁨 – 100 좋음, 하루 평균, 최근 {n}일)",
        "Mood (0 low – 100 good, daily mean, last {n} days)",
    ),
    "tr_mood_unit": ("기분 (0–100)", "Mood (0–100)"),
    "tr_talk": (
        "대화한 시간 (하루 분, 최근 {n}일)",
        "Minutes of conversation a day, last {n} days",
    ),
    "tr_adherence": (
        "알림 지킨 비율 (%, 최근 {n}일)",
        "Reminders confirmed (%, last {n} days)",
    ),
    "tr_percent": ("%", "%"),
    "tr_screenings": ("선별검사 (최근 {n}일)", "Screenings (last {n} days)"),
    "tr_no_screenings": ("이 기간에 선별검사가 없습니다.", "No screenings in this period."),
    "tr_instrument": ("검사", "Instrument"),
    "tr_score": ("점수", "Score"),
    "tr_incomplete": ("일부만 답함", "incomplete"),
}
