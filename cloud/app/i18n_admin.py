"""The admin and installer pages' words in Korean and English (merged into cloud.app.i18n)."""

from collections.abc import Mapping

ADMIN_MESSAGES: Mapping[str, tuple[str, str]] = {
    "admin": ("관리", "Admin"),
    "admin_nav": ("관리 메뉴", "Admin menu"),
    "not_allowed_admin": (
        "이 페이지는 관리자나 설치 기사만 쓸 수 있습니다.",
        "Only admins (and, for robots, installers) can use this page.",
    ),
    # accounts
    "accounts": ("계정", "Accounts"),
    "accounts_intro": (
        "새 계정에는 한 번만 보이는 임시 비밀번호가 주어집니다. 본인에게 직접 전해 주세요.",
        "A new account gets a temporary password shown only once: hand it to the person.",
    ),
    "acc_username": ("아이디", "Username"),
    "acc_username_hint": (
        "영문, 숫자, . _ @ - 로 3-100자",
        "3-100 letters, digits or . _ @ -",
    ),
    "acc_name": ("표시 이름", "Display name"),
    "acc_role": ("역할", "Role"),
    "acc_state": ("상태", "State"),
    "acc_created": ("만든 날", "Created"),
    "acc_actions": ("작업", "Actions"),
    "acc_enabled": ("사용 중", "enabled"),
    "acc_disabled": ("사용 중지", "disabled"),
    "acc_new": ("새 계정", "New account"),
    "acc_create": ("계정 만들기", "Create account"),
    "acc_disable": ("사용 중지", "Disable"),
    "acc_enable": ("다시 사용", "Enable"),
    "acc_reset": ("비밀번호 초기화", "Reset password"),
    "acc_of": ("{name} 계정", "account {name}"),
    "acc_created_done": ("계정 {name}을(를) 만들었습니다.", "Account {name} created."),
    "acc_disabled_done": (
        "{name} 계정을 사용 중지했습니다. 로그인된 세션은 모두 끝났습니다.",
        "{name} is disabled; every session it had has ended.",
    ),
    "acc_enabled_done": ("{name} 계정을 다시 쓸 수 있습니다.", "{name} can log in again."),
    "acc_reset_done": (
        "{name}의 비밀번호를 바꿨습니다. 로그인된 세션은 모두 끝났습니다.",
        "{name}'s password was reset; every session it had has ended.",
    ),
    "temp_password": ("임시 비밀번호", "Temporary password"),
    "temp_password_once": (
        "이 비밀번호는 지금 한 번만 보입니다. 적어서 본인에게 전해 주세요.",
        "This password is shown only now. Write it down and hand it to the person.",
    ),
    "err_username_taken": ("이미 있는 아이디입니다.", "This username is taken."),
    "err_username": (
        "영문, 숫자, . _ @ - 로 3-100자, 첫 글자는 영문이나 숫자로 적어 주세요.",
        "Use 3-100 letters, digits or . _ @ -, starting with a letter or digit.",
    ),
    "err_self": (
        "자기 계정은 여기서 사용 중지할 수 없습니다.",
        "You cannot disable your own account here.",
    ),
    "accounts_more": ("처음 {n}개 계정만 보입니다.", "Only the first {n} accounts are shown."),
    "role_admin": ("관리자", "admin"),
    "role_caregiver": ("보호자·담당자", "caregiver"),
    "role_researcher": ("연구자", "researcher"),
    "role_installer": ("설치 기사", "installer"),
    "role_coordinator": ("연구 코디네이터", "study coordinator"),
    # robots
    "robots": ("로봇", "Robots"),
    "robots_intro": (
        "로봇마다 연결, 마지막 상태 보고, 배터리, 고장, 모델 버전.",
        "Each robot's connection, last heartbeat, battery, faults and model versions.",
    ),
    "robot_id": ("로봇", "Robot"),
    "last_heartbeat": ("마지막 상태 보고", "Last heartbeat"),
    "models": ("모델 버전", "Model versions"),
    "agent_version": ("프로그램 버전", "Agent version"),
    "no_robots": ("등록된 로봇이 없습니다.", "No robots are registered."),
    "not_assigned": ("배정 안 됨", "not assigned"),
    "robots_more": ("처음 {n}대만 보입니다.", "Only the first {n} robots are shown."),
    "outbox": ("보낼 기록", "Outbox"),
    # provisioning
    "provision": ("로봇 설치", "Provision a robot"),
    "provision_intro": (
        "어르신께 로봇을 배정하고 로봇의 접속 정보(설정 파일)를 만듭니다. 설정 파일과 QR 코드는 "
        "이 화면에서 한 번만 받을 수 있습니다.",
        "Assign a robot to a senior and make its credentials (the config file). The file and "
        "its QR code can be taken only from this page, once.",
    ),
    "provision_off": (
        "이 서버에서는 로봇 설치가 꺼져 있습니다 (DOLBOM_PROVISION_PASSWD_FILE과 "
        "DOLBOM_PROVISION_BROKER_HOST 설정 필요).",
        "Provisioning is off on this server (set DOLBOM_PROVISION_PASSWD_FILE and"
        " DOLBOM_PROVISION_BROKER_HOST).",
    ),
    "pv_senior": ("어르신 번호", "Senior id"),
    "pv_device": ("로봇 번호 (비우면 새로 만듦)", "Robot id (empty: a new one)"),
    "pv_replace": (
        "이미 있는 로봇이면 새 비밀번호로 다시 설치 (이전 설정 파일은 못 씀)",
        "If the robot exists, re-provision it with a new password (its old config stops working)",
    ),
    "pv_submit": ("설치 정보 만들기", "Make the robot's config"),
    "pv_done": (
        "로봇 {device}을(를) {senior} 어르신께 배정했습니다.",
        "Robot {device} is assigned to {senior}.",
    ),
    "pv_qr": (
        "설치 기사 휴대폰으로 찍으세요: 로봇 설정 파일 전체가 들어 있습니다.",
        "Scan it with the installer's phone: it holds the robot's whole config file.",
    ),
    "pv_qr_title": ("로봇 {device}의 설정 QR 코드", "QR code of robot {device}'s config"),
    "pv_reload": (
        "브로커가 비밀번호 파일을 다시 읽은 뒤에 로봇이 접속할 수 있습니다 (운영자: "
        "systemctl reload mosquitto).",
        "The robot can connect once the broker has re-read its password file (operator:"
        " systemctl reload mosquitto).",
    ),
    "pv_download": ("설정 파일 내려받기 (robot.toml)", "Download the config (robot.toml)"),
    "pv_secret": (
        "설정 파일에는 로봇의 비밀번호가 들어 있습니다. {min}분 안에 내려받고, 다른 사람과 "
        "나누지 마세요.",
        "The config holds the robot's password. Download it within {min} minutes and share it"
        " with no one.",
    ),
    "pv_expired": (
        "설정 파일을 받을 수 있는 시간이 지났습니다. 로봇을 다시 설치하세요.",
        "The config can no longer be downloaded: provision the robot again.",
    ),
    "err_no_senior": ("그런 어르신이 없습니다.", "There is no senior with this id."),
    "err_device_id": (
        "로봇 번호는 영문, 숫자, - _ 로 적어 주세요 ('dolbom-'으로 시작할 수 없음).",
        "Use letters, digits, - or _ for the robot id (not starting with 'dolbom-').",
    ),
    "err_device_known": (
        "이미 설치된 로봇입니다. 다시 설치하려면 아래 칸을 체크하세요.",
        "This robot is already provisioned: tick the box below to re-provision it.",
    ),
    "err_broker": (
        "브로커 비밀번호 파일에 쓰지 못했습니다. 관리자에게 알려 주세요.",
        "The broker's password file could not be written: tell the operator.",
    ),
    # rollouts
    "rollouts": ("모델 배포", "Model rollouts"),
    "rollouts_intro": (
        "배포한 모델마다 명령을 받은 로봇과 새 버전으로 보고한 로봇의 수.",
        "For each model rolled out: the robots sent the command and how many now report"
        " the new version.",
    ),
    "ro_model": ("모델", "Model"),
    "ro_version": ("버전", "Version"),
    "ro_sent": ("보낸 때", "Sent"),
    "ro_targets": ("보낸 로봇", "Robots sent"),
    "ro_updated": ("새 버전 보고", "Updated"),
    "ro_other": ("다른 버전 보고", "On another version"),
    "ro_silent": ("보고 없음", "Not heard since"),
    "ro_none": ("아직 배포한 모델이 없습니다.", "No model was rolled out yet."),
    "fleet_versions": ("지금 로봇들이 쓰는 버전", "Versions the robots run now"),
    "fleet_intro": (
        "최근 {days}일 동안 로봇이 보낸 기록에 적힌 모델 버전 (로봇마다 가장 최근 것).",
        "The model versions on the robots' events of the last {days} days (each robot's newest).",
    ),
    "fl_robots": ("로봇 수", "Robots"),
    "fl_none": ("모델 버전을 보고한 로봇이 없습니다.", "No robot reported a model version."),
}
