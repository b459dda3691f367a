"""The admin and installer pages (SQLite and PostgreSQL): accounts whose sessions end when
disabled or reset, the robots' health, provisioning with a QR code that decodes to the config
the robot loads, the audited download, and model rollouts with their progress."""

import logging
import re
import tomllib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from PIL import Image, ImageDraw
from pyzbar.pyzbar import decode
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.app.admin import CONFIG_TTL_S
from cloud.provisioning import RobotProvisioning, passwd_users
from cloud.store.models import Account, AuditLog, Device
from device.config import load_config
from protocol import EventType, ModelRef, encode, events_topic, make_envelope
from protocol.events import BatteryPayload, CountdownOutcome, FallPayload
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import PASSWORD, SERVICE, Clock, World, add_event
from tests.cloud.helpers import NOW, heartbeat, wait_until
from tests.helpers.mosquitto import private_mosquitto
from tests.helpers.ports import free_port

_TEMP = re.compile(r"<code>([a-z2-9]{4}(?:-[a-z2-9]{4}){3})</code>")
_SEALED = re.compile(r'name="sealed" value="([^"]+)"')
_SVG = re.compile(r"<svg[^>]*>.*?</svg>", re.S)


@pytest.fixture
async def other(app: FastAPI) -> AsyncIterator[Browser]:
    """A second browser (another person) on the same app."""
    async with browser_client(app, **{"accept-language": "en"}) as client:
        yield Browser(client)


def audit_rows(sessions: sessionmaker[Session], action: str, resource: str) -> list[AuditLog]:
    with sessions() as s:
        return list(
            s.scalars(
                select(AuditLog).where(AuditLog.action == action, AuditLog.resource == resource)
            )
        )


def temp_password(page: str) -> str:
    found = _TEMP.search(page)
    assert found, "no temporary password on the page"
    return found.group(1)


# --- accounts -----------------------------------------------------------------------------------


async def test_admin_creates_an_account_whose_temporary_password_logs_in_and_is_shown_once(
    world: World, browser: Browser, other: Browser
) -> None:
    await browser.login("ada")
    r = await browser.get("/app/admin/accounts")
    assert r.status_code == 200
    assert "alice" in r.text
    r = await browser.post(
        "/app/admin/accounts",
        {"username": "Carol.Kim", "display_name": "김캐롤", "role": "caregiver"},
    )
    assert r.status_code == 200, r.text
    assert "Account carol.kim created." in r.text
    password = temp_password(r.text)
    assert (await other.login("carol.kim", password)).headers["location"] == "/app/"
    assert (await other.get("/app/")).status_code == 200
    again = await browser.get("/app/admin/accounts")
    assert password not in again.text
    assert "김캐롤" in again.text
    [row] = audit_rows(world.sessions, "create", "account")
    assert row.actor == "admin:ada"
    assert password not in (row.detail or "")


async def test_disabling_an_account_ends_its_open_session(
    world: World, browser: Browser, other: Browser
) -> None:
    await other.login("alice")
    assert (await other.get("/app/")).status_code == 200
    await browser.login("ada")
    await browser.get("/app/admin/accounts")
    r = await browser.post(f"/app/admin/accounts/{world.ids['alice']}/disable", {})
    assert r.status_code == 200
    assert "alice is disabled" in r.text
    after = await other.get("/app/")
    assert after.status_code == 303
    assert after.headers["location"] == "/app/login"
    assert (await other.login("alice")).status_code == 401
    assert audit_rows(world.sessions, "disable", "account")[0].resource_id == str(
        world.ids["alice"]
    )
    # enabled again, the old session stays ended; a new login works
    r = await browser.post(f"/app/admin/accounts/{world.ids['alice']}/enable", {})
    assert r.status_code == 200
    assert "alice can log in again." in r.text
    assert (await other.get("/app/")).status_code == 303
    assert (await other.login("alice")).status_code == 303


