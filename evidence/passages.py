"""Evidence text, without any network: page bodies to main text, main text to ranked passages.

- `decode_text` turns a fetched body into text the way browsers do: byte-order mark, then the
  Content-Type charset, then `<meta charset>` / http-equiv, else UTF-8 (errors replaced);
  ISO-8859-1 and ASCII labels mean windows-1252 (WHATWG Encoding). `looks_binary` sniffs
  bodies that claim to be text but are not (NUL bytes, PDF and image signatures).
- `main_text` (blocking: run it in a thread) keeps an HTML page's article text with
  trafilatura and reads its title and date; when trafilatura finds nothing it falls back to the
  `<title>` and the text of the `<p>` elements. `html_to_text` reads a whole article (ZIM
  entries) more generously.
- `split_passages` cuts text into overlapping windows of sentences, `bm25_scores` is Okapi
  BM25 over content words (`crews.text.content_words`), and `rank` embeds only BM25's best
  candidates, together with the claim in one batch, and orders them by cosine similarity.
"""

from __future__ import annotations

import codecs
import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol

import numpy as np

from crews.text import content_words

MIN_PASSAGE_CHARS = 40
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_WIDE_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*utf-?(16|32)""", re.IGNORECASE)
# Browsers decode these labels as windows-1252, so “curly quotes” and € survive a Latin-1 header.
_WINDOWS_1252 = frozenset(
    "iso-8859-1 iso8859-1 latin1 latin-1 l1 iso_8859-1 cp819 ibm819 us-ascii ascii windows-1252".split()
)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_BINARY_SIGNATURES = (b"%PDF-", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")


class Embeds(Protocol):
    """What `rank` needs of an embedder (memory.embeddings.Embedder): normalised vectors."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order."""
        ...


class MemoEmbedder:
    """An `Embeds` that remembers vectors by text: pages shared by several claims embed once."""

    def __init__(self, inner: Embeds, capacity: int = 4096) -> None:
        """Wrap `inner`, keeping at most `capacity` vectors (oldest dropped first)."""
        self.inner, self.capacity = inner, capacity
        self.vectors: dict[str, list[float]] = {}

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for `texts`; only the ones not seen before reach the wrapped embedder."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        fresh = dict(zip(missing, await self.inner.embed(missing), strict=True)) if missing else {}
        found = [fresh[t] if t in fresh else self.vectors[t] for t in texts]
        self.vectors.update(fresh)
        while len(self.vectors) > self.capacity:
            del self.vectors[next(iter(self.vectors))]
        return found


