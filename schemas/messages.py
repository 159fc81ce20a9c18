"""The message catalogue (メッセージ一覧): every code a person reads, in Japanese and English, with the fix.

One table for the spec rules ``renkei validate`` prints, the reasons a row is rejected (ours, the
MA's and the targets' own codes) and the outcome of a run. The failure email, the rejected-rows
CSV/xlsx and ``validate`` render from it; ``tests/schemas/test_messages.py`` fails when a code the
code base can emit has no entry here. A target code not listed (the target's own words) falls back
to :data:`TARGET_REFUSED`, which shows the target's message beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from schemas.spec import Problem

Language = Literal["ja", "en", "both"]
LANGUAGES: tuple[Language, ...] = ("ja", "en", "both")


@dataclass(frozen=True)
class Message:
    """What went wrong and what to do (Japanese, then English); ``theirs`` when it is a target's code."""

    ja: str
    fix_ja: str
    en: str
    fix_en: str
    theirs: bool = False

    def reason(self, language: Language) -> str:
        return in_language(self.ja, self.en, language)

    def fix(self, language: Language) -> str:
        return in_language(self.fix_ja, self.fix_en, language)


def in_language(ja: str, en: str, language: Language) -> str:
    """Japanese, English, or ``ja / en`` side by side."""
    return ja if language == "ja" else en if language == "en" else f"{ja} / {en}"


M = Message
_SOURCE_ROW = "元のレコード（MA または連携先）の値を直し、`renkei replay` で再送してください"
_SOURCE_ROW_EN = "correct the value in the source record (MA or target), then run `renkei replay`"
_TARGET_FIELD = "連携先の項目設定を確認し、値か項目設定を直してから `renkei replay` で再送してください"
_TARGET_FIELD_EN = "check the target field's settings, fix the value or the field, then run `renkei replay`"
_SPEC = "連携要件連絡書（spec）の該当箇所を直し、`renkei validate` で確認してください"
_SPEC_EN = "fix that entry of the integration spec and check it with `renkei validate`"