async def test_a_password_reset_shows_a_new_password_once_and_ends_the_old_session(
    world: World, browser: Browser, other: Browser
) -> None:
    await other.login("bob")
    assert (await other.get("/app/")).status_code == 200
    await browser.login("ada")
    await browser.get("/app/admin/accounts")
    r = await browser.post(f"/app/admin/accounts/{world.ids['bob']}/password", {})
    assert r.status_code == 200
    assert "bob's password was reset" in unescape(r.text)
    password = temp_password(r.text)
    assert (await other.get("/app/")).status_code == 303
    assert (await other.login("bob", PASSWORD)).status_code == 401
    assert (await other.login("bob", password)).status_code == 303
    assert (await other.get("/app/")).status_code == 200


async def test_an_admin_cannot_disable_themselves(world: World, browser: Browser) -> None:
    await browser.login("ada")
    await browser.get("/app/admin/accounts")
    r = await browser.post(f"/app/admin/accounts/{world.ids['ada']}/disable", {})
    assert r.status_code == 409
    assert "You cannot disable your own account here." in r.text
    with world.sessions() as s:
        assert s.get(Account, world.ids["ada"]).disabled is False  # type: ignore[union-attr]


@pytest.mark.parametrize("username", ["alice", "rita", "ian"])
async def test_only_admins_may_use_the_accounts_page(
    world: World, browser: Browser, username: str
) -> None:
    await browser.login(username)
    r = await browser.get("/app/admin/accounts")
    assert r.status_code == 403
    await browser.get("/app/login")  # a page with a CSRF token for this browser
    r = await browser.post(
        "/app/admin/accounts", {"username": "mallory", "display_name": "M", "role": "admin"}
    )
    assert r.status_code == 403
    r = await browser.post(f"/app/admin/accounts/{world.ids['ada']}/disable", {})
    assert r.status_code == 403
    with world.sessions() as s:
        assert s.scalars(select(Account).where(Account.username == "mallory")).first() is None
        assert s.get(Account, world.ids["ada"]).disabled is False  # type: ignore[union-attr]
    assert audit_rows(world.sessions, "denied", "http_403")


async def test_account_forms_without_the_csrf_token_change_nothing(
    world: World, browser: Browser
) -> None:
    await browser.login("ada")
    await browser.get("/app/admin/accounts")
    r = await browser.http.post(
        "/app/admin/accounts", data={"username": "mallory", "display_name": "M", "role": "admin"}
    )
    assert r.status_code == 403
    r = await browser.http.post(
        f"/app/admin/accounts/{world.ids['alice']}/disable", data={"csrf": "0" * 40}
    )
    assert r.status_code == 403
    with world.sessions() as s:
        assert s.scalars(select(Account).where(Account.username == "mallory")).first() is None
        assert s.get(Account, world.ids["alice"]).disabled is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("lang", "taken"), [("en", "This username is taken."), ("ko", "이미 있는 아이디입니다.")]
)
async def test_a_duplicate_username_is_refused_next_to_the_field_in_both_languages(
    world: World, app: FastAPI, lang: str, taken: str
) -> None:
    async with browser_client(app, **{"accept-language": lang}) as client:
        browser = Browser(client)
        await browser.login("ada")
        await browser.get("/app/admin/accounts")
        r = await browser.post(
            "/app/admin/accounts", {"username": "ALICE", "display_name": "x", "role": "caregiver"}
        )
    assert r.status_code == 409
    assert taken in r.text
    assert 'id="acc-username" ' in r.text
    assert 'aria-describedby="acc-username-err"' in r.text
    assert 'value="ALICE"' in r.text
    with world.sessions() as s:
        assert len(list(s.scalars(select(Account)))) == len(world.ids)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("username", "u" * 101, "At most 100 characters."),
        ("username", "-leading", "starting with a letter or digit"),
        ("username", "no spaces", "starting with a letter or digit"),
        ("username", "", "This is required."),
        ("display_name", "d" * 101, "At most 100 characters."),
        ("display_name", "   ", "This is required."),
        ("role", "root", "Pick one from the list."),
    ],
)
async def test_bad_account_fields_are_refused_with_their_error(
    world: World, browser: Browser, field: str, value: str, error: str
) -> None:
    await browser.login("ada")
    await browser.get("/app/admin/accounts")
    form = {"username": "dora", "display_name": "Dora", "role": "caregiver"} | {field: value}
    r = await browser.post("/app/admin/accounts", form)
    assert r.status_code == 422
    assert f'id="acc-{field}-err"' in r.text
    assert error in unescape(r.text)
    with world.sessions() as s:
        assert len(list(s.scalars(select(Account)))) == len(world.ids)


