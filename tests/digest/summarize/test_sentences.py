"""The rule-based sentence splitter and the small text helpers beside it."""

from __future__ import annotations

import pytest

from digest.summarize.sentences import as_sentence, clean_text, shorten, split_sentences

CASES = [
    pytest.param(
        "Mr. Smith went to Washington. He met Dr. Jones there.",
        ["Mr. Smith went to Washington.", "He met Dr. Jones there."],
        id="titles",
    ),
    pytest.param(
        "It is based in the U.S. The firm said so. U.S. officials agreed.",
        ["It is based in the U.S.", "The firm said so.", "U.S. officials agreed."],
        id="acronym-ends-sentence-only-before-an-opener",
    ),
    pytest.param(
        "Acme Inc. reported results. It grew. The vote is on Jan. 5 at 3 p.m. in Room No. 4.",
        [
            "Acme Inc. reported results.",
            "It grew.",
            "The vote is on Jan. 5 at 3 p.m. in Room No. 4.",
        ],
        id="company-month-time-number",
    ),
    pytest.param(
        "Prices rose 3.5% to $1.2 billion. Profits fell 0.4 percent.",
        ["Prices rose 3.5% to $1.2 billion.", "Profits fell 0.4 percent."],
        id="decimals-and-amounts",
    ),
    pytest.param(
        "J. R. R. Tolkien wrote it. George W. Bush read it. J. A. Smith agreed.",
        ["J. R. R. Tolkien wrote it.", "George W. Bush read it.", "J. A. Smith agreed."],
        id="initials",
    ),
    pytest.param(
        "He cited examples, e.g. The Times and i.e. the rest. Then he left.",
        ["He cited examples, e.g. The Times and i.e. the rest.", "Then he left."],
        id="e.g.-i.e.",
    ),
    pytest.param(
        '"...the end of an era." She said it twice. "Why?" he asked. It worked! Really?! Yes.',
        [
            '"...the end of an era."',
            "She said it twice.",
            '"Why?" he asked.',
            "It worked!",
            "Really?!",
            "Yes.",
        ],
        id="quotes-and-marks",
    ),
    pytest.param(
        "He paused... Then he left. It went on… and on.",
        ["He paused...", "Then he left.", "It went on… and on."],
        id="ellipses",
    ),
    pytest.param(
        "The court (in Harwick.) ruled. (It was late.) Appeals followed.",
        ["The court (in Harwick.) ruled.", "(It was late.)", "Appeals followed."],
        id="brackets",
    ),
    pytest.param(
        "Read https://example.com/a.b?x=1 today. Mail j.doe@example.org. "
        "Visit www.example.net. Done.",
        [
            "Read https://example.com/a.b?x=1 today.",
            "Mail j.doe@example.org.",
            "Visit www.example.net.",
            "Done.",
        ],
        id="urls-and-email",
    ),
    pytest.param(
        "A heading without a stop\n\nThe body starts here. It goes on\nacross a line break.",
        ["A heading without a stop", "The body starts here.", "It goes on across a line break."],
        id="blank-line-always-ends",
    ),
    pytest.param(
        "Key points:\n- the first point\n- the second point",
        ["Key points:", "- the first point", "- the second point"],
        id="bullets",
    ),
    pytest.param(
        "Am 3. Oktober feiert das Land. Der 2. Platz ging an Dr. Müller. Das kostet 5 Mio. Euro. "
        "Es gibt z.B. Kuchen. Danach war Schluss.",
        [
            "Am 3. Oktober feiert das Land.",
            "Der 2. Platz ging an Dr. Müller.",
            "Das kostet 5 Mio. Euro.",
            "Es gibt z.B. Kuchen.",
            "Danach war Schluss.",
        ],
        id="german",
    ),
    pytest.param(
        "M. Dupont est arrivé. Il a dit : « Oui. » Quoi ? Rien ! Mme Martin, p. ex. Elle, est là.",
        [
            "M. Dupont est arrivé.",
            "Il a dit : « Oui. »",
            "Quoi ?",
            "Rien !",
            "Mme Martin, p. ex. Elle, est là.",
        ],
        id="french",
    ),
    pytest.param(
        "El Sr. García llegó a EE.UU. el lunes. ¿Qué pasó? Nada. ¡Increíble!",
        ["El Sr. García llegó a EE.UU. el lunes.", "¿Qué pasó?", "Nada.", "¡Increíble!"],
        id="spanish",
    ),
    pytest.param(
        "東京は晴れです。明日は雨でしょう！本当？「はい。」そうです。",
        ["東京は晴れです。", "明日は雨でしょう！", "本当？", "「はい。」", "そうです。"],
        id="cjk",
    ),
    pytest.param(
        "Sales rose in 2025. 2026 looks better. Plan B. The vote failed.",
        ["Sales rose in 2025.", "2026 looks better.", "Plan B.", "The vote failed."],
        id="numbers-and-letters-at-the-end",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", "...", "!!!"])
def test_nothing_to_split(text: str) -> None:
    assert all(s.strip() for s in split_sentences(text))
    assert len(split_sentences(text)) <= 1


def test_whitespace_is_collapsed_and_crlf_handled() -> None:
    assert split_sentences("One\tword  here.\r\n\r\nTwo\u00a0words.") == [
        "One word here.",
        "Two words.",
    ]


def test_huge_text_without_punctuation_is_one_sentence() -> None:
    text = "word " * 20_000
    assert split_sentences(text) == [text.strip()]


def test_clean_text_drops_markup_and_keeps_plain_text() -> None:
    raw = (
        "<p>Fish &amp; chips</p><script>alert(1)</script><style>p{}</style>"
        "<p>@everyone <b>*bold*</b> &lt;b&gt;<!-- note -->\u200b</p>"
    )
    text = clean_text(raw)
    assert "alert" not in text and "<p>" not in text and "note" not in text
    assert "Fish & chips" in text
    assert "@everyone *bold* <b>" in text  # plain text stays as it is; platforms escape it
    assert "\u200b" not in text
    assert split_sentences(text) == ["Fish & chips", "@everyone *bold* <b>"]


def test_shorten_cuts_at_a_clause_boundary() -> None:
    sentence = (
        "The council approved the new budget for the harbour district on Tuesday evening, "
        "which critics say will raise fees for every small fishing boat in the port."
    )
    short = shorten(sentence, 100)
    assert short == (
        "The council approved the new budget for the harbour district on Tuesday evening…"
    )
    assert shorten("Short enough.", 100) == "Short enough."


def test_shorten_never_cuts_mid_word_when_there_are_spaces() -> None:
    sentence = "alpha " * 40
    short = shorten(sentence.strip(), 50)
    assert short.endswith("alpha…")
    assert len(short) <= 51


def test_shorten_closes_an_open_quote() -> None:
    sentence = (
        '"We will keep building homes here for as long as people want to live in them" he said.'
    )
    short = shorten(sentence, 40)
    assert short.endswith('…"')
    assert short.count('"') == 2


def test_shorten_cjk_without_spaces() -> None:
    sentence = "東京" * 100
    assert shorten(sentence, 20) == "東京" * 10 + "…"


def test_as_sentence() -> None:
    assert as_sentence("A title") == "A title."
    assert as_sentence("A question?") == "A question?"
    assert as_sentence("Key points:") == "Key points."
    assert as_sentence("東京は晴れです。") == "東京は晴れです。"
    assert as_sentence("  ") == ""
