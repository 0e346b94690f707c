"""Template sentences of the demo corpus, written for this project (CC0-1.0, like the seed sentences).

Each family combines small word lists whose translations into the six demo languages were written
here, with the agreement each language needs (German article, Spanish and French gender and copula,
Japanese and Mandarin word order). The result is a deterministic list of six-way parallel groups;
:func:`template_groups` is what the demo corpus and babel-mini's training read.
"""

from __future__ import annotations

LANGS = ("eng", "deu", "spa", "fra", "jpn", "cmn")

# noun: eng, deu (with article), spa (with article), spa gender, fra (with article), fra gender, jpn, cmn
NOUNS = [
    ("dog", "der Hund", "el perro", "m", "le chien", "m", "犬", "狗"),
    ("cat", "die Katze", "el gato", "m", "le chat", "m", "猫", "猫"),
    ("house", "das Haus", "la casa", "f", "la maison", "f", "家", "房子"),
    ("car", "das Auto", "el coche", "m", "la voiture", "f", "車", "车"),
    ("book", "das Buch", "el libro", "m", "le livre", "m", "本", "书"),
    ("table", "der Tisch", "la mesa", "f", "la table", "f", "テーブル", "桌子"),
    ("garden", "der Garten", "el jardín", "m", "le jardin", "m", "庭", "花园"),
    ("room", "das Zimmer", "la habitación", "f", "la chambre", "f", "部屋", "房间"),
    ("street", "die Straße", "la calle", "f", "la rue", "f", "道", "街道"),
    ("city", "die Stadt", "la ciudad", "f", "la ville", "f", "町", "城市"),
    ("tree", "der Baum", "el árbol", "m", "l'arbre", "m", "木", "树"),
    ("bag", "die Tasche", "el bolso", "m", "le sac", "m", "かばん", "包"),
    ("bread", "das Brot", "el pan", "m", "le pain", "m", "パン", "面包"),
    ("window", "das Fenster", "la ventana", "f", "la fenêtre", "f", "窓", "窗户"),
    ("door", "die Tür", "la puerta", "f", "la porte", "f", "ドア", "门"),
    ("river", "der Fluss", "el río", "m", "la rivière", "f", "川", "河"),
    ("chair", "der Stuhl", "la silla", "f", "la chaise", "f", "椅子", "椅子"),
    ("computer", "der Computer", "el ordenador", "m", "l'ordinateur", "m", "コンピューター", "电脑"),
    ("bed", "das Bett", "la cama", "f", "le lit", "m", "ベッド", "床"),
    ("kitchen", "die Küche", "la cocina", "f", "la cuisine", "f", "台所", "厨房"),
    ("shirt", "das Hemd", "la camisa", "f", "la chemise", "f", "シャツ", "衬衫"),
    ("box", "die Kiste", "la caja", "f", "la boîte", "f", "箱", "箱子"),
    ("school", "die Schule", "la escuela", "f", "l'école", "f", "学校", "学校"),
    ("hotel", "das Hotel", "el hotel", "m", "l'hôtel", "m", "ホテル", "酒店"),
    ("horse", "das Pferd", "el caballo", "m", "le cheval", "m", "馬", "马"),
]

# adjective: eng, deu, spa (m, f, with copula), fra (m, f), jpn predicate, cmn predicate
ADJECTIVES = [
    ("big", "groß", ("es grande", "es grande"), ("grand", "grande"), "大きいです", "很大"),
    ("small", "klein", ("es pequeño", "es pequeña"), ("petit", "petite"), "小さいです", "很小"),
    ("new", "neu", ("es nuevo", "es nueva"), ("neuf", "neuve"), "新しいです", "很新"),
    ("old", "alt", ("es viejo", "es vieja"), ("vieux", "vieille"), "古いです", "很旧"),
    ("beautiful", "schön", ("es bonito", "es bonita"), ("beau", "belle"), "きれいです", "很漂亮"),
    ("expensive", "teuer", ("es caro", "es cara"), ("cher", "chère"), "高いです", "很贵"),
    ("cheap", "billig", ("es barato", "es barata"), ("bon marché", "bon marché"), "安いです", "很便宜"),
    ("clean", "sauber", ("está limpio", "está limpia"), ("propre", "propre"), "清潔です", "很干净"),
    ("dirty", "schmutzig", ("está sucio", "está sucia"), ("sale", "sale"), "汚いです", "很脏"),
    ("white", "weiß", ("es blanco", "es blanca"), ("blanc", "blanche"), "白いです", "是白色的"),
    ("black", "schwarz", ("es negro", "es negra"), ("noir", "noire"), "黒いです", "是黑色的"),
    ("red", "rot", ("es rojo", "es roja"), ("rouge", "rouge"), "赤いです", "是红色的"),
]

# relative: eng, deu (possessive + noun), spa, fra, jpn, cmn
RELATIVES = [
    ("brother", "Mein Bruder", "Mi hermano", "Mon frère", "私の兄", "我的哥哥"),
    ("sister", "Meine Schwester", "Mi hermana", "Ma sœur", "私の姉", "我的姐姐"),
    ("father", "Mein Vater", "Mi padre", "Mon père", "私の父", "我的父亲"),
    ("mother", "Meine Mutter", "Mi madre", "Ma mère", "私の母", "我的母亲"),
    ("friend", "Mein Freund", "Mi amigo", "Mon ami", "私の友達", "我的朋友"),
    ("uncle", "Mein Onkel", "Mi tío", "Mon oncle", "私のおじ", "我的叔叔"),
    ("aunt", "Meine Tante", "Mi tía", "Ma tante", "私のおば", "我的阿姨"),
    ("grandmother", "Meine Großmutter", "Mi abuela", "Ma grand-mère", "私の祖母", "我的奶奶"),
]

