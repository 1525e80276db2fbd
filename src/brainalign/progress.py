"""One progress bar style for all long work (rich)."""
from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def track(items: Iterable[T], description: str, total: int | None = None, disable: bool = False) -> Iterator[T]:
    """Iterate over ``items`` showing a progress bar with counts and time left (to stderr)."""
    if disable:
        yield from items
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    from rich.console import Console

    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        yield from progress.track(items, total=total, description=description)
