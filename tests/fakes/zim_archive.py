"""Build small real Kiwix ZIM files with libzim's writer, for the offline evidence provider.

`build_zim(path, {title: text})` writes one HTML article per title (paragraphs split on blank
lines), a short main page, and the usual metadata; with `indexed=True` (the default)
the archive gets a Xapian full-text index, so `libzim.search.Searcher` can search it.
"""

from __future__ import annotations

import html
from pathlib import Path

from libzim.writer import Creator, Hint, Item, StringProvider

ZIM_DATE = "2024-01-15"  # the archive's "Date" metadata (when its content was captured)


class HtmlArticle(Item):
    """One HTML entry of the archive."""

    def __init__(self, path: str, title: str, markup: str) -> None:
        super().__init__()
        self.path, self.title, self.markup = path, title, markup

    def get_path(self) -> str:
        """The entry's path inside the archive."""
        return self.path

    def get_title(self) -> str:
        """The entry's title."""
        return self.title

    def get_mimetype(self) -> str:
        """HTML, so that libzim indexes it as an article."""
        return "text/html"

    def get_contentprovider(self) -> StringProvider:
        """The markup."""
        return StringProvider(self.markup)

    def get_hints(self) -> dict[Hint, int]:
        """A front article: counted, listed and searchable."""
        return {Hint.FRONT_ARTICLE: True}


def article_path(title: str) -> str:
    """The entry path of `title`, in the Kiwix style (`Eiffel_Tower`)."""
    return title.replace(" ", "_")


def article_html(title: str, text: str) -> str:
    """A Wikipedia-like page: heading, paragraphs, and boilerplate a text extractor should drop."""
    paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>p { margin: 0 }</style><script>var tracking = 1;</script></head>"
        f"<body><h1>{html.escape(title)}</h1><div class='content'>{paragraphs}</div></body></html>"
    )


def build_zim(path: Path, articles: dict[str, str], *, indexed: bool = True) -> Path:
    """Write a ZIM at `path` holding `articles` ({title: plain text}) and return the path."""
    path.unlink(missing_ok=True)
    creator = Creator(path).config_indexing(indexed, "eng")
    with creator:
        creator.set_mainpath("index")
        for name, value in {
            "Title": "AutoIntel test archive",
            "Description": "Articles for the offline evidence tests",
            "Language": "eng",
            "Creator": "AutoIntel tests",
            "Publisher": "AutoIntel tests",
            "Date": ZIM_DATE,
        }.items():
            creator.add_metadata(name, value)
        index = "<html><head><title>Welcome</title></head><body><p>Offline archive.</p></body></html>"
        creator.add_item(HtmlArticle("index", "Welcome", index))
        for title, text in articles.items():
            creator.add_item(HtmlArticle(article_path(title), title, article_html(title, text)))
    return path
