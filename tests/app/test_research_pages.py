"""The researcher's pages on SQLite and PostgreSQL: studies, a study (enrolment per arm,
consent per stream, completeness, daily-metric charts), enrolment and consent by study staff,
the report, exports with their disclosure report, and the CSV import (all or nothing, errors
naming line and column); RBAC as the API's (researchers never see identities nor act as
staff, caregivers get 403), audited; hostile uploads and forms refused."""

import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.accounts.access import SERVICE
from cloud.research.bulk_import import MAX_BYTES
from cloud.research.studies import (
    create_study,
    enrol,
    get_participant,
    publish_consent_form,
    set_consent,
    withdraw,
)
from cloud.store.models import (
    Assessment,
    AuditLog,
    ConsentForm,
    ConsentRecord,
    DailyMetric,
    Device,
    Participant,
    Retention,
    Role,
    Senior,
    Study,
)
from protocol import CommandType
from protocol.consent import DataStream
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import PASSWORD, FakePublisher, World
from tests.cloud.helpers import NOW

ENROLLED = NOW - timedelta(days=40)  # baseline and week 4 are due; week 4's window has closed
STUDY = "pilot"
ALL = {s.value: True for s in DataStream}
HEADER = "participant,instrument,visit_date,time_point,item_1,item_2,item_3,total,total_reason\n"
VISIT = (ENROLLED + timedelta(days=1)).date().isoformat()


@dataclass
class Research:
    codes: list[str]  # pilot's participants; codes[0] is 김순자 (s-a), intervention
    other: str  # a participant of another study


@pytest.fixture
def research(world: World, passwords: Passwords) -> Research:
    """A two-arm study of ten seniors (five per arm) with all streams consented, a day of
    metrics for one, and another study; a coordinator account 'cora'."""
    codes: list[str] = []
    with world.sessions() as s, s.begin():
        cora = create_account(
            s, passwords, username="cora", role=Role.COORDINATOR, password=PASSWORD, now=NOW
        )
        world.ids["cora"] = cora.id
        for n in range(8):
            s.add(Senior(id=f"s-{n}", display_name=f"어르신{n}", settings={}, created_at=NOW))
            s.flush()
            s.add(Device(id=f"dev-{n}", senior_id=f"s-{n}", first_seen=NOW, last_seen=NOW))
        s.flush()
        for study_id, title in ((STUDY, "돌봄 파일럿"), ("other", "Other study")):
            create_study(s, SERVICE, ENROLLED, study_id=study_id, title=title)
            publish_consent_form(
                s, SERVICE, ENROLLED, study_id=study_id, version="v1", streams=list(ALL)
            )
        seniors = ["s-a", "s-b", *(f"s-{n}" for n in range(8))]
        for i, senior_id in enumerate(seniors):
            p = enrol(
                s,
                SERVICE,
                ENROLLED,
                study_id=STUDY,
                senior_id=senior_id,
                arm="intervention" if i % 2 == 0 else "control",
                device_id=f"dev-{senior_id[2:]}",
                birth_year=1945,
                sex="f",
                region="서울특별시 종로구",
            )
            set_consent(s, SERVICE, ENROLLED, participant=p, form_version="v1", streams=ALL)
            codes.append(p.code)
            if i == 0:
                s.add(
                    DailyMetric(
                        participant_id=p.id,
                        day=(NOW - timedelta(days=1)).date(),
                        talk_minutes=12.0,
                        hours_with_data=10,
                        device_up_hours=24,
                        model_versions={},
                        computed_at=NOW,
                    )
                )
        other = enrol(s, SERVICE, ENROLLED, study_id="other", senior_id="s-a", arm="control")
        set_consent(s, SERVICE, ENROLLED, participant=other, form_version="v1", streams=ALL)
        return Research(codes, other.code)


def _audit(sessions: sessionmaker[Session], actor: str) -> list[tuple[str, str]]:
    with sessions() as s:
        return [
            (a.action, a.resource)
            for a in s.scalars(select(AuditLog).where(AuditLog.actor == actor))
        ]


def _count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _completeness(html: str, time_point: str, instrument: str = "ucla3") -> tuple[int, int, int]:
    """(due, done, overdue) of one row of the completeness table."""
    row = html.split(f'data-tp="{time_point}" data-instrument="{instrument}"')[1].split("</tr>")[0]
    cells = [row.split(f'class="{c}">')[1].split("<")[0] for c in ("due", "done", "overdue")]
    return int(cells[0]), int(cells[1]), int(cells[2])


