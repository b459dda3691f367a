"""The app's words in Korean and English, and which language a request gets."""

from collections.abc import Mapping
from typing import Literal

from cloud.app.i18n_admin import ADMIN_MESSAGES
from cloud.app.i18n_family import FAMILY_MESSAGES
from cloud.app.i18n_orgs import ORG_MESSAGES
from cloud.app.i18n_research import RESEARCH_MESSAGES

Lang = Literal["ko", "en"]
LANGS: tuple[Lang, ...] = ("ko", "en")
LANG_COOKIE = "dolbom_lang"

# key -> (Korean, English). Every message the app shows is here, in both languages.
MESSAGES: Mapping[str, tuple[str, str]] = {
    "app_name": ("돌봄", "dolbom"),
    "skip": ("본문으로 건너뛰기", "Skip to content"),
    "login_title": ("로그인", "Log in"),
    "username": ("아이디", "Username"),
    "password": ("비밀번호", "Password"),
    "login_button": ("로그인", "Log in"),
    "logout": ("로그아웃", "Log out"),
    "bad_login": ("아이디 또는 비밀번호가 틀립니다.", "Invalid username or password."),
    "rate_limited": (
        "로그인 시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
        "Too many login attempts. Try again in a moment.",
    ),
    "bad_form": (
        "양식이 만료되었거나 잘못되었습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "The form expired or is invalid. Reload the page and try again.",
    ),
    "logged_out": ("로그아웃되었습니다.", "You are logged out."),
    "not_allowed": (
        "이 계정은 돌봄 앱을 쓸 수 없습니다.",
        "This account cannot use the caregivers' app.",
    ),
    "not_found": ("찾을 수 없습니다.", "Not found."),
    "language": ("언어", "Language"),
    "nav": ("주 메뉴", "Main menu"),
    "my_seniors": ("내 어르신", "My seniors"),
    "board": ("상황판", "Triage board"),
    "no_seniors": ("연결된 어르신이 없습니다.", "No seniors are linked to you."),
    "status_ok": ("괜찮음", "OK"),
    "status_attention": ("확인 필요", "Needs attention"),
    "status_alert": ("경보", "Alert"),
    "last_life_sign": ("마지막 활동", "Last sign of life"),
    "never": ("없음", "none"),
    "robot": ("로봇", "Robot"),
    "online": ("연결됨", "online"),
    "offline": ("연결 끊김", "offline"),
    "no_robot": ("로봇 없음", "no robot"),
    "battery": ("배터리", "Battery"),
    "charging": ("충전 중", "charging"),
    "unknown": ("알 수 없음", "unknown"),
    "faults": ("고장", "Faults"),
    "no_faults": ("없음", "none"),
    "open_alerts": ("처리 중인 경보", "Open alerts"),
    "no_open_alerts": ("처리 중인 경보가 없습니다.", "No open alerts."),
    "activity_chart": (
        "움직인 시간 (하루 분, 최근 7일)",
        "Minutes of movement a day, last 7 days",
    ),
    "day": ("날짜", "Day"),
    "minutes": ("분", "Minutes"),
    "timeline": ("최근 기록 (최근 50건)", "Timeline (last 50 events)"),
    "no_events": ("기록이 없습니다.", "No events yet."),
    "when": ("시각", "When"),
    "what": ("무엇", "What"),
    "alert": ("경보", "Alert"),
    "severity": ("심각도", "Severity"),
    "state": ("상태", "State"),
    "raised": ("발생", "Raised"),
    "acknowledged_by": ("확인한 사람", "Acknowledged by"),
    "resolved_by": ("해결한 사람", "Resolved by"),
    "escalation": ("알림 단계", "Escalation tier"),
    "next_step": ("다음 알림", "next notification at"),
    "who_was_told": ("알림 받은 곳", "Who was told"),
    "nobody_told": ("아직 아무에게도 알리지 않았습니다.", "Nobody has been told yet."),
    "history": ("경과", "History"),
    "ack_button": ("제가 갈게요 (확인)", "I'm on it (acknowledge)"),
    "resolve_button": ("해결됨", "Resolve"),
    "resolve_note": ("어떻게 끝났나요? (선택)", "How did it end? (optional)"),
    "acked_done": (
        "확인했습니다. 로봇이 어르신께 누가 오는지 알려 드립니다.",
        "Acknowledged. The robot tells the senior who is coming.",
    ),
    "robot_not_told": (
        "확인은 저장했지만 로봇에 전하지 못했습니다.",
        "Acknowledged, but the robot could not be told.",
    ),
    "resolved_done": ("해결로 기록했습니다.", "Recorded as resolved."),
    "state_conflict": (
        "이 경보는 이미 다른 상태입니다. 페이지를 새로 고치세요.",
        "This alert has already moved on. Reload the page.",
    ),
    "senior": ("어르신", "Senior"),
    "region": ("지역", "Region"),
    "all_regions": ("전체 지역", "All regions"),
    "filter": ("보기", "Filter"),
    "worker": ("담당자", "Worker"),
    "all_workers": ("전체 담당자", "All workers"),
    "csv": ("CSV 내려받기", "Download CSV"),
    "board_live": ("15초마다 새로 고침", "Refreshes every 15 s"),
    "report": ("일일 보고서", "Daily report"),
    "print_report": ("인쇄용 보고서", "Printable report"),
    "report_made": ("작성 {at}", "Made {at}"),
    "report_count": ("대상자 {n}명", "{n} seniors"),
    "back_to_board": ("상황판으로 돌아가기", "Back to the board"),
    "risk": ("위험 순위", "Risk rank"),
    "hours_ago": ("{n}시간 전", "{n} h ago"),
    "minutes_ago": ("{n}분 전", "{n} min ago"),
    "push_enable": ("이 기기에서 경보 알림 받기", "Get alert notifications on this device"),
    "push_saved": ("이 기기에서 알림을 받습니다.", "This device now gets notifications."),
    "push_failed": ("알림을 켜지 못했습니다.", "Notifications could not be turned on."),
    "bad_subscription": (
        "알림 구독 정보가 잘못되었습니다.",
        "The push subscription is invalid.",
    ),
    "footer": (
        "어르신의 말이나 소리는 여기에 없습니다.",
        "No words or sounds of the senior are ever shown here.",
    ),
    # notification channels and how a delivery went
    "ch_webhook": ("웹훅", "webhook"),
    "ch_email": ("이메일", "e-mail"),
    "ch_sse": ("앱 실시간", "app (live)"),
    "ch_push": ("휴대폰 알림", "phone notification"),
    "dl_pending": ("보내는 중", "sending"),
    "dl_delivered": ("전달됨", "delivered"),
    "dl_dead": ("실패", "failed"),
    # alert kinds
    "kind_emergency": ("긴급 호출", "Emergency call"),
    "kind_fall": ("낙상", "Fall"),
    "kind_no_response": ("응답 없음", "No response"),
    "kind_inactivity": ("활동 없음", "No activity"),
    "kind_device_offline": ("로봇 연결 끊김", "Robot offline"),
    "kind_missed_medication": ("복약 누락", "Missed medication"),
    "kind_mood_decline": ("기분 저하", "Mood decline"),
    "kind_low_battery": ("배터리 부족", "Low battery"),
    "kind_device_fault": ("로봇 고장", "Robot fault"),
    "kind_screening": ("선별검사 기준 초과", "Screening over threshold"),
    "kind_distress_sound": ("고통스러운 소리", "Distress sound"),
    # alert states
    "st_open": ("발생", "open"),
    "st_notified": ("알림 보냄", "notified"),
    "st_acknowledged": ("확인됨", "acknowledged"),
    "st_resolved": ("해결됨", "resolved"),
    "st_cancelled": ("취소됨", "cancelled"),
    "st_expired": ("저절로 해소", "cleared by itself"),
    # severities
    "sev_critical": ("위급", "critical"),
    "sev_major": ("중요", "major"),
    "sev_high": ("높음", "high"),
    "sev_minor": ("낮음", "minor"),
    "sev_warning": ("주의", "warning"),
    "sev_normal": ("보통", "normal"),
    "sev_info": ("정보", "info"),
    # event types (labels only: the timeline shows no words)
    "ev_heartbeat": ("로봇 상태 보고", "Robot heartbeat"),
    "ev_emergency": ("긴급 호출", "Emergency call"),
    "ev_fall": ("낙상 감지", "Fall detected"),
    "ev_no_response": ("응답 없음", "No response"),
    "ev_inactivity": ("활동 없음", "No activity"),
    "ev_check_in": ("안부 확인", "Check-in"),
    "ev_mood": ("기분", "Mood"),
    "ev_activity": ("활동", "Activity"),
    "ev_conversation": ("대화", "Conversation"),
    "ev_reminder": ("알림(약, 식사)", "Reminder"),
    "ev_screening": ("선별검사", "Screening"),
    "ev_touch": ("쓰다듬기", "Touch"),
    "ev_battery": ("배터리", "Battery"),
    "ev_device_fault": ("로봇 고장", "Robot fault"),
    "ev_consent": ("동의", "Consent"),
    "ev_safety_check": ("안전 확인 (괜찮다고 하심)", "Safety check (said they are fine)"),
}
MESSAGES = {**MESSAGES, **FAMILY_MESSAGES}  # the family pages' words (cloud.app.i18n_family)
MESSAGES = {**MESSAGES, **ADMIN_MESSAGES}  # the admin and installer pages' (i18n_admin)
MESSAGES = {**MESSAGES, **ORG_MESSAGES}  # the organisation pages' (cloud.app.i18n_orgs)
MESSAGES = {**MESSAGES, **RESEARCH_MESSAGES}  # the researcher's pages' (i18n_research)


def message(lang: Lang, key: str, **values: object) -> str:
    """The message `key` in `lang` (the key itself if unknown, so a gap shows, never a crash)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    text = pair[0] if lang == "ko" else pair[1]
    return text.format(**values) if values else text


def pick_language(cookie: str | None, accept_language: str | None) -> Lang:
    """The switch's cookie, else the best of Korean/English in Accept-Language, else Korean."""
    if cookie in LANGS:
        return "en" if cookie == "en" else "ko"
    best: tuple[float, int, Lang] | None = None
    for index, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if not 0.0 < q <= 1.0:
            continue
        lang: Lang = "en" if primary == "en" else "ko"
        if best is None or (q, -index) > (best[0], -best[1]):
            best = (q, index, lang)
    return best[2] if best is not None else "ko"
