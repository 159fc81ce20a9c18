"""kintone's error envelope: ``code``, a random ``id``, ``message`` and, for validation, ``errors``."""

from __future__ import annotations

import secrets

from starlette.responses import JSONResponse, Response

MESSAGES = {
    "CB_VA01": "入力内容が正しくありません。",
    "CB_IJ01": "不正なJSON文字列です。",
    "CB_AU01": "ログインしてください。",
    "CB_WA01": "ユーザーのパスワード認証に失敗しました。",
    "CB_NO02": "権限がありません。",
    "GAIA_IA02": "指定したAPIトークンでは、リクエストのアプリにアクセスできません。",
    "GAIA_AP01": "指定したアプリ（id: {0}）が見つかりません。削除されている可能性があります。",
    "GAIA_RE01": "指定したレコード（id: {0}）が見つかりません。",
    "GAIA_BL01": "指定したファイル（id: {0}）が見つかりません。",
    "GAIA_RE20": "指定したレコード（{0}: {1}）が見つかりません。",
    "GAIA_RE02": "指定したコメントが存在しません。削除された可能性があります。",
    "GAIA_CO02": (
        "指定したリビジョン（{0}）は最新ではありません。ほかのユーザーがレコードを更新した可能性があります。"
    ),
    "GAIA_QU01": "limitには500以下の値を指定してください。",
    "GAIA_QU02": "offsetには10000以下の値を指定してください。",
    "GAIA_IQ03": "{0}フィールドに対して、演算子（{1}）は使用できません。",
    "GAIA_IQ07": (
        "テーブルに設定している場合、{0}フィールドのフィールドタイプには、演算子{1}を使用できません。"
    ),
    "GAIA_IQ11": "指定されたフィールド（{0}）が見つかりません。",
    "GAIA_TM12": (
        "作成できるカーソルの上限に達しているため、カーソルを作成できません。"
        "不要なカーソルを削除するか、しばらく経ってから再実行してください。"
    ),
    "GAIA_RE21": "指定されたカーソルが見つかりません。",
    "GAIA_IL23": (
        "ゲストスペース内のアプリを操作する場合は、"
        "リクエストの送信先を「/k/guest/（ゲストスペースのID）/v1/...」にしてください。"
    ),
    "GAIA_DA02": (
        "データベースのロックに失敗したため、変更を保存できませんでした。時間をおいて再度お試しください。"
    ),
    "CB_TO01": "リクエストが多すぎます。しばらく経ってから再実行してください。",
    "GAIA_TO04": "APIの同時リクエスト数が上限を超えています。",
    "CB_UN01": "サービスを一時的に利用できません。",
}
STATUS = {
    "CB_VA01": 400,
    "CB_IJ01": 400,
    "CB_AU01": 401,
    "CB_WA01": 401,
    "CB_NO02": 403,
    "GAIA_IA02": 400,
    "GAIA_AP01": 404,
    "GAIA_RE01": 404,
    "GAIA_BL01": 404,
    "GAIA_RE20": 400,
    "GAIA_RE02": 400,
    "GAIA_CO02": 409,
    "GAIA_QU01": 400,
    "GAIA_QU02": 400,
    "GAIA_IQ03": 400,
    "GAIA_IQ07": 400,
    "GAIA_IQ11": 400,
    "GAIA_TM12": 429,
    "GAIA_RE21": 404,
    "GAIA_IL23": 400,
    "GAIA_DA02": 520,
    "CB_TO01": 429,
    "GAIA_TO04": 429,
    "CB_UN01": 503,
}

FieldErrors = dict[str, list[str]]


class KintoneError(Exception):
    """An error the stand-in answers with, exactly as kintone shapes it."""

    def __init__(
        self, code: str, *args: object, errors: FieldErrors | None = None, status: int | None = None
    ):
        self.code = code
        self.message = MESSAGES[code].format(*args)
        self.errors = errors
        self.status = status or STATUS[code]
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "id": secrets.token_hex(10), "message": self.message}
        if self.errors:
            body["errors"] = {path: {"messages": messages} for path, messages in self.errors.items()}
        return body

    def response(self) -> Response:
        return JSONResponse(self.body(), status_code=self.status)


def invalid(errors: FieldErrors) -> KintoneError:
    """The CB_VA01 validation error with its per-path messages."""
    return KintoneError("CB_VA01", errors=errors)


def render_error(status: int, detail: str) -> Response:
    """The envelope for injected faults: 429 as the concurrency limit, 5xx as unavailable or a lock."""
    code = {429: "CB_TO01", 520: "GAIA_DA02"}.get(status, "CB_UN01")
    return KintoneError(code, status=status).response()
