"""Text helpers shared by the featurizer and the lexicon: labels, normalisation, jamo.

Pure standard library, so the robot can import it (see device.perception.emotion_features).
"""

import unicodedata

LABELS = ("happy", "neutral", "sad_lonely", "anxious", "angry", "pain")
"""The emotion classes, in the order of the model's score vector."""

_SYLLABLE_FIRST = 0xAC00
_SYLLABLE_LAST = 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
# The same spelling as device.dialog.jamo.to_jamo (a test holds the two equal): compound
# vowels and clusters split into their parts.
_SPLIT = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
    "ㄳ": "ㄱㅅ",
    "ㄵ": "ㄴㅈ",
    "ㄶ": "ㄴㅎ",
    "ㄺ": "ㄹㄱ",
    "ㄻ": "ㄹㅁ",
    "ㄼ": "ㄹㅂ",
    "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ",
    "ㄿ": "ㄹㅍ",
    "ㅀ": "ㄹㅎ",
    "ㅄ": "ㅂㅅ",
}


def normalize(text: str) -> str:
    """NFC, lower case, letters and digits only, single spaces between words."""
    text = unicodedata.normalize("NFC", text).lower()
    kept = "".join(ch if ch.isalnum() else " " for ch in text.replace("'", ""))
    return " ".join(kept.split())


def is_hangul(ch: str) -> bool:
    """A precomposed Hangul syllable."""
    return _SYLLABLE_FIRST <= ord(ch) <= _SYLLABLE_LAST


def to_jamo(text: str) -> str:
    """Spell Hangul syllables as jamo, compound vowels and clusters split; other characters stay."""
    out: list[str] = []
    for ch in text:
        if is_hangul(ch):
            index = ord(ch) - _SYLLABLE_FIRST
            parts = (_INITIALS[index // 588], _MEDIALS[index // 28 % 21], _FINALS[index % 28])
            out.extend(_SPLIT.get(p, p) for p in parts)
        else:
            out.append(_SPLIT.get(ch, ch))
    return "".join(out)
