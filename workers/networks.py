"""LoRAs and textual-inversion embeddings applied to a pipeline for one job.

Embeddings only add tokens, so once loaded they stay with the cached pipeline. LoRAs change
weights: they are loaded with the job's weights (A1111's separate text-encoder and UNet
multipliers) and unloaded afterwards, so the next job on the same pipeline renders from the
untouched checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from diffusers import StableDiffusionPipeline

from atelier.recipe import Recipe

NetworkFiles = Mapping[tuple[str, str], Path]
"""(kind, name) -> file, for the LoRAs ("lora") and embeddings ("embedding") a recipe uses."""


class NetworkMissing(Exception):
    """A LoRA or embedding named by the recipe is no longer in the store."""


def _file(files: NetworkFiles, kind: str, name: str) -> Path:
    path = files.get((kind, name))
    if path is None or not path.is_file():
        raise NetworkMissing(f"{kind} {name!r} is not in the model store any more")
    return path


def load_embeddings(pipe: StableDiffusionPipeline, recipe: Recipe, files: NetworkFiles) -> None:
    vocabulary = pipe.tokenizer.get_vocab()
    for embedding in recipe.embeddings:
        if embedding.name not in vocabulary:
            pipe.load_textual_inversion(str(_file(files, "embedding", embedding.name)), token=embedding.name)


@contextmanager
def networks_applied(pipe: StableDiffusionPipeline, recipe: Recipe, files: NetworkFiles) -> Iterator[None]:
    """The recipe's embeddings and weighted LoRAs are active inside the block; LoRAs are gone after it."""
    load_embeddings(pipe, recipe, files)
    if not recipe.loras:
        yield
        return
    adapters, weights = [], []
    try:
        for index, lora in enumerate(recipe.loras):
            adapter = f"job_lora_{index}"
            pipe.load_lora_weights(str(_file(files, "lora", lora.name)), adapter_name=adapter)
            unet_weight = lora.weight if lora.unet_weight is None else lora.unet_weight
            adapters.append(adapter)
            weights.append({"text_encoder": lora.weight, "unet": unet_weight})
        pipe.set_adapters(adapters, adapter_weights=weights)
        yield
    finally:
        pipe.unload_lora_weights()
