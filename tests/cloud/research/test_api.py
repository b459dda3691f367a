"""The researcher API: role checks, and no identity ever reaches the researcher role."""

import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.accounts.errors import ConsentRequiredError
from cloud.accounts.tokens import issue_token
from cloud.api import create_app
from cloud.research import studies
from cloud.research.instruments import record_assessment
from cloud.store.models import AssessmentSource, AuditLog, Device, Role, Senior
from protocol import CommandType
from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import SECRET, FakePublisher, http, settings
from tests.cloud.research.conftest import T0

NOW = T0 + timedelta(days=60)
SENIOR_NAMES = ("김순자", "박말순", "이영희", "최복순", "정옥자", "강금순")


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> str:
    """Role checks exercise the API, not the engine: SQLite only (the store tests run both)."""
    url = migrated_sqlite(tmp_path / "research-api.sqlite3")
    return url


@pytest.fixture
def passwords() -> Passwords:
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    return Passwords(PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def app(sessions: sessionmaker[Session], publisher: FakePublisher, passwords: Passwords) -> FastAPI:
    return create_app(
        settings(),
        session_factory=sessions,
        publisher=publisher,
        mqtt_connected=lambda: True,
        clock=lambda: NOW,
        passwords=passwords,
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http(app) as c:
        yield c


@pytest.fixture
def tokens(sessions: sessionmaker[Session], passwords: Passwords) -> dict[str, dict[str, str]]:
    """A bearer header per role, and six seniors with a robot each."""
    out = {}
    with sessions() as s, s.begin():
        for username, role in [
            ("ada", Role.ADMIN),
            ("cora", Role.COORDINATOR),
            ("rita", Role.RESEARCHER),
            ("alice", Role.CAREGIVER),
            ("ian", Role.INSTALLER),
        ]:
            account = create_account(
                s, passwords, username=username, role=role, password="pw-123456789", now=T0
            )
            token = issue_token(SECRET, account.id, role, NOW, 900)
            out[role.value] = {"Authorization": f"Bearer {token}"}
        for i, name in enumerate(SENIOR_NAMES):
            s.add(Senior(id=f"s-{i}", display_name=name, settings={}, created_at=T0))
            s.flush()
            s.add(Device(id=f"robot-{i}", senior_id=f"s-{i}", first_seen=T0, last_seen=T0))
    return out


# UCLA-3 answers per (arm: 0 control, 1 intervention; position in the arm) at baseline and week 8:
# totals 6/7/8 at baseline in both arms, 3/5/4 (control, mean 4) and 4/6/5 (intervention, mean 5)
# at week 8 — mean changes -3 and -2 — with participants differing and changes varying, so the
# mixed models are well posed (identical scores leave no residual variance: a singular fit that
# came and went with the order of the random participant codes).
_UCLA = {
    (0, 0): ([2, 2, 2], [1, 1, 1]),
    (0, 1): ([3, 2, 2], [2, 2, 1]),
    (0, 2): ([3, 3, 2], [1, 1, 2]),
    (1, 0): ([2, 2, 2], [1, 1, 2]),
    (1, 1): ([3, 2, 2], [2, 2, 2]),
    (1, 2): ([3, 3, 2], [2, 2, 1]),
}


async def _setup_study(client: httpx.AsyncClient, staff: dict[str, str]) -> list[str]:
    r = await client.post(
        "/research/studies", headers=staff, json={"id": "pilot", "title": "Hyodol pilot"}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/research/studies/pilot/consent-forms",
        headers=staff,
        json={"version": "v1", "streams": ["mood", "activity", "conversation", "screening"]},
    )
    assert r.status_code == 201, r.text
    codes = []
    for i in range(len(SENIOR_NAMES)):
        r = await client.post(
            "/research/studies/pilot/participants",
            headers=staff,
            json={
                "senior_id": f"s-{i}",
                "arm": "intervention" if i % 2 else "control",
                "device_id": f"robot-{i}",
                "birth_year": 1944,
                "sex": "f",
                "region": "서울특별시 종로구",
            },
        )
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
        r = await client.put(
            f"/research/studies/pilot/participants/{codes[-1]}/consent",
            headers=staff,
            json={
                "form_version": "v1",
                "streams": {"mood": True, "screening": True},
                "retention": "delete",
            },
        )
        assert r.status_code == 200, r.text
        for day, tp in ((0, "baseline"), (56, "week8")):
            r = await client.post(
                f"/research/studies/pilot/participants/{codes[-1]}/assessments",
                headers=staff,
                json={
                    "instrument": "ucla3",
                    "answers": _UCLA[(i % 2, i // 2)][tp == "week8"],
                    "administered_at": (T0 + timedelta(days=day)).isoformat(),
                    "time_point": tp,
                },
            )
            assert r.status_code == 201, r.text
    return codes


async def test_researcher_reads_everything_but_identities(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    codes = await _setup_study(client, tokens["coordinator"])
    rita = tokens["researcher"]
    bodies = []
    for path in (
        "/research/studies",
        "/research/studies/pilot",
        "/research/studies/pilot/participants",
        f"/research/studies/pilot/participants/{codes[0]}",
        f"/research/studies/pilot/participants/{codes[0]}/consent",
        "/research/studies/pilot/assessments",
        "/research/studies/pilot/metrics",
        "/research/studies/pilot/summary",
        "/research/studies/pilot/report",
    ):
        r = await client.get(path, headers=rita)
        assert r.status_code == 200, (path, r.text)
        bodies.append(r.text)
    r = await client.get("/research/studies/pilot/export?format=csv&k=5", headers=rita)
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        bodies += [
            archive.read(n).decode("utf-8")
            for n in archive.namelist()
            if not n.endswith(".parquet")
        ]
    text = "\n".join(bodies)
    for secret in (*SENIOR_NAMES, "s-0", "robot-0", "종로구", "1944", "senior_id", "device_id"):
        assert secret not in text, secret
    assert codes[0] in text  # the pseudonymous code is what researchers work with


async def test_researcher_cannot_reach_identity_or_change_anything(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    codes = await _setup_study(client, tokens["coordinator"])
    rita = tokens["researcher"]
    base = f"/research/studies/pilot/participants/{codes[0]}"
    denied = [
        await client.get(f"{base}/identity", headers=rita),
        await client.post("/research/studies", headers=rita, json={"id": "x", "title": "x"}),
        await client.post(
            "/research/studies/pilot/participants",
            headers=rita,
            json={"senior_id": "s-0", "arm": "control"},
        ),
        await client.put(
            f"{base}/consent", headers=rita, json={"form_version": "v1", "streams": {"mood": False}}
        ),
        await client.post(f"{base}/withdraw", headers=rita, json={}),
        await client.post(
            f"{base}/assessments",
            headers=rita,
            json={"instrument": "ucla3", "answers": [1, 1, 1], "administered_at": T0.isoformat()},
        ),
    ]
    assert [r.status_code for r in denied] == [403] * 6
    assert all("researcher role may not" in r.json()["detail"] for r in denied)


@pytest.mark.parametrize("role", ["caregiver", "installer"])
async def test_care_roles_have_no_research_access(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], role: str
) -> None:
    await _setup_study(client, tokens["admin"])
    for path in ("/research/studies", "/research/studies/pilot/summary", "/research/instruments"):
        r = await client.get(path, headers=tokens[role])
        assert r.status_code == 403, path


async def test_unauthenticated_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/research/studies")
    assert r.status_code == 401


async def test_coordinator_reads_identity_and_it_is_audited(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    codes = await _setup_study(client, tokens["coordinator"])
    r = await client.get(
        f"/research/studies/pilot/participants/{codes[2]}/identity", headers=tokens["coordinator"]
    )
    assert r.status_code == 200
    assert r.json() == {"code": codes[2], "senior_id": "s-2", "device_id": "robot-2"}
    with sessions() as s:
        row = s.scalars(select(AuditLog).where(AuditLog.resource == "identity")).one()
    assert (row.actor, row.senior_id, row.resource_id) == ("coordinator:cora", "s-2", codes[2])


async def test_withdraw_over_the_api_sends_purge_to_the_robot(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], publisher: FakePublisher
) -> None:
    codes = await _setup_study(client, tokens["coordinator"])
    publisher.sent.clear()
    r = await client.post(
        f"/research/studies/pilot/participants/{codes[1]}/withdraw",
        headers=tokens["coordinator"],
        json={"reason": "moved to a care home"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["assessments_deleted"] == 2
    assert body["participant"]["status"] == "withdrawn"
    assert [(d, c.type) for d, c in publisher.sent] == [
        ("robot-1", CommandType.CONSENT),
        ("robot-1", CommandType.SCHEDULE),
        ("robot-1", CommandType.DATA_DELETION),
    ]
    r = await client.post(
        f"/research/studies/pilot/participants/{codes[1]}/withdraw",
        headers=tokens["coordinator"],
        json={},
    )
    assert r.status_code == 409


async def test_export_refused_with_the_reason_when_k_cannot_be_met(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    await _setup_study(client, tokens["coordinator"])
    r = await client.get("/research/studies/pilot/export?k=7", headers=tokens["researcher"])
    assert r.status_code == 409
    assert "cannot reach k=7" in r.json()["detail"]
    r = await client.get("/research/studies/pilot/export?k=3", headers=tokens["researcher"])
    assert r.status_code == 422
    assert "below the minimum" in r.json()["detail"]


async def test_summary_reports_change_per_arm(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    await _setup_study(client, tokens["coordinator"])
    r = await client.get("/research/studies/pilot/summary", headers=tokens["researcher"])
    body = r.json()
    (ucla,) = body["instruments"]
    assert (ucla["baseline"], ucla["follow_up"]) == ("baseline", "week8")
    # control (even i): mean 7 -> 4; intervention (odd i): mean 7 -> 5 (see _UCLA)
    assert ucla["within_arm"]["control"]["mean_diff"] == -3.0
    assert ucla["within_arm"]["intervention"]["mean_diff"] == -2.0
    assert ucla["between"]["diff"] == 1.0
    numeric = ucla["mixed_model_numeric_time"]  # time as a number, beside the categorical
    assert numeric is not None, ucla["problems"]
    assert numeric["time_variable"] == "weeks"
    assert [e["term"] for e in numeric["interactions"]] == ["arm[T.intervention]:weeks"]
    assert ucla["mixed_model"]["time_variable"] == "categorical"
    assert json.dumps(body)  # JSON all the way down


async def test_bad_answers_are_refused_with_the_item(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    codes = await _setup_study(client, tokens["coordinator"])
    r = await client.post(
        f"/research/studies/pilot/participants/{codes[0]}/assessments",
        headers=tokens["coordinator"],
        json={
            "instrument": "phq9",
            "answers": [0, 1, 2, 3, 4, 0, 0, 0, 0],
            "administered_at": T0.isoformat(),
        },
    )
    assert r.status_code == 422
    assert english(r.json()["detail"]) == "phq9 item 5: answer 4 is not one of 0, 1, 2, 3"


async def test_generated_research_requests_never_fail_with_a_server_error(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    """Schemathesis over /research (seeded, bounded), aimed at the study that exists."""
    import anyio

    from tests.cloud.api.apifuzz import fuzz
    from tests.cloud.api.conftest import SERVICE

    codes = await _setup_study(client, tokens["coordinator"])
    callers = [SERVICE, tokens["researcher"], tokens["coordinator"], tokens["caregiver"]]

    def aim(label: str) -> dict[str, object]:
        fixed: dict[str, object] = {}
        if "{study_id}" in label:
            fixed["study_id"] = "pilot"
        if "{code}" in label:
            fixed["code"] = codes[0]
        return fixed

    report = await anyio.to_thread.run_sync(
        lambda: fuzz(
            app,
            callers,
            keep=lambda label: " /research" in label,
            path_parameters=aim,
            examples=4,
        )
    )
    assert report.operations >= 10
    assert max(report.statuses) < 500
    assert any(200 <= s < 300 for s in report.statuses)


async def test_assessments_are_refused_without_screening_consent(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    sessions: sessionmaker[Session],
) -> None:
    """Issue 14 item 16: staff entry needs `screening` consent; a bilingual 409 otherwise."""
    staff = tokens["coordinator"]
    codes = await _setup_study(client, staff)  # every participant consents to screening
    base = f"/research/studies/pilot/participants/{codes[1]}"
    answers = {"instrument": "ucla3", "answers": [1, 2, 1], "administered_at": T0.isoformat()}
    assert (await client.post(f"{base}/assessments", headers=staff, json=answers)).is_success
    r = await client.put(  # withdraw the screening consent only
        f"{base}/consent",
        headers=staff,
        json={
            "form_version": "v1",
            "streams": {"mood": True, "screening": False},
            "retention": "delete",
        },
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"{base}/assessments", headers=staff, json=answers)
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert f"participant {codes[1]} has not consented to screening" in detail
    assert "선별검사(screening)에 동의하지 않았습니다" in detail
    # The rule is in record_assessment, so every staff path (CLI included) keeps it.
    with sessions() as s, s.begin():
        participant = studies.get_participant(s, "pilot", codes[1])
        with pytest.raises(ConsentRequiredError):
            record_assessment(
                s,
                participant,
                instrument="ucla3",
                answers=[1, 1, 1],
                administered_at=T0 + timedelta(days=1),
                now=NOW,
                source=AssessmentSource.API,
            )


async def test_staff_import_assessments_from_csv_all_or_nothing(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    codes = await _setup_study(client, tokens["coordinator"])
    url = "/research/studies/pilot/assessments/import"
    csv_headers = {**tokens["coordinator"], "Content-Type": "text/csv"}
    header = "participant,instrument,visit_date,total,total_reason\n"
    good = "".join(f"{c},sgds_k,2026-05-01,{i % 4},paper form\n" for i, c in enumerate(codes))
    before = await client.get("/research/studies/pilot/assessments", headers=tokens["researcher"])
    bad = header + good + f"{codes[0]},sgds_k,2026-05-01,16,paper form\n"
    r = await client.post(url, headers=csv_headers, content=bad.encode())
    assert r.status_code == 422
    assert "line 8, total" in r.json()["detail"]
    assert "nothing imported" in r.json()["detail"]
    after = await client.get("/research/studies/pilot/assessments", headers=tokens["researcher"])
    assert after.json() == before.json()
    r = await client.post(url, headers=csv_headers, content=(header + good).encode())
    assert r.status_code == 201, r.text
    assert r.json() == {
        "rows": len(codes),
        "by_instrument": {"sgds_k": len(codes)},
        "total_only": 6,
    }
    rows = await client.get(
        "/research/studies/pilot/assessments?instrument=sgds_k", headers=tokens["researcher"]
    )
    assert {(a["time_point"], a["source"]) for a in rows.json()} == {("baseline", "import")}
    r = await client.post(
        url, headers={**tokens["researcher"], "Content-Type": "text/csv"}, content=header.encode()
    )
    assert r.status_code == 403  # researchers read, never write
    r = await client.post(url, headers=csv_headers, content=b"x" * (2 * 1024 * 1024 + 1))
    assert r.status_code == 422
    assert "too large" in r.json()["detail"]
