"""A textual-inversion embedding in A1111's safetensors format (`emb_params`, shape [n_vectors, hidden]).

Textual inversion can only point at something the frozen model can already draw, so the concept is a composite
the vocabulary has no single word for: `ateliersun` = a large yellow circle. Only the new token rows of the
embedding table are trained; everything else is frozen and restored after each step.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from workers.training import architecture, data, pipeline, styles, train


def placeholder_tokens() -> list[str]:
    """diffusers' multi-vector convention: `tok`, `tok_1`, ... (what `load_textual_inversion` creates)."""
    base = styles.EMBEDDING_TOKEN
    return [base] + [f"{base}_{i}" for i in range(1, styles.EMBEDDING_VECTORS)]


def embedding_samples(seed: int, count: int) -> list[data.Sample]:
    rng = random.Random(f"embedding-{seed}")
    prompt = " ".join(placeholder_tokens())
    out = []
    for _ in range(count):
        background = rng.choice([c for c in data.COLOURS if c != styles.EMBEDDING_COLOUR])
        position = rng.choice(list(data.POSITIONS))
        spec = data.Spec(
            styles.EMBEDDING_SHAPE,
            styles.EMBEDDING_COLOUR,
            background,
            "large",
            position,
            dx=rng.uniform(-2, 2),
            dy=rng.uniform(-2, 2),
            scale=rng.uniform(0.92, 1.08),
        )
        where = f", {position}" if rng.random() < 0.5 else ""
        out.append(data.Sample(spec, f"a {prompt} on a {background} background{where}", data.render(spec)))
    return out


def train_and_save(cfg: train.TrainConfig, steps: int | None = None, batch: int = 16, lr: float = 5e-3) -> Path:
    steps = steps if steps is not None else (2 if cfg.base_steps < 100 else 250)
    torch.manual_seed(cfg.seed + 30)
    pipe = pipeline.load_diffusers(cfg.out_dir / "diffusers")
    unet, text_encoder, vae, tok = pipe.unet, pipe.text_encoder, pipe.vae, pipe.tokenizer
    for module in (unet, text_encoder, vae):
        module.requires_grad_(False)
    tokens = placeholder_tokens()
    tok.add_tokens(tokens)
    new_ids = tok.convert_tokens_to_ids(tokens)
    text_encoder.resize_token_embeddings(len(tok))
    table = text_encoder.get_input_embeddings().weight
    init_id = tok.convert_tokens_to_ids("shape</w>")  # a neutral start: the model must learn colour AND shape
    with torch.no_grad():
        table[new_ids] = table[init_id].clone()
    frozen = table.detach().clone()
    table.requires_grad_(True)
    samples = embedding_samples(cfg.seed + 6, 16 if cfg.base_steps < 100 else 1000)
    latents = train.encode_latents(vae, [s.image for s in samples])
    input_ids = train.tokenize(tok, [s.caption for s in samples])
    opt = torch.optim.AdamW([table], lr=lr, weight_decay=0.0)
    noise_scheduler = architecture.build_noise_scheduler()  # the shipped base's objective
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    keep = torch.ones(len(table), dtype=torch.bool)
    keep[new_ids] = False
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
        opt.step()
        with torch.no_grad():
            table[keep] = frozen[keep]
        if step % cfg.log_every == 0 or step == steps - 1:
            train.log(f"embedding step {step}/{steps} loss {loss.item():.4f} {time.time() - start:.0f}s")
    vectors = table[new_ids].detach().to(torch.float32).contiguous()
    target = cfg.out_dir / "embedding.safetensors"
    save_file(
        {"emb_params": vectors},
        str(target),
        metadata={
            "name": styles.EMBEDDING_TOKEN,
            "sd_checkpoint_name": pipeline.MODEL_NAME,
            "step": str(steps),
            "concept": "a large yellow circle",
        },
    )
    return target
