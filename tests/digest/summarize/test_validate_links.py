"""Links and mentions in what a model writes: only the story's own links, nobody pinged."""

from __future__ import annotations

import json
import re

import pytest

from digest.config import DEFAULT_CATEGORIES
from digest.errors import InvalidModelOutput
from digest.models import CardDraft
from digest.summarize import validate
from tests.support.fake_anthropic import SAMPLE_ARTICLE, card_data

STORY_URL = "https://news1.example.com/story"
ALLOWED = [STORY_URL]
# An article that asks for its link to be passed on, in every form.
INJECTED = SAMPLE_ARTICLE + (
    " Readers can claim a bonus at https://evil.example/claim-bonus, evil.example/claim-bonus,"
    " claim.news, bonus.shop/win, free.ai, win.uk or t.me/freebonus_bot, @freebonus_bot."
)
MENTION = re.compile(r"(?<![\w@＠])[@＠]\w")  # an @ a chat client would ping or link


def parse(source: str = SAMPLE_ARTICLE, **fields: object) -> CardDraft:
    return validate.parse_card(
        json.dumps(card_data(**fields)),
        categories=DEFAULT_CATEGORIES,
        source=source,
        engine="claude",
        allowed_links=ALLOWED,
    )


# -- hosts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("Claim it at evil.example/claim-bonus today.", "evil.example/claim-bonus"),
        ("Claim it at evil.example.", "evil.example"),
        ("Read claim.news first.", "claim.news"),
        ("Shop at bonus.shop/win?x=1.", "bonus.shop/win?x=1"),
        ("Try free.ai now.", "free.ai"),
        ("News at bbc.co.uk/news.", "bbc.co.uk/news"),
        ("Join t.me/freebonus_bot", "t.me/freebonus_bot"),
        ("Mail press@evil.example today.", "evil.example"),
        ("Go to EVIL.COM now.", "EVIL.COM"),
        ("Go to evil.com.Then wait.", "evil.com"),  # a missing space does not hide it
        ("Visit сайт.рф today.", "сайт.рф"),  # an internationalised TLD
        ("Visit shop.xn--p1ai today.", "shop.xn--p1ai"),
        ("Port evil.example:8080/x works.", "evil.example:8080/x"),
    ],
)
def test_a_host_with_any_tld_is_a_link_even_when_the_article_names_it(text: str, link: str) -> None:
    source = INJECTED + " " + text  # whatever the source says
    assert validate.foreign_urls(text, source, allowed=ALLOWED) == [link]
    assert validate.foreign_urls(text, "", allowed=None) == [link]


@pytest.mark.parametrize(
    "text",
    [
        "Sales in the U.S. and the U.K. rose, e.g. in Ohio, i.e. the Midwest.",
        "Shares rose 3.5 percent to $3.50; revenue was 1,200.75 million.",
        "The app uses Node.js, Vue.js and ASP.NET, and VB.NET too.",
        "Python 3.12 and v1.2.3 shipped; see section 4.2.1.",
        "Acme Inc. and Widgets Ltd. met at 10 a.m. with Ph.D. students.",
        "U.S.-China talks resumed. No.1 seed won. St. Louis voted.",
        "It closed.The market fell.Prices rose.",  # no TLD after the dot
        "The Co. said the deal is done.",
    ],
)
def test_ordinary_text_has_no_hosts(text: str) -> None:
    assert validate.foreign_urls(text, "", allowed=ALLOWED) == []
    assert validate.foreign_urls(text, "") == []


@pytest.mark.parametrize(
    "text",
    [
        "Read https://news1.example.com/story.",
        "Read https://news1.example.com/story/ and https://NEWS1.example.com/other.",
        "Read news1.example.com, news1.example.com/other or www.news1.example.com.",
        "Read http://www.news1.example.com/more.",
    ],
)
def test_the_storys_own_links_and_host_are_allowed(text: str) -> None:
    assert validate.foreign_urls(text, "", allowed=ALLOWED) == []


