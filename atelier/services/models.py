"""The model registry: which models exist in the store, which are enabled, which is default.

`scan` registers what it finds in `models/checkpoints`, `loras`, `embeddings` and `vae`
(`.safetensors` files, or diffusers folders for checkpoints and VAEs), each with its hashes and
the base architecture read from its header (`atelier.model_arch`). Pickle files (`.ckpt`, `.pt`,
`.bin`) are never opened: they can run code when loaded, so the scan lists them as refused, as it
does anything whose layout it cannot place, with the reason.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, ModelRefused
from atelier.hashes import HashCache, hash_directory, hash_model_file, safetensors_data_offset
from atelier.model_arch import NATIVE_SIZES, Detected, detect, detect_folder
from atelier.model_header import PICKLE_SUFFIXES, folder_pickle_problem, pickle_refusal, read_header
from atelier.schema import ModelFile, ModelKind

STORE_FOLDERS = {
    ModelKind.CHECKPOINT: "checkpoints",
    ModelKind.LORA: "loras",
    ModelKind.EMBEDDING: "embeddings",
    ModelKind.VAE: "vae",
}


@dataclass
class ScanReport:
    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _candidates(folder: Path) -> list[Path]:
    """Files that look like models by name, and folders that look like diffusers models; pickles are
    included so the scan can say it refused them."""
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.iterdir()
        if not p.name.startswith(".")
        and (
            (p.is_file() and p.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES))
            or (p.is_dir() and ((p / "model_index.json").is_file() or (p / "config.json").is_file()))
        )
    ]
    return sorted(found)


def model_name(path: Path) -> str:
    """A model's registry name, as A1111 shows it: the file stem, or the folder name."""
    return path.stem if path.is_file() else path.name


def native_size(models_dir: Path, checkpoint: Path, arch: str = "sd1") -> int:
    """Read the training resolution from the checkpoint's diffusers configs (UNet sample size times
    the VAE's downscale factor); the base's usual size when no config says otherwise."""
    folder = checkpoint if checkpoint.is_dir() else models_dir / "configs" / checkpoint.stem
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text())
        vae = json.loads((folder / "vae" / "config.json").read_text())
        return int(unet["sample_size"]) * int(2 ** (len(vae["block_out_channels"]) - 1))
    except (OSError, KeyError, TypeError, ValueError):
        return NATIVE_SIZES.get(arch, 512)


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


def inspect(path: Path, label: str, kind: ModelKind | None, store_widths: dict[int, str]) -> Detected:
    """Kind and base of a file or diffusers folder, read from headers and configs only; `ModelRefused`
    for pickles, damaged files and layouts the workers cannot load."""
    if path.is_dir():
        problem = folder_pickle_problem(path, label)
        if problem is not None:
            raise ModelRefused(problem)
        return detect_folder(path, label, kind)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise pickle_refusal(label)
    return detect(read_header(path, label), label, kind, store_widths)


def store_widths(models_dir: Path) -> dict[int, str]:
    """Text-conditioning width -> base of the store's SD1/SD2 checkpoints, for LoRAs and embeddings
    of a width no public model has (the bundled tiny model's); ambiguous widths are left out."""
    found: dict[int, set[str]] = {}
    for path in _candidates(models_dir / STORE_FOLDERS[ModelKind.CHECKPOINT]):
        try:
            detected = inspect(path, path.name, ModelKind.CHECKPOINT, {})
        except ModelRefused:
            continue
        if detected.width is not None:
            found.setdefault(detected.width, set()).add(detected.arch)
    return {width: next(iter(archs)) for width, archs in found.items() if len(archs) == 1}


def new_model_file(
    models_dir: Path, path: Path, detected: Detected, name: str, hash_cache: HashCache | None
) -> ModelFile:
    """The registry row for a store file or folder, hashed (AutoV2 for all, AutoV3 for single files)."""
    if path.is_dir():
        hashes = hash_directory(path, hash_cache)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        hashes = hash_model_file(path, hash_cache)
        size = path.stat().st_size
    checkpoint = detected.kind is ModelKind.CHECKPOINT
    return ModelFile(
        kind=detected.kind,
        name=name,
        file_path=path.relative_to(models_dir).as_posix(),
        sha256=hashes.sha256,
        autov2=hashes.autov2,
        autov3=hashes.autov3,
        base_arch=detected.arch,
        native_size=native_size(models_dir, path, detected.arch) if checkpoint else NATIVE_SIZES[detected.arch],
        size_bytes=size,
        enabled=True,
        is_default=False,
        trigger_words=trigger_words(path) if detected.kind is ModelKind.LORA and path.is_file() else [],
    )


def ensure_default(session: Session, preferred: str = "") -> None:
    """Make `preferred` (or the first by name) the default checkpoint when none is."""
    checkpoints = {m.name: m for m in session.scalars(select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT))}
    if checkpoints and not any(m.is_default for m in checkpoints.values()):
        (checkpoints.get(preferred) or checkpoints[sorted(checkpoints)[0]]).is_default = True


def scan(
    session: Session, models_dir: Path, default_checkpoint: str = "", *, hash_cache: HashCache | None = None
) -> ScanReport:
    """Register new checkpoints, LoRAs, embeddings and VAEs found in the store; the first checkpoint
    (or `default_checkpoint`) is default. Checkpoints are reported by name, others as `kind:name`.

    `hash_cache` (see `atelier.hashes`) lets a re-scan skip re-reading files it has hashed before."""
    report = ScanReport()
    widths = store_widths(models_dir)
    for kind, folder in STORE_FOLDERS.items():
        known = set(session.scalars(select(ModelFile.name).where(ModelFile.kind == kind)))
        for path in _candidates(models_dir / folder):
            name = model_name(path)
            shown = name if kind is ModelKind.CHECKPOINT else f"{kind.value}:{name}"
            if name in known:
                report.known.append(shown)
                continue
            try:
                detected = inspect(path, f"{folder}/{path.name}", kind, widths)
            except ModelRefused as refused:
                report.refused.append(refused.message)
                continue
            session.add(new_model_file(models_dir, path, detected, name, hash_cache))
            known.add(name)
            report.added.append(shown)
    session.flush()
    if hash_cache is not None:
        hash_cache.save()
    ensure_default(session, default_checkpoint)
    session.commit()
    return report


def enabled_checkpoints(session: Session) -> list[ModelFile]:
    query = select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.enabled.is_(True))
    return list(session.scalars(query.order_by(ModelFile.name)))


def default_checkpoint(session: Session) -> ModelFile | None:
    return default_of(enabled_checkpoints(session))


def default_of(checkpoints: list[ModelFile]) -> ModelFile | None:
    """The default among enabled checkpoints: the one marked so, else the first by name."""
    return next((m for m in checkpoints if m.is_default), checkpoints[0] if checkpoints else None)


def resolve_checkpoint(session: Session, name: str) -> ModelFile:
    """The enabled checkpoint called `name` (or the default for ""), or an error that suggests names."""
    checkpoints = enabled_checkpoints(session)
    if not checkpoints:
        raise InvalidInput("checkpoint", "no checkpoint is enabled; a moderator must add one to the model store")
    if not name:
        chosen = default_of(checkpoints)
        assert chosen is not None
        return chosen
    for model in checkpoints:
        if name in (model.name, model.autov2, model.sha256):
            return model
    names = [m.name for m in checkpoints]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4) or names[:5]
    raise InvalidInput("checkpoint", f"unknown model {name!r}; did you mean {', '.join(close)}?")
