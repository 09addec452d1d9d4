"""diffusers -> original SD1.x key conversion, checked against diffusers' own reverse conversion."""

from __future__ import annotations

import torch
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
)

from workers.training import architecture, convert


def _same(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert set(ours) == set(theirs)
    for key, value in ours.items():
        assert torch.equal(value, theirs[key]), key


def test_unet_round_trips_through_diffusers_loader() -> None:
    """Our LDM UNet keys convert back to exactly the original diffusers state dict."""
    torch.manual_seed(0)
    unet = architecture.build_unet()
    ldm = convert.unet_to_ldm(unet.state_dict(), unet.config)
    assert all(k.startswith("model.diffusion_model.") for k in ldm)
    assert "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight" in ldm
    _same(convert_ldm_unet_checkpoint(ldm, dict(unet.config)), unet.state_dict())


def test_vae_round_trips_through_diffusers_loader() -> None:
    """Our LDM VAE keys (1x1-conv attention) convert back exactly."""
    vae = architecture.build_vae()
    ldm = convert.vae_to_ldm(vae.state_dict(), vae.config)
    assert ldm["first_stage_model.encoder.mid.attn_1.q.weight"].ndim == 4
    _same(convert_ldm_vae_checkpoint(ldm, dict(vae.config)), vae.state_dict())


def test_text_encoder_round_trips_through_diffusers_loader() -> None:
    """CLIP keys gain the SD1 `cond_stage_model.transformer.text_model.` prefix and lose it again."""
    te = architecture.build_text_encoder(64)
    ldm = convert.text_encoder_to_ldm(te.state_dict())
    assert "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight" in ldm
    back = {k.removeprefix("text_model."): v for k, v in convert_ldm_clip_checkpoint(ldm).items()}
    _same(back, {k: v for k, v in te.state_dict().items() if not k.endswith("position_ids")})


def test_single_file_is_fp16() -> None:
    """The shipped layout stores half precision, halving the file size."""
    te = architecture.build_text_encoder(64)
    merged = convert.pipeline_to_ldm(architecture.build_unet(), architecture.build_vae(), te)
    assert {v.dtype for v in merged.values()} == {torch.float16}
