"""Renderer stage, page sources: the common shape of every format module's output.

Owns the ``Source`` contract: a part is opened first (so it is checked, converted and its
pages counted before any page is drawn; the header's "P.n/m" and the 100-page limit need the
total), then its pages are drawn one at a time as bilevel images of the content area.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from PIL import Image


class Source(ABC):
    """The pages of one part of the mail."""

    def __init__(self, name: str, count: int, description: str | None = None) -> None:
        self.name = name
        self.count = count
        self._description = description

    @property
    def description(self) -> str:
        """What went in, for RenderedDocument.parts."""
        if self._description is not None:
            return self._description
        return f"{self.name} ({self.count} page{'s' if self.count != 1 else ''})"

    @abstractmethod
    def page(self, index: int) -> Image.Image:
        """Page ``index`` (0-based) as a bilevel image the size of the content area, or of
        the whole sheet with the header band's lines left white (saves a copy)."""

    def pages(self) -> Iterator[Image.Image]:
        """All ``count`` pages in order."""
        for index in range(self.count):
            yield self.page(index)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the source holds (documents, temporary files)."""


class ListSource(Source):
    """A source whose pages are already drawn."""

    def __init__(self, name: str, pages: list[Image.Image], description: str | None = None):
        super().__init__(name, len(pages), description)
        self._pages = pages

    def page(self, index: int) -> Image.Image:
        return self._pages[index]