async def _upload(
    browser: Browser, data: bytes, *, csrf: bool = True, name: str = "visits.csv"
) -> httpx.Response:
    fields = {"csrf": browser.csrf} if csrf else {}
    return await browser.http.post(
        f"/app/research/studies/{STUDY}/import",
        data=fields,
        files={"file": (name, data, "text/csv")},
    )


async def test_a_researcher_sees_the_study_by_code_only(
    browser: Browser, research: Research, world: World
) -> None:
    await browser.login("rita")
    r = await browser.get("/app/")
    assert r.status_code == 303
    assert r.headers["location"] == "/app/research"
    r = await browser.get("/app/research")
    assert r.status_code == 200
    assert "돌봄 파일럿" in r.text
    assert "Other study" in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}")
    assert r.status_code == 200
    page = r.text
    assert all(code in page for code in research.codes)
    assert research.other not in page
    for identity in ("김순자", "박말순", "s-a", "dev-a", "어르신0"):
        assert identity not in page  # de-identified: never a name, a senior or a robot id
    # Enrolment per arm: five each, none withdrawn.
    arms = page.split('id="arms"')[1].split("</table>")[0]
    assert "<td>intervention</td><td>Intervention</td><td>5</td><td>5</td><td>0</td>" in arms
    assert "<td>control</td><td>Control</td><td>5</td><td>5</td><td>0</td>" in arms
    # Completeness: everyone is due baseline and week 4 (window closed: overdue); week 8 not yet.
    assert _completeness(page, "baseline") == (10, 0, 10)
    assert _completeness(page, "week4") == (10, 0, 10)
    assert _completeness(page, "week8") == (0, 0, 0)
    # The daily-metric chart: the intervention arm's talk minutes yesterday (a table beside it).
    assert 'role="img"' in page
    assert "<td>12.0</td><td>1</td>" in page
    assert "/enrol" not in page
    assert "/import" not in page
    code = research.codes[0]
    r = await browser.get(f"/app/research/studies/{STUDY}/participants/{code}")
    assert r.status_code == 200
    assert code in r.text
    assert "Identity" not in r.text
    assert "김순자" not in r.text
    assert "/consent" not in r.text
    assert "mood: <strong>yes</strong>" in r.text
    audited = _audit(world.sessions, "researcher:rita")
    assert ("read", "study") in audited
    assert ("read", "participant") in audited
    assert ("read", "daily_metric") in audited
    assert ("read", "identity") not in audited


@pytest.mark.parametrize("who", ["alice", "ian"])
async def test_caregivers_and_installers_get_403_audited(
    browser: Browser, research: Research, world: World, who: str
) -> None:
    await browser.login(who)
    for url in (
        "/app/research",
        f"/app/research/studies/{STUDY}",
        f"/app/research/studies/{STUDY}/participants/{research.codes[0]}",
        f"/app/research/studies/{STUDY}/export.zip",
        f"/app/research/studies/{STUDY}/report",
    ):
        r = await browser.get(url)
        assert r.status_code == 403, url
        assert "This account cannot use the research pages." in r.text
        assert research.codes[0] not in r.text.split("<main")[1].split("</main>")[0]
    with world.sessions() as s:
        denied = s.scalars(select(AuditLog.resource).where(AuditLog.action == "denied")).all()
    assert "http_403" in denied


async def test_a_caregivers_posts_are_refused_and_change_nothing(
    browser: Browser, research: Research, world: World, publisher: FakePublisher
) -> None:
    await browser.login("alice")
    await browser.get("/app/")
    code = research.codes[0]
    for url, data in (
        (f"/app/research/studies/{STUDY}/enrol", {"senior_id": "s-a", "arm": "control"}),
        (
            f"/app/research/studies/{STUDY}/participants/{code}/consent",
            {"form_version": "v1", "stream_mood": "1"},
        ),
    ):
        r = await browser.post(url, data)
        assert r.status_code == 403, url
    r = await _upload(browser, (HEADER + f"{code},ucla3,{VISIT},,1,1,1,,\n").encode())
    assert r.status_code == 403
    assert _count(world.sessions, Participant) == 11
    assert _count(world.sessions, Assessment) == 0
    assert publisher.sent == []


