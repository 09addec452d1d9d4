"""Image files. Only content-addressed names are served, and only those a visible image uses.

The name must match the shape `atelier.storage` writes (two hex digits, a slash, a sha256 and the
extension), so no request can name any other path: `..`, absolute paths, encoded separators and
the database file all fail the pattern before the file system is touched. Hiding an image in
moderation also stops its files from being served to everyone but moderators, who get them
uncached. The bytes behind a name never change, so browsers may cache public ones (for a day, so
that hiding one takes effect).
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import FileResponse

from atelier.errors import NotFound
from gallery.deps import SessionDep, SettingsDep, read_only
from gallery.queries import is_public_file, is_visible_file
from gallery.viewer import ViewerDep

router = APIRouter()

CONTENT_ADDRESSED = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.(png|webp)")
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp"}


@router.get("/files/{path:path}")
@read_only
def image_file(path: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep) -> FileResponse:
    match = CONTENT_ADDRESSED.fullmatch(path)
    if match is None or path[:2] != path[3:5]:
        raise NotFound("no such file")
    public = is_public_file(session, path)
    if not public and not (viewer.is_moderator and is_visible_file(session, path, viewer)):
        raise NotFound("no such file")
    target = settings.paths.images_dir / path
    if not target.is_file():
        raise NotFound("no such file")
    return FileResponse(
        target,
        media_type=MEDIA_TYPES[match.group(1)],
        headers={"Cache-Control": "public, max-age=86400" if public else "private, no-store"},
    )
