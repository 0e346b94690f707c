"""Language codes. babelscope speaks ISO 639-3 as SeamlessM4T does (``eng``, ``deu``, ``cmn``);
adapters translate to their model's own codes (Whisper: ``en``, ``de``, ``zh``)."""

from __future__ import annotations

#: ISO 639-3 (SeamlessM4T v2 spelling) -> English name, for every text language of SeamlessM4T v2
LANGUAGE_NAMES: dict[str, str] = {
    "afr": "Afrikaans", "amh": "Amharic", "arb": "Arabic", "ary": "Moroccan Arabic",
    "arz": "Egyptian Arabic", "asm": "Assamese", "azj": "Azerbaijani", "bel": "Belarusian",
    "ben": "Bengali", "bos": "Bosnian", "bul": "Bulgarian", "cat": "Catalan", "ceb": "Cebuano",
    "ces": "Czech", "ckb": "Central Kurdish", "cmn": "Mandarin Chinese",
    "cmn_Hant": "Mandarin Chinese (Traditional)", "cym": "Welsh", "dan": "Danish", "deu": "German",
    "ell": "Greek", "eng": "English", "est": "Estonian", "eus": "Basque", "fin": "Finnish",
    "fra": "French", "fuv": "Nigerian Fulfulde", "gaz": "Oromo", "gle": "Irish", "glg": "Galician",
    "guj": "Gujarati", "heb": "Hebrew", "hin": "Hindi", "hrv": "Croatian", "hun": "Hungarian",
    "hye": "Armenian", "ibo": "Igbo", "ind": "Indonesian", "isl": "Icelandic", "ita": "Italian",
    "jav": "Javanese", "jpn": "Japanese", "kan": "Kannada", "kat": "Georgian", "kaz": "Kazakh",
    "khk": "Mongolian", "khm": "Khmer", "kir": "Kyrgyz", "kor": "Korean", "lao": "Lao",
    "lit": "Lithuanian", "lug": "Ganda", "luo": "Luo", "lvs": "Latvian", "mai": "Maithili",
    "mal": "Malayalam", "mar": "Marathi", "mkd": "Macedonian", "mlt": "Maltese", "mni": "Meitei",
    "mya": "Burmese", "nld": "Dutch", "nno": "Norwegian Nynorsk", "nob": "Norwegian Bokmål",
    "npi": "Nepali", "nya": "Nyanja", "ory": "Odia", "pan": "Punjabi", "pbt": "Pashto",
    "pes": "Persian", "pol": "Polish", "por": "Portuguese", "ron": "Romanian", "rus": "Russian",
    "sat": "Santali", "slk": "Slovak", "slv": "Slovenian", "sna": "Shona", "snd": "Sindhi",
    "som": "Somali", "spa": "Spanish", "srp": "Serbian", "swe": "Swedish", "swh": "Swahili",
    "tam": "Tamil", "tel": "Telugu", "tgk": "Tajik", "tgl": "Tagalog", "tha": "Thai",
    "tur": "Turkish", "ukr": "Ukrainian", "urd": "Urdu", "uzn": "Uzbek", "vie": "Vietnamese",
    "yor": "Yoruba", "yue": "Cantonese", "zlm": "Malay", "zul": "Zulu",
}

#: ISO 639-3 -> Whisper language code
WHISPER_CODES: dict[str, str] = {
    "eng": "en", "cmn": "zh", "deu": "de", "spa": "es", "rus": "ru", "kor": "ko", "fra": "fr",
    "jpn": "ja", "por": "pt", "tur": "tr", "pol": "pl", "cat": "ca", "nld": "nl", "arb": "ar",
    "swe": "sv", "ita": "it", "ind": "id", "hin": "hi", "fin": "fi", "vie": "vi", "heb": "he",
    "ukr": "uk", "ell": "el", "zlm": "ms", "ces": "cs", "ron": "ro", "dan": "da", "hun": "hu",
    "tam": "ta", "nob": "no", "tha": "th", "urd": "ur", "hrv": "hr", "bul": "bg", "lit": "lt",
    "mal": "ml", "cym": "cy", "slk": "sk", "tel": "te", "pes": "fa", "lvs": "lv", "ben": "bn",
    "srp": "sr", "azj": "az", "slv": "sl", "kan": "kn", "est": "et", "mkd": "mk", "eus": "eu",
    "isl": "is", "hye": "hy", "npi": "ne", "khk": "mn", "bos": "bs", "kaz": "kk", "glg": "gl",
    "mar": "mr", "pan": "pa", "khm": "km", "sna": "sn", "yor": "yo", "som": "so", "afr": "af",
    "kat": "ka", "bel": "be", "tgk": "tg", "snd": "sd", "guj": "gu", "amh": "am", "lao": "lo",
    "uzn": "uz", "mlt": "mt", "mya": "my", "tgl": "tl", "asm": "as", "jav": "jw", "yue": "yue",
    "swh": "sw", "pbt": "ps",
}


def language_name(code: str) -> str:
    """English name of an ISO 639-3 code (the code itself if unknown)."""
    return LANGUAGE_NAMES.get(code, code)


def is_known_language(code: str) -> bool:
    return code in LANGUAGE_NAMES


#: the non-Latin-script languages of claim 5 (METHODS §10)
NON_LATIN_FOCUS = ("jpn", "cmn")
#: languages written in the Latin script (claim 5's comparison group); Malay as zlm (the codes of
#: this module) and zsm (FLEURS' individual-language code)
LATIN_SCRIPT = ("eng", "deu", "spa", "fra", "ita", "por", "nld", "cat", "ron", "pol", "ces", "slk", "slv",
                "hrv", "swe", "dan", "nob", "nno", "fin", "est", "lav", "lvs", "lit", "hun", "tur", "vie", "ind",
                "zlm", "zsm", "tgl", "swh", "afr", "isl", "gle", "cym", "eus", "glg", "mlt", "uzn", "azj")