async def test_a_withdrawn_participant_takes_no_consent_and_no_import(
    browser: Browser, research: Research, world: World, publisher: FakePublisher
) -> None:
    code = research.codes[1]
    with world.sessions() as s, s.begin():
        p = get_participant(s, STUDY, code)
        withdraw(s, SERVICE, NOW, participant=p)
    await browser.login("cora")
    r = await browser.get(f"/app/research/studies/{STUDY}/participants/{code}")
    assert r.status_code == 200
    assert "withdrawn" in r.text
    assert "/consent" not in r.text  # no consent form offered
    before = _count(world.sessions, ConsentRecord)
    r = await browser.post(
        f"/app/research/studies/{STUDY}/participants/{code}/consent",
        {"form_version": "v1", "stream_mood": "1"},
    )
    assert r.status_code == 409
    assert "The participant has withdrawn." in r.text
    assert _count(world.sessions, ConsentRecord) == before
    r = await _upload(browser, (HEADER + f"{code},ucla3,{VISIT},,1,1,1,,\n").encode())
    assert r.status_code == 422
    assert "the participant has withdrawn" in r.text
    r = await browser.http.post(
        "/app/research/studies/nope/import",
        data={"csrf": browser.csrf},
        files={"file": ("v.csv", b"x", "text/csv")},
    )
    assert r.status_code == 404
    assert _count(world.sessions, Assessment) == 0
    assert publisher.sent == []


async def test_signed_out_goes_to_login(browser: Browser, research: Research) -> None:
    r = await browser.get(f"/app/research/studies/{STUDY}")
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login"


async def test_a_coordinator_enrols_and_records_consent(
    browser: Browser, research: Research, world: World, publisher: FakePublisher
) -> None:
    with world.sessions() as s, s.begin():
        s.add(Senior(id="s-new", display_name="최영희", settings={}, created_at=NOW))
        s.flush()
        s.add(Device(id="dev-new", senior_id="s-new", first_seen=NOW, last_seen=NOW))
    await browser.login("cora")
    r = await browser.get(f"/app/research/studies/{STUDY}")
    assert 'action="/app/research/studies/pilot/enrol"' in r.text
    enrol_url = f"/app/research/studies/{STUDY}/enrol"
    form = {"senior_id": "s-new", "arm": "control", "device_id": "dev-new", "birth_year": "1944"}
    # Refusals, each shown in the page's language with what was typed kept; nothing enrolled.
    for data, status, text in (
        (form | {"senior_id": "s-nobody"}, 422, "No senior with that id."),
        (form | {"senior_id": "s-a"}, 409, "already enrolled in the study"),
        (form | {"device_id": "dev-a"}, 422, "That robot is not registered"),
        (form | {"birth_year": "19x4"}, 422, "The birth year is not plausible."),
        (form | {"arm": "placebo"}, 422, "The study has no such arm."),
        (form | {"arm": "Bad Arm!"}, 422, "Not saved: check the input."),
    ):
        r = await browser.post(enrol_url, data)
        assert r.status_code == status, data
        assert text in r.text
        assert f'value="{data["senior_id"]}"' in r.text
    r = await browser.http.post(enrol_url, data=form)  # no CSRF token
    assert r.status_code == 403
    assert _count(world.sessions, Participant) == 11
    r = await browser.post(enrol_url, form)
    assert r.status_code == 303
    r = await browser.get(r.headers["location"])
    assert "Now record consent." in r.text
    assert "최영희 (s-new)" in r.text
    assert "dev-new" in r.text
    with world.sessions() as s:
        new = s.scalars(select(Participant).order_by(Participant.id.desc())).first()
        assert new is not None
        assert new.arm == "control"
        assert new.birth_year == 1944
    code = new.code
    r = await browser.post(
        f"/app/research/studies/{STUDY}/participants/{code}/consent",
        {"form_version": "v1", "stream_mood": "1", "stream_screening": "1", "retention": "retain"},
    )
    assert r.status_code == 200
    assert "Commands sent to the robot: 2 of 2." in r.text
    assert "mood: <strong>yes</strong>" in r.text
    assert "activity: <strong>no</strong>" in r.text
    assert [(d, c.type) for d, c in publisher.sent] == [
        ("dev-new", CommandType.CONSENT),
        ("dev-new", CommandType.SCHEDULE),
    ]
    with world.sessions() as s:
        granted = dict(
            s.execute(
                select(ConsentRecord.stream, ConsentRecord.granted).where(
                    ConsentRecord.participant_id == new.id
                )
            ).all()
        )
    assert granted == {s.value: s.value in ("mood", "screening") for s in DataStream}
    r = await browser.post(
        f"/app/research/studies/{STUDY}/participants/{code}/consent",
        {"form_version": "v9", "stream_mood": "1"},
    )
    assert r.status_code == 422
    assert "No such consent form version." in r.text
    audited = _audit(world.sessions, "coordinator:cora")
    assert ("enrol", "participant") in audited
    assert ("consent", "participant") in audited
    assert ("read", "identity") in audited


