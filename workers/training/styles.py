"""Names of what is trained on top of the base model, shared by training, export, eval and tests."""

from __future__ import annotations

from workers.training.data import STRIPES_TRIGGER

LORA_FILE = "atelier-stripes-v1.safetensors"
LORA_TRIGGER = STRIPES_TRIGGER
EMBEDDING_TOKEN = "ateliersun"  # A1111 uses the file stem as the prompt token
EMBEDDING_FILE = f"{EMBEDDING_TOKEN}.safetensors"
EMBEDDING_VECTORS = 2
#: What the embedding stands for: a large yellow circle (a "sun"); `a ateliersun on a blue background`.
EMBEDDING_COLOUR = "yellow"
EMBEDDING_SHAPE = "circle"


def shipped_name(folder: str) -> str:
    return {"loras": LORA_FILE, "embeddings": EMBEDDING_FILE}[folder]
