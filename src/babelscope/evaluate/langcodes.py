"""Language codes: map identifier labels (mostly ISO 639-1) to the ISO 639-3 codes babelscope uses.

babelscope names languages by ISO 639-3 codes, choosing the individual language where an identifier
reports a macrolanguage and one member dominates written text (the codes SeamlessM4T and FLEURS use):
``zh -> cmn``, ``ar -> arb``, ``fa -> pes``, ``ms -> zsm``, ``sw -> swh``, ``no -> nob`` and so on.
Codes not in the tables are kept as given (lower-cased), so a three-letter identifier label such as
``yue`` or ``wuu`` passes through unchanged.
"""

from __future__ import annotations

ISO639_1_TO_3: dict[str, str] = {
    "af": "afr", "ak": "aka", "am": "amh", "an": "arg", "ar": "arb", "as": "asm", "av": "ava",
    "az": "azj", "ba": "bak", "be": "bel", "bg": "bul", "bh": "bih", "bn": "ben", "bo": "bod",
    "br": "bre", "bs": "bos", "ca": "cat", "ce": "che", "co": "cos", "cs": "ces", "cv": "chv",
    "cy": "cym", "da": "dan", "de": "deu", "dv": "div", "dz": "dzo", "el": "ell", "en": "eng",
    "eo": "epo", "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin", "fo": "fao",
    "fr": "fra", "fy": "fry", "ga": "gle", "gd": "gla", "gl": "glg", "gn": "grn", "gu": "guj",
    "gv": "glv", "ha": "hau", "he": "heb", "hi": "hin", "hr": "hrv", "ht": "hat", "hu": "hun",
    "hy": "hye", "ia": "ina", "id": "ind", "ie": "ile", "ig": "ibo", "io": "ido", "is": "isl",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "km": "khm", "kn": "kan",
    "ko": "kor", "ku": "kmr", "kv": "kom", "kw": "cor", "ky": "kir", "la": "lat", "lb": "ltz",
    "lg": "lug", "li": "lim", "ln": "lin", "lo": "lao", "lt": "lit", "lv": "lvs", "mg": "mlg",
    "mk": "mkd", "ml": "mal", "mn": "khk", "mr": "mar", "ms": "zsm", "mt": "mlt", "my": "mya",
    "ne": "npi", "nl": "nld", "nn": "nno", "no": "nob", "oc": "oci", "om": "gaz", "or": "ory",
    "os": "oss", "pa": "pan", "pl": "pol", "ps": "pbt", "pt": "por", "qu": "que", "rm": "roh",
    "ro": "ron", "ru": "rus", "rw": "kin", "sa": "san", "sc": "srd", "sd": "snd", "se": "sme",
    "sh": "hbs", "si": "sin", "sk": "slk", "sl": "slv", "sn": "sna", "so": "som", "sq": "sqi",
    "sr": "srp", "st": "sot", "su": "sun", "sv": "swe", "sw": "swh", "ta": "tam", "te": "tel",
    "tg": "tgk", "th": "tha", "tk": "tuk", "tl": "tgl", "tr": "tur", "tt": "tat", "ug": "uig",
    "uk": "ukr", "ur": "urd", "uz": "uzn", "vi": "vie", "vo": "vol", "wa": "wln", "xh": "xho",
    "yi": "yid", "yo": "yor", "zh": "cmn", "zu": "zul",
}
"""ISO 639-1 (and identifier two-letter labels) to babelscope's ISO 639-3 code."""

ALIASES: dict[str, str] = {
    # macrolanguages -> the individual language babelscope uses
    "zho": "cmn", "ara": "arb", "fas": "pes", "msa": "zsm", "swa": "swh", "nor": "nob",
    "lav": "lvs", "uzb": "uzn", "nep": "npi", "mon": "khk", "pus": "pbt", "kur": "kmr",
    "orm": "gaz", "ori": "ory", "aze": "azj",
    # ISO 639-2/B bibliographic codes -> ISO 639-3
    "chi": "cmn", "ger": "deu", "fre": "fra", "dut": "nld", "cze": "ces", "gre": "ell",
    "arm": "hye", "baq": "eus", "geo": "kat", "ice": "isl", "mac": "mkd", "rum": "ron",
    "slo": "slk", "tib": "bod", "wel": "cym", "alb": "sqi", "bur": "mya", "per": "pes",
    "may": "zsm",
}
"""Other spellings of a language accepted as input, mapped to babelscope's code."""

FASTTEXT_OVERRIDES: dict[str, str] = {"als": "gsw"}
"""fastText lid.176 labels that mean something else than the ISO code they look like
(``als`` is Alemannic there, taken from Wikipedia's language codes)."""


def to_iso639_3(code: str) -> str:
    """Return babelscope's ISO 639-3 code for ``code``.

    Accepts ISO 639-1, ISO 639-3, ISO 639-2/B and macrolanguage codes, in any case, with an optional
    script/region suffix after ``_`` or ``-`` (``cmn_Hans``, ``zh-CN``), which is dropped. Unknown codes
    are returned lower-cased, unchanged otherwise; the empty string stays empty.
    """
    base = code.strip().lower().replace("-", "_").split("_", 1)[0]
    if base in ISO639_1_TO_3:
        return ISO639_1_TO_3[base]
    return ALIASES.get(base, base)