async def test_a_closed_study_takes_no_enrolment(
    browser: Browser, research: Research, world: World
) -> None:
    with world.sessions() as s, s.begin():
        s.add(Senior(id="s-new", display_name="최영희", settings={}, created_at=NOW))
        study = s.get(Study, STUDY)
        assert study is not None
        study.closed = True
    await browser.login("cora")
    r = await browser.get(f"/app/research/studies/{STUDY}")
    assert "closed to enrolment" in r.text
    r = await browser.post(
        f"/app/research/studies/{STUDY}/enrol", {"senior_id": "s-new", "arm": "control"}
    )
    assert r.status_code == 409
    assert "The study is closed to enrolment." in r.text
    assert _count(world.sessions, Participant) == 11


async def test_a_researcher_cannot_act_as_study_staff(
    browser: Browser, research: Research, world: World, publisher: FakePublisher
) -> None:
    await browser.login("rita")
    await browser.get(f"/app/research/studies/{STUDY}")
    code = research.codes[0]
    for url, data in (
        (f"/app/research/studies/{STUDY}/enrol", {"senior_id": "s-a", "arm": "control"}),
        (
            f"/app/research/studies/{STUDY}/participants/{code}/consent",
            {"form_version": "v1", "stream_mood": "1"},
        ),
    ):
        r = await browser.post(url, data)
        assert r.status_code == 403, url
        assert "Only study coordinators and admins may do this." in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}/import")
    assert r.status_code == 403
    r = await _upload(browser, (HEADER + f"{code},ucla3,{VISIT},,1,1,1,,\n").encode())
    assert r.status_code == 403
    assert _count(world.sessions, Assessment) == 0
    assert _count(world.sessions, ConsentRecord) == 11 * len(DataStream)
    assert publisher.sent == []


async def test_another_studys_participant_or_a_missing_study_is_404(
    browser: Browser, research: Research, world: World
) -> None:
    await browser.login("cora")
    await browser.get(f"/app/research/studies/{STUDY}")
    before = _count(world.sessions, ConsentRecord)
    r = await browser.get(f"/app/research/studies/{STUDY}/participants/{research.other}")
    assert r.status_code == 404
    r = await browser.post(
        f"/app/research/studies/{STUDY}/participants/{research.other}/consent",
        {"form_version": "v1", "stream_mood": "1"},
    )
    assert r.status_code == 404
    assert _count(world.sessions, ConsentRecord) == before
    for url in ("/app/research/studies/nope", "/app/research/studies/nope/export?k=5"):
        assert (await browser.get(url)).status_code == 404
    # A CSV naming the other study's participant is refused as a whole.
    r = await _upload(browser, (HEADER + f"{research.other},ucla3,{VISIT},,1,1,1,,\n").encode())
    assert r.status_code == 422
    assert "no such participant in the study" in r.text
    assert _count(world.sessions, Assessment) == 0


async def test_csv_import_is_all_or_nothing_and_completeness_follows(
    browser: Browser, research: Research, world: World
) -> None:
    a, b = research.codes[:2]
    await browser.login("cora")
    r = await browser.get(f"/app/research/studies/{STUDY}/import")
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text
    good = f"{a},ucla3,{VISIT},,1,1,1,,\n{b},ucla3,{VISIT},,,,,4,paper form\n"
    bad = HEADER + good + f"{a},ucla3,{VISIT},week4,2,9,2,,\n"
    r = await _upload(browser, bad.encode())
    assert r.status_code == 422
    text = r.text
    assert "Nothing was imported." in text
    # line 4 (the header is line 1); the importer names no column for a bad item answer
    assert "<td>4</td><td>–</td><td>ucla3 item 2: answer 9 is not one of 1, 2, 3</td>" in text
    assert _count(world.sessions, Assessment) == 0
    r = await _upload(browser, (HEADER + good).encode())
    assert r.status_code == 200
    assert "Imported 2 assessments (1 as a total only)." in r.text
    assert _count(world.sessions, Assessment) == 2
    page = (await browser.get(f"/app/research/studies/{STUDY}")).text
    assert _completeness(page, "baseline") == (10, 2, 8)
    r = await _upload(browser, (HEADER + good).encode())  # the same visits again
    assert r.status_code == 422
    assert "already stored for that date" in r.text
    assert _count(world.sessions, Assessment) == 2
    audited = _audit(world.sessions, "coordinator:cora")
    assert audited.count(("import", "assessment")) == 1
    assert audited.count(("import_refused", "assessment")) == 2


