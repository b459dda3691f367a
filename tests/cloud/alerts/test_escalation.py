"""The pure escalation planner and quiet hours, driven by a fake clock."""

from datetime import UTC, datetime, timedelta

import pytest

from cloud.alerts.escalation import (
    EscalationConfig,
    Plan,
    Policy,
    Position,
    Tier,
    parse_policy,
    plan,
    quiet_until,
)
from cloud.errors import ConfigError
from cloud.store.models import Severity

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
POLICY = Policy(
    (
        Tier((1,), timeout_s=600, renotify_s=300),
        Tier((2, 3), timeout_s=600, renotify_s=None),
        Tier((4,), timeout_s=900, renotify_s=300),
    )
)


def run(
    policy: Policy, until_s: float, step_s: float = 30.0
) -> list[tuple[float, tuple[int, ...]]]:
    """Simulate a worker polling every `step_s`: (elapsed, contacts) for each notification."""
    due, due_at = Position(0, 0), T0
    told = []
    t = 0.0
    while t <= until_s:
        now = T0 + timedelta(seconds=t)
        if now >= due_at:
            p = plan(policy, due, due_at, now)
            if p.notify:
                told.append((t, p.notify))
            if p.next is None or p.next_due is None:
                break
            due, due_at = p.next, p.next_due
        t += step_s
    return told


def test_nobody_acknowledges_tiers_advance_and_the_last_keeps_ringing() -> None:
    told = run(POLICY, 3600)
    assert told[:5] == [(0, (1,)), (300, (1,)), (600, (2, 3)), (1200, (4,)), (1500, (4,))]
    assert [c for _, c in told[4:]] == [(4,)] * (len(told) - 4)
    assert told[-1][0] == 3600  # still ringing an hour in


def test_the_last_tier_without_renotify_still_repeats() -> None:
    policy = Policy((Tier((1,), timeout_s=60), Tier((2,), timeout_s=120)))
    assert run(policy, 400, step_s=10) == [(0, (1,)), (60, (2,)), (180, (2,)), (300, (2,))]


def test_a_single_tier_without_timings_repeats_by_default() -> None:
    told = run(Policy((Tier((7,), timeout_s=0),)), 1000, step_s=100)
    assert told == [(0, (7,)), (300, (7,)), (600, (7,)), (900, (7,))]


def test_a_step_not_yet_due_notifies_nobody() -> None:
    p = plan(POLICY, Position(1, 0), T0 + timedelta(seconds=600), T0 + timedelta(seconds=599))
    assert p == Plan((), None, Position(1, 0), T0 + timedelta(seconds=600))


def test_a_late_step_catches_up_every_tier_it_passed_once() -> None:
    p = plan(POLICY, Position(0, 1), T0 + timedelta(seconds=300), T0 + timedelta(seconds=1300))
    assert p.notify == (1, 2, 3, 4)
    assert p.position == Position(2, 0)
    assert p.next == Position(2, 1)
    assert p.next_due == T0 + timedelta(seconds=1500)


def test_a_postponed_step_shifts_the_whole_schedule() -> None:
    later = T0 + timedelta(hours=8)
    first = plan(POLICY, Position(0, 0), later, later)
    assert first.notify == (1,)
    assert first.next_due == later + timedelta(seconds=300)


def test_a_non_persistent_policy_ends_after_the_last_tier() -> None:
    policy = Policy(POLICY.tiers, persistent=False)
    assert run(policy, 5000) == [(0, (1,)), (300, (1,)), (600, (2, 3)), (1200, (4,))]


def test_device_alerts_go_once_to_the_device_contacts() -> None:
    config = EscalationConfig(POLICY, device_contact_ids=(9,))
    assert run(config.for_device_alerts(), 5000) == [(0, (9,))]
    assert run(EscalationConfig(POLICY).for_device_alerts(), 5000) == [(0, (1,))]


@pytest.mark.parametrize(
    ("severity", "persistent"),
    [(Severity.CRITICAL, True), (Severity.MAJOR, True), (Severity.MINOR, False)],
)
def test_only_critical_and_major_alerts_chase_forever(severity: Severity, persistent: bool) -> None:
    assert EscalationConfig(POLICY).for_severity(severity).persistent is persistent


def test_info_alerts_reach_the_first_tier_only() -> None:
    assert run(EscalationConfig(POLICY).for_severity(Severity.INFO), 5000) == [(0, (1,))]


def test_parse_policy_reads_tiers_and_the_device_audience() -> None:
    config = parse_policy(
        {
            "tiers": [
                {"contact_ids": [1], "timeout_s": 60, "renotify_s": 30},
                {"contact_ids": [2]},
            ],
            "device_contact_ids": [5],
        }
    )
    assert config.care.tiers == (Tier((1,), 60.0, 30.0), Tier((2,), 0.0, None))
    assert config.device_contact_ids == (5,)


