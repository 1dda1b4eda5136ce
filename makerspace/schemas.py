"""What crosses the edge into the print farm, validated before any domain code sees it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

_WORD = r"^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,39}$"


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({tag.strip().lower() for tag in tags if tag.strip()})
    for tag in cleaned:
        if len(tag) > 40:
            raise ValueError(f"the tag '{tag[:40]}…' is longer than 40 characters")
    return cleaned


class PrinterIn(BaseModel):
    """`POST /printers`. The API key is write-only: no response ever carries it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    driver: Literal["octoprint"] = "octoprint"
    url: HttpUrl
    api_key: str = Field(min_length=8, max_length=200, repr=False)
    port: str | None = Field(default="VIRTUAL", max_length=80)
    printer_type: str = Field(default="fdm", pattern=_WORD)
    build_volume_mm: tuple[float, float, float]
    nozzle_mm: float = Field(default=0.4, gt=0.05, le=2.0)
    material: str = Field(default="PLA", pattern=_WORD)
    tags: list[str] = Field(default_factory=list, max_length=20)
    enabled: bool = True
    needs_bed_clear: bool = True

    @field_validator("build_volume_mm")
    @classmethod
    def _positive(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not 1 <= side <= 2000 for side in value):
            raise ValueError("each side of the build volume must be 1–2000 mm")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


class PrinterPatch(BaseModel):
    """`PATCH /printers/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=80)
    url: HttpUrl | None = None
    api_key: str | None = Field(default=None, min_length=8, max_length=200, repr=False)
    port: str | None = Field(default=None, max_length=80)
    printer_type: str | None = Field(default=None, pattern=_WORD)
    build_volume_mm: tuple[float, float, float] | None = None
    nozzle_mm: float | None = Field(default=None, gt=0.05, le=2.0)
    material: str | None = Field(default=None, pattern=_WORD)
    tags: list[str] | None = Field(default=None, max_length=20)
    enabled: bool | None = None
    needs_bed_clear: bool | None = None

    @field_validator("build_volume_mm")
    @classmethod
    def _positive(
        cls, value: tuple[float, float, float] | None
    ) -> tuple[float, float, float] | None:
        return PrinterIn._positive(value) if value is not None else None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return _clean_tags(value) if value is not None else None


class JobOptions(BaseModel):
    """The choices that come with an upload (multipart fields) or a replica request."""

    model_config = ConfigDict(extra="forbid")
    printer_id: int | None = Field(default=None, ge=1)
    printer_type: str | None = Field(default=None, pattern=_WORD)
    material: str | None = Field(default=None, pattern=_WORD)
    tags: list[str] = Field(default_factory=list, max_length=20)
    reservation_id: int | None = Field(default=None, ge=1)
    # False (the default): the job waits in `ready`, showing its estimate, until the member
    # confirms it. True: it joins the queue as soon as its estimate is known.
    confirm: bool = False

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


class ReplicaIn(JobOptions):
    """`POST /print-jobs` as JSON: a replica of an asset at a given height."""

    asset_id: int = Field(ge=1)
    height_mm: float = Field(gt=5, le=1000)


class JobPatch(BaseModel):
    """Staff reorder the queue: a higher priority goes first."""

    model_config = ConfigDict(extra="forbid")
    priority: int = Field(ge=-100, le=100)