# fmt: off
SPEC_RULES: dict[str, Message] = {
    "unknown_key": M("連携要件連絡書の形式にないキーです", "キー名を直すか削除してください",
                     "this key is not part of the spec format", "rename the key or remove it"),
    "other_kinds_key": M("この種類の連携先にはないキーです（別の種類の連携先の設定です）", "削除するか、kind が正しいか確かめてください",
                         "this key is another kind of target's setting", "remove it, or check the target's kind"),
    "missing_key": M("必須のキーがありません", "このキーを追加してください",
                     "a required key is missing", "add this key"),
    "invalid_value": M("値が正しくありません", "値を直してください",
                       "the value is not valid", "correct the value"),
    "invalid_yaml": M("YAML の書き方に誤りがあります", "示された行の YAML を直してください",
                      "the YAML syntax is broken", "fix the YAML at the line shown"),
    "unreadable": M("ファイルを読めません", "パスと読み取り権限を確認してください",
                    "the file cannot be read", "check the path and the read permission"),
    "not_a_mapping": M("連携要件連絡書がキーと値の形になっていません", "version: 1 から始まるキーの一覧にしてください",
                       "the spec is not a YAML mapping of keys", "write it as keys, starting with version: 1"),
    "spec_too_large": M("連携要件連絡書が大きすぎます（ファイルか別名の展開が大きすぎます）", "正しいファイルか確認し、YAML の別名（&, *）を使わず値を書き出してください",
                        "the spec is too large (the file, or its alias expansions)", "check it is the right file; write the values out instead of YAML aliases"),
    "spec_too_deep": M("連携要件連絡書の入れ子が深すぎます", "入れ子を浅くし、値を書き出してください",
                       "the spec is nested too deeply", "flatten the nesting and write the values out"),
    "invalid_company": M("会社名（company）に使えない文字があります", "半角英数字、- と _ だけにしてください（/ や .. は不可）",
                         "the company name has characters it cannot use", "use letters, digits, - and _ only (no / or ..)"),
    "invalid_timezone": M("タイムゾーン名が正しくありません", "Asia/Tokyo のような IANA 名にしてください",
                          "the time zone is not known", "use an IANA zone name such as Asia/Tokyo"),
    "invalid_cut_time": M("カット時刻が正しくありません", "HH:MM 形式で重複なく書いてください（例: 02:00, 11:00）",
                          "a cut time is not valid", "write each cut once as HH:MM, e.g. 02:00, 11:00"),
    "invalid_email": M("メールアドレスの形式が正しくありません", "正しいメールアドレスにしてください",
                       "the email address is not valid", "give a valid address"),
    "error_email_required": M("エラー通知先（notify.error_email）がありません", "notify.error_email に受信者を 1 つ以上書いてください",
                              "no address receives failure reports", "list at least one address in notify.error_email"),
    "unresolved_env": M("環境変数が設定されていません", "実行前にその環境変数を設定（export）してください",
                        "an environment variable is not set", "export that variable before running"),
    "public_needs_v4_keys": M("ma.access: public では MA への書き込みに公開 API v4 のキーが必要です",
                              "管理画面の API 設定にある 4 つのキーを ma.v4（user_key, user_secret, company_key, company_secret）に書いてください",
                              "ma.access: public writes to the MA through the public API v4, which needs its keys",
                              "add ma.v4 with the four keys of the admin screen's API settings (user_key, user_secret, company_key, company_secret)"),
    "public_needs_exports": M("ma.access: public では MA の値は管理画面の顧客 CSV エクスポートから読みます。その置き場所がありません",
                              "ma.exports にエクスポートを置くフォルダ（例: ./var/exports/*.csv）を書いてください",
                              "ma.access: public reads the MA from the admin screen's customer CSV export, and no folder is named",
                              "set ma.exports to the folder the exports are dropped in, e.g. ./var/exports/*.csv"),
    "public_no_catalog": M("ma.access: public では MA の項目定義（連携用 API）を読めないため、custom_fields を項目定義として使いました",
                           "custom_fields にアカウントのカスタム項目をすべて正しく書いてください（エクスポートの見出しはこれと照合します）",
                           "ma.access: public cannot read the MA's field catalog (integration API): the spec's custom_fields stood for it",
                           "list every custom field of the account in custom_fields: each export's header is checked against them"),
    "public_no_actions": M("行動履歴はデータ連携オプションの中にしかなく、ma.access: public では読めません",
                           "この actions の対応付けを削除するか、オプションの運営者が renkei を動かす場合は ma.access: integration にしてください",
                           "action histories exist only inside the Data Integration Option: ma.access: public cannot read them",
                           "remove this actions mapping, or use ma.access: integration where the option's operator runs renkei"),
    "public_no_masters": M("マスタはデータ連携オプションの中にしかなく、ma.access: public では読めません",
                           "この masters の対応付けを削除するか、オプションの運営者が renkei を動かす場合は ma.access: integration にしてください",
                           "masters exist only inside the Data Integration Option: ma.access: public cannot read them",
                           "remove this masters mapping, or use ma.access: integration where the option's operator runs renkei"),
    "inline_secret": M("秘密情報が連携要件連絡書に直接書かれています", "${ENV_VAR} か prefect-block:<名前> で参照してください",
                       "a secret is written into the spec", "use ${ENV_VAR} or prefect-block:<name>"),
    "missing_credentials": M("連携先の認証情報が足りません", "auth に必要な項目（api_token など）を追加してください",
                             "the target's credentials are incomplete", "add the keys auth needs (api_token …)"),
    "invalid_url": M("URL が正しくありません", "https://example.cybozu.com のような URL にしてください",
                     "the URL is not valid", "give a URL such as https://example.cybozu.com"),
    "invalid_identifier": M("カスタム項目の識別名に使えない文字があります", "半角英数字と _ だけにしてください",
                            "the custom field identifier has characters it cannot use", "use half-width letters, digits and _"),
    "unknown_field": M("MA にない項目です", "`renkei fields` の項目名か custom:<識別名>（custom_fields で宣言）にしてください",
                       "the MA has no such field", "use a field from `renkei fields` or custom:<identifier> declared under custom_fields"),
    "unknown_type": M("連携種別（または項目の型）が正しくありません", "ng, readable, writable, readable_writable のいずれかにしてください",
                      "the integration type (or field type) is not known", "use ng, readable, writable or readable_writable"),
    "never_writable": M("この項目は MA が管理するため書き込めません", "readable か ng にしてください",
                        "the MA maintains this field: it can never be written", "set it to readable (or ng)"),
    "never_integrated": M("この項目は連携できません", "ng にして、すべての連携先の map から外してください",
                          "this field can never be integrated", "set it to ng and remove it from every map"),
    "mapped_ng_field": M("連携しない（ng）項目が map にあります", "fields で readable か writable にするか、map から外してください",
                         "a field that is ng is mapped", "set it readable or writable under fields, or unmap it"),
    "sansan_source_only": M("Sansan は MA への取り込み専用です", "fields で writable にするか、map から外してください",
                            "Sansan only feeds the MA", "set the field writable, or unmap it"),
    "sansan_no_actions": M("Sansan には行動履歴を送れません", "actions を削除してください",
                           "Sansan takes no action history", "remove actions"),
    "conflict_rule_required": M("readable_writable の項目に競合ルールがありません", "conflict: ma_wins / target_wins / newest_wins を追加してください",
                                "a readable_writable field has no conflict rule", "add conflict: ma_wins | target_wins | newest_wins"),
    "unknown_conflict_rule": M("競合ルールが正しくありません", "ma_wins, target_wins, newest_wins のいずれかにしてください",
                               "the conflict rule is not known", "use ma_wins, target_wins or newest_wins"),
    "match_required": M("顧客の照合キー（match）がありません", "match: {ma: email, target: <連携先の項目>} を書いてください",
                        "customers need a match key", "write match: {ma: email, target: <field>}"),
    "duplicate_target_field": M("連携先の同じ項目に複数の MA 項目が割り当てられています", "連携先の項目ごとに 1 つだけ割り当ててください",
                                "one target field is mapped twice", "map each target field once"),
    "duplicate_target_name": M("連携先の名前が重複しています", "連携先ごとに別の名前を付けてください",
                               "two targets share a name", "give every target its own name"),
    "unknown_action_kind": M("行動履歴の種類が正しくありません", "form, campaign, tag, email, access, event のいずれかにしてください",
                             "the action kind is not known", "use form, campaign, tag, email, access or event"),
    "unknown_target_kind": M("連携先の種類が正しくありません", "kintone, salesforce, sansan のいずれかにしてください",
                             "the target kind is not known", "use kintone, salesforce or sansan"),
    "unknown_target": M("その名前の連携先はありません", "連携要件連絡書の targets[].name のいずれかにしてください",
                        "no target has this name", "use one of the spec's targets[].name"),
    "unknown_master_kind": M("マスタの種類が正しくありません", "form, campaign, tag, segment, email のいずれかにしてください",
                             "the master kind is not known", "use form, campaign, tag, segment or email"),
    "sansan_no_masters": M("Sansan にはマスタを送れません", "masters を削除してください",
                           "Sansan takes no masters", "remove masters"),
    "ma_field_missing": M("MA にこのカスタム項目がありません", "MA で項目を作るか、custom_fields から外してください",
                          "the MA has no such custom field", "create it in the MA or remove it from custom_fields", True),
    "ma_type_mismatch": M("spec の型が MA の項目の型と違います", "MA の型に合わせて type を書き直してください",
                          "the spec's type differs from the MA's", "write the MA's type", True),
    "ma_options_mismatch": M("spec の選択肢が MA の選択肢と違います", "MA の選択肢をそのまま写してください",
                             "the spec's options differ from the MA's", "copy the MA's options", True),
    "ma_unique_field": M("MA で重複不可の項目が連携対象になっています", "この項目は連携できません: ng にして map から外してください",
                         "a field the MA keeps unique is integrated", "such a field is never integrated: set it to ng and unmap it", True),
    "ma_unique_mismatch": M("spec の unique が MA の重複不可の設定と違います", "MA に合わせて unique を書き直してください",
                            "the spec's unique flag differs from the MA's", "write the MA's unique flag", True),
    "ma_cut_mismatch": M("MA はこの時刻にカットを作りません", "MA がカットを作る時刻を cuts に書いてください",
                         "the MA makes no cut at this time", "list the times the MA cuts at", True),
    "catalog_unreadable": M("項目定義を読めませんでした", "URL と認証情報（kintone はアプリ番号、Salesforce はオブジェクト名）を確認してください",
                            "the field catalog could not be read", "check the url and auth (and the kintone app or Salesforce object)", True),
    "readable_writable": M("双方向（readable_writable）の項目です：両方から書き込まれます", "意図どおりなら、map ごとに競合ルールがあることを確認してください",
                           "readable_writable: two writers for one value", "keep it only on purpose, with a conflict rule on every mapping"),
    "tags_written": M("タグを外部から書き込む設定です", "MA のタグルールと衝突しないか確認し、意図どおりの場合だけ残してください",
                      "tags are written from outside", "they can fight the MA's own tag rules: keep this only on purpose"),
    "conflict_rule_ignored": M("競合ルールは readable_writable の項目にだけ効きます", "conflict を削除してください",
                               "only readable_writable fields use a conflict rule", "remove conflict"),
}