async def test_an_oversized_form_is_refused_whole(world: World, browser: Browser) -> None:
    await browser.login("ada")
    await browser.get("/app/admin/accounts")
    r = await browser.post(
        "/app/admin/accounts", {"username": "x" * 9000, "display_name": "d", "role": "admin"}
    )
    assert r.status_code == 403
    with world.sessions() as s:
        assert len(list(s.scalars(select(Account)))) == len(world.ids)


async def test_account_errors_are_korean_for_a_korean_browser(world: World, app: FastAPI) -> None:
    async with browser_client(app, **{"accept-language": "ko"}) as client:
        browser = Browser(client)
        await browser.login("ada")
        await browser.get("/app/admin/accounts")
        r = await browser.post(
            "/app/admin/accounts", {"username": "ok-name", "display_name": "", "role": "x"}
        )
    assert r.status_code == 422
    assert "꼭 적어 주세요." in r.text
    assert "목록에서 골라 주세요." in r.text


# --- robots -------------------------------------------------------------------------------------


def fall_with_model(device_id: str, seq: int, version: str, minutes: float = 0) -> bytes:
    payload = FallPayload(confidence=0.2, countdown=CountdownOutcome.CANCELLED)
    return encode(
        make_envelope(
            device_id,
            seq,
            payload,
            event_type=EventType.FALL,
            ts=NOW + timedelta(minutes=minutes),
            model=ModelRef(name="fall", version=version),
        )
    )


def battery(device_id: str, seq: int, level: float) -> bytes:
    payload = BatteryPayload(level_pct=level, charging=False)
    return encode(make_envelope(device_id, seq, payload, event_type=EventType.BATTERY, ts=NOW))


@pytest.mark.parametrize("username", ["ada", "ian"])
async def test_admins_and_installers_see_every_robots_health(
    world: World, browser: Browser, username: str
) -> None:
    add_event(world.sessions, events_topic("dev-a"), heartbeat("dev-a", 10))
    add_event(world.sessions, events_topic("dev-a"), battery("dev-a", 11, 37.0))
    add_event(world.sessions, events_topic("dev-a"), fall_with_model("dev-a", 12, "3.0.0"))
    r = await browser.login(username)
    if username == "ian":
        assert r.headers["location"] == "/app/admin/robots"
    r = await browser.get("/app/admin/robots")
    assert r.status_code == 200
    row_a = r.text.split('id="robot-dev-a"')[1].split("</tr>")[0]
    assert "김순자 (s-a)" in row_a
    assert "37%" in row_a
    assert "imu" in row_a
    assert "fall 3.0.0" in row_a
    assert "0.1.0" in row_a
    row_b = r.text.split('id="robot-dev-b"')[1].split("</tr>")[0]
    assert "박말순 (s-b)" in row_b
    assert "unknown" in row_b
    reads = audit_rows(world.sessions, "read", "device")
    assert {row.senior_id for row in reads} == {"s-a", "s-b"}


@pytest.mark.parametrize("username", ["alice", "rita"])
async def test_caregivers_and_researchers_get_403_on_the_robots_and_provisioning(
    world: World, browser: Browser, username: str
) -> None:
    await browser.login(username)
    for path in ("/app/admin/robots", "/app/admin/provision", "/app/admin/rollouts"):
        assert (await browser.get(path)).status_code == 403, path


async def test_installers_get_403_on_accounts_and_rollouts(world: World, browser: Browser) -> None:
    await browser.login("ian")
    assert (await browser.get("/app/admin/accounts")).status_code == 403
    assert (await browser.get("/app/admin/rollouts")).status_code == 403
    assert (await browser.get("/app/admin")).headers["location"] == "/app/admin/robots"


