"""`dolbom research`: a coordinator's whole round trip, with clear errors."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloud.store import make_engine, make_session_factory
from cloud.store.models import Device, Senior
from dolbom.cli import app
from tests.helpers.ports import free_port


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[Path], str]
) -> Path:
    url = migrated_sqlite(tmp_path / "cli.sqlite3")
    engine = make_engine(url)
    now = datetime.now(UTC) - timedelta(days=3)
    with make_session_factory(engine)() as s, s.begin():
        for i in range(6):
            s.add(Senior(id=f"s-{i}", display_name=f"어르신{i}", settings={}, created_at=now))
            s.flush()
            s.add(Device(id=f"robot-{i}", senior_id=f"s-{i}", first_seen=now, last_seen=now))
    engine.dispose()
    monkeypatch.setenv("DOLBOM_DATABASE_URL", url)
    monkeypatch.setenv("DOLBOM_MQTT_PORT", str(free_port()))  # no broker there
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["research", *args])
    return result.exit_code, result.stdout, result.stderr


def test_coordinator_round_trip(env: Path) -> None:
    assert _run("study", "create", "--id", "pilot", "--title", "Pilot")[0] == 0
    code, out, err = _run("consent-form", "--study", "pilot", "--version", "v1")
    assert code == 0, err
    codes = []
    for i in range(6):
        code, out, err = _run(
            "enrol",
            "--study",
            "pilot",
            "--senior",
            f"s-{i}",
            "--arm",
            "control" if i % 2 else "intervention",
            "--device",
            f"robot-{i}",
            "--birth-year",
            "1942",
            "--sex",
            "f",
            "--region",
            "부산광역시",
        )
        assert code == 0, err
        codes.append(out.strip())
        code, out, err = _run(
            "consent",
            "--study",
            "pilot",
            "--participant",
            codes[-1],
            "--form",
            "v1",
            "--grant",
            "mood,screening",
            "--deny",
            "conversation",
        )
        assert code == 0, err
        assert "0/2 robot command(s) sent" in out
        assert "unreachable" in err
    _import_round_trip(env, codes)
    code, out, err = _run("metrics", "recompute", "--study", "pilot")
    assert code == 0, err
    assert "participant-day rows written" in out
    code, out, err = _run("export", "--study", "pilot", "--k", "7")
    assert code == 1
    assert "export refused: cannot reach k=7" in err
    code, out, err = _run("export", "--study", "pilot", "--format", "csv", "--out", "exp")
    assert code == 0, err
    assert sorted(p.name for p in (env / "exp").iterdir())[:3] == [
        "assessments.csv",
        "daily_metrics.csv",
        "data_dictionary.json",
    ]
    disclosure = json.loads((env / "exp" / "disclosure_report.json").read_text("utf-8"))
    assert disclosure["k_achieved"] >= 5
    assert disclosure["subjects_out"] == 6
    code, out, err = _run("report", "--study", "pilot", "--out", "r.html")
    assert code == 0, err
    assert (env / "r.html").read_text("utf-8").startswith("<!")
    code, out, err = _run("withdraw", "--study", "pilot", "--participant", codes[0])
    assert code == 0, err
    assert f"{codes[0]} withdrawn; data deleted" in out


def _import_round_trip(env: Path, codes: list[str]) -> None:
    """A CSV with one bad row is refused whole, naming line and column; the fixed one imports."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from cloud.store.models import Assessment, Participant

    engine = make_engine(f"sqlite:///{env / 'cli.sqlite3'}")
    with make_session_factory(engine)() as s:
        enrolled = s.scalars(select(Participant.enrolled_at)).first()
    assert enrolled is not None
    day = enrolled.astimezone(ZoneInfo("Asia/Seoul")).date()
    rows = "".join(f"{c},ucla3,{day},,1,2,1\n" for c in codes)
    header = "participant,instrument,visit_date,time_point,item_1,item_2,item_3\n"
    (env / "bad.csv").write_text(header + rows + f"{codes[0]},ucla3,{day},,1,2,\n", "utf-8")
    code, out, err = _run("import-assessments", "bad.csv", "--study", "pilot")
    assert code == 1
    assert "nothing imported" in err
    assert "line 8, visit_date: " in err  # the repeated visit of codes[0]
    (env / "good.csv").write_text(header + rows, "utf-8")
    code, out, err = _run("import-assessments", "good.csv", "--study", "pilot")
    assert code == 0, err
    assert "imported 6 assessment(s) (ucla3 6); total only: 0" in out
    with make_session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Assessment)) == 6
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("enrol", "--study", "nope", "--senior", "s-0", "--arm", "control"),
            "error: no study with id 'nope'",
        ),
        (
            ("export", "--study", "pilot", "--format", "xlsx"),
            "error: --format must be csv or parquet, not 'xlsx'",
        ),
        (("study", "create", "--id", "Bad Id", "--title", "x"), "error: study id 'Bad Id'"),
        (
            ("study", "create", "--id", "x", "--title", "x", "--schedule", "baseline"),
            "must look like label:day:instrument",
        ),
        (
            ("consent", "--study", "pilot", "--participant", "P-000000", "--form", "v1"),
            "error: give --grant and/or --deny",
        ),
    ],
)
def test_bad_input_gets_one_clear_line(env: Path, args: tuple[str, ...], message: str) -> None:
    code, _out, err = _run(*args)
    assert code != 0
    assert message in err
    [line] = [x for x in err.splitlines() if message in x]
    assert line.startswith("오류: ")  # the Korean half first, in the house form
    assert " / error: " in line
    assert "Traceback" not in err