ROW_RULES: dict[str, Message] = {
    "email_missing": M("メールアドレスがありません", "元のレコードにメールアドレスを入力し、`renkei replay` で再送してください",
                       "the email address is missing", "enter the email address in the source record, then run `renkei replay`"),
    "email_invalid": M("メールアドレスの形式が正しくありません", _SOURCE_ROW,
                       "the email address is not valid", _SOURCE_ROW_EN),
    "email_too_long": M("メールアドレスが長すぎます", _SOURCE_ROW,
                        "the email address is too long", _SOURCE_ROW_EN),
    "email_taken": M("このメールアドレスは MA の別の顧客が使っています", "どちらのレコードが正しいか確認し、片方のメールアドレスを直してください",
                     "another MA customer holds this email address", "decide which record is right and correct the other's email"),
    "duplicate_email": M("同じメールアドレスのレコードが連携先に複数あります", "連携先で重複レコードを 1 件にまとめるか、メールアドレスを直してください",
                         "several target records share this email address", "merge the duplicate records in the target or correct their emails"),
    "email_shared": M("同じメールアドレスの名刺が複数の人物にあります", "Sansan で名刺を確認し、人物を統合するかメールアドレスを直してください",
                      "several persons' cards share this email address", "check the cards in Sansan: merge the persons or correct the email"),
    "email_shared_older": M("同じメールアドレスで、より新しい名刺交換の人物がいます", "新しい名刺が正しければ対応不要です。違う場合は Sansan で直してください",
                            "a person with a newer card exchange shares this email", "nothing to do if the newer card is right; otherwise correct it in Sansan"),
    "key_missing": M("照合キー（メールアドレスなど）が空です", "元のレコードに照合キーの値を入力してください",
                     "the match key (email …) is empty", "fill in the match key in the source record"),
    "hashcode_missing": M("顧客ハッシュ（hashcode）が空です", "MA に登録済みの顧客か確認してください",
                          "the customer hashcode is empty", "check that the customer exists in the MA"),
    "not_in_ma": M("この顧客は MA にもういません", "再送は不要です。`renkei replay --dismiss` で片付けてください",
                   "the customer is no longer in the MA", "nothing to send: dismiss it with `renkei replay --dismiss`"),
    "not_found": M("対象の顧客が見つかりません", "MA に顧客がいるか確認してください",
                   "the customer was not found", "check that the customer exists in the MA"),
    "key_mismatch": M("照合キーと行の値が食い違っています", "元のレコードのメールアドレス（または hashcode）を確認してください",
                      "the row's key differs from its value", "check the source record's email (or hashcode)"),
    "customer_not_in_salesforce": M("この行動の顧客が Salesforce にまだありません", "顧客の連携エラーを先に直してください。次回の実行で送られます",
                                    "the action's customer is not in Salesforce yet", "fix the customer's own rejection first; the action follows on the next run"),
    "no_result": M("連携先がこの行に結果を返しませんでした", "連携先の状態を確認し、`renkei replay` で再送してください",
                   "the target returned no result for this row", "check the target, then run `renkei replay`"),
    "bulk_row_failed": M("MA の一括登録でこの行が失敗しました", _SOURCE_ROW,
                         "the MA's bulk import failed for this row", _SOURCE_ROW_EN),
    "rejected": M("連携先がこの行を受け付けませんでした", _TARGET_FIELD,
                  "the target refused this row", _TARGET_FIELD_EN),
    "deferred": M("次回の実行に回しました（上限または待ち）", "対応不要です。次回のカットで送られます",
                  "left for the next run (limit or wait)", "nothing to do: the next cut sends it"),
    "field_missing": M("連携先にこの項目がありません（kintone のフィールドコード / Salesforce の API 参照名）", "連携先に項目を作るか、spec のフィールドコード（API 参照名）を直してください",
                       "the target has no field of this code (kintone field code / Salesforce API name)", "create the field in the target or fix the field code (API name) in the spec"),
    "not_writable": M("この項目には書き込めません", "map からこの項目を外すか、読み取りだけにしてください",
                      "this field cannot be written", "unmap it or make it one-way"),
    "read_only": M("この項目は読み取り専用です", "map からこの項目を外すか、読み取りだけにしてください",
                   "this field is read-only", "unmap it or make it one-way"),
    "read_only_field": M("Salesforce のこの項目は書き込めません", "map で一方向だけにしてください",
                         "this Salesforce field cannot be written", "map it one way only"),
    "unknown_option": M("選択肢にない値です", "値を選択肢に合わせるか、連携先の選択肢を追加してください",
                        "the value is not one of the field's options", "use one of the options, or add the option to the field"),
    "not_an_option": M("選択肢にない値です", "MA の選択肢に合わせて値を直すか、MA に選択肢を追加してください",
                       "the value is not one of the field's options", "use one of the MA field's options, or add the option in the MA"),
    "not_in_picklist": M("選択リストにない値です", "値を直すか、Salesforce の選択リストに値を追加してください",
                         "the value is not in the picklist", "fix the value or add it to the Salesforce picklist"),
    "required": M("kintone の必須項目が空です", "元のレコードに値を入力するか、kintone の必須設定を外してください",
                  "a required kintone field is empty", "fill in the value in the source record or make the kintone field optional"),
    "unique_taken": M("重複禁止の項目の値を MA の別の顧客が使っています", "どちらの顧客が正しいか確認し、片方の値を直してください",
                      "another MA customer holds this unique value", "decide which customer is right and correct the other"),
    "invalid_page_token": M("MA の検索の続き（page_token）が無効になりました", "もう一度実行してください",
                            "the MA search's page token is no longer valid", "run again"),
    "too_long": M("文字数が上限を超えています", "値を短くするか、項目の上限を広げてください",
                  "the value is longer than the field allows", "shorten the value or raise the field's limit"),
    "string_too_long": M("文字数が上限を超えています", "値を短くするか、Salesforce の項目の長さを広げてください",
                         "the value is longer than the field allows", "shorten the value or lengthen the Salesforce field"),
    "too_short": M("文字数が下限に足りません", _SOURCE_ROW,
                   "the value is shorter than the field needs", _SOURCE_ROW_EN),
    "line_break": M("1 行の文字列項目に改行が含まれています", "改行を取り除くか、複数行の項目にしてください",
                    "a single-line field cannot hold a line break", "remove the line break or use a multi-line field"),
    "not_a_number": M("数値ではありません", _SOURCE_ROW,
                      "the value is not a number", _SOURCE_ROW_EN),
    "not_an_integer": M("整数ではありません", _SOURCE_ROW,
                        "the value is not a whole number", _SOURCE_ROW_EN),
    "not_a_boolean": M("はい/いいえの値ではありません", _SOURCE_ROW,
                       "the value is not true/false", _SOURCE_ROW_EN),
    "out_of_range": M("値が項目の範囲外です", _SOURCE_ROW,
                      "the value is outside the field's range", _SOURCE_ROW_EN),
    "invalid_date": M("日付の形式が正しくありません（YYYY-MM-DD）", _SOURCE_ROW,
                      "the value is not a date (YYYY-MM-DD)", _SOURCE_ROW_EN),
    "not_a_date": M("日付の形式が正しくありません（YYYY-MM-DD）", _SOURCE_ROW,
                    "the value is not a date (YYYY-MM-DD)", _SOURCE_ROW_EN),
    "invalid_datetime": M("日時の形式が正しくありません", _SOURCE_ROW,
                          "the value is not a date and time", _SOURCE_ROW_EN),
    "not_a_datetime": M("日時の形式が正しくありません", _SOURCE_ROW,
                        "the value is not a date and time", _SOURCE_ROW_EN),
    "datetime_without_offset": M("日時にタイムゾーン（+09:00 など）がありません", "+09:00 のような時差付きの日時にしてください",
                                 "the date-time has no UTC offset", "give the date-time with an offset such as +09:00"),
    "datetime_without_time": M("日時の項目に日付だけが入っています", "時刻と時差を含む日時にしてください",
                               "a date-time field got a date only", "give a date-time with time and offset"),
    "invalid_time": M("時刻の形式が正しくありません（HH:MM）", _SOURCE_ROW,
                      "the value is not a time (HH:MM)", _SOURCE_ROW_EN),
    "invalid_character": M("使えない文字（制御文字など）が含まれています", "元のレコードから制御文字を取り除いてください",
                           "the value holds a character that cannot be stored", "remove the control character from the source record"),
    "wrong_type": M("値の種類が項目の型と合いません", _SOURCE_ROW,
                    "the value does not fit the field's type", _SOURCE_ROW_EN),
    "required_field_missing": M("Salesforce の必須項目が空です", "値を入力するか、spec の defaults に既定値を書いてください",
                                "a required Salesforce field is empty", "fill it in, or give a default under the target's defaults"),
    "invalid_identity_type": M("照合の種類が正しくありません", "spec の match を email か hashcode にしてください",
                               "the identity type is not valid", "match on email or hashcode in the spec"),
    "invalid_condition": M("検索条件が正しくありません", _SPEC,
                           "the search condition is not valid", _SPEC_EN),
    "key_not_unique": M("照合キーの項目が重複禁止になっていません", "連携先で項目を「重複禁止」の 1 行文字列か数値にしてください",
                        "the match key field does not refuse duplicates", "make it a single-line text or number field that prohibits duplicates"),
    "incompatible_type": M("連携先の項目の型が MA の項目と合いません", "項目の型を合わせるか、spec の map を直してください",
                           "the target field's type cannot carry the MA field", "change the field type or the spec's map"),
    "not_updated_time": M("更新日時の項目ではありません", "更新日時の項目を指定してください",
                          "the field is not an updated-time field", "name the app's Updated datetime field"),
}

