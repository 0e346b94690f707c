"""Languages: one row per language with every code babelscope meets for it (METHODS §1).

babelscope names a language by its ISO 639-3 code in SeamlessM4T v2's spelling (``eng``, ``deu``,
``cmn``, ``zsm``); every other spelling is a column of :data:`LANGUAGES`:

* ``iso1`` — ISO 639-1, which the language identifier (py3langid) reports;
* ``whisper`` — Whisper's language token (``<|de|>``);
* ``fleurs`` — the FLEURS configuration name (``de_de``);
* ``espeak`` — the espeak-ng voice babelscope synthesizes with (``-``: none trusted);
* ``script`` — ISO 15924 script of the written language (claim 5's Latin group, METHODS §10).

Malay is ``zsm`` (Standard Malay), as SeamlessM4T writes it and the language identifier's ``ms``
means; ``zlm`` (SeamlessM4T's speech-only Colloquial Malay) is accepted as an alias.
"""

from __future__ import annotations

from dataclasses import dataclass

_TABLE = """
code     | name                           | iso1 | whisper | fleurs      | espeak          | script
afr      | Afrikaans                      | af   | af      | af_za       | -               | Latn
amh      | Amharic                        | am   | am      | am_et       | -               | Ethi
arb      | Arabic                         | ar   | ar      | ar_eg       | ar              | Arab
ary      | Moroccan Arabic                | -    | -       | -           | -               | Arab
arz      | Egyptian Arabic                | -    | -       | -           | -               | Arab
asm      | Assamese                       | as   | as      | as_in       | -               | Beng
azj      | Azerbaijani                    | az   | az      | az_az       | -               | Latn
bel      | Belarusian                     | be   | be      | be_by       | -               | Cyrl
ben      | Bengali                        | bn   | bn      | bn_in       | -               | Beng
bos      | Bosnian                        | bs   | bs      | bs_ba       | -               | Latn
bul      | Bulgarian                      | bg   | bg      | bg_bg       | -               | Cyrl
cat      | Catalan                        | ca   | ca      | ca_es       | -               | Latn
ceb      | Cebuano                        | -    | -       | ceb_ph      | -               | Latn
ces      | Czech                          | cs   | cs      | cs_cz       | cs              | Latn
ckb      | Central Kurdish                | -    | -       | ckb_iq      | -               | Arab
cmn      | Mandarin Chinese               | zh   | zh      | cmn_hans_cn | cmn-latn-pinyin | Hans
cmn_Hant | Mandarin Chinese (Traditional) | -    | -       | -           | -               | Hant
cym      | Welsh                          | cy   | cy      | cy_gb       | -               | Latn
dan      | Danish                         | da   | da      | da_dk       | -               | Latn
deu      | German                         | de   | de      | de_de       | de              | Latn
ell      | Greek                          | el   | el      | el_gr       | -               | Grek
eng      | English                        | en   | en      | en_us       | en-us           | Latn
est      | Estonian                       | et   | et      | et_ee       | -               | Latn
eus      | Basque                         | eu   | eu      | -           | -               | Latn
fin      | Finnish                        | fi   | fi      | fi_fi       | fi              | Latn
fra      | French                         | fr   | fr      | fr_fr       | fr              | Latn
fuv      | Nigerian Fulfulde              | ff   | -       | ff_sn       | -               | Latn
gaz      | Oromo                          | om   | -       | om_et       | -               | Latn
gle      | Irish                          | ga   | -       | ga_ie       | -               | Latn
glg      | Galician                       | gl   | gl      | gl_es       | -               | Latn
guj      | Gujarati                       | gu   | gu      | gu_in       | -               | Gujr
heb      | Hebrew                         | he   | he      | he_il       | -               | Hebr
hin      | Hindi                          | hi   | hi      | hi_in       | hi              | Deva
hrv      | Croatian                       | hr   | hr      | hr_hr       | -               | Latn
hun      | Hungarian                      | hu   | hu      | hu_hu       | -               | Latn
hye      | Armenian                       | hy   | hy      | hy_am       | -               | Armn
ibo      | Igbo                           | ig   | -       | ig_ng       | -               | Latn
ind      | Indonesian                     | id   | id      | id_id       | -               | Latn
isl      | Icelandic                      | is   | is      | is_is       | -               | Latn
ita      | Italian                        | it   | it      | it_it       | it              | Latn
jav      | Javanese                       | jv   | jw      | jv_id       | -               | Latn
jpn      | Japanese                       | ja   | ja      | ja_jp       | ja              | Jpan
kan      | Kannada                        | kn   | kn      | kn_in       | -               | Knda
kat      | Georgian                       | ka   | ka      | ka_ge       | -               | Geor
kaz      | Kazakh                         | kk   | kk      | kk_kz       | -               | Cyrl
khk      | Mongolian                      | mn   | mn      | mn_mn       | -               | Cyrl
khm      | Khmer                          | km   | km      | km_kh       | -               | Khmr
kir      | Kyrgyz                         | ky   | -       | ky_kg       | -               | Cyrl
kor      | Korean                         | ko   | ko      | ko_kr       | ko              | Kore
lao      | Lao                            | lo   | lo      | lo_la       | -               | Laoo
lit      | Lithuanian                     | lt   | lt      | lt_lt       | -               | Latn
lug      | Ganda                          | lg   | -       | lg_ug       | -               | Latn
luo      | Luo                            | -    | -       | luo_ke      | -               | Latn
lvs      | Latvian                        | lv   | lv      | lv_lv       | -               | Latn
mai      | Maithili                       | -    | -       | -           | -               | Deva
mal      | Malayalam                      | ml   | ml      | ml_in       | -               | Mlym
mar      | Marathi                        | mr   | mr      | mr_in       | -               | Deva
mkd      | Macedonian                     | mk   | mk      | mk_mk       | -               | Cyrl
mlt      | Maltese                        | mt   | mt      | mt_mt       | -               | Latn
mni      | Meitei                         | -    | -       | -           | -               | Beng
mya      | Burmese                        | my   | my      | my_mm       | -               | Mymr
nld      | Dutch                          | nl   | nl      | nl_nl       | nl              | Latn
nno      | Norwegian Nynorsk              | nn   | nn      | -           | -               | Latn
nob      | Norwegian Bokmål               | no   | no      | nb_no       | -               | Latn
npi      | Nepali                         | ne   | ne      | ne_np       | -               | Deva
nya      | Nyanja                         | ny   | -       | ny_mw       | -               | Latn
ory      | Odia                           | or   | -       | or_in       | -               | Orya
pan      | Punjabi                        | pa   | pa      | pa_in       | -               | Guru
pbt      | Pashto                         | ps   | ps      | ps_af       | -               | Arab
pes      | Persian                        | fa   | fa      | fa_ir       | -               | Arab
pol      | Polish                         | pl   | pl      | pl_pl       | pl              | Latn
por      | Portuguese                     | pt   | pt      | pt_br       | pt              | Latn
ron      | Romanian                       | ro   | ro      | ro_ro       | -               | Latn
rus      | Russian                        | ru   | ru      | ru_ru       | ru              | Cyrl
sat      | Santali                        | -    | -       | -           | -               | Olck
slk      | Slovak                         | sk   | sk      | sk_sk       | -               | Latn
slv      | Slovenian                      | sl   | sl      | sl_si       | -               | Latn
sna      | Shona                          | sn   | sn      | sn_zw       | -               | Latn
snd      | Sindhi                         | sd   | sd      | sd_in       | -               | Arab
som      | Somali                         | so   | so      | so_so       | -               | Latn
spa      | Spanish                        | es   | es      | es_419      | es              | Latn
srp      | Serbian                        | sr   | sr      | sr_rs       | -               | Cyrl
swe      | Swedish                        | sv   | sv      | sv_se       | sv              | Latn
swh      | Swahili                        | sw   | sw      | sw_ke       | -               | Latn
tam      | Tamil                          | ta   | ta      | ta_in       | -               | Taml
tel      | Telugu                         | te   | te      | te_in       | -               | Telu
tgk      | Tajik                          | tg   | tg      | tg_tj       | -               | Cyrl
tgl      | Tagalog                        | tl   | tl      | fil_ph      | -               | Latn
tha      | Thai                           | th   | th      | th_th       | -               | Thai
tur      | Turkish                        | tr   | tr      | tr_tr       | tr              | Latn
ukr      | Ukrainian                      | uk   | uk      | uk_ua       | uk              | Cyrl
urd      | Urdu                           | ur   | ur      | ur_pk       | -               | Arab
uzn      | Uzbek                          | uz   | uz      | uz_uz       | -               | Latn
vie      | Vietnamese                     | vi   | vi      | vi_vn       | vi              | Latn
yor      | Yoruba                         | yo   | yo      | yo_ng       | -               | Latn
yue      | Cantonese                      | -    | yue     | yue_hant_hk | -               | Hant
zsm      | Malay                          | ms   | ms      | ms_my       | -               | Latn
zul      | Zulu                           | zu   | -       | zu_za       | -               | Latn
"""


