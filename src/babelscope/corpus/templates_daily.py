"""Everyday template sentences of the demo corpus (CC0-1.0, written for this project like templates.py).

More vocabulary and more structures than templates.py, so that babel-mini learns to answer in the
language it is asked for beyond a few sentence frames: verbs in three persons with definite and
indefinite objects (German accusative, French ``du`` / ``de la`` / ``de l'``), negation, places
with prepositions (German dative), the time of day, a past tense, and questions.
"""

from __future__ import annotations

from babelscope.corpus.templates import CITIES, RELATIVES, cap

# object: eng, deu noun, deu gender, spa noun, spa gender, fra noun, fra gender, jpn, cmn
OBJECTS = [
    ("book", "Buch", "n", "libro", "m", "livre", "m", "本", "书"),
    ("table", "Tisch", "m", "mesa", "f", "table", "f", "テーブル", "桌子"),
    ("car", "Auto", "n", "coche", "m", "voiture", "f", "車", "车"),
    ("bag", "Tasche", "f", "bolso", "m", "sac", "m", "かばん", "包"),
    ("chair", "Stuhl", "m", "silla", "f", "chaise", "f", "椅子", "椅子"),
    ("computer", "Computer", "m", "ordenador", "m", "ordinateur", "m", "コンピューター", "电脑"),
    ("bed", "Bett", "n", "cama", "f", "lit", "m", "ベッド", "床"),
    ("box", "Kiste", "f", "caja", "f", "boîte", "f", "箱", "箱子"),
    ("shirt", "Hemd", "n", "camisa", "f", "chemise", "f", "シャツ", "衬衫"),
    ("umbrella", "Regenschirm", "m", "paraguas", "m", "parapluie", "m", "傘", "雨伞"),
    ("key", "Schlüssel", "m", "llave", "f", "clé", "f", "鍵", "钥匙"),
    ("phone", "Telefon", "n", "teléfono", "m", "téléphone", "m", "電話", "电话"),
    ("bottle", "Flasche", "f", "botella", "f", "bouteille", "f", "瓶", "瓶子"),
    ("newspaper", "Zeitung", "f", "periódico", "m", "journal", "m", "新聞", "报纸"),
    ("lamp", "Lampe", "f", "lámpara", "f", "lampe", "f", "ランプ", "灯"),
    ("cup", "Tasse", "f", "taza", "f", "tasse", "f", "カップ", "杯子"),
    ("ticket", "Fahrkarte", "f", "billete", "m", "billet", "m", "切符", "票"),
    ("map", "Karte", "f", "mapa", "m", "carte", "f", "地図", "地图"),
    ("pen", "Stift", "m", "bolígrafo", "m", "stylo", "m", "ペン", "笔"),
    ("watch", "Uhr", "f", "reloj", "m", "montre", "f", "時計", "手表"),
]

_DEU_NOM = {"m": "der", "f": "die", "n": "das"}
_DEU_ACC = {"m": "den", "f": "die", "n": "das"}
_DEU_INDEF_ACC = {"m": "einen", "f": "eine", "n": "ein"}
_VOWELS = tuple("aeiouéèêâîôûh")


def _spa_def(noun: str, g: str) -> str:
    return f"{'el' if g == 'm' else 'la'} {noun}"


def _fra_def(noun: str, g: str) -> str:
    if noun.startswith(_VOWELS):
        return f"l'{noun}"
    return f"{'le' if g == 'm' else 'la'} {noun}"


def _fra_partitive(noun: str, g: str) -> str:
    """``de`` + the definite article (``avoir besoin de``)."""
    if noun.startswith(_VOWELS):
        return f"de l'{noun}"
    return f"du {noun}" if g == "m" else f"de la {noun}"


# subject: eng, deu, spa, fra, jpn topic, cmn
SUBJECTS = [
    ("I", "Ich", "", "Je", "私は", "我"),
    ("We", "Wir", "", "Nous", "私たちは", "我们"),
    ("She", "Sie", "Ella", "Elle", "彼女は", "她"),
]