async def test_admin_pages_send_a_signed_out_browser_to_the_login(browser: Browser) -> None:
    for path in ("/app/admin/accounts", "/app/admin/robots", "/app/admin/provision"):
        r = await browser.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == "/app/login"


# --- provisioning -------------------------------------------------------------------------------


@pytest.fixture
def site(app: FastAPI, tmp_path: Path) -> RobotProvisioning:
    """Provisioning on: a password file and an ACL in the test's folder."""
    settings = RobotProvisioning(
        passwd_file=tmp_path / "passwd",
        acl_file=tmp_path / "dolbom.acl",
        broker_host="broker.example.org",
        broker_port=8883,
        tls=True,
        ca_file="/etc/dolbom/ca.crt",
    )
    app.state.robot_provisioning = settings
    return settings


def qr_text(page: str) -> str:
    """Draw the page's inline SVG QR code (segno's horizontal runs) and decode it with zbar."""
    svg = _SVG.search(page)
    assert svg, "no QR code on the page"
    path = re.search(r' d="([^"]+)"', svg.group(0))
    assert path
    scale = 8
    x = y = 0.0
    runs: list[tuple[float, float, float]] = []
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.group(1)):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            runs.append((x, y, float(a)))
            x += float(a)
    size = int(max(r[0] + r[2] for r in runs)) + 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for rx, ry, length in runs:
        top = (ry - 0.5) * scale
        draw.rectangle([rx * scale, top, (rx + length) * scale - 1, top + scale - 1], fill=0)
    found = decode(image)
    assert len(found) == 1, "the QR code did not decode"
    text: str = found[0].data.decode("utf-8")
    return text


