"""Reference data of the seeded company: custom fields and masters (tags, segments, forms …)."""

from __future__ import annotations

from schemas.catalog import CustomFieldSpec, FieldType

SALES_STAGES = ("リード", "MQL", "SQL", "商談", "受注", "失注")
EMPLOYEE_BANDS = (5, 20, 50, 120, 300, 800, 2_000, 10_000)
STATUSES = ("見込み客", "商談中", "顧客", "失注", "対象外")
COLLECTION_ROUTES = ("展示会", "Webフォーム", "名刺交換", "セミナー", "紹介", "広告")

CUSTOM_FIELDS = (
    CustomFieldSpec("customer_code", FieldType.TEXT, unique=True, label="顧客コード", max_length=20),
    CustomFieldSpec("sales_stage", FieldType.SELECT, label="商談フェーズ", options=SALES_STAGES),
    CustomFieldSpec("industry", FieldType.TEXT, label="業種", max_length=50),
    CustomFieldSpec("employees", FieldType.INTEGER, label="従業員数"),
    CustomFieldSpec("first_contact", FieldType.DATE, label="初回接触日"),
)

TAGS = (
    "展示会",
    "資料請求",
    "ウェビナー参加",
    "問い合わせ",
    "ホワイトペーパーDL",
    "価格表DL",
    "導入事例閲覧",
    "メルマガ登録",
    "名刺交換",
    "キャンペーン応募",
)
SEGMENTS = (
    "料金ページ閲覧",
    "導入事例を3件以上閲覧",
    "30日以内に再訪問",
    "ウェビナーLP閲覧",
    "採用ページのみ閲覧",
    "資料DL後未商談",
    "休眠（90日未訪問）",
    "ホットリード",
)
FORMS = (
    "資料請求フォーム",
    "お問い合わせフォーム",
    "セミナー申込フォーム",
    "ホワイトペーパーDLフォーム",
    "無料トライアル申込",
    "展示会来場登録",
)
CAMPAIGNS = (
    "春の展示会フォロー",
    "ウェビナー集客2026",
    "休眠顧客掘り起こし",
    "新製品ローンチ",
    "年度末キャンペーン",
    "導入事例プロモーション",
)
EMAILS = tuple(
    [f"月次ニュースレター {year}年{month}月" for year in (2025, 2026) for month in range(1, 13)]
    + [
        "ウェビナーご案内",
        "展示会お礼メール",
        "資料ダウンロードお礼",
        "無料トライアルのご案内",
        "アンケートのお願い",
    ]
)
EMAIL_EVENTS = ("sent", "sent", "sent", "opened", "opened", "clicked", "bounced")
PAGES = (
    "https://www.example.co.jp/",
    "https://www.example.co.jp/pricing",
    "https://www.example.co.jp/case/01",
    "https://www.example.co.jp/webinar?utm_source=mail&utm_medium=email",
    "https://www.example.co.jp/download/whitepaper",
)


def base36(number: int) -> str:
    """Segment ids appear in base 36 in the MA."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def master_rows() -> list[tuple[str, str, str]]:
    """(kind, id, name) of every master entry."""
    return [
        *(("tag", f"tag-{i:03d}", name) for i, name in enumerate(TAGS, 1)),
        *(("segment", base36(46_656 + i), name) for i, name in enumerate(SEGMENTS, 1)),
        *(("form", f"form-{i:03d}", name) for i, name in enumerate(FORMS, 1)),
        *(("campaign", f"cp-{i:03d}", name) for i, name in enumerate(CAMPAIGNS, 1)),
        *(("email", f"mail-{i:04d}", name) for i, name in enumerate(EMAILS, 1)),
    ]
