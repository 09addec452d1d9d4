"""Training loops for the bundled tiny model: VAE, then text encoder + UNet, then the v-prediction UNet.

Bit-for-bit reproducible from a seed: fixed step counts (never a wall-clock budget), seeded generators for data
order, noise and timesteps, and a fixed thread count. The first UNet stages use SD1's epsilon prediction with
min-SNR-gamma loss weighting (Hang et al. 2023), which converges noticeably faster than the plain loss at this scale;
the last stage moves to v-prediction at zero terminal SNR on a frozen, pretrained text encoder, the objective that
ships (see `train_vpred`). An EMA of the weights is what gets shipped; ~10% of captions are dropped to the empty
prompt so classifier-free guidance and negative prompts work.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from workers.training import architecture, data


@dataclass(frozen=True)
class TrainConfig:
    """Step counts and sizes; `quick()` gives a seconds-long smoke run with the same code path."""

    out_dir: Path
    seed: int = 0
    threads: int = 2
    vae_samples: int = 3000
    vae_steps: int = 400
    vae_batch: int = 32
    decoder_steps: int = 800
    decoder_samples: int = 4000
    base_samples: int = 12000
    base_steps: int = 1600
    base_batch: int = 32
    lr: float = 8e-4
    warmup: int = 100
    ema_decay: float = 0.995
    snr_gamma: float = 5.0
    uncond_prob: float = 0.1
    log_every: int = 50
    refine_steps: int = 900
    refine_lr: float = 4e-4
    refine_offset_noise: float = 0.3
    checkpoint_every: int = 500
    text_steps: int = 400
    text_batch: int = 128
    text_lr: float = 1e-3
    vpred_steps: int = 3000
    vpred_lr: float = 5e-4
    polish_steps: int = 2000
    polish_lr: float = 3e-4

    @classmethod
    def quick(cls, out_dir: Path, seed: int = 0) -> TrainConfig:
        return cls(
            out_dir,
            seed,
            threads=1,
            vae_samples=16,
            vae_steps=2,
            vae_batch=4,
            decoder_steps=2,
            decoder_samples=16,
            base_samples=16,
            base_steps=2,
            base_batch=4,
            refine_steps=2,
            text_steps=2,
            text_batch=4,
            vpred_steps=2,
            polish_steps=2,
            warmup=1,
            log_every=1,
        )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def images_to_tensor(images: Iterable[np.ndarray]) -> torch.Tensor:
    """uint8 HWC arrays -> float NCHW in [-1, 1], the range SD's VAE expects."""
    array = np.stack(list(images)).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def tensor_to_images(pixels: torch.Tensor) -> list[np.ndarray]:
    """The inverse of `images_to_tensor`: float NCHW in [-1, 1] (clamped) -> uint8 HWC arrays."""
    return list(((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warmup then cosine decay to 10%."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def train_vae(cfg: TrainConfig) -> AutoencoderKL:
    """Reconstruction (MSE + L1) with a small KL term; trained on plain AND striped pictures, since the VAE is a
    generic image codec and the LoRA's style must be decodable later."""
    torch.manual_seed(cfg.seed)
    vae = architecture.build_vae()
    plain = data.dataset(cfg.seed, cfg.vae_samples * 3 // 4)
    striped = data.dataset(cfg.seed + 1, cfg.vae_samples - len(plain), striped=True)
    pixels = images_to_tensor(s.image for s in plain + striped)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg.warmup, cfg.vae_steps))
    start = time.time()
    for step in range(cfg.vae_steps):
        batch = pixels[torch.randint(0, len(pixels), (cfg.vae_batch,), generator=gen)]
        posterior = vae.encode(batch).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen)
        recon = vae.decode(z).sample
        kl = posterior.kl().mean() / z[0].numel()
        loss = F.mse_loss(recon, batch) + 0.5 * F.l1_loss(recon, batch) + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % cfg.log_every == 0 or step == cfg.vae_steps - 1:
            log(f"vae step {step}/{cfg.vae_steps} loss {loss.item():.4f} kl {kl.item():.3f} {time.time() - start:.0f}s")
    vae.eval()
    with torch.no_grad():
        latents = torch.cat([vae.encode(pixels[i : i + 256]).latent_dist.mean for i in range(0, len(pixels), 256)])
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    log(f"vae scaling_factor {vae.config.scaling_factor:.4f}")
    return vae


def finetune_decoder(cfg: TrainConfig, vae: AutoencoderKL, steps: int, samples: int) -> AutoencoderKL:
    """Decoder-only fine-tuning (like SD's ft-MSE VAE): the encoder, hence the latent space the UNet learns, is
    frozen, so this sharpens every output without retraining anything else. It also lets the short first VAE
    stage stay short."""
    torch.manual_seed(cfg.seed + 40)
    plain = data.dataset(cfg.seed + 41, samples * 3 // 4)
    striped = data.dataset(cfg.seed + 42, samples - len(plain), striped=True)
    pixels = images_to_tensor(s.image for s in plain + striped)
    vae.requires_grad_(False)
    with torch.no_grad():
        posts = [vae.encode(pixels[i : i + 256]).latent_dist for i in range(0, len(pixels), 256)]
    mean, std = torch.cat([p.mean for p in posts]), torch.cat([p.std for p in posts])
    decoder = [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]
    for p in decoder:
        p.requires_grad_(True)
    vae.train()
    gen = torch.Generator().manual_seed(cfg.seed + 43)
    opt = torch.optim.AdamW(decoder, lr=1e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(min(cfg.warmup, steps), steps))
    start = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(pixels), (cfg.vae_batch,), generator=gen)
        z = mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=gen)
        recon = vae.decode(z).sample
        loss = F.mse_loss(recon, pixels[idx]) + 0.5 * F.l1_loss(recon, pixels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder, 1.0)
        opt.step()
        sched.step()
        if step % cfg.log_every == 0 or step == steps - 1:
            log(f"decoder step {step}/{steps} loss {loss.item():.4f} {time.time() - start:.0f}s")
    vae.requires_grad_(False)
    return vae.eval()