@dataclass(frozen=True)
class Language:
    """One language and its codes (None: the system has no code for it)."""

    code: str
    name: str
    iso1: str | None
    whisper: str | None
    fleurs: str | None
    espeak: str | None
    script: str

    @property
    def latin(self) -> bool:
        return self.script == "Latn"


def _parse(table: str) -> dict[str, Language]:
    lines = [ln for ln in table.strip().splitlines()]
    header = [c.strip() for c in lines[0].split("|")]
    out: dict[str, Language] = {}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.split("|")]
        row = dict(zip(header, (None if c == "-" else c for c in cells)))
        out[row["code"]] = Language(**row)  # type: ignore[arg-type]
    return out


#: babelscope code -> :class:`Language`, every text language of SeamlessM4T v2
LANGUAGES: dict[str, Language] = _parse(_TABLE)

#: ISO 639-1 labels of languages outside the table (the language identifier reports them) -> ISO 639-3
OTHER_ISO1: dict[str, str] = {
    "ak": "aka", "an": "arg", "av": "ava", "ba": "bak", "bh": "bih", "bo": "bod", "br": "bre", "ce": "che",
    "co": "cos", "cv": "chv", "dv": "div", "dz": "dzo", "eo": "epo", "fo": "fao", "fy": "fry", "gd": "gla",
    "gn": "grn", "gv": "glv", "ha": "hau", "ht": "hat", "ia": "ina", "ie": "ile", "io": "ido", "ku": "kmr",
    "kv": "kom", "kw": "cor", "la": "lat", "lb": "ltz", "li": "lim", "ln": "lin", "mg": "mlg", "oc": "oci",
    "os": "oss", "qu": "que", "rm": "roh", "rw": "kin", "sa": "san", "sc": "srd", "se": "sme", "sh": "hbs",
    "si": "sin", "sq": "sqi", "st": "sot", "su": "sun", "tk": "tuk", "tt": "tat", "ug": "uig", "vo": "vol",
    "wa": "wln", "xh": "xho", "yi": "yid",
}

