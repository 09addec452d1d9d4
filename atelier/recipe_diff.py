"""What changed between two recipes: prompt terms and their weights, LoRAs, and every setting.

A remix is judged by what it changed, so the gallery's lineage tree and the bot's remix notes both show
a diff rather than two walls of parameters. Prompts are compared as A1111 reads them: through
`parse_prompt_attention`, so `(red:1.3)` and `red` are the same term with another weight, not a removal
and an addition. A term is a comma-separated phrase (the unit people write tag prompts in); order is
ignored, because moving a tag is rarely what someone means to point out, and case is ignored because
CLIP's tokenizer lowercases. `<lora:…>` tags are cut from the text as A1111 does and compared as LoRAs.

Pure and torch-free: the bot, the gallery and the CLI may all call it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from atelier.prompt import PromptError, parse_prompt_attention
from atelier.recipe import LoraUse, Recipe

_TAG = re.compile(r"<\w+:[^>]+>")
# Weights are floats from repeated multiplication by 1.1; equal to 4 places is equal.
_PLACES = 4
BREAK = "BREAK"


@dataclass(frozen=True)
class WeightedTerm:
    """A prompt term that one side has and the other lacks, with its weight there."""

    text: str
    weight: float = 1.0

    @property
    def weighted(self) -> bool:
        return not _same(self.weight, 1.0)


@dataclass(frozen=True)
class Reweighted:
    """Words both prompts have, at another weight."""

    text: str
    before: float
    after: float


@dataclass(frozen=True)
class PromptDiff:
    added: tuple[WeightedTerm, ...] = ()
    removed: tuple[WeightedTerm, ...] = ()
    reweighted: tuple[Reweighted, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.reweighted)


@dataclass(frozen=True)
class LoraChange:
    """A LoRA added (`before` None), removed (`after` None) or used at other weights or from another file."""

    name: str
    before: LoraUse | None
    after: LoraUse | None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class SettingChange:
    """One parameter with another value, both shown as people read them ("—" for none)."""

    name: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class RecipeDiff:
    prompt: PromptDiff
    negative_prompt: PromptDiff
    loras: tuple[LoraChange, ...]
    settings: tuple[SettingChange, ...]

    def __bool__(self) -> bool:
        return bool(self.prompt or self.negative_prompt or self.loras or self.settings)

    @property
    def empty(self) -> bool:
        return not self

    def setting(self, name: str) -> SettingChange | None:
        return next((change for change in self.settings if change.name == name), None)


def _same(a: float, b: float) -> bool:
    return round(a, _PLACES) == round(b, _PLACES)


def format_weight(weight: float) -> str:
    """A weight as people write it: 1.3, 0.91, 1."""
    return f"{round(weight, 2):g}"


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]
    weights: tuple[float, ...]

    @property
    def key(self) -> str:
        return " ".join(self.words).lower()


def prompt_terms(text: str) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    """The prompt's comma-separated phrases as (words, weight of each word), extra-network tags cut out."""
    return [(term.words, term.weights) for term in _terms(text)]


def _runs(text: str) -> list[tuple[str, float]]:
    try:
        return parse_prompt_attention(text)
    except PromptError:  # only an explicit weight that is not a number; compare the text as it stands
        return [(text, 1.0)]


def _terms(text: str) -> list[_Term]:
    phrases: list[list[tuple[str, float]]] = [[]]
    for run, weight in _runs(text):
        if run == BREAK and weight == -1.0:
            phrases.extend([[(BREAK, 1.0)], []])
            continue
        for number, piece in enumerate(_TAG.sub(" ", run).split(",")):
            if number:
                phrases.append([])
            phrases[-1].extend((word, weight) for word in piece.split())
    return [_Term(tuple(w for w, _ in phrase), tuple(x for _, x in phrase)) for phrase in phrases if phrase]


def _term_text(term: _Term) -> WeightedTerm:
    weights = {round(weight, _PLACES) for weight in term.weights}
    if len(weights) == 1:
        return WeightedTerm(" ".join(term.words), term.weights[0])
    # Mixed weights inside one phrase: show it as written, word by word.
    parts = [
        word if _same(weight, 1.0) else f"({word}:{format_weight(weight)})"
        for word, weight in zip(term.words, term.weights, strict=True)
    ]
    return WeightedTerm(" ".join(parts), 1.0)


def _reweighted(before: _Term, after: _Term) -> list[Reweighted]:
    """Runs of neighbouring words of one phrase whose weight moved the same way."""
    changes: list[Reweighted] = []
    run: list[str] = []
    pair: tuple[float, float] | None = None
    for word, old, new in zip(after.words, before.weights, after.weights, strict=True):
        current = None if _same(old, new) else (old, new)
        if run and (current is None or pair is None or not (_same(current[0], pair[0]) and _same(current[1], pair[1]))):
            assert pair is not None
            changes.append(Reweighted(" ".join(run), *pair))
            run = []
        if current is not None:
            run.append(word)
            pair = current
    if run and pair is not None:
        changes.append(Reweighted(" ".join(run), *pair))
    return changes