# verb per subject (I, we, she): eng, deu, spa, fra (before the object phrase)
VERBS = {
    "buy": (("buy", "buys"), ("kaufe", "kaufen", "kauft"), ("compro", "compramos", "compra"),
            ("j'achète", "nous achetons", "elle achète")),
    "need": (("need", "needs"), ("brauche", "brauchen", "braucht"), ("necesito", "necesitamos", "necesita"),
             ("j'ai besoin", "nous avons besoin", "elle a besoin")),
    "find": (("can't find", "can't find"), ("finde", "finden", "findet"), ("encuentro", "encontramos", "encuentra"),
             ("je ne trouve pas", "nous ne trouvons pas", "elle ne trouve pas")),
    "have": (("have", "has"), ("habe", "haben", "hat"), ("tengo", "tenemos", "tiene"),
             ("j'ai", "nous avons", "elle a")),
}


def _verb_groups() -> list[dict[str, str]]:
    out = []
    for verb, (v_eng, v_deu, v_spa, v_fra) in VERBS.items():
        for i, (s_eng, s_deu, s_spa, _s_fra, s_jpn, s_cmn) in enumerate(SUBJECTS):
            eng_v = v_eng[1] if i == 2 else v_eng[0]
            for o_eng, d_n, d_g, s_n, s_g, f_n, f_g, o_jpn, o_cmn in OBJECTS:
                if verb == "have":
                    art = "an" if o_eng[0] in "aeiou" else "a"
                    eng = f"{s_eng} {eng_v} {art} {o_eng}."
                    deu = f"{s_deu} {v_deu[i]} {_DEU_INDEF_ACC[d_g]} {d_n}."
                    spa_obj = f"{'un' if s_g == 'm' else 'una'} {s_n}"
                    fra = f"{cap(v_fra[i])} {'un' if f_g == 'm' else 'une'} {f_n}."
                    jpn = f"{s_jpn}{o_jpn}を持っています。"
                    cmn = f"{s_cmn}有{o_cmn}。"
                else:
                    eng = f"{s_eng} {eng_v} the {o_eng}."
                    neg = " nicht" if verb == "find" else ""
                    deu = f"{s_deu} {v_deu[i]} {_DEU_ACC[d_g]} {d_n}{neg}."
                    spa_obj = _spa_def(s_n, s_g)
                    if verb == "need":
                        fra = f"{cap(v_fra[i])} {_fra_partitive(f_n, f_g)}."
                    else:
                        fra = f"{cap(v_fra[i])} {_fra_def(f_n, f_g)}."
                    jpn = {"buy": f"{s_jpn}{o_jpn}を買います。", "need": f"{s_jpn}{o_jpn}が必要です。",
                           "find": f"{s_jpn}{o_jpn}が見つかりません。"}[verb]
                    cmn = {"buy": f"{s_cmn}买{o_cmn}。", "need": f"{s_cmn}需要{o_cmn}。",
                           "find": f"{s_cmn}找不到{o_cmn}。"}[verb]
                spa = " ".join([w for w in (s_spa, "no" if verb == "find" else "") if w] + [v_spa[i], spa_obj])
                spa = cap(spa) + "."
                out.append({"eng": eng, "deu": deu, "spa": spa, "fra": fra, "jpn": jpn, "cmn": cmn})
    return out


# place: eng, deu (dative), spa, fra, jpn, cmn
PLACES = [
    ("on the table", "auf dem Tisch", "sobre la mesa", "sur la table", "テーブルの上", "桌子上"),
    ("in the bag", "in der Tasche", "en el bolso", "dans le sac", "かばんの中", "包里"),
    ("under the bed", "unter dem Bett", "debajo de la cama", "sous le lit", "ベッドの下", "床下"),
    ("in the kitchen", "in der Küche", "en la cocina", "dans la cuisine", "台所", "厨房里"),
    ("next to the door", "neben der Tür", "al lado de la puerta", "à côté de la porte", "ドアの横", "门旁边"),
]