#: other spellings accepted as input -> babelscope's code
ALIASES: dict[str, str] = {
    # macrolanguages -> the individual language babelscope uses
    "zho": "cmn", "ara": "arb", "fas": "pes", "msa": "zsm", "swa": "swh", "nor": "nob",
    "lav": "lvs", "uzb": "uzn", "nep": "npi", "mon": "khk", "pus": "pbt", "kur": "kmr",
    "orm": "gaz", "ori": "ory", "aze": "azj", "zlm": "zsm", "ful": "fuv",
    # other codes for a language of the table: Filipino (FLEURS fil_ph), Norwegian Bokmål's ISO 639-1
    "fil": "tgl", "nb": "nob",
    # ISO 639-2/B bibliographic codes -> ISO 639-3
    "chi": "cmn", "ger": "deu", "fre": "fra", "dut": "nld", "cze": "ces", "gre": "ell",
    "arm": "hye", "baq": "eus", "geo": "kat", "ice": "isl", "mac": "mkd", "rum": "ron",
    "slo": "slk", "tib": "bod", "wel": "cym", "alb": "sqi", "bur": "mya", "per": "pes",
    "may": "zsm",
}

#: ISO 639-1 -> babelscope code: the table's column plus the languages outside it
ISO639_1_TO_3: dict[str, str] = {**{lg.iso1: c for c, lg in LANGUAGES.items() if lg.iso1}, **OTHER_ISO1}
#: babelscope code -> Whisper language code, and back
WHISPER_CODES: dict[str, str] = {c: lg.whisper for c, lg in LANGUAGES.items() if lg.whisper}
FROM_WHISPER: dict[str, str] = {w: c for c, w in WHISPER_CODES.items()}
#: babelscope code -> FLEURS configuration name
FLEURS_CODES: dict[str, str] = {c: lg.fleurs for c, lg in LANGUAGES.items() if lg.fleurs}
#: babelscope code -> espeak-ng voice. Mandarin: ``cmn-latn-pinyin`` reads Hanzi as pinyin with tones
#: (the voice ``cmn`` reads the tone digits in English); Japanese is given as kana (corpus/speakable.py)
VOICES: dict[str, str] = {c: lg.espeak for c, lg in LANGUAGES.items() if lg.espeak}

#: the study's languages in the order figures and tables show them (the demo corpus's six)
STUDY_LANGUAGES = ("eng", "deu", "spa", "fra", "jpn", "cmn")
#: the non-Latin-script languages of claim 5 (METHODS §10)
NON_LATIN_FOCUS = ("jpn", "cmn")
#: languages written in the Latin script (claim 5's comparison group)
LATIN_SCRIPT = tuple(c for c, lg in LANGUAGES.items() if lg.latin)
#: short display names where the table's name is long
SHORT_NAMES = {"cmn": "Mandarin"}


def language_name(code: str, short: bool = False) -> str:
    """English name of a babelscope code (the code itself if unknown)."""
    if short and code in SHORT_NAMES:
        return SHORT_NAMES[code]
    lg = LANGUAGES.get(code)
    return lg.name if lg else code


def is_known_language(code: str) -> bool:
    return code in LANGUAGES


def to_iso639_3(code: str) -> str:
    """babelscope's code for ``code``: ISO 639-1, ISO 639-3, ISO 639-2/B or a macrolanguage code, in
    any case, with an optional script/region suffix after ``_`` or ``-`` (``cmn_Hans``, ``zh-CN``),
    which is dropped. Unknown codes come back lower-cased; the empty string stays empty."""
    base = code.strip().lower().replace("-", "_").split("_", 1)[0]
    if base in ISO639_1_TO_3:
        return ISO639_1_TO_3[base]
    return ALIASES.get(base, base)


def suggest_language(code: str) -> str | None:
    """The babelscope code a misspelt or foreign code most likely means (None: no idea)."""
    guess = to_iso639_3(code)
    if guess in LANGUAGES and guess != code:
        return guess
    for c, lg in LANGUAGES.items():
        if code in (lg.fleurs, lg.whisper):
            return c
    return None