CITIES = [
    ("Berlin", "Berlin", "Berlín", "Berlin", "ベルリン", "柏林"),
    ("Madrid", "Madrid", "Madrid", "Madrid", "マドリード", "马德里"),
    ("Paris", "Paris", "París", "Paris", "パリ", "巴黎"),
    ("Tokyo", "Tokio", "Tokio", "Tokyo", "東京", "东京"),
    ("Beijing", "Peking", "Pekín", "Pékin", "北京", "北京"),
    ("London", "London", "Londres", "Londres", "ロンドン", "伦敦"),
    ("Rome", "Rom", "Roma", "Rome", "ローマ", "罗马"),
    ("Vienna", "Wien", "Viena", "Vienne", "ウィーン", "维也纳"),
    ("Lisbon", "Lissabon", "Lisboa", "Lisbonne", "リスボン", "里斯本"),
    ("Moscow", "Moskau", "Moscú", "Moscou", "モスクワ", "莫斯科"),
]

# food: eng, deu, spa (with article), spa plural?, fra (with article), jpn, cmn
FOODS = [
    ("apples", "Äpfel", "las manzanas", True, "les pommes", "りんご", "苹果"),
    ("coffee", "Kaffee", "el café", False, "le café", "コーヒー", "咖啡"),
    ("tea", "Tee", "el té", False, "le thé", "お茶", "茶"),
    ("rice", "Reis", "el arroz", False, "le riz", "ご飯", "米饭"),
    ("fish", "Fisch", "el pescado", False, "le poisson", "魚", "鱼"),
    ("bread", "Brot", "el pan", False, "le pain", "パン", "面包"),
    ("chocolate", "Schokolade", "el chocolate", False, "le chocolat", "チョコレート", "巧克力"),
    ("oranges", "Orangen", "las naranjas", True, "les oranges", "オレンジ", "橙子"),
    ("soup", "Suppe", "la sopa", False, "la soupe", "スープ", "汤"),
    ("cheese", "Käse", "el queso", False, "le fromage", "チーズ", "奶酪"),
]

# subject of "... like(s) X": eng, deu, spa (before gusta/gustan), fra, jpn topic, cmn
LIKERS = [
    ("I like", "Ich mag", "Me", "J'aime", "私は", "我喜欢"),
    ("We like", "Wir mögen", "Nos", "Nous aimons", "私たちは", "我们喜欢"),
    ("My sister likes", "Meine Schwester mag", "A mi hermana le", "Ma sœur aime", "姉は", "我姐姐喜欢"),
    ("They like", "Sie mögen", "Les", "Ils aiment", "彼らは", "他们喜欢"),
]


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _adjective_groups() -> list[dict[str, str]]:
    out = []
    for n in NOUNS:
        eng, deu, spa, spa_g, fra, fra_g, jpn, cmn = n
        for a in ADJECTIVES:
            a_eng, a_deu, a_spa, a_fra, a_jpn, a_cmn = a
            out.append({
                "eng": f"The {eng} is {a_eng}.",
                "deu": f"{cap(deu)} ist {a_deu}.",
                "spa": f"{cap(spa)} {a_spa[spa_g == 'f']}.",
                "fra": f"{cap(fra)} est {a_fra[fra_g == 'f']}.",
                "jpn": f"{jpn}は{a_jpn}。",
                "cmn": f"{cmn}{a_cmn}。",
            })
    return out


def _where_groups() -> list[dict[str, str]]:
    return [{"eng": f"Where is the {eng}?", "deu": f"Wo ist {deu}?", "spa": f"¿Dónde está {spa}?",
             "fra": f"Où est {fra} ?", "jpn": f"{jpn}はどこですか。", "cmn": f"{cmn}在哪里？"}
            for eng, deu, spa, _, fra, _, jpn, cmn in NOUNS]


def _lives_groups() -> list[dict[str, str]]:
    out = []
    for r_eng, r_deu, r_spa, r_fra, r_jpn, r_cmn in RELATIVES:
        for c_eng, c_deu, c_spa, c_fra, c_jpn, c_cmn in CITIES:
            out.append({"eng": f"My {r_eng} lives in {c_eng}.", "deu": f"{r_deu} wohnt in {c_deu}.",
                        "spa": f"{r_spa} vive en {c_spa}.", "fra": f"{r_fra} habite à {c_fra}.",
                        "jpn": f"{r_jpn}は{c_jpn}に住んでいます。", "cmn": f"{r_cmn}住在{c_cmn}。"})
    return out


def _like_groups() -> list[dict[str, str]]:
    out = []
    for s_eng, s_deu, s_spa, s_fra, s_jpn, s_cmn in LIKERS:
        for f_eng, f_deu, f_spa, plural, f_fra, f_jpn, f_cmn in FOODS:
            verb = "gustan" if plural else "gusta"
            out.append({"eng": f"{s_eng} {f_eng}.", "deu": f"{s_deu} {f_deu}.", "spa": f"{s_spa} {verb} {f_spa}.",
                        "fra": f"{s_fra} {f_fra}.", "jpn": f"{s_jpn}{f_jpn}が好きです。", "cmn": f"{s_cmn}{f_cmn}。"})
    return out


def template_groups() -> list[dict[str, str]]:
    """All template groups, in a fixed order, each with a ``group`` id ``t0001`` ...."""
    rows = _adjective_groups() + _where_groups() + _lives_groups() + _like_groups()
    return [{"group": f"t{i + 1:04d}", **row} for i, row in enumerate(rows)]