async def test_an_installer_provisions_a_robot_and_its_qr_code_is_the_config_the_robot_loads(
    world: World,
    browser: Browser,
    site: RobotProvisioning,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await browser.login("ian")
    r = await browser.get("/app/admin/provision?senior=s-a")
    assert r.status_code == 200
    assert 'value="s-a"' in r.text
    r = await browser.post("/app/admin/provision", {"senior_id": "s-a", "device_id": "robot-7"})
    assert r.status_code == 200, r.text
    assert "Robot robot-7 is assigned to 김순자." in r.text
    config = qr_text(r.text)
    values = tomllib.loads(config)
    password = values["mqtt"]["password"]
    assert values["device_id"] == "robot-7"
    assert values["language"] == "ko"
    assert values["mqtt"] == {
        "host": "broker.example.org",
        "port": 8883,
        "username": "robot-7",
        "password": password,
        "tls": True,
        "ca_file": "/etc/dolbom/ca.crt",
    }
    assert len(password) == 32
    file = tmp_path / "robot.toml"
    file.write_text(config, encoding="utf-8")
    loaded = load_config(file)
    assert loaded.device_id == "robot-7"
    assert loaded.mqtt.password == password
    assert "robot-7" in passwd_users(tmp_path / "passwd")
    assert "pattern read dolbom/v1/devices/%u/commands" in (tmp_path / "dolbom.acl").read_text()
    with world.sessions() as s:
        assert s.get(Device, "robot-7").senior_id == "s-a"  # type: ignore[union-attr]
    [row] = audit_rows(world.sessions, "provision", "device")
    assert (row.actor, row.resource_id, row.senior_id) == ("installer:ian", "robot-7", "s-a")
    # the download: the same file, audited
    sealed = _SEALED.search(r.text)
    assert sealed
    assert password not in sealed.group(1)
    got = await browser.post("/app/admin/provision/config", {"sealed": unescape(sealed.group(1))})
    assert got.status_code == 200
    assert got.text == config
    assert got.headers["content-disposition"] == 'attachment; filename="robot-7.toml"'
    assert got.headers["cache-control"] == "no-store"
    [row] = audit_rows(world.sessions, "download", "device_config")
    assert (row.actor, row.resource_id, row.senior_id) == ("installer:ian", "robot-7", "s-a")
    # never a secret in the log or the audit
    assert password not in caplog.text
    with world.sessions() as s:
        assert all(password not in (a.detail or "") for a in s.scalars(select(AuditLog)))


async def test_the_config_download_is_for_its_provisioner_only_and_expires(
    world: World, browser: Browser, other: Browser, site: RobotProvisioning, clock: Clock
) -> None:
    await browser.login("ian")
    await browser.get("/app/admin/provision")
    r = await browser.post("/app/admin/provision", {"senior_id": "s-b"})
    assert r.status_code == 200
    device_id = re.search(r"Robot (robot-[0-9a-f]{8}) is assigned", r.text)
    assert device_id
    sealed = _SEALED.search(r.text)
    assert sealed
    token = unescape(sealed.group(1))
    await other.login("ada")  # another admin may not use ian's download
    await other.get("/app/admin/provision")
    assert (await other.post("/app/admin/provision/config", {"sealed": token})).status_code == 403
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    url = "/app/admin/provision/config"
    assert (await browser.post(url, {"sealed": forged})).status_code == 403
    assert (await browser.http.post(url, data={"sealed": token})).status_code == 403  # no CSRF
    clock.advance(CONFIG_TTL_S + 1)
    await browser.login("ian")  # the session ended with the token's lifetime
    await browser.get("/app/admin/provision")
    late = await browser.post("/app/admin/provision/config", {"sealed": token})
    assert late.status_code == 410
    assert "provision the robot again" in late.text
    assert audit_rows(world.sessions, "download", "device_config") == []


async def test_a_provisioned_robot_is_not_provisioned_again_unless_asked(
    world: World, browser: Browser, site: RobotProvisioning
) -> None:
    await browser.login("ada")
    await browser.get("/app/admin/provision")
    first = await browser.post("/app/admin/provision", {"senior_id": "s-a", "device_id": "dev-a"})
    assert first.status_code == 409
    assert "This robot is already provisioned" in first.text
    assert "dev-a" not in passwd_users(site.passwd_file)  # type: ignore[arg-type]
    again = await browser.post(
        "/app/admin/provision", {"senior_id": "s-b", "device_id": "dev-a", "replace": "1"}
    )
    assert again.status_code == 200
    assert tomllib.loads(qr_text(again.text))["device_id"] == "dev-a"
    with world.sessions() as s:
        assert s.get(Device, "dev-a").senior_id == "s-b"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("form", "field", "error", "code"),
    [
        ({"senior_id": "s-zz"}, "senior_id", "There is no senior with this id.", 422),
        ({"senior_id": ""}, "senior_id", "This is required.", 422),
        ({"senior_id": "s" * 65}, "senior_id", "At most 64 characters.", 422),
        ({"senior_id": "s-a", "device_id": "dolbom-cloud"}, "device_id", "not starting", 422),
        ({"senior_id": "s-a", "device_id": "robot/../x"}, "device_id", "letters, digits", 422),
        ({"senior_id": "s-a", "device_id": "r" * 65}, "device_id", "At most 64", 422),
    ],
)
async def test_bad_provisioning_input_is_refused_and_nothing_is_provisioned(
    world: World,
    browser: Browser,
    site: RobotProvisioning,
    form: dict[str, str],
    field: str,
    error: str,
    code: int,
) -> None:
    await browser.login("ian")
    await browser.get("/app/admin/provision")
    r = await browser.post("/app/admin/provision", form)
    assert r.status_code == code
    assert f'id="pv-{field}-err"' in r.text
    assert error in unescape(r.text)
    assert not (site.passwd_file and site.passwd_file.exists())
    with world.sessions() as s:
        assert {d.id for d in s.scalars(select(Device))} == {"dev-a", "dev-b"}


async def test_provisioning_is_off_until_configured(world: World, browser: Browser) -> None:
    await browser.login("ian")
    r = await browser.get("/app/admin/provision")
    assert "Provisioning is off on this server" in r.text
    r = await browser.post("/app/admin/provision", {"senior_id": "s-a"})
    assert r.status_code == 409
    with world.sessions() as s:
        assert {d.id for d in s.scalars(select(Device))} == {"dev-a", "dev-b"}


