"""The researcher's pages in Debian's chromium: a coordinator opens the study, imports a CSV of
visits with a bad row (the error names its line, nothing is stored), then the corrected file,
and the study's completeness follows; a coordinator creates a study with its arms, publishes
its consent form, enrols a senior and withdraws them (refusals on the way); axe-core finds no
serious WCAG 2.2 AA violation on the research pages in Korean and English at phone and
desktop size."""

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import Assessment, ConsentForm, Participant, Study
from tests.app.browser.pages import DESKTOP, PHONE, _fits, _open, _serious, _shot
from tests.app.test_research_pages import (  # noqa: F401  (the study fixture)
    HEADER,
    STUDY,
    VISIT,
    Research,
    research,
)
from tests.cloud.api.conftest import PASSWORD, FakePublisher


def _login(page: Page, username: str) -> None:
    """Log in; study staff and researchers land on their studies."""
    page.goto("/app/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/research")


def _row(page: Page, time_point: str, instrument: str = "ucla3") -> tuple[str, str, str]:
    row = f'#completeness tr[data-tp="{time_point}"][data-instrument="{instrument}"]'
    return (
        page.inner_text(f"{row} td.due"),
        page.inner_text(f"{row} td.done"),
        page.inner_text(f"{row} td.overdue"),
    )


def _problems(page: Page) -> list[str]:
    """Console errors and page errors, less the log line of the refused import's own 422."""
    seen: list[str] = page.problems  # type: ignore[attr-defined]
    return [p for p in seen if "status of 422" not in p]


def _stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Assessment)) or 0)


