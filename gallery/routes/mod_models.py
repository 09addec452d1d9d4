"""/mod/models: every checkpoint, LoRA and embedding with its facts, the switches moderators flip on
them, a scan of the models folder, and the upload of a `.safetensors` file.

Models are addressed by row id in the forms (names may hold any character); the services in
`atelier.services.model_admin` do the rest, the same ones the bot's /mod and the CLI use. An upload
is refused before it is stored when its declared length is over the cap or its name is not a
`.safetensors` (a pickle is refused with the import service's explanation, unopened); it is then
streamed to a temporary file inside the store (so the import can hard-link it rather than copy
gigabytes) and imported exactly as `atelier models import` does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePath
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from atelier.errors import AtelierError, InvalidInput, ModelRefused
from atelier.hashes import HashCache
from atelier.model_header import PICKLE_SUFFIXES, pickle_refusal
from atelier.schema import ModelKind, User
from atelier.services import model_admin
from atelier.services.model_import import missing_config_note
from atelier.settings import Settings
from gallery.deps import SessionDep, SettingsDep, checked_id
from gallery.routes.moderation import CHECKED, FormFields, ModeratorDep, act, current_moderator, render
from gallery.threads import run_slow

router = APIRouter(prefix="/mod/models", dependencies=[Depends(current_moderator)])

MAX_MODEL_UPLOAD_BYTES = 8 * 2**30
"""An SDXL checkpoint in fp16 is about 6.9 GB; nothing a community imports through a browser is larger."""
FORM_OVERHEAD = 64 * 1024
UPLOAD_KINDS = {"": None, "checkpoint": ModelKind.CHECKPOINT, "lora": ModelKind.LORA, "embedding": ModelKind.EMBEDDING}
UPLOAD_FIELD = "file"


def _hash_cache(settings: Settings) -> HashCache:
    """The cache `atelier models scan` keeps, so a scan from here skips files hashed before."""
    return HashCache(settings.paths.data_dir / "hash-cache.json")


def _view(session: Session) -> tuple[str, dict[str, Any]]:
    return "mod_models.html", {"models": model_admin.listed_models(session), "scan": None}


@router.get("", name="mod_models")
def models_page(request: Request, session: SessionDep) -> Response:
    """Every model with its base, hashes, size, trigger words and switches."""
    return render(request, *_view(session))


ACTIONS = {
    "enable": ("enabled", lambda s, ref, actor, form: model_admin.set_enabled(s, ref, True, actor)),
    "disable": ("disabled", lambda s, ref, actor, form: model_admin.set_enabled(s, ref, False, actor)),
    "default": ("default", lambda s, ref, actor, form: model_admin.set_default(s, ref, actor)),
    "allow-nsfw": ("nsfw-allowed", lambda s, ref, actor, form: model_admin.set_nsfw_allowed(s, ref, True, actor)),
    "forbid-nsfw": ("nsfw-forbidden", lambda s, ref, actor, form: model_admin.set_nsfw_allowed(s, ref, False, actor)),
    "trigger-words": (
        "triggers",
        lambda s, ref, actor, form: model_admin.set_trigger_words(s, ref, form.get("trigger_words", ""), actor),
    ),
}


@router.post("/{model_id}/{action}", name="mod_model_action", dependencies=CHECKED)
def model_action(
    request: Request, model_id: str, action: str, form: FormFields, session: SessionDep, actor: ModeratorDep
) -> Response:
    """One switch on one model: enable, disable, default, allow-nsfw, forbid-nsfw or trigger-words."""
    if action not in ACTIONS:
        raise HTTPException(404, f"there is no model action {action[:30]!r}")
    key, change = ACTIONS[action]
    identifier = checked_id(model_id, "model")

    def run() -> object:
        ref = model_admin.info_by_id(session, identifier).ref
        return change(session, ref, actor, form)

    return act(request, session, lambda: _view(session), run, "/mod/models", key)


@router.post("/scan", name="mod_models_scan", dependencies=CHECKED)
async def scan(request: Request, session: SessionDep, settings: SettingsDep, actor: ModeratorDep) -> Response:
    """Register what the models folder holds (as `atelier models scan`); shows what was added and refused.
    Hashing a folder of checkpoints takes minutes: it runs off the pages' threads."""
    return await run_slow(_scan, request, session, settings, actor)