def _codec(label: bytes | None) -> str | None:
    """Python's codec for a charset label (windows-1252 for its WHATWG aliases), or None."""
    if label is None:
        return None
    name = label.decode("ascii", "replace").strip().lower()
    if name in _WINDOWS_1252:
        return "cp1252"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_text(body: bytes, content_type: str, html: bool) -> str:
    """A body as text: BOM, then the header's charset, then (HTML) `<meta charset>`, else UTF-8."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, errors="replace")
    found = _CHARSET.search(content_type.encode("latin-1", "replace"))
    codec = _codec(found.group(1)) if found else None
    if codec is None and html:
        meta = _META_CHARSET.search(body[:4096])
        codec = _codec(meta.group(1)) if meta else None
        if codec is not None and codec.startswith(("utf-16", "utf-32")):
            codec = "utf-8"  # a <meta> readable as ASCII cannot be UTF-16 (WHATWG does the same)
    return body.decode(codec or "utf-8", errors="replace")


def looks_binary(body: bytes, content_type: str) -> bool:
    """Whether a body served as (or assumed to be) text is binary: NUL bytes or a file signature."""
    if body.startswith(_BINARY_SIGNATURES):
        return True
    wide = _WIDE_CHARSET.search(content_type.encode("latin-1", "replace")) is not None
    wide = wide or body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return not wide and b"\x00" in body[:65536]


def _fallback(html: str) -> tuple[str | None, str]:
    """The <title> and the visible text of the <p> elements."""
    import lxml.etree
    import lxml.html

    try:
        document = lxml.html.document_fromstring(html)
    except (lxml.etree.LxmlError, ValueError):
        return None, ""
    title = " ".join((document.findtext(".//title") or "").split()) or None
    paragraphs = (" ".join(p.text_content().split()) for p in document.iter("p"))
    return title, "\n".join(p for p in paragraphs if p)


def main_text(html: str, url: str) -> tuple[str | None, str, str | None]:
    """(title, main text, published ISO date) of an HTML page; blocking (run it in a thread)."""
    import trafilatura

    # One parse for text and metadata; `fast` skips the backup extractors (the <p> fallback below
    # covers pages trafilatura cannot read): half the time of extract + extract_metadata.
    document = trafilatura.bare_extraction(
        html,
        url=url,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        with_metadata=True,
        fast=True,
    )
    text: str = getattr(document, "text", None) or ""
    title: str | None = getattr(document, "title", None) or None
    published: str | None = getattr(document, "date", None) or None
    if not text:
        fallback_title, text = _fallback(html)
        title = title or fallback_title
    return title, text.strip(), published


def html_to_text(markup: str) -> str:
    """Main plain text of a whole HTML article (a ZIM entry): trafilatura favouring recall, tables
    kept, lxml's text when it finds nothing. `main_text` is the stricter reading of web pages."""
    import lxml.etree
    import lxml.html
    import trafilatura

    text = trafilatura.extract(markup, include_comments=False, include_tables=True, favor_recall=True)
    if text:
        return text.strip()
    try:
        tree = lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):  # empty or undecodable document: no text
        return ""
    for node in tree.xpath("//script|//style|//head"):
        node.drop_tree()
    lines = (" ".join(line.split()) for line in tree.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _sentences(text: str, max_chars: int) -> list[str]:
    """The sentences of `text` (whitespace normalised; line breaks are spaces), none over `max_chars`."""
    text = " ".join(text.split())
    cuts = [0, *(match.end() for match in _SENTENCE_END.finditer(text)), len(text)]
    found: list[str] = []
    for sentence in (text[start:end].strip() for start, end in pairwise(cuts)):
        while len(sentence) > max_chars:  # cut an overlong sentence at a word boundary
            cut = sentence.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            found.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            found.append(sentence)
    return found


def split_passages(
    text: str, sentences_per_passage: int = 3, max_chars: int = 700, *, overlap: int = 1
) -> list[str]:
    """Windows of consecutive sentences overlapping by `overlap` sentences, at most `max_chars` long.

    Whitespace is normalised; a window stops early rather than pass `max_chars`; passages
    shorter than 40 characters are dropped.
    """
    sentences = _sentences(text, max_chars)
    size = max(1, sentences_per_passage)
    passages: list[str] = []
    start = 0
    while start < len(sentences):
        end, length = start + 1, len(sentences[start])
        while end < len(sentences) and end - start < size and length + 1 + len(sentences[end]) <= max_chars:
            length += 1 + len(sentences[end])
            end += 1
        passages.append(" ".join(sentences[start:end]))
        if end >= len(sentences):
            break
        start = end - overlap if end - start > overlap else end
    return [passage for passage in passages if len(passage) >= MIN_PASSAGE_CHARS]


def bm25_scores(query: str, passages: Sequence[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 score of every passage for `query` (content words: no stopwords, light stems)."""
    documents = [Counter(content_words(passage)) for passage in passages]
    if not documents:
        return []
    lengths = [sum(document.values()) for document in documents]
    average = sum(lengths) / len(documents) or 1.0
    frequency = Counter(term for document in documents for term in document)
    terms = set(content_words(query))
    idf = {
        term: math.log(1 + (len(documents) - frequency[term] + 0.5) / (frequency[term] + 0.5))
        for term in terms
    }
    scores = []
    for document, length in zip(documents, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        scores.append(
            sum(idf[t] * document[t] * (k1 + 1) / (document[t] + norm) for t in terms if t in document)
        )
    return scores


async def rank(
    embedder: Embeds, claim: str, passages: Sequence[str], k: int, prefilter: int = 32
) -> list[tuple[int, float]]:
    """The `k` passages most similar to `claim`: (index into `passages`, cosine), best first.

    BM25 keeps the best `prefilter` passages (ties keep text order); only those are embedded,
    in one `embed` call together with the claim.
    """
    if not passages or k <= 0:
        return []
    scores = bm25_scores(claim, passages)
    candidates = sorted(range(len(passages)), key=lambda i: (-scores[i], i))[: max(1, prefilter)]
    vectors = await embedder.embed([claim, *(passages[i] for i in candidates)])
    matrix = np.asarray(vectors, dtype=np.float32)
    cosines = matrix[1:] @ matrix[0]
    order = sorted(range(len(candidates)), key=lambda j: (-float(cosines[j]), candidates[j]))
    return [(candidates[j], float(cosines[j])) for j in order[:k]]