async def test_hostile_uploads_are_refused_and_store_nothing(
    browser: Browser, research: Research, world: World
) -> None:
    a = research.codes[0]
    row = HEADER + f"{a},ucla3,{VISIT},,1,1,1,,\n"
    await browser.login("cora")
    await browser.get(f"/app/research/studies/{STUDY}/import")
    r = await _upload(browser, row.encode(), csrf=False)
    assert r.status_code == 403
    r = await _upload(browser, (HEADER + f"{a},ucla3,{VISIT},,1,1,1,2,메모\n").encode("cp949"))
    assert r.status_code == 422
    assert "CP949" in r.text
    r = await _upload(browser, b"x" * (MAX_BYTES + 20_000))
    assert r.status_code == 413
    assert "The file is too large" in r.text
    r = await _upload(browser, b"x" * (MAX_BYTES + 1))  # within the form's margin: the importer
    assert r.status_code == 422
    assert "too large" in r.text
    r = await _upload(browser, b"")
    assert r.status_code == 422
    assert "Choose a CSV file." in r.text
    r = await browser.http.post(
        f"/app/research/studies/{STUDY}/import",
        content=b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code in (400, 403)
    r = await browser.http.post(
        f"/app/research/studies/{STUDY}/import", data={"csrf": browser.csrf, "file": row}
    )
    assert r.status_code == 403  # not multipart: a form this page never sends
    r = await _upload(browser, ("=cmd|' /C calc'!A0," + row).encode())
    assert r.status_code == 422
    assert _count(world.sessions, Assessment) == 0


async def test_import_errors_are_shown_in_korean(
    app: FastAPI, research: Research, world: World
) -> None:
    from tests.app.conftest import browser_client

    async with browser_client(app, **{"accept-language": "ko"}) as client:
        browser = Browser(client)
        await browser.login("cora")
        await browser.get(f"/app/research/studies/{STUDY}/import")
        a = research.codes[0]
        r = await _upload(browser, (HEADER + f"{a},ucla3,{VISIT},,,,,99,paper\n").encode())
        assert r.status_code == 422
        text = r.text
        assert "가져오지 않았습니다." in text
        assert "<td>2</td><td>total</td><td>3-9 범위 밖입니다</td>" in text
        assert "outside" not in text  # the Korean half of the importer's message only


async def test_export_shows_its_disclosure_report_and_downloads_audited(
    browser: Browser, research: Research, world: World
) -> None:
    await browser.login("rita")
    r = await browser.get(f"/app/research/studies/{STUDY}/export")
    assert r.status_code == 200
    assert 'name="k"' in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}/export?k=5&format=csv")
    assert r.status_code == 200
    report = r.text.split('id="disclosure"')[1].split("</table>")[0]
    assert "<td>5 / " in report
    assert "<td>10 / 10 / 0</td>" in report
    r = await browser.get(f"/app/research/studies/{STUDY}/export?k=3")
    assert r.status_code == 422
    assert "k must be between 5 and 1000." in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}/export?k=11")
    assert r.status_code == 409
    assert "Export refused" in r.text
    for query in ("k=abc", "k=99999", "k=-5", "k=5&format=xls"):
        for path in ("export", "export.zip"):
            r = await browser.get(f"/app/research/studies/{STUDY}/{path}?{query}")
            assert r.status_code == 422, (path, query)
            assert r.headers["content-type"].startswith("text/html")
    assert "The format is csv or parquet." in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}/export.zip?k=5&format=csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "disclosure_report.md" in names
    assert "participants.csv" in names
    body = zipfile.ZipFile(io.BytesIO(r.content)).read("participants.csv").decode()
    assert all(code not in body for code in research.codes)  # export pseudonyms only
    r = await browser.get(f"/app/research/studies/{STUDY}/export.zip?k=11")
    assert r.status_code == 409
    assert "Export refused" in r.text
    audited = _audit(world.sessions, "researcher:rita")
    assert ("export", "study") in audited
    assert ("export_refused", "study") in audited
    assert ("read", "disclosure") in audited


async def test_the_report_is_served_without_script(
    browser: Browser, research: Research, world: World
) -> None:
    await browser.login("rita")
    r = await browser.get(f"/app/research/studies/{STUDY}/report")
    assert r.status_code == 200
    assert "돌봄 파일럿" in r.text
    assert "<script" not in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "sandbox" in csp
    assert "script-src" not in csp
    assert ("report", "study") in _audit(world.sessions, "researcher:rita")


