"""Moderators switching models on and off, choosing the default checkpoint, marking models NSFW-allowed,
editing trigger words, and adding models (a store scan or an uploaded file).

A model is named as members see it (`tiny-test`), or with its kind when a checkpoint and a LoRA
share a name (`lora:ink`); embeddings always with theirs (`embedding:bad-hands`). Rules that keep
the studio usable: the last enabled checkpoint cannot be disabled, the default must be enabled, and
disabling the default passes the role to another enabled checkpoint, so a `/draw` without a model
always has one. Every change is audited in the transaction that makes it; scans and imports, which
commit inside the store's own services, are audited right after.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, NotFound
from atelier.hashes import HashCache
from atelier.schema import ModelFile, ModelKind, User
from atelier.services import audit
from atelier.services.model_import import import_model
from atelier.services.models import ScanReport, scan

MANAGED = (ModelKind.CHECKPOINT, ModelKind.LORA)
# What the gallery's model page lists and edits; embeddings are named with their kind only.
LISTED = (*MANAGED, ModelKind.EMBEDDING)
MAX_TRIGGER_WORDS = 20
MAX_TRIGGER_CHARS = 100


@dataclass(frozen=True)
class ModelInfo:
    kind: ModelKind
    name: str
    base_arch: str
    enabled: bool
    is_default: bool
    nsfw_allowed: bool
    native_size: int
    size_bytes: int
    autov2: str
    trigger_words: list[str]
    model_id: int = 0
    sha256: str = ""

    @property
    def ref(self) -> str:
        """How to name it unambiguously: `lora:ink`, or a checkpoint's plain name."""
        return self.name if self.kind is ModelKind.CHECKPOINT else f"{self.kind.value}:{self.name}"


def _info(model: ModelFile) -> ModelInfo:
    return ModelInfo(
        model.kind,
        model.name,
        model.base_arch,
        model.enabled,
        model.is_default,
        model.nsfw_allowed,
        model.native_size,
        model.size_bytes,
        model.autov2,
        list(model.trigger_words or []),
        model.id,
        model.sha256,
    )


def managed_models(session: Session) -> list[ModelInfo]:
    """Checkpoints then LoRAs, enabled or not, by name (what moderator autocomplete offers)."""
    query = select(ModelFile).where(ModelFile.kind.in_(MANAGED)).order_by(ModelFile.kind, ModelFile.name)
    return [_info(m) for m in session.scalars(query)]


def find_model(session: Session, ref: str) -> ModelFile:
    """The model named `ref` (`name`, `lora:name`, `checkpoint:name`, `embedding:name`), enabled or not."""
    kind_text, _, name = ref.strip().rpartition(":")
    kinds = [k for k in LISTED if k.value == kind_text.lower()] if kind_text else list(MANAGED)
    if not kinds:
        kinds, name = list(MANAGED), ref.strip()
    for kind in kinds:  # a checkpoint wins over a LoRA of the same plain name
        found = session.scalar(select(ModelFile).where(ModelFile.kind == kind, ModelFile.name == name))
        if found is not None:
            return found
    names = [m.ref for m in managed_models(session)]
    close = difflib.get_close_matches(ref, names, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise NotFound(f"no checkpoint or LoRA is called {ref!r}{hint}")


def info(session: Session, ref: str) -> ModelInfo:
    return _info(find_model(session, ref))


def listed_models(session: Session) -> list[ModelInfo]:
    """Checkpoints, LoRAs and embeddings, enabled or not, by kind then name (the gallery's /mod/models)."""
    rows = session.scalars(select(ModelFile).where(ModelFile.kind.in_(LISTED)).order_by(ModelFile.name))
    order = {kind: index for index, kind in enumerate(LISTED)}
    return sorted((_info(m) for m in rows), key=lambda model: order[model.kind])


def info_by_id(session: Session, model_id: int) -> ModelInfo:
    """A listed model by its row id (the gallery's forms post ids: names may hold any character)."""
    model = session.get(ModelFile, model_id)
    if model is None or model.kind not in LISTED:
        raise NotFound(f"model {model_id} does not exist")
    return _info(model)


def _enabled_checkpoints(session: Session) -> list[ModelFile]:
    query = select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.enabled.is_(True))
    return list(session.scalars(query.order_by(ModelFile.name)))


