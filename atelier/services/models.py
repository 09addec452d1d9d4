"""The model registry: which checkpoints exist in the store, which are enabled, which is default.

`scan` registers what it finds under `models/checkpoints` (single `.safetensors` files in A1111
layout, or diffusers folders). Pickle files (`.ckpt`, `.pt`, `.bin`) are never loaded: they can run
code when opened, so the scan lists them as refused instead.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput
from atelier.hashes import HashCache, hash_directory, hash_model_file, safetensors_data_offset
from atelier.schema import ModelFile, ModelKind

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


@dataclass
class ScanReport:
    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _candidates(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.suffix == ".safetensors" or (p / "model_index.json").is_file()]
    found += [p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    return sorted(found)


def native_size(models_dir: Path, checkpoint: Path) -> int:
    """Read the training resolution from the checkpoint's diffusers configs (UNet sample size times
    the VAE's downscale factor); 512, the SD1 size, when no config says otherwise."""
    folder = checkpoint if checkpoint.is_dir() else models_dir / "configs" / checkpoint.stem
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text())
        vae = json.loads((folder / "vae" / "config.json").read_text())
        return int(unet["sample_size"]) * int(2 ** (len(vae["block_out_channels"]) - 1))
    except (OSError, KeyError, TypeError, ValueError):
        return 512


NETWORK_FOLDERS = {ModelKind.LORA: "loras", ModelKind.EMBEDDING: "embeddings"}
TRIGGER_SHARE = 0.5
MAX_TRIGGER_WORDS = 5


def trigger_words(path: Path) -> list[str]:
    """A kohya LoRA's trigger words: the tags of `ss_tag_frequency` used at least half as often as the
    most frequent one (the words its training captions always carried)."""
    try:
        header = json.loads(path.read_bytes()[8 : safetensors_data_offset(path)])
        frequencies: dict[str, int] = {}
        for tags in json.loads(header.get("__metadata__", {}).get("ss_tag_frequency", "{}")).values():
            for tag, count in tags.items():
                frequencies[tag] = frequencies.get(tag, 0) + int(count)
    except (OSError, ValueError, TypeError, AttributeError):
        return []
    if not frequencies:
        return []
    top = max(frequencies.values())
    ranked = sorted(frequencies, key=lambda tag: -frequencies[tag])
    return [tag for tag in ranked if frequencies[tag] >= top * TRIGGER_SHARE][:MAX_TRIGGER_WORDS]


def _scan_networks(session: Session, models_dir: Path, report: ScanReport, hash_cache: HashCache | None) -> None:
    """Register LoRAs and textual-inversion embeddings (safetensors only), named by file stem as A1111 does."""
    for kind, folder in NETWORK_FOLDERS.items():
        known = set(session.scalars(select(ModelFile.name).where(ModelFile.kind == kind)))
        for path in _candidates(models_dir / folder):
            if path.suffix in PICKLE_SUFFIXES:
                report.refused.append(f"{path.name}: pickle files can run code when loaded; convert it to .safetensors")
                continue
            if path.is_dir() or path.stem in known:
                continue
            hashes = hash_model_file(path, hash_cache)
            session.add(
                ModelFile(
                    kind=kind,
                    name=path.stem,
                    file_path=str(path.relative_to(models_dir)),
                    sha256=hashes.sha256,
                    autov2=hashes.autov2,
                    autov3=hashes.autov3,
                    base_arch="sd1",
                    native_size=512,
                    size_bytes=path.stat().st_size,
                    enabled=True,
                    is_default=False,
                    trigger_words=trigger_words(path) if kind == ModelKind.LORA else [],
                )
            )
            report.added.append(f"{kind.value}:{path.stem}")


def scan(
    session: Session, models_dir: Path, default_checkpoint: str = "", *, hash_cache: HashCache | None = None
) -> ScanReport:
    """Register new checkpoints, LoRAs and embeddings found in the store; the first checkpoint (or
    `default_checkpoint`) is default.

    `hash_cache` (see `atelier.hashes`) lets a re-scan skip re-reading files it has hashed before."""
    report = ScanReport()
    existing = {m.name: m for m in session.scalars(select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT))}
    for path in _candidates(models_dir / "checkpoints"):
        name = path.stem if path.is_file() else path.name
        if path.suffix in PICKLE_SUFFIXES:
            report.refused.append(f"{path.name}: pickle files can run code when loaded; convert it to .safetensors")
            continue
        if name in existing:
            report.known.append(name)
            continue
        hashes = hash_directory(path, hash_cache) if path.is_dir() else hash_model_file(path, hash_cache)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
        model = ModelFile(
            kind=ModelKind.CHECKPOINT,
            name=name,
            file_path=str(path.relative_to(models_dir)),
            sha256=hashes.sha256,
            autov2=hashes.autov2,
            autov3=hashes.autov3,
            base_arch="sd1",
            native_size=native_size(models_dir, path),
            size_bytes=size,
            enabled=True,
            is_default=False,
            trigger_words=[],
        )
        session.add(model)
        existing[name] = model
        report.added.append(name)
    _scan_networks(session, models_dir, report, hash_cache)
    session.flush()
    if hash_cache is not None:
        hash_cache.save()
    if existing and not any(m.is_default for m in existing.values()):
        chosen = existing.get(default_checkpoint) or existing[sorted(existing)[0]]
        chosen.is_default = True
    session.commit()
    return report


def enabled_checkpoints(session: Session) -> list[ModelFile]:
    query = select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.enabled.is_(True))
    return list(session.scalars(query.order_by(ModelFile.name)))


def default_checkpoint(session: Session) -> ModelFile | None:
    checkpoints = enabled_checkpoints(session)
    return next((m for m in checkpoints if m.is_default), checkpoints[0] if checkpoints else None)


def resolve_checkpoint(session: Session, name: str) -> ModelFile:
    """The enabled checkpoint called `name` (or the default for ""), or an error that suggests names."""
    checkpoints = enabled_checkpoints(session)
    if not checkpoints:
        raise InvalidInput("checkpoint", "no checkpoint is enabled; a moderator must add one to the model store")
    if not name:
        chosen = default_checkpoint(session)
        assert chosen is not None
        return chosen
    for model in checkpoints:
        if name in (model.name, model.autov2, model.sha256):
            return model
    names = [m.name for m in checkpoints]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4) or names[:5]
    raise InvalidInput("checkpoint", f"unknown model {name!r}; did you mean {', '.join(close)}?")