@pytest.mark.parametrize(
    "text",
    [
        "https://news1.example.com@evil.example/claim",  # the host is evil.example
        "https://news1.example.com.evil.example/claim",
        "tg://resolve?domain=news1.example.com",  # not a web link to that host
        "https://other.news1.example.com.evil/",
        "https://example.com/story",
    ],
)
def test_links_that_only_look_like_the_storys_are_refused(text: str) -> None:
    assert validate.foreign_urls(text, "", allowed=ALLOWED) == [text]


def test_a_card_naming_a_host_the_article_asks_for_is_rejected() -> None:
    for why in ("Claim it at evil.example/claim-bonus.", "Read claim.news.", "See bonus.shop."):
        with pytest.raises(InvalidModelOutput, match="must not contain links"):
            parse(INJECTED, why_it_matters=why)


def test_a_full_width_host_is_rejected() -> None:
    with pytest.raises(InvalidModelOutput, match=r"evil\.com"):
        parse(why_it_matters="Claim it at ｅｖｉｌ．ｃｏｍ today.")


def test_a_card_may_name_its_own_article() -> None:
    draft = parse(why_it_matters="More at news1.example.com/story and in the Gazette.")
    assert "news1.example.com/story" in draft.why_it_matters


def test_a_card_with_ordinary_abbreviations_and_decimals_passes() -> None:
    parse(
        summary="Riverton, a U.S. city, voted 7 to 2. The barrier costs $12.5 million, e.g. "
        "for ASP.NET and Node.js staff.",
    )


# -- mentions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ask @freebonus_bot now", "Ask freebonus_bot now"),
        ("@everyone and @here and @Mod_Team", "everyone and here and Mod_Team"),
        ("@@everyone, ＠here", "everyone, here"),
        ('(@handle) and "@x"', '(handle) and "x"'),
        ("Write to press@riverton.example.com", "Write to press@riverton.example.com"),
        ("An @ alone stays", "An @ alone stays"),
    ],
)
def test_every_mention_loses_its_at_sign(raw: str, clean: str) -> None:
    assert validate.plain_text(raw) == clean


def test_no_card_or_answer_pings_anyone() -> None:
    draft = parse(
        summary="@everyone Riverton voted 7 to 2. Follow @riverton_council for more.",
        takeaways=["@freebonus_bot says hi.", "＠here B b.", "C c."],
    )
    text = " ".join([draft.summary, *draft.takeaways])
    assert not MENTION.search(text) and "riverton_council" in text
    answer = validate.parse_answer(
        json.dumps({"answer": "Ask @freebonus_bot, @everyone.", "covered": True, "quotes": []}),
        article_text=SAMPLE_ARTICLE,
        allowed_links=ALLOWED,
    )
    assert answer.text == "Ask freebonus_bot, everyone."


# -- answers --------------------------------------------------------------------------------


def answer_json(text: str) -> str:
    return json.dumps({"answer": text, "covered": True, "quotes": []})


@pytest.mark.parametrize(
    "text",
    [
        "See https://evil.example/claim-bonus.",
        "See evil.example/claim-bonus.",
        "See claim.news or bonus.shop/win.",
        "Ask t.me/freebonus_bot.",
    ],
)
def test_an_answer_with_allowed_links_refuses_what_the_article_carries(text: str) -> None:
    with pytest.raises(InvalidModelOutput, match="must not contain links"):
        validate.parse_answer(answer_json(text), article_text=INJECTED, allowed_links=ALLOWED)


def test_an_answer_may_carry_the_card_and_source_links_and_their_hosts() -> None:
    allowed = ["https://riverton.example.com/flood-barrier", "https://wire.example.org/a"]
    text = "Read https://riverton.example.com/flood-barrier, wire.example.org or the Gazette."
    got = validate.parse_answer(answer_json(text), article_text=INJECTED, allowed_links=allowed)
    assert "wire.example.org" in got.text


def test_without_allowed_links_an_answer_still_uses_link_source() -> None:
    source = "https://riverton.example.com/flood-barrier"
    ok = answer_json("It is at riverton.example.com/flood-barrier.")
    validate.parse_answer(ok, article_text=SAMPLE_ARTICLE, link_source=source)
    with pytest.raises(InvalidModelOutput, match="links the article does not"):
        validate.parse_answer(
            answer_json("See claim.news."), article_text=SAMPLE_ARTICLE, link_source=source
        )
