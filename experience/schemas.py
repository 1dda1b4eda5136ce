"""What curators send: exhibits and tours as they cross the edge, validated once here."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

LangCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]

# Marker ids each dictionary can print (OpenCV's predefined dictionaries).
DICTIONARY_SIZES = {"aruco_4x4_50": 50, "apriltag_36h11": 587}
DictionaryName = Literal["aruco_4x4_50", "apriltag_36h11"]


def _finite(vector: list[float]) -> list[float]:
    if not all(math.isfinite(v) for v in vector):
        raise ValueError("coordinates must be finite numbers")
    return vector


def _unit(vector: list[float]) -> list[float]:
    length = math.sqrt(sum(v * v for v in _finite(vector)))
    if length < 1e-9:
        raise ValueError("a normal must not be the zero vector")
    return [v / length for v in vector]


Vec3 = Annotated[list[float], Field(min_length=3, max_length=3), AfterValidator(_finite)]
Normal = Annotated[list[float], Field(min_length=3, max_length=3), AfterValidator(_unit)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Marker(Strict):
    dictionary: DictionaryName = "aruco_4x4_50"
    id: int = Field(ge=0)
    size_m: float = Field(default=0.15, ge=0.02, le=2.0)

    @model_validator(mode="after")
    def _id_in_dictionary(self) -> Marker:
        size = DICTIONARY_SIZES[self.dictionary]
        if self.id >= size:
            raise ValueError(f"{self.dictionary} has markers 0 to {size - 1}; {self.id} is not one")
        return self


class Hotspot(Strict):
    position: Vec3
    normal: Normal = Field(default_factory=lambda: [0.0, 1.0, 0.0])
    title: dict[LangCode, ShortText] = Field(default_factory=dict, max_length=20)
    body: dict[LangCode, LongText] = Field(default_factory=dict, max_length=20)


class CatalogLink(Strict):
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "local"
    record_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


Slug = Annotated[
    str, StringConstraints(min_length=1, max_length=120, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
Titles = Annotated[dict[LangCode, ShortText], Field(max_length=20)]
Texts = Annotated[dict[LangCode, LongText], Field(max_length=20)]


class ExhibitIn(Strict):
    slug: Slug
    title: Titles = Field(min_length=1)
    narration: Texts = Field(default_factory=dict)
    asset_id: int | None = Field(default=None, ge=1)
    marker: Marker
    anchor_offset: Vec3 = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    hotspots: list[Hotspot] = Field(default_factory=list, max_length=50)
    catalog: CatalogLink | None = None
    published: bool = False


class ExhibitPatch(Strict):
    slug: Slug | None = None
    title: Titles | None = None
    narration: Texts | None = None
    asset_id: int | None = Field(default=None, ge=1)
    marker: Marker | None = None
    anchor_offset: Vec3 | None = None
    hotspots: list[Hotspot] | None = Field(default=None, max_length=50)
    catalog: CatalogLink | None = None
    published: bool | None = None


class TourStop(Strict):
    exhibit_id: int = Field(ge=1)
    note: Texts = Field(default_factory=dict)


class TourIn(Strict):
    title: Titles = Field(min_length=1)
    stops: list[TourStop] = Field(min_length=1, max_length=100)


class TourPatch(Strict):
    title: Titles | None = None
    stops: list[TourStop] | None = Field(default=None, min_length=1, max_length=100)
