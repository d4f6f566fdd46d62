"""extract_article on page bytes from tests/data/pages; html_to_text on feed fragments."""

from __future__ import annotations

from pathlib import Path

import pytest
import trafilatura

from digest.ingest import extract as extract_module
from digest.ingest.extract import MIN_TEXT_CHARS, extract_article
from digest.ingest.text import html_to_text
from digest.ports import ArticleExtractor

PAGES = Path(__file__).parents[2] / "data" / "pages"
URL = "https://gazette.example.org/news/2025/06/ferry"
PARAGRAPHS = "".join(
    f"<p>Paragraph {n} of the story says something long enough to count as article text.</p>"
    for n in range(8)
)


def page(head: str = "", body: str = PARAGRAPHS) -> bytes:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">{head}</head>'
        f"<body><article>{body}</article></body></html>"
    ).encode()


def test_satisfies_the_port() -> None:
    extractor: ArticleExtractor = extract_article
    assert extractor is extract_article


def test_article_text_and_lead_image() -> None:
    result = extract_article((PAGES / "article.html").read_bytes(), url=URL)
    assert result is not None
    paragraphs = result.text.split("\n\n")
    assert paragraphs[1].startswith("The town council on Monday approved a new ferry timetable")
    assert paragraphs[-1].endswith("whether to keep it through the winter.")
    for noise in ["Subscribe", "Most read", "All rights reserved", "trackRead", "analytics"]:
        assert noise not in result.text
    assert "\n\n\n" not in result.text
    # og:image wins over twitter:image, resolved against the page URL
    assert result.image_url == "https://gazette.example.org/media/2025/06/ferry-dock-1200.jpg"


def test_meta_charset_is_honoured() -> None:
    result = extract_article(
        (PAGES / "article_cp1251.html").read_bytes(), url="https://n.example.ru/a"
    )
    assert result is not None
    assert "Городской совет в понедельник утвердил новое расписание парома" in result.text
    assert result.image_url == "https://cdn.example.ru/img/parom.jpg"  # protocol-relative


def test_meta_saying_utf16_is_read_as_utf8() -> None:
    html = page().replace(b'charset="utf-8"', b'charset="utf-16"')
    html = html.replace(b"Paragraph 0", "Paragraphe zéro".encode())
    result = extract_article(html, url=URL)
    assert result is not None
    assert "Paragraphe zéro" in result.text


def test_too_little_text_is_none() -> None:
    assert extract_article((PAGES / "paywall.html").read_bytes(), url=URL) is None
    assert MIN_TEXT_CHARS >= 200


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<meta name="twitter:image" content="https://c.example/t.jpg">',
            "https://c.example/t.jpg",
        ),
        ('<meta property="og:image" content="javascript:alert(1)">', None),
        ('<meta property="og:image" content="data:image/png;base64,AAAA">', None),
        ('<meta property="og:image" content="ftp://c.example/a.jpg">', None),
        (
            '<base href="https://static.example.net/site/">'
            '<meta property="og:image" content="a.jpg">',
            "https://static.example.net/site/a.jpg",
        ),
        (
            '<meta property="og:image" content="  ">'
            '<meta name="twitter:image:src" content="/t.png">',
            "https://gazette.example.org/t.png",
        ),
        ("", None),
    ],
)
def test_lead_image(head: str, expected: str | None) -> None:
    result = extract_article(page(head), url=URL)
    assert result is not None
    assert result.image_url == expected


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff\xfe\x00garbage",
        b"\x1f\x8b\x08not really gzip",
        b"%PDF-1.7 binary",
        b"<html>" + b"<div>" * 50_000 + b"deep",
        "<p>é</p>".encode("utf-16"),
        b'<html><head><meta charset="no-such-charset"></head><body>x</body></html>',
    ],
)
def test_bad_bytes_give_none(content: bytes) -> None:
    assert extract_article(content, url=URL) is None


def test_trafilatura_failure_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise MemoryError("lxml gave up")

    monkeypatch.setattr(extract_module.trafilatura, "extract", broken)
    assert extract_article(page(), url=URL) is None


def test_nothing_is_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("trafilatura tried to download")

    monkeypatch.setattr(trafilatura, "fetch_url", no_download)
    monkeypatch.setattr(trafilatura.downloads, "fetch_url", no_download)
    monkeypatch.setattr(trafilatura.downloads, "fetch_response", no_download)
    assert extract_article(page(), url=URL) is not None  # and the network guard saw nothing


