"""The organisation pages' words in Korean and English (merged into cloud.app.i18n)."""

from collections.abc import Mapping

ORG_MESSAGES: Mapping[str, tuple[str, str]] = {
    "organisation": ("기관", "Organisation"),
    "organisations": ("기관", "Organisations"),
    "all_organisations": ("전체 기관", "All organisations"),
    "manage_organisation": ("기관 관리", "Manage the organisation"),
    "no_organisations": ("속한 기관이 없습니다.", "You work for no organisation."),
    "staff": ("직원", "Staff"),
    "org_admin": ("기관 관리자", "Organisation admin"),
    "add_staff": ("직원 추가", "Add a staff member"),
    "org_remove": ("빼기", "Remove"),
    "org_save": ("저장", "Save"),
    "regions": ("지역", "Regions"),
    "add_region": ("지역 추가", "Add a region"),
    "region_name": ("지역 이름", "Region name"),
    "no_region": ("지역 없음", "No region"),
    "seniors_in": ("어르신 {n}명", "{n} seniors"),
    "caseload": ("담당 직원", "Workers"),
    "read_only": (
        "기관 관리자만 바꿀 수 있습니다.",
        "Only an admin of the organisation can change this.",
    ),
    "org_saved": ("저장했습니다.", "Saved."),
    "bad_input": ("입력을 확인하세요.", "Check what you typed."),
    "org_back": ("기관 목록", "All organisations"),
    "display_name": ("이름", "Name"),
    "username_field": ("직원 아이디", "Staff member's username"),
    "make_admin": ("기관 관리자로", "As an organisation admin"),
    "staff_remove_n": ("{name} 빼기", "Remove {name}"),
    "region_remove_n": ("{name} 지역 지우기", "Delete the region {name}"),
    "region_of_n": ("{name} 어르신의 지역", "Region of {name}"),
    "yes": ("예", "yes"),
}