TARGET_CODES: dict[str, Message] = {
    "CB_VA01": M("kintone が入力値を受け付けませんでした", _TARGET_FIELD,
                 "kintone refused the value", _TARGET_FIELD_EN, True),
    "GAIA_RE01": M("kintone のレコードが見つかりません", "レコードが削除されていないか確認してください",
                   "kintone has no such record", "check whether the record was deleted", True),
    "CANNOT_UPDATE_CONVERTED_LEAD": M("リードが取引開始済みで、更新できません", "取引開始後の取引先責任者を確認してください",
                                      "the Lead was converted and cannot be updated", "check the Contact it was converted to", True),
    "REQUIRED_FIELD_MISSING": M("Salesforce の必須項目が空です", "値を入力するか、spec の defaults に既定値を書いてください",
                                "a required Salesforce field is empty", "fill it in, or give a default under the target's defaults", True),
    "STRING_TOO_LONG": M("文字数が Salesforce の上限を超えています", "値を短くするか、項目の長さを広げてください",
                         "the value is longer than the Salesforce field", "shorten the value or lengthen the field", True),
    "INVALID_EMAIL_ADDRESS": M("Salesforce がメールアドレスを受け付けませんでした", _SOURCE_ROW,
                               "Salesforce refused the email address", _SOURCE_ROW_EN, True),
    "INVALID_TYPE_ON_FIELD_IN_RECORD": M("値の型が Salesforce の項目と合いません", _TARGET_FIELD,
                                         "the value does not fit the Salesforce field type", _TARGET_FIELD_EN, True),
    "INVALID_FIELD_FOR_INSERT_UPDATE": M("Salesforce のこの項目には書き込めません", "項目レベルセキュリティか spec の map を確認してください",
                                         "Salesforce does not allow writing this field", "check field-level security or the spec's map", True),
    "DUPLICATE_VALUE": M("Salesforce で一意の項目の値が重複しています", "重複しているレコードを確認してください",
                         "a unique Salesforce field already holds this value", "check the record that holds the value", True),
    "DUPLICATE_KEY_IN_INPUT": M("同じ外部 ID の行が 1 回の送信に複数ありました", "MA の重複顧客を確認してください",
                                "one batch held the same External ID twice", "check the MA for duplicate customers", True),
    "MISSING_EXTERNAL_ID": M("外部 ID が空です", "MA の顧客に hashcode があるか確認してください",
                             "the External ID is empty", "check that the MA customer has a hashcode", True),
    "NO_RESULT": M("Salesforce がこの行に結果を返しませんでした", "Salesforce の状態を確認し、`renkei replay` で再送してください",
                   "Salesforce returned no result for this row", "check Salesforce, then run `renkei replay`", True),
    "UNABLE_TO_LOCK_ROW": M("Salesforce でレコードがロック中でした", "しばらくして `renkei replay` で再送してください",
                            "Salesforce held a lock on the record", "run `renkei replay` a little later", True),
    "ENTITY_IS_DELETED": M("Salesforce のレコードは削除されています", "ごみ箱から戻すか、`renkei replay --dismiss` で片付けてください",
                           "the Salesforce record was deleted", "restore it from the recycle bin or dismiss with `renkei replay --dismiss`", True),
    "DUPLICATE_EXTERNAL_ID": M("Salesforce で同じ外部 ID のレコードが複数あります", "Salesforce 側の重複レコードを 1 件にまとめてください",
                               "several Salesforce records share this External ID", "merge the duplicate records in Salesforce", True),
    "INVALID_FIELD": M("Salesforce にこの項目がありません", "項目を作るか、spec の map の API 参照名を直してください",
                       "Salesforce has no such field", "create the field or fix its API name in the spec's map", True),
    "INVALID_TYPE": M("Salesforce のオブジェクト名が正しくありません", "spec の object（Lead / Contact）を確認してください",
                      "the Salesforce object type is not valid", "check the spec's object (Lead or Contact)", True),
    "MISSING_ARGUMENT": M("Salesforce への送信に必要な値が足りません", "元のレコードの値を確認し、`renkei replay` で再送してください",
                          "a value Salesforce needs was not sent", "check the source record, then run `renkei replay`", True),
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": M("同じ送信の別の行のエラーで、この行も取り消されました", "同じ実行の他のエラーを直してから `renkei replay` で再送してください",
                                           "rolled back because another row of the same request failed", "fix the other rows' errors, then run `renkei replay`", True),
    "UNKNOWN": M("連携先が理由を示さずに拒否しました", _TARGET_FIELD,
                 "the target refused without a reason", _TARGET_FIELD_EN, True),
    "400": M("MA がこの行を受け付けませんでした", _SOURCE_ROW,
             "the MA refused this row", _SOURCE_ROW_EN, True),
    "404": M("MA に対象の顧客が見つかりません", "MA に顧客がいるか確認してください",
             "the MA has no such customer", "check that the customer exists in the MA", True),
}