async def test_provisioning_refuses_missing_csrf_and_other_roles(
    world: World, browser: Browser, site: RobotProvisioning
) -> None:
    await browser.login("ian")
    await browser.get("/app/admin/provision")
    r = await browser.http.post("/app/admin/provision", data={"senior_id": "s-a"})
    assert r.status_code == 403
    await browser.post("/app/logout", {})
    await browser.login("alice")
    await browser.get("/app/login")
    r = await browser.post("/app/admin/provision", {"senior_id": "s-a"})
    assert r.status_code == 403
    assert not (site.passwd_file and site.passwd_file.exists())


# --- rollouts -----------------------------------------------------------------------------------


async def test_rollouts_count_the_robots_that_report_the_new_version(
    world: World, app: FastAPI, browser: Browser
) -> None:
    add_event(world.sessions, events_topic("dev-b"), fall_with_model("dev-b", 20, "3.0.0"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as api:
        r = await api.post(
            "/model-packages/fall/4.0.0/rollouts",
            json={"device_ids": ["dev-a", "dev-b"]},
            headers=SERVICE,
        )
        assert r.status_code == 202, r.text
    add_event(world.sessions, events_topic("dev-a"), fall_with_model("dev-a", 21, "4.0.0", 5))
    add_event(world.sessions, events_topic("dev-b"), fall_with_model("dev-b", 22, "3.0.0", 5))
    await browser.login("ada")
    page = await browser.get("/app/admin/rollouts")
    assert page.status_code == 200
    row = page.text.split('id="rollout-fall-4.0.0"')[1].split("</tr>")[0]
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells[2:] == ["2", "1", "1", "0"]  # sent, updated, on another version, silent
    fleet = page.text.split('class="fleet"')[1]
    assert re.search(r"fall</th><td>3\.0\.0</td><td>1</td>", fleet)
    assert re.search(r"fall</th><td>4\.0\.0</td><td>1</td>", fleet)


async def test_no_rollouts_yet_says_so_in_korean(world: World, app: FastAPI) -> None:
    async with browser_client(app, **{"accept-language": "ko"}) as client:
        browser = Browser(client)
        await browser.login("ada")
        page = await browser.get("/app/admin/rollouts")
    assert "아직 배포한 모델이 없습니다." in page.text


def test_the_qr_reader_reads_segno_output() -> None:
    """The test's own SVG reader against a known text (so a failure above is the app's)."""
    from cloud.app.admin import qr_svg

    text = 'device_id = "r-1"\n[mqtt]\npassword = "p"\n'
    assert qr_text(str(qr_svg(text, "t"))) == text


@pytest.mark.mosquitto
async def test_a_robot_provisioned_in_the_app_connects_to_a_locked_mosquitto_with_its_qr_config(
    world: World, app: FastAPI, tmp_path: Path
) -> None:
    port = free_port()
    passwd, acl = tmp_path / "passwd", tmp_path / "dolbom.acl"
    app.state.robot_provisioning = RobotProvisioning(
        passwd_file=passwd, acl_file=acl, broker_host="127.0.0.1", broker_port=port
    )
    async with browser_client(app, **{"accept-language": "en"}) as client:
        browser = Browser(client)
        await browser.login("ian")
        await browser.get("/app/admin/provision")
        r = await browser.post("/app/admin/provision", {"senior_id": "s-a"})
    assert r.status_code == 200
    file = tmp_path / "robot.toml"
    file.write_text(qr_text(r.text), encoding="utf-8")
    robot = load_config(file)
    conf = f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    with private_mosquitto(conf, port=port):
        assert _connects(port, robot.device_id, robot.mqtt.password or "") == 0
        assert _connects(port, robot.device_id, "not-the-password") != 0


def _connects(port: int, username: str, password: str) -> int:
    """The CONNACK reason code (0: accepted) a client gets with these credentials."""
    got: list[int] = []
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{username}-{uuid.uuid4().hex[:6]}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, flags, reason, props: got.append(reason.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        wait_until(lambda: got, 10.0, "a CONNACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]