async def test_the_page_follows_the_language(
    app: FastAPI, research: Research, world: World
) -> None:
    from tests.app.conftest import browser_client

    async with browser_client(app, **{"accept-language": "ko"}) as client:
        browser = Browser(client)
        await browser.login("rita")
        r = await browser.get(f"/app/research/studies/{STUDY}")
        assert "완료율 (시점별 예정 대비 완료)" in r.text
        assert "참여 중" in r.text
        assert "Completeness" not in r.text


# --- a new study, a consent form, a withdrawal (study staff) ------------------------------------

NEW = {
    "id": "trial-2",
    "title": "두 번째 연구",
    "timezone": "Asia/Seoul",
    "min_k": "5",
    "arm_code_1": "robot",
    "arm_label_1": "Robot at home",
    "arm_code_2": "usual",
    "arm_label_2": "Usual care",
}
NO_ARMS = {k: v for k, v in NEW.items() if not k.startswith("arm_")}


def _studies(sessions: sessionmaker[Session]) -> int:
    return _count(sessions, Study)


async def test_a_coordinator_creates_a_study_with_its_arms(
    browser: Browser, research: Research, world: World
) -> None:
    await browser.login("cora")
    r = await browser.get("/app/research")
    assert 'href="/app/research/new"' in r.text
    r = await browser.get("/app/research/new")
    assert r.status_code == 200
    assert 'action="/app/research/new"' in r.text
    assert 'value="intervention"' in r.text  # the usual two arms filled in
    # Refusals, each in the page's language, with what was typed kept; nothing created.
    for data, status, text in (
        (NEW | {"id": "pilot"}, 409, "A study with this id already exists."),
        (NO_ARMS, 422, "A study needs at least two arms, each with its own code."),
        (NO_ARMS | {"arm_code_1": "robot", "arm_label_1": "Robot"}, 422, "at least two arms"),
        (NEW | {"arm_code_2": "robot"}, 422, "at least two arms, each with its own code"),
        (NEW | {"arm_code_2": "Bad Arm!"}, 422, "An arm&#39;s code is 1-32 lowercase"),
        (NEW | {"arm_label_2": ""}, 422, "Each arm needs a code and a label"),
        (NEW | {"arm_label_2": "x" * 101}, 422, "Each arm needs a code and a label"),
        (NEW | {"id": "Bad Id"}, 422, "The study id is 1-64 lowercase letters"),
        (NEW | {"id": "a" * 65}, 422, "The study id is 1-64 lowercase letters"),
        (NEW | {"id": ""}, 422, "The study id is 1-64 lowercase letters"),
        (NEW | {"title": "  "}, 422, "A study needs a title"),
        (NEW | {"title": "t" * 201}, 422, "A study needs a title"),
        (NEW | {"timezone": "Mars/Olympus"}, 422, "Unknown time zone"),
        (NEW | {"min_k": "3"}, 422, "The minimum k is a whole number from 5 to 100."),
        (NEW | {"min_k": "-5e9"}, 422, "The minimum k is a whole number from 5 to 100."),
    ):
        r = await browser.post("/app/research/new", data)
        assert r.status_code == status, data
        assert text in r.text, data
        assert 'aria-invalid="true"' in r.text
    # Hostile input is shown back as text, never as markup.
    r = await browser.post("/app/research/new", NEW | {"id": "x y", "title": "<script>x</script>"})
    assert r.status_code == 422
    assert "<script>x</script>" not in r.text
    assert "&lt;script&gt;x&lt;/script&gt;" in r.text
    r = await browser.http.post("/app/research/new", data=NEW)  # no CSRF token
    assert r.status_code == 403
    r = await browser.post("/app/research/new", NEW | {"title": "t" * 9000})  # over the form limit
    assert r.status_code == 403
    assert _studies(world.sessions) == 2
    r = await browser.post("/app/research/new", NEW)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/research/studies/trial-2?created=1"
    r = await browser.get(r.headers["location"])
    assert r.status_code == 200
    assert "Study created. Publish its consent form next." in r.text
    arms = r.text.split('id="arms"')[1].split("</table>")[0]
    assert "<td>robot</td><td>Robot at home</td><td>0</td><td>0</td><td>0</td>" in arms
    assert "<td>usual</td><td>Usual care</td><td>0</td><td>0</td><td>0</td>" in arms
    assert "No consent form is published yet." in r.text
    with world.sessions() as s:
        study = s.get(Study, "trial-2")
        assert study is not None
        assert (study.title, study.timezone, study.min_k) == ("두 번째 연구", "Asia/Seoul", 5)
    assert ("create", "study") in _audit(world.sessions, "coordinator:cora")
    r = await browser.post("/app/research/new", NEW)  # the same again
    assert r.status_code == 409
    assert _studies(world.sessions) == 3


