"""cloud.provisioning: the broker password file stays whole when robots are provisioned at once."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloud.provisioning import (
    ProvisioningError,
    check_device_id,
    mosquitto_passwd_binary,
    passwd_users,
    set_broker_password,
)


def test_robots_provisioned_at_the_same_time_all_keep_their_password_line(tmp_path: Path) -> None:
    binary = mosquitto_passwd_binary()
    passwd = tmp_path / "passwd"
    names = [f"robot-{i:02d}" for i in range(12)]

    def provision(name: str) -> None:
        set_broker_password(binary, passwd, name, f"pw-{name}-0123456789")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(provision, names))
    assert passwd_users(passwd) == set(names)


def test_a_password_file_that_cannot_be_written_is_an_error_without_the_password(
    tmp_path: Path,
) -> None:
    with pytest.raises(ProvisioningError) as e:
        set_broker_password(
            mosquitto_passwd_binary(), tmp_path / "no" / "dir" / "passwd", "robot-1", "secret-pw-42"
        )
    assert "secret-pw-42" not in str(e.value)


@pytest.mark.parametrize("device_id", ["dolbom-cloud", "dolbom-ingest-x", "a/b", "", "x" * 65])
def test_the_clouds_own_names_and_bad_ids_are_not_robot_ids(device_id: str) -> None:
    with pytest.raises(ProvisioningError):
        check_device_id(device_id)
