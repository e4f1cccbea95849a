"""normalise_source: URL validation and canonical forms, local files and their content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipelines.errors import (
    CredentialsInURLError,
    DeceptiveHostError,
    EmptySourceError,
    MalformedURLError,
    PipelineError,
    SourceNotFoundError,
    UnsupportedSchemeError,
)
from pipelines.sources import normalise_source

JFK_FLAC = Path(__file__).parent.parent / "data" / "jfk.flac"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("HTTP://WWW.Example.COM:80/a?utm_source=x&b=1&UTM_Medium=y#frag", "http://www.example.com/a?b=1"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/clip.mp4", "https://example.com:8443/clip.mp4"),
        ("  https://example.com/v?id=3&utm_campaign=z  ", "https://example.com/v?id=3"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("http://127.0.0.1:8000/jfk.flac", "http://127.0.0.1:8000/jfk.flac"),
        ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://example.com./x", "https://example.com/x"),
        # legacy numeric IPv4 spellings become the address a connect would reach
        ("http://2130706433/a", "http://127.0.0.1/a"),
        ("http://0177.0.0.1:8000/", "http://127.0.0.1:8000/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://0xA9.0xFE.0xA9.0xFE/latest", "http://169.254.169.254/latest"),
        ("http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        # single-script international names, and the mixes UTS #39 allows
        ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai/"),
        ("https://сайт.com/", "https://xn--80aswg.com/"),
        ("https://παράδειγμα.δοκιμή/", "https://xn--hxajbheg2az3al.xn--jxalpdlp/"),
        ("https://ドメイン名例.jp/", "https://xn--eckwd4c7cu47r2wf.jp/"),
        ("https://ｅｘａｍｐｌｅ.com/", "https://example.com/"),  # fullwidth Latin is plain Latin
        ("https://example.com/" + "a" * (2048 - 20), "https://example.com/" + "a" * (2048 - 20)),
    ],
)
def test_urls_are_canonicalised(text: str, canonical: str) -> None:
    source = normalise_source(text)
    assert source.kind == "url"
    assert source.location == canonical
    assert source.key == canonical


@pytest.mark.parametrize(
    "text",
    [
        "https://youtu.be/dQw4w9WgXcQ?si=tracking",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ&t=42",
        "https://youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM",
        "http://WWW.YOUTUBE.COM/watch?feature=share&v=dQw4w9WgXcQ#t=3",
    ],
)
def test_youtube_forms_share_one_canonical_url(text: str) -> None:
    source = normalise_source(text)
    assert source.key == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_youtube_url_without_video_id_is_kept() -> None:
    source = normalise_source("https://www.youtube.com/@somechannel/videos")
    assert source.location == "https://www.youtube.com/@somechannel/videos"


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        ("http://", MalformedURLError, "no host name"),
        ("https:///just/a/path", MalformedURLError, "no host name"),
        ("http://exa mple.com", MalformedURLError, "spaces"),
        ("https://[::1", MalformedURLError, "invalid IPv6 address"),
        ("http://-bad-.example/", MalformedURLError, "invalid host name"),
        ("http://1.2.3.4.5/", MalformedURLError, "invalid host name"),
        ("http://256.0.0.1/", MalformedURLError, "invalid host name"),
        ("http://[fe80::1%25eth0]/", MalformedURLError, "zone identifiers"),
        ("http://example.com:99999/", MalformedURLError, "invalid port"),
        ("https://example.com/" + "a" * 3000, MalformedURLError, "longer than 2048 characters"),
        ("https://example.com/" + "a" * (2049 - 20), MalformedURLError, "longer than 2048 characters"),
        ("data:text/html;base64,PHNjcmlwdD4=", UnsupportedSchemeError, "unsupported URL scheme 'data'"),
        ("x" * 1000 + "://example.com/", UnsupportedSchemeError, "'" + "x" * 79 + "…'"),
        ("https://" + "a" * 1000 + ".com/", MalformedURLError, "invalid host name '" + "a" * 79 + "…'"),
        ("JavaScript:alert(document.domain)", UnsupportedSchemeError, "unsupported URL scheme 'javascript'"),
        ("file://localhost/etc/passwd", UnsupportedSchemeError, "unsupported URL scheme 'file'"),
        # homographs: named in the member's spelling and in punycode
        ("https://youtubе.com/watch?v=x", DeceptiveHostError, "'youtubе.com' (xn--youtub-8of.com) mixes"),
        ("https://xn--youtub-8of.com/", DeceptiveHostError, "mixes Cyrillic and Latin letters"),
        ("https://раураӏ.com/", DeceptiveHostError, "(xn--80aa0cbo65f.com) is spelt in Cyrillic"),
        ("https://аррӏе.com/", DeceptiveHostError, "Cyrillic letters that imitate Latin ones"),
        ("https://gοοgle.com/", DeceptiveHostError, "mixes Greek and Latin letters"),
        ("https://www.раураl.com.evil.example/", DeceptiveHostError, "(www.xn--l-7sba6dbr.com.evil.example)"),
        ("ftp://example.com/a.mp3", UnsupportedSchemeError, "unsupported URL scheme 'ftp'"),
        ("file:///etc/passwd", UnsupportedSchemeError, "unsupported URL scheme 'file'"),
        ("file:/etc/passwd", UnsupportedSchemeError, "unsupported URL scheme 'file'"),
        ("javascript:alert(1)", UnsupportedSchemeError, "only http and https"),
        ("http://user:secret@example.com/a.mp3", CredentialsInURLError, "user name or password"),
        ("https://token@example.com/", CredentialsInURLError, "user name or password"),
        ("http://example.com@169.254.169.254/", CredentialsInURLError, "user name or password"),
        ("   ", MalformedURLError, "no link or file"),
    ],
)
def test_bad_urls_are_refused_with_a_specific_message(
    text: str, error: type[PipelineError], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        normalise_source(text)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


def test_local_file_is_keyed_by_content_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = hashlib.sha256(JFK_FLAC.read_bytes()).hexdigest()
    source = normalise_source(str(JFK_FLAC))
    assert source.kind == "file"
    assert source.location == str(JFK_FLAC.resolve())
    assert source.key == f"sha256:{expected}"

    copy = tmp_path / "renamed copy.flac"
    copy.write_bytes(JFK_FLAC.read_bytes())
    monkeypatch.chdir(tmp_path)
    relative = normalise_source("renamed copy.flac")
    assert relative.location == str(copy.resolve())
    assert relative.key == source.key  # same content, same identity


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "clip.flac").write_bytes(b"\x00" * 10)
    assert normalise_source("~/clip.flac").location == str((tmp_path / "clip.flac").resolve())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="file not found: ") as caught:
        normalise_source(str(tmp_path / "nope.mp3"))
    assert str(tmp_path / "nope.mp3") in caught.value.message


def test_domain_without_scheme_gets_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceNotFoundError, match="start it with https://"):
        normalise_source("youtube.com/watch?v=dQw4w9WgXcQ")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="is a directory"):
        normalise_source(str(tmp_path))


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.touch()
    with pytest.raises(EmptySourceError, match="zero bytes"):
        normalise_source(str(empty))


def test_files_can_be_refused_for_remote_users() -> None:
    with pytest.raises(MalformedURLError, match="not a link"):
        normalise_source(str(JFK_FLAC), allow_files=False)
    assert normalise_source("https://example.com/a.mp3", allow_files=False).kind == "url"