TARGET_REFUSED = M(
    "連携先がこの行を受け付けませんでした（連携先のメッセージを参照）", _TARGET_FIELD,
    "the target refused this row (see its message)", _TARGET_FIELD_EN, True
)

RUN_OUTCOMES: dict[str, Message] = {
    "completed": M("完了", "対応不要です",
                   "completed", "nothing to do"),
    "completed_with_rejections": M("一部の行がエラー", "添付の一覧で行を直し、`renkei replay` で再送してください",
                                   "completed with rejected rows", "fix the attached rows, then run `renkei replay`"),
    "failed": M("失敗", "完了しなかったステップの理由を直してください。次回のカットで続きから実行します",
                "failed", "fix the reason of each step that did not finish; the next cut continues"),
    "crashed": M("異常終了", "Prefect の実行画面でログを確認してください",
                 "crashed", "read the run's log in the Prefect UI"),
}

_NEXT_CUT = "止まっていただけなら、次のカットで続きから送ります"
_NEXT_CUT_EN = "if it was only down, the next cut continues where this one stopped"
# a step that did not finish, by the error policy's message (schemas/errors.py)
STEP_FAILURES: dict[str, Message] = {
    "target_unreachable": M("連携先に接続できません（応答なし）", f"連携先が稼働しているか、URL とネットワークを確認してください。{_NEXT_CUT}",
                            "the target did not answer (no connection)", f"check that the target is up, its URL and the network; {_NEXT_CUT_EN}"),
    "target_timeout": M("連携先の応答が時間内にありません", f"連携先の稼働状況と URL を確認してください。{_NEXT_CUT}",
                        "the target did not answer in time", f"check the target's status and URL; {_NEXT_CUT_EN}"),
    "target_unavailable": M("連携先が一時的に利用できません（5xx）", f"連携先の稼働状況を確認してください。{_NEXT_CUT}",
                            "the target is temporarily unavailable (5xx)", f"check the target's status; {_NEXT_CUT_EN}"),
    "rate_limited": M("連携先の利用上限（同時実行数・回数）に達しました", "しばらく待ってから実行するか、連携先の API 上限を確認してください",
                      "the target's request limit was reached", "run again later, or check the target's API limits"),
    "record_locked": M("連携先でレコードがロックされていました", "次のカットで再送します。続く場合は連携先で同時に更新している処理を確認してください",
                       "the target held a lock on the record", "the next cut sends it again; if it persists, look for another job updating the same records"),
    "credentials_refused": M("連携先が認証情報を拒否しました", "この連携先の auth（トークン・パスワード・鍵）と、その環境変数の値を確認してください",
                             "the target refused the credentials", "check this target's auth (token, password, key) and the environment variables it names"),
    "permission_refused": M("認証はできましたが、権限がありません", "連携先でこの利用者（トークン）にアプリ／オブジェクトの権限を付けてください",
                            "the credentials work but lack a permission", "grant this user (token) access to the app or object in the target"),
    "target_not_found": M("URL かアプリ／オブジェクトが見つかりません", "この連携先の url と app（object）を確認してください",
                          "the URL, app or object was not found", "check this target's url and app (object)"),
    "request_refused": M("連携先が要求を拒否しました", "連携先のメッセージを確認し、map と項目設定を直してください",
                         "the target refused the request", "read the target's message, then fix the map or the field settings"),
    "query_refused": M("連携先が検索条件を受け付けませんでした", "更新日時などの項目名が連携先にあるか確認してください",
                       "the target refused the query", "check that the fields it names (updated time …) exist in the target"),
    "target_unsupported": M("連携先がこの要求に対応していません", "url が連携先の API を指しているか確認してください",
                            "the target does not support this request", "check that url points at the target's API"),
    "certificate_refused": M("連携先の証明書を検証できません", "url のホスト名と、社内 CA の場合は ca_bundle を確認してください",
                             "the target's certificate cannot be verified", "check the host name in url and, for a company CA, ca_bundle"),
    "schema_drift": M("連携先の項目が spec と合いません（項目の削除・変更）", "`renkei audit SPEC` で違いを確認し、連携先か map を直してください",
                      "the target's fields no longer match the spec", "run `renkei audit SPEC` to see the difference, then fix the target or the map"),
    "file_contract": M("MA のファイルの列が取り決めと違います", "MA の提供元に確認してください。次のカットで読み直します",
                       "an MA file's columns break their contract", "ask the MA's vendor; the next cut reads it again"),
    "budget_exhausted": M("API の 1 日の上限に達しました", "残りの行は次のカットで送ります",
                          "the daily API allowance is used up", "the next cut sends the rows left"),
    "email_refused": M("メールサーバーが通知メールを受け付けませんでした", "notify.smtp を確認し、`renkei notify --test SPEC` で確かめてください",
                       "the mail server refused the report", "check notify.smtp, then try `renkei notify --test SPEC`"),
    "ma_field_catalog": M("spec の項目定義が MA の項目定義と違います", "`renkei validate --online SPEC` で確認し、custom_fields を MA に合わせてください",
                          "the spec's fields differ from the MA's catalog", "run `renkei validate --online SPEC` and align custom_fields with the MA"),
    "lock_held": M("別の実行が書き込み中のため、開始しませんでした（何も変更していません）", "その実行が終わってから、もう一度実行してください",
                   "another run is writing, so this one did not start (nothing changed)", "run it again when that run has finished"),
    "unexpected": M("予期しないエラーが起きました", "Prefect の実行画面でログを確認するか、--debug を付けて実行してください",
                    "an unexpected error stopped the step", "read the run's log in the Prefect UI, or run again with --debug"),
}
# fmt: on