async def test_a_coordinator_publishes_a_consent_form(
    browser: Browser, research: Research, world: World
) -> None:
    await browser.login("cora")
    url = f"/app/research/studies/{STUDY}/consent-forms"
    r = await browser.get(f"/app/research/studies/{STUDY}")
    assert f'action="{url}"' in r.text
    forms = r.text.split('id="consent-forms"')[1].split("</table>")[0]
    assert "<td>v1</td>" in forms
    good = {"version": "v2", "stream_mood": "1", "stream_screening": "1", "summary": "<b>2판</b>"}
    for data, status, text in (
        ({"version": "v2", "summary": "nothing asked"}, 422, "at least one data stream"),
        (good | {"version": "v1"}, 409, "already has a consent form of that version"),
        (good | {"version": "v 2!"}, 422, "The version is 1-32 letters"),
        (good | {"version": ""}, 422, "The version is 1-32 letters"),
        (good | {"version": "v" * 33}, 422, "The version is 1-32 letters"),
        (good | {"summary": "s" * 501}, 422, "The summary is at most 500 characters."),
        (
            good | {"stream_audio": "1", "stream_mood": "0", "stream_screening": ""},
            422,
            "at least one data stream",
        ),
    ):
        r = await browser.post(url, data)
        assert r.status_code == status, data
        assert text in r.text, data
        assert 'id="cf-error"' in r.text
    r = await browser.http.post(url, data=good)  # no CSRF token
    assert r.status_code == 403
    r = await browser.post("/app/research/studies/nope/consent-forms", good)
    assert r.status_code == 404
    with world.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsentForm)) == 2  # v1 of each study
    r = await browser.post(url, good)
    assert r.status_code == 303
    r = await browser.get(r.headers["location"])
    assert "Consent form published." in r.text
    forms = r.text.split('id="consent-forms"')[1].split("</table>")[0]
    assert "<td>v2</td><td>mood, screening</td><td>&lt;b&gt;2판&lt;/b&gt;</td>" in forms
    # The participant's page now records consent under v2, asking for its two streams.
    r = await browser.get(f"/app/research/studies/{STUDY}/participants/{research.codes[0]}")
    assert 'name="form_version" value="v2"' in r.text
    assert 'name="stream_mood"' in r.text
    assert 'name="stream_activity"' not in r.text
    assert ("create", "consent_form") in _audit(world.sessions, "coordinator:cora")


