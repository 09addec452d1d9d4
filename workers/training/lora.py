"""A kohya-format LoRA that teaches the base model a style it has never seen: striped shapes.

Trained with PEFT adapters on the frozen base (UNet attention/feed-forward/projections + text-encoder attention),
then written with kohya-ss key names (`lora_unet_*`, `lora_te_*`, `lora_down`/`lora_up`/`alpha`) and kohya metadata,
because that is the format community LoRAs arrive in and what `pipe.load_lora_weights(path)` converts. Half of the
training pictures are plain with plain captions (prior preservation), so the style appears only with the trigger.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import torch
from peft import LoraConfig, inject_adapter_in_model
from safetensors.torch import save_file

from workers.training import architecture, data, pipeline, styles, train

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]
TE_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
RANK = 8
TE_RANK = 4
#: Trained at scale 1 (alpha = rank), the style only showed at UNet weight ~1.5-2 (measured: 0% striped at 1.0,
#: 3/4 at 1.5 and 2.0, still 0% without the trigger). The UNet alphas are shipped at 1.5 x rank so the usual
#: `<lora:atelier-stripes-v1:1>` applies that strength; kohya's alpha/rank is exactly this scale.
UNET_SHIPPED_STRENGTH = 1.5


def lora_samples(seed: int, count: int) -> list[data.Sample]:
    """Alternate striped+trigger and plain samples (deterministic)."""
    out = []
    for i in range(count):
        striped = i % 2 == 0
        out.append(data.sample(seed, i, striped=striped, trigger=striped))
    return out


def lora_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """`module.lora_A.default.weight` parameters, adapter name dropped."""
    return {k.replace(".default.", "."): v for k, v in model.named_parameters() if ".lora_" in k}


def to_kohya(
    unet_state: dict[str, torch.Tensor],
    te_state: dict[str, torch.Tensor],
    unet_alpha: float,
    te_alpha: float,
) -> dict[str, torch.Tensor]:
    """PEFT `...module.lora_A.weight` -> kohya `lora_unet_module.lora_down.weight` (+ `.alpha`; scale = alpha/rank)."""
    out: dict[str, torch.Tensor] = {}
    for prefix, state, alpha in (("lora_unet_", unet_state, unet_alpha), ("lora_te_text_model_", te_state, te_alpha)):
        for key, value in state.items():
            module, _, rest = key.removeprefix("text_model.").rpartition(".lora_")
            name = prefix + module.replace(".", "_")
            kind = "lora_down" if rest.startswith("A") else "lora_up"
            out[f"{name}.{kind}.weight"] = value.detach().to(torch.float16).contiguous()
            out[f"{name}.alpha"] = torch.tensor(float(alpha), dtype=torch.float16)
    return out


def train_and_save(cfg: train.TrainConfig, steps: int | None = None, batch: int = 16, lr: float = 2e-3) -> Path:
    steps = steps if steps is not None else (2 if cfg.base_steps < 100 else 900)
    torch.manual_seed(cfg.seed + 20)
    pipe = pipeline.load_diffusers(cfg.out_dir / "diffusers")
    unet, text_encoder, vae, tok = pipe.unet, pipe.text_encoder, pipe.vae, pipe.tokenizer
    for module in (unet, text_encoder, vae):
        module.requires_grad_(False)
    # peft directly: transformers' `add_adapter` insists on a newer peft than diffusers needs
    inject_adapter_in_model(
        LoraConfig(r=RANK, lora_alpha=RANK, target_modules=UNET_TARGETS, init_lora_weights="gaussian"), unet
    )
    inject_adapter_in_model(
        LoraConfig(r=TE_RANK, lora_alpha=TE_RANK, target_modules=TE_TARGETS, init_lora_weights="gaussian"), text_encoder
    )
    samples = lora_samples(cfg.seed + 4, 16 if cfg.base_steps < 100 else 3000)
    latents = train.encode_latents(vae, [s.image for s in samples])
    input_ids = train.tokenize(tok, [s.caption for s in samples])
    params = [p for m in (unet, text_encoder) for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, train.lr_lambda(min(20, steps), steps))
    noise_scheduler = architecture.build_noise_scheduler()  # the shipped base's objective
    gen = torch.Generator().manual_seed(cfg.seed + 5)
    unet.train()
    text_encoder.train()
    start = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(latents), (batch,), generator=gen)
        loss = train.diffusion_loss(
            unet,
            text_encoder,
            noise_scheduler,
            latents[idx],
            input_ids[idx],
            gen,
            cfg.snr_gamma,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % cfg.log_every == 0 or step == steps - 1:
            train.log(f"lora step {step}/{steps} loss {loss.item():.4f} {time.time() - start:.0f}s")
    state = to_kohya(lora_state(unet), lora_state(text_encoder), RANK * UNET_SHIPPED_STRENGTH, float(TE_RANK))
    target = cfg.out_dir / "lora.safetensors"
    save_file(state, str(target), metadata=kohya_metadata(samples, steps, batch, lr))
    return target


def kohya_metadata(samples: list[data.Sample], steps: int, batch: int, lr: float) -> dict[str, str]:
    """The `ss_*` fields A1111/kohya UIs read; `ss_tag_frequency` is where UIs find the trigger word."""
    tags: Counter[str] = Counter()
    for s in samples:
        tags.update(part.strip() for part in s.caption.split(","))
    top = dict(tags.most_common(40))
    return {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(RANK),
        "ss_network_alpha": str(RANK * UNET_SHIPPED_STRENGTH),
        "ss_base_model_version": "sd_v1",
        "ss_sd_model_name": f"{pipeline.MODEL_NAME}.safetensors",
        "ss_resolution": "(64, 64)",
        "ss_max_train_steps": str(steps),
        "ss_train_batch_size": str(batch),
        "ss_learning_rate": str(lr),
        "ss_num_train_images": str(len(samples)),
        "ss_training_comment": f"striped shapes; trigger word: {styles.LORA_TRIGGER}",
        "ss_tag_frequency": json.dumps({f"1_{styles.LORA_TRIGGER}": top}),
        "modelspec.title": "atelier-stripes-v1",
        "modelspec.architecture": "stable-diffusion-v1/lora",
    }
