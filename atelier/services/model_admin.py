"""Moderators switching models on and off and choosing the default checkpoint.

A model is named as members see it (`tiny-test`), or with its kind when a checkpoint and a LoRA
share a name (`lora:ink`). Rules that keep the studio usable: the last enabled checkpoint cannot be
disabled, the default must be enabled, and disabling the default passes the role to another
enabled checkpoint, so a `/draw` without a model always has one.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, NotFound
from atelier.schema import ModelFile, ModelKind, User
from atelier.services import audit

MANAGED = (ModelKind.CHECKPOINT, ModelKind.LORA)


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
    )


def managed_models(session: Session) -> list[ModelInfo]:
    """Checkpoints then LoRAs, enabled or not, by name (what moderator autocomplete offers)."""
    query = select(ModelFile).where(ModelFile.kind.in_(MANAGED)).order_by(ModelFile.kind, ModelFile.name)
    return [_info(m) for m in session.scalars(query)]


def find_model(session: Session, ref: str) -> ModelFile:
    """The checkpoint or LoRA named `ref` (`name`, `lora:name`, `checkpoint:name`), enabled or not."""
    kind_text, _, name = ref.strip().rpartition(":")
    kinds = [k for k in MANAGED if k.value == kind_text.lower()] if kind_text else list(MANAGED)
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