async def test_a_coordinator_withdraws_a_participant_as_consented(
    browser: Browser, research: Research, world: World, publisher: FakePublisher
) -> None:
    a, b = research.codes[:2]
    with world.sessions() as s, s.begin():  # b consented to keep their data on withdrawal
        p = get_participant(s, STUDY, b)
        set_consent(
            s,
            SERVICE,
            NOW,
            participant=p,
            form_version="v1",
            streams=ALL,
            retention=Retention.RETAIN,
        )
        s.add(
            DailyMetric(
                participant_id=p.id,
                day=(NOW - timedelta(days=1)).date(),
                talk_minutes=3.0,
                hours_with_data=5,
                device_up_hours=24,
                model_versions={},
                computed_at=NOW,
            )
        )
    await browser.login("cora")
    url = f"/app/research/studies/{STUDY}/participants/{a}/withdraw"
    r = await browser.get(f"/app/research/studies/{STUDY}/participants/{a}")
    assert f'action="{url}"' in r.text
    assert "withdrawing deletes this participant" in r.text
    for data, text in (
        ({"reason": "moved away"}, "Tick the box to confirm the withdrawal."),
        ({"reason": "r" * 201, "confirm": "1"}, "The reason is at most 200 characters."),
    ):
        r = await browser.post(url, data)
        assert r.status_code == 422, data
        assert text in r.text
        assert 'id="withdraw-error"' in r.text
    r = await browser.http.post(url, data={"confirm": "1"})  # no CSRF token
    assert r.status_code == 403
    assert _count(world.sessions, DailyMetric) == 2
    assert publisher.sent == []
    r = await browser.post(url, {"reason": "<i>moved</i> away", "confirm": "1"})
    assert r.status_code == 200
    assert (
        "Withdrawn. Deleted: 0 assessments and 1 days of metrics."
        " Commands sent to the robot: 3 of 3." in r.text
    )
    assert "<td>withdrawn</td>" in r.text
    assert 'id="withdraw-form"' not in r.text
    assert [(d, c.type) for d, c in publisher.sent] == [
        ("dev-a", CommandType.CONSENT),
        ("dev-a", CommandType.SCHEDULE),
        ("dev-a", CommandType.DATA_DELETION),
    ]
    r = await browser.post(url, {"confirm": "1"})  # withdrawing twice
    assert r.status_code == 409
    assert "The participant has already withdrawn." in r.text
    assert len(publisher.sent) == 3
    with world.sessions() as s:
        person = get_participant(s, STUDY, a)
        assert person.status.value == "withdrawn"
        assert person.birth_year is None  # deleted as consented
        details = s.scalars(
            select(AuditLog.detail).where(AuditLog.action == "withdraw", AuditLog.resource_id == a)
        ).all()
    assert details == ["reason=<i>moved</i> away"]
    assert _count(world.sessions, DailyMetric) == 1  # b's day stays
    r = await browser.post(
        f"/app/research/studies/{STUDY}/participants/{b}/withdraw", {"confirm": "1"}
    )
    assert r.status_code == 200
    assert "The data collected until now are kept, as consented." in r.text
    assert _count(world.sessions, DailyMetric) == 1
    audited = _audit(world.sessions, "coordinator:cora")
    assert audited.count(("withdraw", "participant")) == 2
    assert ("delete_data", "participant") in audited
    assert ("retain_data", "participant") in audited
    r = await browser.post(
        f"/app/research/studies/{STUDY}/participants/{research.other}/withdraw", {"confirm": "1"}
    )
    assert r.status_code == 404  # another study's participant


async def test_only_study_staff_create_publish_and_withdraw(
    app: FastAPI,
    browser: Browser,
    research: Research,
    world: World,
    publisher: FakePublisher,
) -> None:
    code = research.codes[0]
    posts = (
        ("/app/research/new", NEW),
        (f"/app/research/studies/{STUDY}/consent-forms", {"version": "v2", "stream_mood": "1"}),
        (f"/app/research/studies/{STUDY}/participants/{code}/withdraw", {"confirm": "1"}),
    )
    await browser.login("rita")
    r = await browser.get("/app/research")
    assert "/app/research/new" not in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}")
    assert "/consent-forms" not in r.text
    r = await browser.get(f"/app/research/studies/{STUDY}/participants/{code}")
    assert "/withdraw" not in r.text
    r = await browser.get("/app/research/new")
    assert r.status_code == 403
    for url, data in posts:
        r = await browser.post(url, data)
        assert r.status_code == 403, url
        assert "Only study coordinators and admins may do this." in r.text
    async with browser_client(app, **{"accept-language": "en"}) as c:
        alice = Browser(c)
        await alice.login("alice")
        await alice.get("/app/")
        for url, data in posts:
            r = await alice.post(url, data)
            assert r.status_code == 403, url
            assert "This account cannot use the research pages." in r.text
    assert _studies(world.sessions) == 2
    with world.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsentForm)) == 2
        assert get_participant(s, STUDY, code).status.value != "withdrawn"
    assert publisher.sent == []
    with world.sessions() as s:
        denied = s.scalars(select(AuditLog.actor).where(AuditLog.action == "denied")).all()
    assert "researcher:rita" in denied


async def test_the_new_forms_refuse_in_korean(
    app: FastAPI, research: Research, world: World
) -> None:
    async with browser_client(app, **{"accept-language": "ko"}) as client:
        browser = Browser(client)
        await browser.login("cora")
        await browser.get("/app/research/new")
        r = await browser.post("/app/research/new", NO_ARMS)
        assert r.status_code == 422
        assert "연구에는 각자 코드가 다른 군이 두 개 이상 필요합니다." in r.text
        r = await browser.post(f"/app/research/studies/{STUDY}/consent-forms", {"version": "v2"})
        assert "동의서는 하나 이상의 데이터 종류를 물어야 합니다." in r.text
        code = research.codes[0]
        r = await browser.post(f"/app/research/studies/{STUDY}/participants/{code}/withdraw", {})
        assert "철회를 확인하려면 상자를 선택하세요." in r.text
        assert "Tick the box" not in r.text
