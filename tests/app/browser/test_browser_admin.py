"""The admin and installer pages in Debian's chromium: an account created and then disabled
loses its open session; an installer provisions a robot on a 360 px phone and the QR code on
the screen decodes to the downloaded config; axe-core finds no serious WCAG 2.2 AA violation
on the admin pages in Korean and English, at phone and desktop size."""

import io
import tomllib
from pathlib import Path

import pytest
from fastapi import FastAPI
from PIL import Image
from playwright.sync_api import Browser, Page
from pyzbar.pyzbar import decode
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.provisioning import RobotProvisioning
from cloud.store.models import Account, Device
from tests.app.browser.pages import DESKTOP, PHONE, _fits, _open, _serious, _shot
from tests.cloud.api.conftest import PASSWORD, World


def _sign_in(page: Page, username: str, password: str = PASSWORD, lands: str = "/app/") -> None:
    page.goto("/app/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{lands}")


@pytest.fixture
def site(plain_http_app: FastAPI, tmp_path: Path) -> RobotProvisioning:
    settings = RobotProvisioning(
        passwd_file=tmp_path / "passwd", broker_host="mqtt.example.org", broker_port=1883
    )
    plain_http_app.state.robot_provisioning = settings
    return settings


def test_an_account_created_in_the_browser_loses_its_session_when_disabled(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
) -> None:
    admin = _open(chromium, base_url, DESKTOP, "en-US")
    _sign_in(admin, "ada")
    admin.click("nav >> text=Admin")
    admin.wait_for_selector("h1 >> text=Accounts")
    admin.fill("#acc-username", "carol")
    admin.fill("#acc-display_name", "Carol Kim")
    admin.select_option("#acc-role", "caregiver")
    admin.click("text=Create account")
    admin.wait_for_selector("text=Account carol created.")
    password = admin.inner_text(".secret .password code")
    carol = _open(chromium, base_url, PHONE, "en-US")
    _sign_in(carol, "carol", password)
    carol.wait_for_selector("h1 >> text=My seniors")
    with sessions() as s:
        carol_id = s.scalars(select(Account.id).where(Account.username == "carol")).one()
    admin.click(f"#account-{carol_id} >> text=Disable")
    admin.wait_for_selector("text=carol is disabled; every session it had has ended.")
    _shot(admin, "accounts-desktop")
    carol.reload()
    carol.wait_for_url("**/app/login")
    assert carol.is_visible("#username")
    assert admin.problems == []  # type: ignore[attr-defined]
    assert carol.problems == []  # type: ignore[attr-defined]


def test_an_installer_provisions_a_robot_on_a_phone_and_its_qr_code_decodes(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
    site: RobotProvisioning,
) -> None:
    page = _open(chromium, base_url, PHONE, "ko-KR")
    _sign_in(page, "ian", lands="/app/admin/robots")
    page.wait_for_selector("#robot-dev-a")
    page.click("text=로봇 설치")
    page.fill("#pv-senior_id", "s-a")
    page.fill("#pv-device_id", "robot-0042")
    page.click("button >> text=설치 정보 만들기")
    page.wait_for_selector("figure.qr svg")
    assert page.is_visible("text=로봇 robot-0042을(를) 김순자 어르신께 배정했습니다.")
    png = page.locator("figure.qr svg").screenshot()
    [code] = decode(Image.open(io.BytesIO(png)))
    shown = code.data.decode("utf-8")
    with page.expect_download() as info:
        page.click("button >> text=설정 파일 내려받기 (robot.toml)")
    download = info.value
    assert download.suggested_filename == "robot-0042.toml"
    saved = Path(download.path()).read_text(encoding="utf-8")
    assert shown == saved
    config = tomllib.loads(saved)
    assert config["device_id"] == "robot-0042"
    assert config["mqtt"]["host"] == "mqtt.example.org"
    with sessions() as s:
        assert s.get(Device, "robot-0042").senior_id == "s-a"  # type: ignore[union-attr]
    assert _fits(page, PHONE["width"])
    _shot(page, "provision-phone")
    assert page.problems == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violation_on_the_admin_pages(
    chromium: Browser,
    base_url: str,
    world: World,
    site: RobotProvisioning,
    lang: str,
    viewport: dict[str, int],
) -> None:
    page = _open(chromium, base_url, viewport, lang)
    _sign_in(page, "ada")
    found: dict[str, list[str]] = {}
    page.goto("/app/admin/accounts")
    page.click(f"#account-{world.ids['bob']} button[type=submit] >> nth=-1")  # reset: shown once
    page.wait_for_selector(".secret")
    found["accounts"] = _serious(page)
    page.fill("#acc-username", "-bad")
    page.fill("#acc-display_name", "x")
    page.click("#acc-username >> xpath=ancestor::form >> button[type=submit]")
    page.wait_for_selector("#acc-username-err")
    found["accounts with an error"] = _serious(page)
    for name in ("robots", "provision", "rollouts"):
        page.goto(f"/app/admin/{name}")
        found[name] = _serious(page)
    page.goto("/app/admin/provision")
    page.fill("#pv-senior_id", "s-b")
    page.click("#pv-senior_id >> xpath=ancestor::form >> button[type=submit]")
    page.wait_for_selector("figure.qr svg")
    found["provisioned"] = _serious(page)
    assert _fits(page, viewport["width"])
    assert {k: v for k, v in found.items() if v} == {}
    # the refused form is a 422 page on purpose; nothing else (CSP, script) may complain
    refused = "the server responded with a status of 422"
    assert [p for p in page.problems if refused not in p] == []  # type: ignore[attr-defined]
