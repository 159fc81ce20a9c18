"""file.json: upload into the temporary area (multipart), download an attached file by its own key.

kintone has two kinds of file key: the one an upload answers with, used once to attach the file to a
FILE field, and the one a record shows, used to download it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.responses import Response

from sandbox.kintone.context import Context
from sandbox.kintone.errors import KintoneError


def upload(ctx: Context) -> dict[str, Any]:
    """Any caller kintone lets in may upload; what may be attached is decided by the record write."""
    sent = ctx.params.get("file")
    if not isinstance(sent, UploadFile):
        raise KintoneError("CB_VA01", errors={"file": ["必須です。"]})
    name = sent.filename or "file"
    content_type = sent.content_type or "application/octet-stream"
    return {"fileKey": ctx.store.save_upload(name, content_type, sent.file.read())}


def download(ctx: Context) -> Response:
    """The file's bytes, for a caller who may view the app whose record holds it."""
    key = str(ctx.param("fileKey"))
    found = ctx.store.attached_file(key)
    if found is None:
        raise KintoneError("GAIA_BL01", key)
    app, name, content_type, body = found
    ctx.params["app"] = app
    ctx.app("view")
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=content_type, headers={"Content-Disposition": disposition})