@torch.no_grad()
def encode_latents(vae: AutoencoderKL, images: list[np.ndarray]) -> torch.Tensor:
    """Pre-encode once (posterior mean x scaling factor): the VAE is frozen, re-encoding every step is waste."""
    pixels = images_to_tensor(images)
    chunks = [vae.encode(pixels[i : i + 256]).latent_dist.mean for i in range(0, len(pixels), 256)]
    return torch.cat(chunks) * vae.config.scaling_factor


def captioned_samples(cfg: TrainConfig, *, fresh: bool = False) -> list[data.Sample]:
    """The captioned training set of the UNet stages and the text encoder's pretraining; `fresh` draws another
    set of the same size (new pictures of the same seen combinations) for the polish stage."""
    return data.dataset(cfg.seed + (80 if fresh else 2), cfg.base_samples)


def captioned_latents(
    cfg: TrainConfig, vae: AutoencoderKL, tokenizer: CLIPTokenizer, stage: str, *, fresh: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The UNet stages' training set: latents, caption ids and the empty caption's ids (for CFG dropout)."""
    samples = captioned_samples(cfg, fresh=fresh)
    log(f"{stage}: encoding {len(samples)} training images")
    latents = encode_latents(vae, [s.image for s in samples])
    return latents, tokenize(tokenizer, [s.caption for s in samples]), tokenize(tokenizer, [""])[0]


def tokenize(tokenizer: CLIPTokenizer, captions: list[str]) -> torch.Tensor:
    return tokenizer(
        captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids


def diffusion_loss(
    unet: UNet2DConditionModel,
    text_encoder: CLIPTextModel,
    noise_scheduler: DDPMScheduler,
    latents: torch.Tensor,
    input_ids: torch.Tensor,
    gen: torch.Generator,
    snr_gamma: float,
    offset_noise: float = 0.0,
) -> torch.Tensor:
    """SD's loss for the scheduler's prediction type, weighted by `loss_weight`; optionally with offset noise."""
    noise = torch.randn(latents.shape, generator=gen)
    if offset_noise > 0:
        noise = noise + offset_noise * torch.randn((len(latents), latents.shape[1], 1, 1), generator=gen)
    timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(latents),), generator=gen)
    noisy = noise_scheduler.add_noise(latents, noise, timesteps)
    hidden = text_encoder(input_ids)[0]
    pred = unet(noisy, timesteps, hidden).sample
    alphas = noise_scheduler.alphas_cumprod[timesteps]
    snr = alphas / (1 - alphas)
    velocity = noise_scheduler.config.prediction_type == "v_prediction"
    target = noise_scheduler.get_velocity(latents, noise, timesteps) if velocity else noise
    per_sample = F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))
    return (per_sample * loss_weight(snr, snr_gamma, velocity=velocity)).mean()


def loss_weight(snr: torch.Tensor, snr_gamma: float, *, velocity: bool) -> torch.Tensor:
    """Min-SNR-gamma weights (Hang et al. 2023) per timestep.

    Epsilon: min(SNR, gamma) / SNR. V-prediction: (min(SNR, gamma) + 1) / (SNR + 1), the min-SNR weight of the v
    target plus one, so the pure-noise step (SNR 0 under a zero-terminal-SNR schedule) keeps weight 1 instead of 0:
    that is the step where the caption alone must decide the picture.
    """
    clamped = torch.clamp(snr, max=snr_gamma)
    return (clamped + 1) / (snr + 1) if velocity else clamped / snr


class EMA:
    """Exponential moving average of parameters with the usual (1+n)/(10+n) warmup."""

    def __init__(self, modules: list[torch.nn.Module], decay: float) -> None:
        self.decay = decay
        self.shadow = [copy.deepcopy(m).eval().requires_grad_(False) for m in modules]
        self.modules = modules
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for live, avg in zip(self.modules, self.shadow, strict=True):
            for p_avg, p in zip(avg.parameters(), live.parameters(), strict=True):
                p_avg.lerp_(p, 1 - decay)


Checkpoint = Callable[[UNet2DConditionModel, CLIPTextModel], None]


def _train_denoiser(
    stage: str,
    cfg: TrainConfig,
    unet: UNet2DConditionModel,
    text_encoder: CLIPTextModel,
    batch_source: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    steps: int,
    lr: float,
    warmup: int,
    seed: int,
    noise_scheduler: DDPMScheduler,
    offset_noise: float = 0.0,
    on_checkpoint: Checkpoint | None = None,
) -> tuple[UNet2DConditionModel, CLIPTextModel]:
    """The UNet (+ text-encoder) loop shared by the base, refine and vpred stages (with CFG caption dropout and
    EMA); returns the EMA copies. The text encoder trains only when its parameters require grad (frozen in vpred),
    and a frozen one is returned as it is."""
    latents, input_ids, empty_ids = batch_source
    trained = [unet, text_encoder] if any(p.requires_grad for p in text_encoder.parameters()) else [unet]
    params = [p for module in trained for p in module.parameters()]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(warmup, steps))
    ema = EMA(trained, cfg.ema_decay)

    def averages() -> tuple[UNet2DConditionModel, CLIPTextModel]:
        unet_ema, *text_ema = ema.shadow
        return unet_ema, (text_ema[0] if text_ema else text_encoder)  # type: ignore[return-value]

    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    running = 0.0
    for step in range(steps):
        idx = torch.randint(0, len(latents), (cfg.base_batch,), generator=gen)
        ids = input_ids[idx].clone()
        ids[torch.rand(cfg.base_batch, generator=gen) < cfg.uncond_prob] = empty_ids
        loss = diffusion_loss(unet, text_encoder, noise_scheduler, latents[idx], ids, gen, cfg.snr_gamma, offset_noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        ema.update()
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
        if step % cfg.log_every == 0 or step == steps - 1:
            elapsed = time.time() - start
            eta = elapsed / (step + 1) * (steps - step - 1)
            log(f"{stage} step {step}/{steps} loss {running:.4f} {elapsed:.0f}s eta {eta:.0f}s")
        if on_checkpoint is not None and step > 0 and step % cfg.checkpoint_every == 0:
            on_checkpoint(*averages())
    return averages()


def train_base(
    cfg: TrainConfig, vae: AutoencoderKL, tokenizer: CLIPTokenizer, on_checkpoint: Checkpoint | None = None
) -> tuple[UNet2DConditionModel, CLIPTextModel]:
    """Text encoder and UNet from scratch, jointly; returns the EMA copies (also handed to `on_checkpoint` every
    `checkpoint_every` steps so a long run can be inspected while it trains)."""
    torch.manual_seed(cfg.seed + 10)
    batch_source = captioned_latents(cfg, vae, tokenizer, "base")
    unet = architecture.build_unet()
    text_encoder = architecture.build_text_encoder(len(tokenizer))
    unet.train()
    text_encoder.train()
    return _train_denoiser(
        "base", cfg, unet, text_encoder, batch_source,
        steps=cfg.base_steps, lr=cfg.lr, warmup=cfg.warmup, seed=cfg.seed + 3,
        noise_scheduler=architecture.build_noise_scheduler(epsilon=True), on_checkpoint=on_checkpoint,
    )  # fmt: skip


def refine(
    cfg: TrainConfig,
    vae: AutoencoderKL,
    tokenizer: CLIPTokenizer,
    unet: UNet2DConditionModel,
    text_encoder: CLIPTextModel,
) -> tuple[UNet2DConditionModel, CLIPTextModel]:
    """Continue the base training with offset noise so the model must read colours from the text.

    Why: with SD's schedule a flat 16x16 picture's mean colour survives even at t=999 (terminal SNR > 0), so the
    first stage learns to copy the background colour out of the noisy latent instead of the caption (measured:
    its loss with shuffled captions was within 2% of the loss with the right ones). At sampling time the start
    latent is pure noise, so colours came out random. Per-channel offset noise (Guttenberg 2023) hides that mean;
    the sampler and scheduler stay exactly SD1's.
    """
    torch.manual_seed(cfg.seed + 50)
    batch_source = captioned_latents(cfg, vae, tokenizer, "refine")
    unet.train().requires_grad_(True)
    text_encoder.train().requires_grad_(True)
    return _train_denoiser(
        "refine", cfg, unet, text_encoder, batch_source,
        steps=cfg.refine_steps, lr=cfg.refine_lr, warmup=min(cfg.warmup, cfg.refine_steps), seed=cfg.seed + 51,
        noise_scheduler=architecture.build_noise_scheduler(epsilon=True), offset_noise=cfg.refine_offset_noise,
    )  # fmt: skip


def train_vpred(
    cfg: TrainConfig,
    vae: AutoencoderKL,
    tokenizer: CLIPTokenizer,
    unet: UNet2DConditionModel,
    text_encoder: CLIPTextModel,
    on_checkpoint: Checkpoint | None = None,
    *,
    polish: bool = False,
) -> UNet2DConditionModel:
    """Move the refined UNet to the shipped objective (v-prediction at zero terminal SNR) on a frozen text encoder.

    Why: even with offset noise the first stages read the picture's layout out of the t=999 latent, so shapes and
    positions came out at chance. At zero terminal SNR the last step holds nothing of the picture, and the caption
    is all the UNet has. The encoder stays frozen (see `text_pretrain`), as SD keeps CLIP frozen: with it trained
    jointly on this objective, shape and position stayed at chance for 600 steps (measured).

    `polish` runs the same loop again at a lower peak rate on a fresh draw of pictures: shape was still rising
    when the first pass's cosine schedule ended (measured: its 2000 steps took shape from 72% to 76% on the seen
    prompts and from 54% to 88% on held-out ones).
    """
    if polish:
        stage, steps, lr, seed = "polish", cfg.polish_steps, cfg.polish_lr, cfg.seed + 80
    else:
        stage, steps, lr, seed = "vpred", cfg.vpred_steps, cfg.vpred_lr, cfg.seed + 70
    torch.manual_seed(seed)
    batch_source = captioned_latents(cfg, vae, tokenizer, stage, fresh=polish)
    unet.train().requires_grad_(True)
    text_encoder.eval().requires_grad_(False)
    unet_ema, _ = _train_denoiser(
        stage, cfg, unet, text_encoder, batch_source,
        steps=steps, lr=lr, warmup=min(cfg.warmup, steps), seed=seed + 1,
        noise_scheduler=architecture.build_noise_scheduler(), on_checkpoint=on_checkpoint,
    )  # fmt: skip
    return unet_ema