def test_a_coordinator_imports_visits_and_completeness_follows(
    chromium: Browser,
    base_url: str,
    research: Research,  # noqa: F811
    sessions: sessionmaker[Session],
) -> None:
    a, b = research.codes[:2]
    page = _open(chromium, base_url, DESKTOP, "en-US")
    _login(page, "cora")
    page.click("text=돌봄 파일럿")
    page.wait_for_selector("h1 >> text=돌봄 파일럿")
    assert _row(page, "baseline") == ("10", "0", "10")
    page.click("nav >> text=Import assessments (CSV)")
    page.wait_for_selector("h1 >> text=Import assessments (CSV)")
    good = f"{a},ucla3,{VISIT},,1,1,1,,\n{b},ucla3,{VISIT},,,,,4,paper form\n"
    bad = HEADER + good + f"{a},ucla3,{VISIT},week4,,,,12,paper form\n"
    page.set_input_files(
        "#file", {"name": "visits.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#import-problems")
    assert "Nothing was imported." in page.inner_text("#import-problems")
    cells = page.locator("#import-problems tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["4", "total", "outside 3-9"]
    assert _stored(sessions) == 0  # nothing half-imported
    page.set_input_files(
        "#file",
        {"name": "visits.csv", "mimeType": "text/csv", "buffer": (HEADER + good).encode()},
    )
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#import-result >> text=Imported 2 assessments (1 as a total only).")
    assert _stored(sessions) == 2
    page.click("text=Back to the study")
    page.wait_for_selector("#completeness")
    assert _row(page, "baseline") == ("10", "2", "8")
    assert _row(page, "week4") == ("10", "0", "10")
    _shot(page, "research-study-desktop")
    assert _problems(page) == []


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violation_on_the_research_pages(
    chromium: Browser,
    base_url: str,
    research: Research,  # noqa: F811
    lang: str,
    viewport: dict[str, int],
) -> None:
    page = _open(chromium, base_url, viewport, lang)
    _login(page, "cora")
    study = f"/app/research/studies/{STUDY}"
    found: dict[str, list[str]] = {}
    wide: list[str] = []
    for name, url in (
        ("studies", "/app/research"),
        ("new study", "/app/research/new"),
        ("study", study),
        ("participant", f"{study}/participants/{research.codes[0]}"),
        ("export", f"{study}/export?k=5"),
        ("import", f"{study}/import"),
    ):
        page.goto(url)
        found[name] = _serious(page)
        if not _fits(page, viewport["width"]):
            wide.append(name)
    page.set_input_files(
        "#file",
        {"name": "x.csv", "mimeType": "text/csv", "buffer": (HEADER + "P-000000,x,y\n").encode()},
    )
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("#import-problems")
    found["import errors"] = _serious(page)
    if viewport == PHONE and lang == "ko-KR":
        _shot(page, "research-import-error-phone")
    assert found == {name: [] for name in found}
    assert wide == []
    assert _problems(page) == []


def _submit(page: Page, form: str) -> None:
    """Submit a form and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
def test_a_coordinator_creates_a_study_publishes_consent_enrols_and_withdraws(
    chromium: Browser,
    base_url: str,
    research: Research,  # noqa: F811
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
    lang: str,
) -> None:
    viewport = PHONE if lang == "ko-KR" else DESKTOP
    page = _open(chromium, base_url, viewport, lang)
    _login(page, "cora")
    found: dict[str, list[str]] = {}
    wide: list[str] = []

    def check(name: str) -> None:
        found[name] = _serious(page)
        if not _fits(page, viewport["width"]):
            wide.append(name)

    page.click("a[href='/app/research/new']")
    page.wait_for_selector("#new-study")
    check("new study")
    page.fill("#id", "trial-2")
    page.fill("#title", "Walking together")
    for i in (1, 2):  # no arms: refused, nothing created
        page.fill(f"#arm_code_{i}", "")
        page.fill(f"#arm_label_{i}", "")
    _submit(page, "#new-study")
    page.wait_for_selector("#create-error")
    assert page.get_attribute("#arm_code_1", "aria-invalid") == "true"
    assert page.input_value("#title") == "Walking together"  # what was typed is kept
    check("new study error")
    page.fill("#arm_code_1", "robot")
    page.fill("#arm_label_1", "로봇과 함께")
    page.fill("#arm_code_2", "usual")
    page.fill("#arm_label_2", "Usual care")
    _submit(page, "#new-study")
    page.wait_for_url("**/app/research/studies/trial-2?created=1")
    page.wait_for_selector("#study-notice")
    assert page.locator("#arms tbody tr").count() == 2
    check("new study page")
    page.fill("#cf_version", "v1")
    _submit(page, "#publish-form")  # no stream ticked: refused by the server
    page.wait_for_selector("#cf-error")
    check("publish error")
    page.check("#publish-form input[name=stream_mood]")
    page.check("#publish-form input[name=stream_screening]")
    page.fill("#cf_summary", "기분과 선별검사만 / mood and screening only")
    _submit(page, "#publish-form")
    page.wait_for_selector("#study-notice")
    assert page.locator("#consent-forms tbody tr td").first.inner_text() == "v1"
    page.fill("#senior_id", "s-3")
    page.select_option("#arm", "robot")
    page.fill("#device_id", "dev-3")
    _submit(page, "form[action$='/enrol']")
    page.wait_for_selector("#identity")
    page.check("input[name=stream_mood]")
    _submit(page, "form[action$='/consent']")
    page.wait_for_selector("#withdraw-form")
    check("participant")
    _submit(page, "#withdraw-form")  # not confirmed: refused
    page.wait_for_selector("#withdraw-error")
    check("withdraw error")
    page.fill("#reason", "moved to a care home")
    page.check("#confirm")
    _submit(page, "#withdraw-form")
    page.wait_for_selector("p.msg.good[role=status]")
    assert page.locator("#withdraw-form").count() == 0
    check("withdrawn")
    if lang == "ko-KR":
        _shot(page, "research-withdrawn-phone")
    assert found == {name: [] for name in found}
    assert wide == []
    assert _problems(page) == []
    with sessions() as s:
        study = s.get(Study, "trial-2")
        assert study is not None
        assert study.title == "Walking together"
        forms = s.scalars(select(ConsentForm).where(ConsentForm.study_id == "trial-2")).all()
        assert [(f.version, f.streams) for f in forms] == [("v1", ["mood", "screening"])]
        person = s.scalars(select(Participant).where(Participant.study_id == "trial-2")).one()
        assert (person.arm, person.status.value) == ("robot", "withdrawn")
    assert [c.type.value for d, c in publisher.sent if d == "dev-3"][-3:] == [
        "consent",
        "schedule",
        "data_deletion",
    ]
