"""Which markers go on a printed sheet, and what is written beside each one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ar_markers.sheets import SheetItem
from core.errors import NotFound
from experience.models import Exhibit


def sheet_item(exhibit: Exhibit, languages: tuple[str, ...]) -> SheetItem:
    """The card for one exhibit: its titles in the library's languages, and its visitor page."""
    titles = [exhibit.title[lang] for lang in languages if exhibit.title.get(lang)]
    title = " / ".join(dict.fromkeys(titles)) or exhibit.slug
    return SheetItem(
        dictionary=exhibit.marker_dictionary,
        marker_id=exhibit.marker_id,
        size_m=exhibit.marker_size_m,
        title=title,
        url=f"/visit/{exhibit.slug}",
    )


async def sheet_items(
    session: AsyncSession, languages: tuple[str, ...], *, exhibit_id: int | None = None
) -> list[SheetItem]:
    """One exhibit's card, or every published exhibit's (ordered by id)."""
    if exhibit_id is not None:
        exhibit = await session.get(Exhibit, exhibit_id)
        if exhibit is None:
            raise NotFound(f"There is no exhibit {exhibit_id}.")
        return [sheet_item(exhibit, languages)]
    rows = await session.scalars(
        select(Exhibit).where(Exhibit.published.is_(True)).order_by(Exhibit.id)
    )
    items = [sheet_item(e, languages) for e in rows]
    if not items:
        raise NotFound("No exhibit is published yet, so there is no marker to print.")
    return items
