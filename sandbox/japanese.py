"""Deterministic Japanese B2B sample values shared by every stand-in's seed data.

All draws go through a caller's ``random.Random`` so the same seed always yields the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SURNAMES = (
    ("佐藤", "さとう"),
    ("鈴木", "すずき"),
    ("高橋", "たかはし"),
    ("田中", "たなか"),
    ("伊藤", "いとう"),
    ("渡辺", "わたなべ"),
    ("山本", "やまもと"),
    ("中村", "なかむら"),
    ("小林", "こばやし"),
    ("加藤", "かとう"),
    ("吉田", "よしだ"),
    ("山田", "やまだ"),
    ("佐々木", "ささき"),
    ("山口", "やまぐち"),
    ("松本", "まつもと"),
    ("井上", "いのうえ"),
    ("木村", "きむら"),
    ("林", "はやし"),
    ("斎藤", "さいとう"),
    ("清水", "しみず"),
    ("長谷川", "はせがわ"),
    ("藤原", "ふじわら"),
    ("小野寺", "おのでら"),
    ("髙橋", "たかはし"),
    ("齋藤", "さいとう"),
)
GIVEN_NAMES = (
    ("翔太", "しょうた"),
    ("大輔", "だいすけ"),
    ("健太", "けんた"),
    ("拓也", "たくや"),
    ("直樹", "なおき"),
    ("陽菜", "ひな"),
    ("美咲", "みさき"),
    ("さくら", "さくら"),
    ("結衣", "ゆい"),
    ("愛", "あい"),
    ("浩二", "こうじ"),
    ("誠", "まこと"),
    ("由美子", "ゆみこ"),
    ("恵", "めぐみ"),
    ("真一", "しんいち"),
    ("彩花", "あやか"),
    ("隆", "たかし"),
    ("智子", "ともこ"),
    ("亮", "りょう"),
    ("千尋", "ちひろ"),
)
ROMAJI = {
    "さとう": "sato",
    "すずき": "suzuki",
    "たかはし": "takahashi",
    "たなか": "tanaka",
    "いとう": "ito",
    "わたなべ": "watanabe",
    "やまもと": "yamamoto",
    "なかむら": "nakamura",
    "こばやし": "kobayashi",
    "かとう": "kato",
    "よしだ": "yoshida",
    "やまだ": "yamada",
    "ささき": "sasaki",
    "やまぐち": "yamaguchi",
    "まつもと": "matsumoto",
    "いのうえ": "inoue",
    "きむら": "kimura",
    "はやし": "hayashi",
    "さいとう": "saito",
    "しみず": "shimizu",
    "はせがわ": "hasegawa",
    "ふじわら": "fujiwara",
    "おのでら": "onodera",
}
COMPANY_STEMS = (
    ("東京", "tokyo"),
    ("大阪", "osaka"),
    ("名古屋", "nagoya"),
    ("福岡", "fukuoka"),
    ("札幌", "sapporo"),
    ("日本", "nihon"),
    ("さくら", "sakura"),
    ("みらい", "mirai"),
    ("ひかり", "hikari"),
    ("アオバ", "aoba"),
    ("テクノ", "techno"),
    ("グローバル", "global"),
    ("サンライズ", "sunrise"),
    ("富士", "fuji"),
    ("瀬戸内", "setouchi"),
)
COMPANY_KINDS = (
    ("システム", "sys"),
    ("商事", "shoji"),
    ("製作所", "mfg"),
    ("ソリューションズ", "solutions"),
    ("物産", "bussan"),
    ("工業", "kogyo"),
    ("ネットワークス", "net"),
    ("データ", "data"),
    ("ロジスティクス", "logi"),
)
LEGAL_FORMS = ("株式会社{}", "{}株式会社", "合同会社{}", "有限会社{}", "㈱{}")
DEPARTMENTS = (
    "営業部",
    "マーケティング部",
    "情報システム部",
    "総務部",
    "経営企画室",
    "開発本部",
    "カスタマーサクセス部",
    "人事部",
    "経理部",
    "第一営業課",
    "インサイドセールス課",
    "DX推進室",
)
TITLES = (
    "代表取締役",
    "取締役",
    "部長",
    "次長",
    "課長",
    "係長",
    "主任",
    "マネージャー",
    "リーダー",
    "担当",
    "",
)
INDUSTRIES = ("製造業", "情報通信業", "卸売業", "小売業", "建設業", "金融業", "不動産業", "サービス業")
ADDRESSES = (
    ("100-0005", "東京都千代田区丸の内1-9-1"),
    ("150-0002", "東京都渋谷区渋谷2-21-1"),
    ("530-0001", "大阪府大阪市北区梅田3-1-3"),
    ("460-0008", "愛知県名古屋市中区栄3-5-1"),
    ("810-0001", "福岡県福岡市中央区天神2-1-1"),
    ("060-0005", "北海道札幌市中央区北五条西2-5"),
    ("980-0021", "宮城県仙台市青葉区中央1-1-1"),
    ("730-0011", "広島県広島市中区基町6-78"),
    ("220-0012", "神奈川県横浜市西区みなとみらい2-2-1"),
    ("600-8216", "京都府京都市下京区烏丸通七条下ル"),
)
AREA_CODES = ("03", "06", "052", "092", "011", "022", "082", "045", "075")


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    postcode: str
    address: str
    phone: str
    industry: str


@dataclass(frozen=True)
class Person:
    last_name: str
    first_name: str
    last_name_reading: str
    first_name_reading: str
    romaji: str


def company(rng: random.Random, index: int) -> Company:
    """A company; ``index`` keeps its domain unique across a large seed."""
    stem, stem_en = rng.choice(COMPANY_STEMS)
    kind, kind_en = rng.choice(COMPANY_KINDS)
    postcode, address = rng.choice(ADDRESSES)
    return Company(
        name=rng.choice(LEGAL_FORMS).format(stem + kind),
        domain=f"{stem_en}-{kind_en}{index}.example.co.jp",
        postcode=postcode,
        address=address,
        phone=phone(rng),
        industry=rng.choice(INDUSTRIES),
    )


def person(rng: random.Random) -> Person:
    last, last_kana = rng.choice(SURNAMES)
    first, first_kana = rng.choice(GIVEN_NAMES)
    romaji = f"{ROMAJI.get(last_kana, 'user')}"
    return Person(last, first, last_kana, first_kana, romaji)


def phone(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    rest = 10 - len(area)
    middle = rest // 2
    digits = "".join(rng.choice("0123456789") for _ in range(rest))
    return f"{area}-{digits[:middle]}-{digits[middle:]}"


def mobile(rng: random.Random) -> str:
    return f"0{rng.choice('789')}0-{rng.randrange(10000):04d}-{rng.randrange(10000):04d}"