def _scan(request: Request, session: Session, settings: Settings, actor: User) -> Response:
    paths = settings.paths
    report = model_admin.scan_store(
        session, paths.models_dir, settings.render.default_checkpoint, actor, _hash_cache(settings)
    )
    template, context = _view(session)
    added = ", ".join(report.added) or "nothing new"
    return render(request, template, context | {"scan": report}, notice=f"Scanned the models folder: added {added}.")


def _upload_name(filename: str) -> tuple[str, str]:
    """The file's own name (no folders) and its stem, or the refusal the import service would give."""
    name = PurePath(filename.replace("\\", "/")).name
    suffix = PurePath(name).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise pickle_refusal(name)
    if suffix != ".safetensors":
        raise ModelRefused(f"{name or 'the file'}: only .safetensors files can be uploaded (convert others first)")
    return name, PurePath(name).stem


def _store_upload(models_dir: Path, upload: UploadFile) -> Path:
    """Copy the parsed upload to a hidden temporary file in the store (same filesystem as its target)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    handle, raw_path = tempfile.mkstemp(prefix=".upload-", suffix=".safetensors", dir=models_dir)
    with os.fdopen(handle, "wb") as target:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, target, 1024 * 1024)
    return Path(raw_path)


def _import_upload(request: Request, session: Session, settings: Settings, actor: User, form: FormData) -> Response:
    """Check, store and import the parsed upload; the page with what happened (or why not)."""
    models_dir = settings.paths.models_dir
    try:
        file = form.get(UPLOAD_FIELD)
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput(UPLOAD_FIELD, "choose a .safetensors file to upload")
        filename, stem = _upload_name(file.filename)
        name = str(form.get("name") or "").strip() or stem
        kind_text = str(form.get("kind") or "")
        if kind_text not in UPLOAD_KINDS:
            raise InvalidInput("kind", "must be checkpoint, lora or embedding (or empty to detect it)")
        temporary = _store_upload(models_dir, file)
        try:
            cache = _hash_cache(settings)
            info = model_admin.import_file(session, models_dir, temporary, name, actor, UPLOAD_KINDS[kind_text], cache)
        except ModelRefused as refused:  # the import names the file it read: the upload's name, not ours
            message = refused.message.replace(str(temporary), filename).replace("(pass --name)", "(fill in Name)")
            raise ModelRefused(message.replace("pass another --name", "choose another name")) from None
        finally:
            temporary.unlink(missing_ok=True)
    except AtelierError as error:
        session.rollback()
        return render(request, *_view(session), error=error)
    note = missing_config_note(models_dir, model_admin.find_model(session, info.ref))
    message = f"Imported {filename} as {info.kind.value} {info.name!r} ({info.base_arch})."
    return render(request, *_view(session), notice=message + (f" Note: {note}." if note else ""))


@router.post("/upload", name="mod_models_upload", dependencies=CHECKED)
async def upload(request: Request, session: SessionDep, settings: SettingsDep, actor: ModeratorDep) -> Response:
    """Import an uploaded `.safetensors` model under the given name (default: the file's own)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise HTTPException(411, "send the model as a form upload with its length declared")
    if int(declared) > MAX_MODEL_UPLOAD_BYTES + FORM_OVERHEAD:
        raise HTTPException(413, f"the upload is over the {MAX_MODEL_UPLOAD_BYTES // 2**30} GiB limit")
    async with request.form(max_files=1, max_fields=4) as form:
        return await run_slow(_import_upload, request, session, settings, actor, form)