def diff_prompts(before: str, after: str) -> PromptDiff:
    """Terms removed, added, and kept at another weight, each in the order its prompt has them."""
    old_terms, new_terms = _terms(before), _terms(after)
    unmatched: defaultdict[str, list[_Term]] = defaultdict(list)
    for term in old_terms:
        unmatched[term.key].append(term)
    added: list[WeightedTerm] = []
    reweighted: list[Reweighted] = []
    for term in new_terms:
        candidates = unmatched.get(term.key)
        if candidates:
            reweighted.extend(_reweighted(candidates.pop(0), term))
        else:
            added.append(_term_text(term))
    left = {id(term) for terms in unmatched.values() for term in terms}
    removed = [_term_text(term) for term in old_terms if id(term) in left]
    return PromptDiff(tuple(added), tuple(removed), tuple(reweighted))


def _lora_same(a: LoraUse, b: LoraUse) -> bool:
    unet_a = a.weight if a.unet_weight is None else a.unet_weight
    unet_b = b.weight if b.unet_weight is None else b.unet_weight
    same_file = not (a.hash and b.hash) or a.hash == b.hash
    return _same(a.weight, b.weight) and _same(unet_a, unet_b) and same_file


def diff_loras(before: tuple[LoraUse, ...], after: tuple[LoraUse, ...]) -> tuple[LoraChange, ...]:
    old = {lora.name.lower(): lora for lora in before}
    new = {lora.name.lower(): lora for lora in after}
    changes = [LoraChange(lora.name, None, lora) for key, lora in new.items() if key not in old]
    changes += [LoraChange(lora.name, lora, None) for key, lora in old.items() if key not in new]
    changes += [
        LoraChange(lora.name, old[key], lora)
        for key, lora in new.items()
        if key in old and not _lora_same(old[key], lora)
    ]
    return tuple(changes)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _short_address(address: str) -> str:
    """A stored picture's content address ("ab/<sha256>.png") by the start of its hash, as git shows commits."""
    name = address.rsplit("/", 1)[-1]
    return name[:12] if len(name) > 40 else address


def _settings(recipe: Recipe) -> list[tuple[str, str, Any]]:
    """(name, label, value) of every parameter a diff compares besides prompts and LoRAs."""
    rows: list[tuple[str, str, Any]] = [
        ("checkpoint", "Checkpoint", recipe.checkpoint),
        ("seed", "Seed", recipe.seed),
        ("sampler", "Sampler", recipe.sampler),
        ("schedule_type", "Schedule type", recipe.schedule_type),
        ("steps", "Steps", recipe.steps),
        ("cfg_scale", "CFG scale", float(recipe.cfg_scale)),
        ("size", "Size", f"{recipe.width}x{recipe.height}"),
        ("init_image", "Init image", _short_address(recipe.init_image)),
        ("denoising_strength", "Denoise (img2img)", recipe.denoising_strength),
        ("clip_skip", "Clip skip", recipe.clip_skip),
        ("emphasis", "Emphasis", recipe.emphasis),
        ("hires", "Hires fix", recipe.hires),
    ]
    if recipe.hires:
        rows += [
            ("hires_scale", "Hires upscale", float(recipe.hires_scale)),
            ("hires_steps", "Hires steps", recipe.hires_steps),
            ("hires_denoise", "Hires denoise", float(recipe.hires_denoise)),
        ]
    return rows


def diff_settings(before: Recipe, after: Recipe) -> tuple[SettingChange, ...]:
    old = {name: (label, value) for name, label, value in _settings(before)}
    changes = []
    for name, label, value in _settings(after):
        previous = old.pop(name, (label, None))[1]
        if _show(previous) != _show(value):
            changes.append(SettingChange(name, label, _show(previous), _show(value)))
    # Settings only the first recipe has (hires details when the second turned hires off).
    changes += [SettingChange(name, label, _show(value), "—") for name, (label, value) in old.items()]
    return tuple(changes)


def diff_recipes(before: Recipe, after: Recipe) -> RecipeDiff:
    """What `after` changed from `before`. An image of a batch has its own seed: give each image's
    recipe its seed (`dataclasses.replace(recipe, seed=image.seed)`) before comparing images."""
    return RecipeDiff(
        prompt=diff_prompts(before.prompt, after.prompt),
        negative_prompt=diff_prompts(before.negative_prompt, after.negative_prompt),
        loras=diff_loras(before.loras, after.loras),
        settings=diff_settings(before, after),
    )