def set_enabled(session: Session, ref: str, enabled: bool, actor: User | None = None) -> ModelInfo:
    """Enable or disable a model; returns it as it is now."""
    audit.require_moderator(actor, "enable and disable models")
    model = find_model(session, ref)
    if model.kind is ModelKind.CHECKPOINT and not enabled and model.enabled:
        others = [m for m in _enabled_checkpoints(session) if m.id != model.id]
        if not others:
            raise InvalidInput("name", f"{model.name!r} is the only enabled checkpoint; enable another first")
        if model.is_default:
            model.is_default = False
            others[0].is_default = True
    model.enabled = enabled
    audit.record(session, actor, "model.enable" if enabled else "model.disable", _info(model).ref)
    session.commit()
    return _info(model)


def set_default(session: Session, ref: str, actor: User | None = None) -> ModelInfo:
    """Make an enabled checkpoint the one `/draw` uses when no model is named."""
    audit.require_moderator(actor, "choose the default model")
    model = find_model(session, ref)
    if model.kind is not ModelKind.CHECKPOINT:
        raise InvalidInput("name", f"{model.name!r} is a {model.kind.value}; only a checkpoint can be the default")
    if not model.enabled:
        raise InvalidInput("name", f"{model.name!r} is disabled; enable it before making it the default")
    for other in session.scalars(select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT)):
        other.is_default = other.id == model.id
    audit.record(session, actor, "model.default", model.name)
    session.commit()
    return _info(model)


def set_nsfw_allowed(session: Session, ref: str, allowed: bool, actor: User | None = None) -> ModelInfo:
    """Allow a model's renders outside SFW rules (age-restricted channels only), or take that back."""
    audit.require_moderator(actor, "change which models may make NSFW images")
    model = find_model(session, ref)
    model.nsfw_allowed = allowed
    audit.record(session, actor, "model.nsfw_allow" if allowed else "model.nsfw_forbid", _info(model).ref)
    session.commit()
    return _info(model)


def parse_trigger_words(text: str) -> list[str]:
    """Comma-separated words as typed, trimmed, blanks and repeats (any case) dropped, order kept."""
    words: list[str] = []
    seen: set[str] = set()
    for part in text.split(","):
        word = " ".join(part.split())
        if not word or word.lower() in seen:
            continue
        if len(word) > MAX_TRIGGER_CHARS:
            raise InvalidInput(
                "trigger_words", f"{word[:30]!r}… is {len(word)} characters; the limit is {MAX_TRIGGER_CHARS}"
            )
        seen.add(word.lower())
        words.append(word)
    if len(words) > MAX_TRIGGER_WORDS:
        raise InvalidInput("trigger_words", f"{len(words)} words; the limit is {MAX_TRIGGER_WORDS}")
    return words


def set_trigger_words(session: Session, ref: str, words: str, actor: User | None = None) -> ModelInfo:
    """Replace a model's trigger words with the comma-separated `words` (empty clears them)."""
    audit.require_moderator(actor, "edit trigger words")
    parsed = parse_trigger_words(words)
    model = find_model(session, ref)
    model.trigger_words = parsed
    audit.record(session, actor, "model.trigger_words", _info(model).ref, ", ".join(parsed))
    session.commit()
    return _info(model)


def scan_store(
    session: Session,
    models_dir: Path,
    default_checkpoint: str = "",
    actor: User | None = None,
    hash_cache: HashCache | None = None,
) -> ScanReport:
    """`atelier models scan` for a moderator: register what the store holds, audited with what was found."""
    audit.require_moderator(actor, "scan the model store")
    report = scan(session, models_dir, default_checkpoint, hash_cache=hash_cache)
    details = f"added: {', '.join(report.added) or 'none'}; refused: {len(report.refused)}"
    audit.record(session, actor, "model.scan", str(models_dir)[-200:], details)
    session.commit()
    return report


def import_file(
    session: Session,
    models_dir: Path,
    source: Path,
    name: str,
    actor: User | None = None,
    kind: ModelKind | None = None,
    hash_cache: HashCache | None = None,
) -> ModelInfo:
    """`atelier models import` for a moderator (the gallery's upload): checked, placed, registered, audited.
    `ModelRefused` says why a file is not taken (a pickle, a layout the workers cannot load, a name in use)."""
    audit.require_moderator(actor, "add models")
    model = import_model(session, models_dir, source, kind=kind, name=name, hash_cache=hash_cache)
    details = f"{model.base_arch}, {model.size_bytes} bytes, AutoV2 {model.autov2}"
    audit.record(session, actor, "model.import", _info(model).ref, details)
    session.commit()
    return _info(model)