def test_parse_policy_accepts_a_bare_list() -> None:
    assert parse_policy([{"contact_ids": [1], "timeout_s": 5}]).care.tiers == (Tier((1,), 5.0),)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "escalation policy: tiers: 꼭 필요한 키입니다 / Field required"),
        ({"tiers": []}, "tiers: 항목이 모자랍니다 / List should have at least 1 item"),
        ({"tiers": [{"contact_ids": "1"}]}, "tiers.0.contact_ids = '1': 목록이어야 합니다"),
        ({"tiers": [{"contact_ids": [1], "timeout_s": -1}]}, "tiers.0.timeout_s = -1: "),
        ({"tiers": [{"contact_ids": [1], "renotify_s": "x"}]}, "tiers.0.renotify_s = 'x': 숫자"),
        ({"tiers": [{"contact_ids": [True]}]}, "tiers.0.contact_ids.0 = True: 정수여야"),
        ({"tiers": [{"contact_ids": [0]}]}, "tiers.0.contact_ids.0 = 0: "),
        ({"tiers": [{"contact_ids": []}]}, "tiers.0.contact_ids: 항목이 모자랍니다"),
        ({"tiers": [{"contact_ids": [1], "timeout_s": float("nan")}]}, "유한한 숫자여야"),
        ({"tiers": [{"contact_ids": [1], "timeout_s": 1e300}]}, "tiers.0.timeout_s = 1e+300"),
        ({"tiers": [{"contact_ids": [1], "url": "http://x"}]}, "tiers.0.url = 'http://x': 알 수"),
        ({"tiers": [{"contact_ids": [1]}] * 21}, "tiers: 항목이 너무 많습니다"),
        ({"tiers": [{"contact_ids": [1]}], "device_contact_ids": "5"}, "device_contact_ids"),
        ({"tiers": ["tier"]}, "tiers.0 = 'tier': 표(객체)여야 합니다"),
    ],
)
def test_parse_policy_names_the_key_and_the_reason_in_korean_and_english(
    doc: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(doc)
    assert message in str(caught.value)
    assert " / " in str(caught.value)


def test_parse_policy_names_its_source_and_every_problem() -> None:
    doc = {"tiers": [{"contact_ids": ["a"], "timeout_s": "soon"}]}
    with pytest.raises(ConfigError) as caught:
        parse_policy(doc, source="senior s-1's policy")
    lines = str(caught.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "tiers.0.contact_ids.0 = 'a'",
        "tiers.0.timeout_s = 'soon'",
    ]
    assert all(line.startswith("senior s-1's policy: ") for line in lines)


SEOUL_NIGHT = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 23:30 in Seoul


def test_quiet_hours_hold_a_minor_alert_until_the_local_morning() -> None:
    until = quiet_until("22:00", "07:00", "Asia/Seoul", Severity.MINOR, SEOUL_NIGHT)
    assert until == datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # 07:00 on the 28th in Seoul


def test_quiet_hours_after_midnight_release_the_same_morning() -> None:
    night = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 03:00 on the 28th in Seoul
    assert quiet_until("22:00", "07:00", "Asia/Seoul", Severity.WARNING, night) == datetime(
        2026, 11, 27, 22, 0, tzinfo=UTC
    )


def test_critical_alerts_ignore_quiet_hours() -> None:
    assert quiet_until("22:00", "07:00", "Asia/Seoul", Severity.CRITICAL, SEOUL_NIGHT) is None


def test_daytime_is_not_quiet() -> None:
    noon = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert quiet_until("22:00", "07:00", "Asia/Seoul", Severity.MINOR, noon) is None
    assert quiet_until(None, None, "Asia/Seoul", Severity.MINOR, SEOUL_NIGHT) is None


def test_a_daytime_window_holds_until_its_end() -> None:
    nap = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 14:00 in Seoul
    assert quiet_until("13:00", "15:00", "Asia/Seoul", Severity.MINOR, nap) == datetime(
        2026, 11, 27, 6, 0, tzinfo=UTC
    )


def test_bad_quiet_hours_and_zones_are_named() -> None:
    with pytest.raises(ConfigError, match="quiet_hours_start must be 'HH:MM'"):
        quiet_until("10pm", "07:00", "Asia/Seoul", Severity.MINOR, SEOUL_NIGHT)
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Base'"):
        quiet_until("22:00", "07:00", "Mars/Base", Severity.MINOR, SEOUL_NIGHT)