# --- html_to_text (feed fragments) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>a\n   b</p>", "a b"),
        ("line<br>next", "line\nnext"),
        ("one<br><br>two", "one\n\ntwo"),
        ("<ul><li>x</li><li>y</li></ul>", "x\n\ny"),
        ("<script>alert(1)</script>ok<style>p{}</style>", "ok"),
        ("caf&eacute; &amp; &#8364;5 &lt;tag&gt;", "café & €5 <tag>"),
        ("<!-- hidden -->shown", "shown"),
        ("a\x00b\x0bc\u200bd", "abcd"),
        ("<div>" * 10_000 + "deep" + "</div>" * 10_000, "deep"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("a<![ bogus ]>b", "a<![ bogus ]>b"),  # the stdlib parser raises on this by itself
        ("<![if !mso]>shown<![endif]>", "shown"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup)[0] == text


def test_html_to_text_first_image_skips_tracking_pixels() -> None:
    markup = '<img src="https://t.example/p.gif" width="1" height="1"><img src="/lead.jpg">'
    assert html_to_text(markup)[1] == "/lead.jpg"
    assert html_to_text("<script><img src='x.jpg'></script>no image")[1] is None


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # libxml2 keeps elements it does not know in the <head> it implies after a leading
        # <script>, <style> or <meta>: their text must not be lost with the head.
        (
            "<style>p{}</style><figure><figcaption>Caption</figcaption></figure><p>Body</p>",
            "Caption\n\nBody",
        ),
        ("<script>x()</script><section>Kept</section>", "Kept"),
        ('<meta charset="utf-8"><time>Monday</time> text', "Monday text"),
        ("<title>Page title</title><p>Body</p>", "Body"),  # never rendered
        # An invisible element hides its content, not the text after it.
        ("<p>a<svg><text>t</text></svg>b</p><noscript>n</noscript>c", "ab\n\nc"),
        # A numeric reference to a control character is dropped (html.unescape's rule), and
        # &#1; is no line break.
        ("a&#1;b&#x0b;c&#127;d", "abcd"),
        ("café &#8364; &eacute;", "café € é"),  # no markup, but entities
        ("plain\n\n  text\twith   spaces", "plain text with spaces"),  # nothing to parse
        ('<?xml version="1.0" encoding="iso-8859-1"?><p>caf\u00e9</p>', "café"),
        ("<p>" + "<b>" * 100_000 + "unclosed", "unclosed"),
        ("<div>" * 100_000 + "deep" + "</div>" * 100_000, "deep"),
        ("<p>one</p>\n<p>two<br>three<br> <br>four</p>", "one\n\ntwo\nthree\n\nfour"),
    ],
)
def test_html_to_text_structure(markup: str, text: str) -> None:
    assert html_to_text(markup)[0] == text


@pytest.mark.parametrize(
    "markup",
    ["\ud800<p>x</p>", "<", "&", "<<<>>>", "<a", "</", "<!", "<?", "<![CDATA[", "\x00<p>\x00</p>"],
)
def test_html_to_text_odd_input_does_not_raise(markup: str) -> None:
    text, image = html_to_text(markup)
    assert isinstance(text, str)
    assert image is None


def test_html_to_text_first_image() -> None:
    markup = '<img src=""><img src="/second.jpg"><img src="/third.jpg">'
    assert html_to_text(markup)[1] == "/second.jpg"  # an empty src is no image
    hidden = '<noscript><img src="/n.jpg"></noscript><p>t<img src="/lead.jpg"></p>'
    assert html_to_text(hidden)[1] == "/lead.jpg"
    deep = "<span>" * 300 + '<img src="/deep.jpg">'  # past libxml2's depth limit
    assert html_to_text(deep)[1] == "/deep.jpg"


def test_a_page_declaring_a_codec_that_is_not_for_text_is_read_anyway() -> None:
    page = b'<html><head><meta charset="idna"></head><body><p>' + b"Some words here. " * 40
    page += b"</p></body></html>"
    extracted = extract_article(page, url="https://example.com/a")
    assert extracted is None or "Some words here" in extracted.text
