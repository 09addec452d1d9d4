"""`POST /api/uploads`: an init image for img2img, from the member's own disk.

A request whose declared length is over the limit is refused before its body is read (a 413 naming
the limit); the file part is then read with a cap one byte over the limit. Checking and storing is
`atelier.uploads`'. The answer is the content address to put in a recipe's `init_image`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import UploadFile

from atelier.errors import Forbidden, InvalidInput
from atelier.uploads import FIELD, MAX_UPLOAD_BYTES, store_upload
from gallery.deps import SettingsDep
from gallery.threads import run_slow
from gallery.viewer import ViewerDep, drawing_owner, same_origin

router = APIRouter()


FORM_OVERHEAD = 64 * 1024
"""Room for the multipart boundaries and headers around the file."""


@router.post("/api/uploads", status_code=201)
async def upload_init_image(request: Request, settings: SettingsDep, viewer: ViewerDep) -> dict[str, Any]:
    if not same_origin(request):
        raise Forbidden("uploads are accepted from pages of this gallery only")
    drawing_owner(viewer, settings)  # an init image is only for drawing: who may not draw may not upload
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + FORM_OVERHEAD:
        limit = MAX_UPLOAD_BYTES // 2**20
        raise HTTPException(413, f"{FIELD}: the upload is over the {limit} MiB limit")
    form = await request.form(max_files=1, max_fields=4)
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise InvalidInput(FIELD, "send the picture as the multipart file field `image`")
    data = await image.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise InvalidInput(FIELD, "the file is empty")
    stored = await run_slow(store_upload, settings.paths.images_dir, data)
    return {"init_image": stored.address, "width": stored.width, "height": stored.height}
