"""Multilingual text: pick the visitor's language, fall back when a translation is missing."""

from __future__ import annotations

from collections.abc import Mapping


def resolve(texts: Mapping[str, str], lang: str, fallback: str) -> tuple[str, str]:
    """(text, language used): the visitor's language, else the fallback, else any there is.

    Returning the language used lets a page mark untranslated text (`lang` attribute), which
    screen readers need to pronounce it correctly.
    """
    for candidate in (lang, fallback):
        text = texts.get(candidate)
        if text:
            return text, candidate
    for candidate, text in sorted(texts.items()):
        if text:
            return text, candidate
    return "", lang


def text(texts: Mapping[str, str], lang: str, fallback: str) -> str:
    return resolve(texts, lang, fallback)[0]
