"""`python -m workers.training`: train the bundled tiny model and ship it into `models/`.

Stages run in order and each writes under --out, so a long run can be resumed stage by stage:
  base       VAE, then text encoder + UNet; saved in diffusers layout to OUT/diffusers
  refine     continue text encoder + UNet with offset noise so colours come from the caption (OUT/diffusers)
  decoder    decoder-only VAE fine-tune (latent space unchanged), written back into OUT/diffusers/vae
  text       text encoder pretrained on the captions' attributes, then frozen (OUT/diffusers/text_encoder)
  vpred      UNet moved to v-prediction at zero terminal SNR, the shipped objective (OUT/diffusers/unet)
  polish     a second, lower-rate v-prediction pass on a fresh draw of pictures (OUT/diffusers/unet)
  lora       kohya-format style LoRA on top of the base (OUT/lora.safetensors)
  embedding  textual-inversion embedding (OUT/embedding.safetensors)
  export     single-file checkpoint + config folder + LoRA + embedding into --models-dir
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

STAGES = ("base", "refine", "decoder", "text", "vpred", "polish", "lora", "embedding", "export")


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Busy-waiting OpenMP threads thrash on a shared 2-core box (measured 3-6x slower steps); sleep instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = argparse.ArgumentParser(
        prog="python -m workers.training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/atelier-training"))
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run (same code path)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list from {STAGES}")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {STAGES}")
    run(args.out, args.models_dir, seed=args.seed, quick=args.quick, stages=stages)


def run(out: Path, models_dir: Path, *, seed: int, quick: bool, stages: list[str]) -> dict[str, float]:
    """Run the requested stages; returns wall-clock seconds per stage (also written to OUT/timings.json)."""
    import torch

    from workers.training import train

    cfg = train.TrainConfig.quick(out, seed) if quick else train.TrainConfig(out, seed)
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    timings_path = out / "timings.json"
    timings: dict[str, float] = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    for stage in STAGES:
        if stage not in stages:
            continue
        start = time.time()
        if stage == "base":
            _stage_base(cfg, timings)
        elif stage == "refine":
            _stage_refine(cfg)
        elif stage == "decoder":
            _stage_decoder(cfg)
        elif stage == "text":
            _stage_text(cfg)
        elif stage in ("vpred", "polish"):
            _stage_vpred(cfg, polish=stage == "polish")
        elif stage == "lora":
            from workers.training import lora

            lora.train_and_save(cfg)
        elif stage == "embedding":
            from workers.training import embedding

            embedding.train_and_save(cfg)
        elif stage == "export":
            from workers.training import export

            export.export_all(out, models_dir)
        timings[stage] = round(time.time() - start, 1)
        timings_path.write_text(json.dumps(timings, indent=2) + "\n")
        train.log(f"stage {stage} done in {timings[stage]:.0f}s")
    return timings


def _stage_base(cfg: object, timings: dict[str, float]) -> None:
    from workers.training import pipeline, tokenizer, train

    assert isinstance(cfg, train.TrainConfig)
    tok = tokenizer.load_tokenizer(tokenizer.save_tokenizer_files(cfg.out_dir / "tokenizer"))
    start = time.time()
    vae = train.train_vae(cfg)
    timings["vae"] = round(time.time() - start, 1)
    vae.save_pretrained(cfg.out_dir / "vae")

    unet, text_encoder = train.train_base(cfg, vae, tok, _partial_saver(cfg, vae, tok))
    pipe = pipeline.assemble(vae, text_encoder, tok, unet)
    pipe.save_pretrained(cfg.out_dir / "diffusers")


def _stage_refine(cfg: object) -> None:
    from workers.training import pipeline, train

    assert isinstance(cfg, train.TrainConfig)
    pipe = pipeline.load_diffusers(cfg.out_dir / "diffusers")
    unet, text_encoder = train.refine(cfg, pipe.vae, pipe.tokenizer, pipe.unet, pipe.text_encoder)
    pipeline.assemble(pipe.vae, text_encoder, pipe.tokenizer, unet).save_pretrained(cfg.out_dir / "diffusers")


def _stage_decoder(cfg: object) -> None:
    from diffusers import AutoencoderKL

    from workers.training import train

    assert isinstance(cfg, train.TrainConfig)
    directory = cfg.out_dir / "diffusers" / "vae"
    vae = train.finetune_decoder(
        cfg, AutoencoderKL.from_pretrained(str(directory)), cfg.decoder_steps, cfg.decoder_samples
    )
    vae.save_pretrained(directory)


def _stage_text(cfg: object) -> None:
    from workers.training import pipeline, text_pretrain, train

    assert isinstance(cfg, train.TrainConfig)
    pipe = pipeline.load_diffusers(cfg.out_dir / "diffusers")
    samples = train.captioned_samples(cfg)
    text_encoder = text_pretrain.pretrain_text_encoder(cfg, pipe.tokenizer, pipe.text_encoder, samples)
    text_encoder.save_pretrained(cfg.out_dir / "diffusers" / "text_encoder")


def _stage_vpred(cfg: object, *, polish: bool) -> None:
    from workers.training import pipeline, train

    assert isinstance(cfg, train.TrainConfig)
    pipe = pipeline.load_diffusers(cfg.out_dir / "diffusers")
    checkpoint = _partial_saver(cfg, pipe.vae, pipe.tokenizer)
    unet = train.train_vpred(cfg, pipe.vae, pipe.tokenizer, pipe.unet, pipe.text_encoder, checkpoint, polish=polish)
    pipeline.assemble(pipe.vae, pipe.text_encoder, pipe.tokenizer, unet).save_pretrained(cfg.out_dir / "diffusers")


def _partial_saver(cfg: object, vae: object, tokenizer: object) -> Callable[[object, object], None]:
    """The UNet stages' `on_checkpoint`: the EMA weights so far, as a pipeline in OUT/partial to inspect or score."""
    from workers.training import pipeline, train

    assert isinstance(cfg, train.TrainConfig)

    def save(unet: object, text_encoder: object) -> None:
        pipeline.assemble(vae, text_encoder, tokenizer, unet).save_pretrained(cfg.out_dir / "partial")  # type: ignore[arg-type]

    return save


if __name__ == "__main__":
    main()
