"""Ship the trained model into the model store (`models/`), laid out as A1111/ComfyUI users expect.

- `checkpoints/atelier-tiny-v1.safetensors`: one fp16 file in the original SD1.x key layout, so the worker loads it
  through the same `from_single_file` path as any community checkpoint;
- `configs/atelier-tiny-v1/`: the diffusers-layout config folder `from_single_file(config=...)` needs offline
  (configs and tokenizer files, no weights);
- `loras/` and `embeddings/`: the kohya LoRA and A1111 embedding trained on top, when present.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from workers.training import architecture, convert, pipeline
from workers.training.train import log

TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")


def write_config_folder(trained: Path, tokenizer_dir: Path, target: Path) -> Path:
    """Config folder for `from_single_file(config=target)`; copied from what training saved, minus weights."""
    if target.exists():
        shutil.rmtree(target)
    (target / "tokenizer").mkdir(parents=True)
    model_index = json.loads((trained / "model_index.json").read_text())
    model_index.update(
        {"safety_checker": [None, None], "feature_extractor": [None, None], "requires_safety_checker": False}
    )
    (target / "model_index.json").write_text(json.dumps(model_index, indent=2) + "\n")
    for component in ("unet", "vae", "text_encoder"):
        (target / component).mkdir()
        config = json.loads((trained / component / "config.json").read_text())
        config.pop("_name_or_path", None)
        (target / component / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (target / "scheduler").mkdir()
    scheduler = {**architecture.SHIPPED_SCHEDULER, "_diffusers_version": model_index.get("_diffusers_version")}
    (target / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir / name, target / "tokenizer" / name)
    return target


def write_checkpoint(trained: Path, target: Path) -> Path:
    pipe = pipeline.load_diffusers(trained)
    state = convert.pipeline_to_ldm(pipe.unet, pipe.vae, pipe.text_encoder, dtype=torch.float16)
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": "pt",
        "modelspec.architecture": "stable-diffusion-v1",
        "modelspec.title": pipeline.MODEL_NAME,
        "modelspec.resolution": "64x64",
        "modelspec.description": "Atelier's bundled tiny SD1.x-architecture model; see models/MODEL_CARD.md",
    }
    save_file(state, str(target), metadata=metadata)
    target.chmod(0o644)  # safetensors writes 0600; the store is read by other users (web, worker containers)
    return target


def export_all(out: Path, models_dir: Path) -> None:
    trained = out / "diffusers"
    name = pipeline.MODEL_NAME
    checkpoint = write_checkpoint(trained, models_dir / "checkpoints" / f"{name}.safetensors")
    log(f"wrote {checkpoint} ({checkpoint.stat().st_size / 1e6:.1f} MB)")
    write_config_folder(trained, out / "tokenizer", models_dir / "configs" / name)
    for source, folder in ((out / "lora.safetensors", "loras"), (out / "embedding.safetensors", "embeddings")):
        if source.exists():
            from workers.training.styles import shipped_name

            target = models_dir / folder / shipped_name(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            log(f"wrote {target}")
