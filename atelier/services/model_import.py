"""Importing a model into the store: check it, place it in its folder, register it.

A moderator points `atelier models import` at a downloaded file or diffusers folder anywhere on the
host. Everything is decided from headers and configs before a byte is copied (pickles and layouts
the workers cannot load are refused with the reason), the copy is a hard link when the source is on
the store's filesystem (a 7 GB checkpoint then costs nothing), and the file lands under a temporary
name first, so a crash never leaves a half-copied model where the scan would find it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import ModelRefused
from atelier.hashes import HashCache
from atelier.model_header import PICKLE_SUFFIXES, pickle_refusal
from atelier.schema import ModelFile, ModelKind
from atelier.services.models import STORE_FOLDERS, ensure_default, inspect, model_name, new_model_file, store_widths

# Names end up in file names and in prompts (`<lora:name:0.8>`): no separators, colons or brackets.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,119}")


def _link_or_copy(source: str, target: str) -> str:
    """Hard-link when both sides share a filesystem, copy otherwise (another device, or no link support)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def _place(source: Path, target: Path) -> None:
    """Put `source` at `target` atomically: build it under a hidden temporary name, then rename."""
    temporary = target.with_name(f".{target.name}.importing-{os.getpid()}")
    try:
        if source.is_dir():
            shutil.copytree(
                source,
                temporary,
                copy_function=_link_or_copy,
                ignore=lambda _, names: [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)],
            )
        else:
            _link_or_copy(str(source), str(temporary))
        os.replace(temporary, target)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        elif temporary.exists():
            temporary.unlink()


def missing_config_note(models_dir: Path, model: ModelFile) -> str | None:
    """A reminder when a single-file checkpoint has no diffusers config folder yet: the workers load
    single files offline with `models/configs/<name>/`, else the one the store ships for their base
    (`models/configs/sd1/`, `sd2/`, `sdxl/`)."""
    if model.kind is not ModelKind.CHECKPOINT or not model.file_path.endswith(".safetensors"):
        return None
    folders = [models_dir / "configs" / model.name]
    if model.base_arch != model.name:
        folders.append(models_dir / "configs" / model.base_arch)
    if any((folder / "model_index.json").is_file() for folder in folders):
        return None
    shown = " or ".join(str(folder) for folder in folders)
    return f"no diffusers config folder ({shown}) with model_index.json yet: workers need one to load this file"


def import_model(
    session: Session,
    models_dir: Path,
    source: Path,
    *,
    kind: ModelKind | None = None,
    name: str | None = None,
    hash_cache: HashCache | None = None,
) -> ModelFile:
    """Copy (or hard-link) `source` into its store folder and register it; `kind` is detected from
    the keys when not given, `name` defaults to the file stem or folder name."""
    if source.is_file() and source.suffix.lower() in PICKLE_SUFFIXES:
        raise pickle_refusal(str(source))  # before anything else: a pickle is never opened
    if not source.exists():
        raise ModelRefused(f"{source}: no such file or folder")
    detected = inspect(source, str(source), kind, store_widths(models_dir))
    name = name if name is not None else model_name(source)
    if not NAME_PATTERN.fullmatch(name):
        raise ModelRefused(
            f"name {name!r}: use 1-120 letters, digits, '.', '_', '+' or '-', starting with a letter or digit "
            "(pass --name)"
        )
    folder = STORE_FOLDERS[detected.kind]
    target = models_dir / folder / (name if source.is_dir() else f"{name}.safetensors")
    existing = session.scalars(select(ModelFile).where(ModelFile.kind == detected.kind, ModelFile.name == name))
    if existing.first() is not None:
        raise ModelRefused(f"{detected.kind.value} {name!r} is already registered; pass another --name")
    same_file = target.exists() and target.resolve() == source.resolve()
    if target.exists() and not same_file:
        raise ModelRefused(f"{folder}/{target.name} already exists in the store; run `atelier models scan` or rename")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not same_file:
        _place(source, target)
    try:
        model = new_model_file(models_dir, target, detected, name, hash_cache)
        session.add(model)
        session.flush()
        ensure_default(session)
        session.commit()
    except BaseException:
        session.rollback()
        if not same_file:
            with contextlib.suppress(OSError):
                shutil.rmtree(target) if target.is_dir() else target.unlink()
        raise
    if hash_cache is not None:
        hash_cache.save()
    return model