CATALOGUE: Mapping[str, Message] = {
    **SPEC_RULES,
    **ROW_RULES,
    **TARGET_CODES,
    **RUN_OUTCOMES,
    **STEP_FAILURES,
}


def lookup(code: str | None) -> Message:
    """The catalogue entry of ``code``; a target's own code we do not know shows as the target's refusal."""
    return CATALOGUE.get(code or "rejected", TARGET_REFUSED)


def problem_text(problem: Problem, language: Language) -> str:
    """One spec problem as ``validate`` prints it: where, the rule, what is wrong and the fix.

    English keeps the rule's own hint (it names the allowed values); Japanese comes from the table,
    and ``both`` puts the English hint on the line below (so does ``ja`` when it carries the MA's values)."""
    head = f"{problem.path}: {problem.field}: {problem.rule}: "
    if language == "en":
        return head + str(problem).removeprefix(head)
    entry = lookup(problem.rule)
    guess = f"（もしかして: {problem.suggestion}）" if problem.suggestion else ""
    ja = f"{head}{entry.ja} → {entry.fix_ja}{guess}"
    # the MA's own values (theirs) stay beside the Japanese, as a target's message does on a row
    return ja if language == "ja" and not entry.theirs else f"{ja}\n    {str(problem).removeprefix(head)}"


def retry_notice(reason: Message, delay: int, language: Language) -> str:
    """The one line a person sees while a step waits to try again."""
    ja = f"{reason.ja}。{delay} 秒後にもう一度試みます"
    en = f"{reason.en}; trying again in {delay} s"
    return in_language(ja, en, language)


def cli_language(lang: str | None) -> Language:
    """The CLI's language from ``LANG``: ja for ja_*, en for any other named locale, both otherwise."""
    value = (lang or "").strip().lower()
    if value.startswith("ja"):
        return "ja"
    if value and value.split(".")[0] not in ("c", "posix"):
        return "en"
    return "both"
