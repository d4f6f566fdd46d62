"""Language names as people type them, reduced to one key per language.

A subscription's language is free text ("de", "German", "Deutsch", "german "); cards are
made once per (story, language), so these must all name the same card. ``language_key``
turns any of them into one key: the ISO 639-1 code for the languages in ``_LANGUAGES``
(by code, English name or own name, case-insensitively), else the text itself, case-folded
with its spaces tidied (a language we do not know is still honoured, just not merged with
its other spellings). ``""`` is the key of "no language asked for": the operator's default
(``DIGEST_LANGUAGE``).

Called by the card maker (which languages to write), the fan-out and the digest
collection (``digest.store``), which compare keys only. Pure; never raises.
"""

from __future__ import annotations

# ISO 639-1 code: (English name, the language's own names...). The languages news readers
# most often ask for; anything else is kept as typed.
_LANGUAGES: dict[str, tuple[str, ...]] = {
    "ar": ("Arabic", "العربية", "arabi"),
    "bg": ("Bulgarian", "български"),
    "ca": ("Catalan", "català"),
    "cs": ("Czech", "čeština", "cesky"),
    "da": ("Danish", "dansk"),
    "de": ("German", "Deutsch"),
    "el": ("Greek", "ελληνικά"),
    "en": ("English",),
    "es": ("Spanish", "español", "espanol", "castellano"),
    "et": ("Estonian", "eesti"),
    "fa": ("Persian", "فارسی", "Farsi"),
    "fi": ("Finnish", "suomi"),
    "fr": ("French", "français", "francais"),
    "he": ("Hebrew", "עברית"),
    "hi": ("Hindi", "हिन्दी"),
    "hr": ("Croatian", "hrvatski"),
    "hu": ("Hungarian", "magyar"),
    "id": ("Indonesian", "Bahasa Indonesia"),
    "it": ("Italian", "italiano"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
    "lt": ("Lithuanian", "lietuvių"),
    "lv": ("Latvian", "latviešu"),
    "nl": ("Dutch", "Nederlands"),
    "no": ("Norwegian", "norsk", "nb", "bokmål"),
    "pl": ("Polish", "polski"),
    "pt": ("Portuguese", "português", "portugues"),
    "ro": ("Romanian", "română", "romana"),
    "ru": ("Russian", "русский"),
    "sk": ("Slovak", "slovenčina"),
    "sl": ("Slovenian", "slovenščina"),
    "sr": ("Serbian", "српски", "srpski"),
    "sv": ("Swedish", "svenska"),
    "th": ("Thai", "ไทย"),
    "tr": ("Turkish", "Türkçe", "turkce"),
    "uk": ("Ukrainian", "українська"),
    "vi": ("Vietnamese", "Tiếng Việt"),
    "zh": ("Chinese", "中文", "Mandarin"),
}

_BY_NAME: dict[str, str] = {}
for _code, _names in _LANGUAGES.items():
    _BY_NAME[_code] = _code
    for _name in _names:
        _BY_NAME[" ".join(_name.casefold().split())] = _code

KEY_MAX = 64  # the length of the key columns; a subscription's language is at most 64 chars


def language_key(value: str | None) -> str:
    """One key per language: "de", "German" and "deutsch" all give "de"; a name we do not
    know gives itself, case-folded; ``None`` or blank gives "" (the default language). A
    regional code ("pt-BR", "de_AT") keeps its region when the base language is unknown,
    and is reduced to the base language when it is known (one card serves both)."""
    if value is None:
        return ""
    text = " ".join(value.casefold().split())
    if not text:
        return ""
    found = _BY_NAME.get(text)
    if found is None and len(text) <= 6 and text[2:3] in ("-", "_"):
        found = _BY_NAME.get(text[:2])
    return found if found is not None else text[:KEY_MAX]


def language_name(key: str) -> str:
    """The name to ask a model for: the English name of a known language ("de" ->
    "German"), the key itself otherwise. Not meant for "" (the default has no name here)."""
    names = _LANGUAGES.get(key)
    return names[0] if names else key


def same_language(a: str | None, b: str | None) -> bool:
    """Whether two typed languages name the same one (``None`` and "" are alike)."""
    return language_key(a) == language_key(b)
