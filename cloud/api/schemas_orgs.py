"""Bodies of the organisations API (issue 15): agencies, their regions, staff and seniors."""

from datetime import datetime

from pydantic import BaseModel, Field

from cloud.api.schemas import _IN, ID_PATTERN

# Printable text: no control characters (a name is shown on pages, in CSV and print views).
_TEXT = r"^[^\x00-\x1f\x7f]+$"
USERNAME = r"^[^\x00-\x1f\x7f/]{1,100}$"


class OrganisationIn(BaseModel):
    """A new organisation (platform admin)."""

    model_config = _IN
    id: str = Field(pattern=ID_PATTERN, description="A stable id, e.g. 'gangnam-care'.")
    name: str = Field(min_length=1, max_length=100, pattern=_TEXT)


class OrganisationOut(BaseModel):
    """An organisation."""

    id: str
    name: str
    created_at: datetime


class RegionIn(BaseModel):
    """A new region of an organisation."""

    model_config = _IN
    name: str = Field(min_length=1, max_length=64, pattern=_TEXT)


class RegionOut(BaseModel):
    """A region and how many of the organisation's seniors are in it."""

    id: int
    name: str
    seniors: int = 0


class StaffIn(BaseModel):
    """A staff member's rights in the organisation."""

    model_config = _IN
    is_admin: bool = Field(
        default=False,
        strict=True,
        description="May manage the organisation's staff, regions and seniors.",
    )


class StaffOut(BaseModel):
    """A caregiver account working for the organisation."""

    account_id: int
    username: str
    display_name: str
    is_admin: bool
    added_at: datetime


class OrganisationDetail(OrganisationOut):
    """An organisation with its regions, staff and the number of its seniors."""

    regions: list[RegionOut]
    staff: list[StaffOut]
    seniors: int


class OrgSeniorIn(BaseModel):
    """Which region of the organisation a senior is in (None: no region)."""

    model_config = _IN
    region: str | None = Field(default=None, min_length=1, max_length=64, pattern=_TEXT)


class OrgSeniorOut(BaseModel):
    """A senior of the organisation, their region and the staff whose caseload they are in."""

    senior_id: str
    display_name: str
    organisation_id: str
    region: str | None
    workers: list[str]