def _place_groups() -> list[dict[str, str]]:
    out = []
    for o_eng, d_n, d_g, s_n, s_g, f_n, f_g, o_jpn, o_cmn in OBJECTS:
        if o_eng in ("table", "bag", "bed"):
            continue
        for p_eng, p_deu, p_spa, p_fra, p_jpn, p_cmn in PLACES:
            out.append({"eng": f"The {o_eng} is {p_eng}.", "deu": f"{cap(_DEU_NOM[d_g])} {d_n} ist {p_deu}.",
                        "spa": f"{cap(_spa_def(s_n, s_g))} está {p_spa}.",
                        "fra": f"{cap(_fra_def(f_n, f_g))} est {p_fra}.",
                        "jpn": f"{o_jpn}は{p_jpn}にあります。", "cmn": f"{o_cmn}在{p_cmn}。"})
    return out


# hour: eng, deu, spa, fra, jpn, cmn
HOURS = [
    ("one", "ein", "Es la una", "une heure", "一時", "一点"),
    ("two", "zwei", "Son las dos", "deux heures", "二時", "两点"),
    ("three", "drei", "Son las tres", "trois heures", "三時", "三点"),
    ("four", "vier", "Son las cuatro", "quatre heures", "四時", "四点"),
    ("five", "fünf", "Son las cinco", "cinq heures", "五時", "五点"),
    ("six", "sechs", "Son las seis", "six heures", "六時", "六点"),
    ("seven", "sieben", "Son las siete", "sept heures", "七時", "七点"),
    ("eight", "acht", "Son las ocho", "huit heures", "八時", "八点"),
    ("nine", "neun", "Son las nueve", "neuf heures", "九時", "九点"),
    ("ten", "zehn", "Son las diez", "dix heures", "十時", "十点"),
    ("eleven", "elf", "Son las once", "onze heures", "十一時", "十一点"),
    ("twelve", "zwölf", "Son las doce", "midi", "十二時", "十二点"),
]


def _hour_groups() -> list[dict[str, str]]:
    return [{"eng": f"It is {e} o'clock.", "deu": f"Es ist {d} Uhr.", "spa": f"{s}.", "fra": f"Il est {f}.",
             "jpn": f"今は{j}です。", "cmn": f"现在{c}。"} for e, d, s, f, j, c in HOURS]


_FEMININE = {"sister", "mother", "aunt", "grandmother"}


def _went_groups() -> list[dict[str, str]]:
    out = []
    for r_eng, r_deu, r_spa, r_fra, r_jpn, r_cmn in RELATIVES:
        for c_eng, c_deu, c_spa, c_fra, c_jpn, c_cmn in CITIES:
            gone = "allée" if r_eng in _FEMININE else "allé"
            out.append({"eng": f"Yesterday my {r_eng} went to {c_eng}.",
                        "deu": f"Gestern ist {r_deu[0].lower() + r_deu[1:]} nach {c_deu} gefahren.",
                        "spa": f"Ayer {r_spa[0].lower() + r_spa[1:]} fue a {c_spa}.",
                        "fra": f"Hier, {r_fra[0].lower() + r_fra[1:]} est {gone} à {c_fra}.",
                        "jpn": f"昨日、{r_jpn}は{c_jpn}に行きました。", "cmn": f"昨天{r_cmn}去了{c_cmn}。"})
    return out


def _question_groups() -> list[dict[str, str]]:
    out = []
    for o_eng, d_n, d_g, s_n, s_g, f_n, f_g, o_jpn, o_cmn in OBJECTS:
        art = "an" if o_eng[0] in "aeiou" else "a"
        out.append({"eng": f"Do you have {art} {o_eng}?", "deu": f"Hast du {_DEU_INDEF_ACC[d_g]} {d_n}?",
                    "spa": f"¿Tienes {'un' if s_g == 'm' else 'una'} {s_n}?",
                    "fra": f"As-tu {'un' if f_g == 'm' else 'une'} {f_n} ?",
                    "jpn": f"{o_jpn}がありますか。", "cmn": f"你有{o_cmn}吗？"})
    return out


def daily_groups() -> list[dict[str, str]]:
    """Every everyday group, in a fixed order, each with a ``group`` id ``d0001`` ...."""
    rows = _verb_groups() + _place_groups() + _hour_groups() + _went_groups() + _question_groups()
    return [{"group": f"d{i + 1:04d}", **row} for i, row in enumerate(rows)]
