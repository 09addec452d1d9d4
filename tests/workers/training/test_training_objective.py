"""The shipped training objective: v-prediction at zero terminal SNR, on a frozen pretrained text encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workers.training import architecture, data, text_pretrain, tokenizer, train


def test_shipped_schedule_ends_at_pure_noise() -> None:
    """The last training timestep keeps nothing of the picture; SD1's epsilon schedule keeps some."""
    assert architecture.build_noise_scheduler().alphas_cumprod[-1].item() == pytest.approx(0.0, abs=1e-9)
    assert architecture.build_noise_scheduler(epsilon=True).alphas_cumprod[-1].item() > 1e-3


def test_velocity_weight_keeps_the_pure_noise_step() -> None:
    """At SNR 0 the v-prediction weight is 1 (finite, not 0); at high SNR both weights are capped at gamma/SNR-ish."""
    snr = torch.tensor([0.0, 1.0, 100.0])
    velocity = train.loss_weight(snr, 5.0, velocity=True)
    assert velocity.tolist() == pytest.approx([1.0, 1.0, 6.0 / 101.0])
    assert train.loss_weight(snr[1:], 5.0, velocity=False).tolist() == pytest.approx([1.0, 0.05])


def test_velocity_loss_is_zero_for_the_true_velocity() -> None:
    """The v target is alpha*noise - sigma*latent: a UNet that predicts exactly that scores zero."""
    scheduler = architecture.build_noise_scheduler()
    latents = torch.randn(3, 4, 16, 16)

    class Oracle(torch.nn.Module):
        def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, hidden: torch.Tensor) -> object:
            generator = torch.Generator().manual_seed(7)
            noise = torch.randn(latents.shape, generator=generator)
            return type("Out", (), {"sample": scheduler.get_velocity(latents, noise, timesteps)})()

    loss = train.diffusion_loss(
        Oracle(),  # type: ignore[arg-type]
        lambda ids: (torch.zeros(len(ids), 4, 8),),  # type: ignore[arg-type]
        scheduler,
        latents,
        torch.zeros(3, 4, dtype=torch.long),
        torch.Generator().manual_seed(7),
        5.0,
    )
    assert loss.item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize(
    ("with_size", "with_position", "size", "position"),
    [(True, True, "large", "top left"), (False, True, "not said", "top left"), (True, False, "large", "not said")],
)
def test_attribute_labels_follow_what_the_caption_says(
    with_size: bool, with_position: bool, size: str, position: str
) -> None:
    """Size and position are labelled "not said" when the caption leaves them out."""
    spec = data.Spec("star", "red", "blue", "large", "top left")
    caption = data.caption(spec, with_size=with_size, with_position=with_position)
    labels = text_pretrain.attribute_labels(data.Sample(spec, caption, data.render(spec)))
    named = {name: text_pretrain.ATTRIBUTES[name][index] for name, index in labels.items()}
    assert named == {"shape": "star", "colour": "red", "background": "blue", "size": size, "position": position}


def test_vpred_stage_trains_the_unet_and_leaves_the_text_encoder(tmp_path: Path) -> None:
    """Two quick steps change the UNet; the text encoder is bit-identical afterwards."""
    cfg = train.TrainConfig.quick(tmp_path)
    tok = tokenizer.load_tokenizer(tokenizer.save_tokenizer_files(tmp_path / "tokenizer"))
    unet, text_encoder = architecture.build_unet(), architecture.build_text_encoder(len(tok))
    unet_before = {k: v.clone() for k, v in unet.state_dict().items()}
    text_before = {k: v.clone() for k, v in text_encoder.state_dict().items()}
    trained = train.train_vpred(cfg, architecture.build_vae(), tok, unet, text_encoder)
    assert all(torch.equal(v, text_before[k]) for k, v in text_encoder.state_dict().items())
    assert any(not torch.equal(v, unet_before[k]) for k, v in trained.state_dict().items())


def test_text_pretraining_separates_shape_words(tmp_path: Path) -> None:
    """After a short pretraining, the end-of-text state of a "circle" caption moves away from a "square" one."""
    cfg = train.TrainConfig(tmp_path, threads=1, text_steps=60, text_batch=32, warmup=5, log_every=1000)
    tok = tokenizer.load_tokenizer(tokenizer.save_tokenizer_files(tmp_path / "tokenizer"))
    torch.manual_seed(0)
    text_encoder = architecture.build_text_encoder(len(tok))
    captions = ["a red circle on a blue background", "a red square on a blue background"]
    ids = train.tokenize(tok, captions)
    end = (ids == tok.eos_token_id).int().argmax(dim=1)

    def gap() -> float:
        with torch.no_grad():
            hidden = text_encoder(ids)[0]
        states = hidden[torch.arange(2), end]
        return float((states[0] - states[1]).norm() / states.norm(dim=1).mean())

    before = gap()
    text_pretrain.pretrain_text_encoder(cfg, tok, text_encoder, data.dataset(3, 400))
    assert gap() > 2 * before
    assert not any(p.requires_grad for p in text_encoder.parameters())


def test_polish_stage_draws_other_pictures_of_the_seen_combinations(tmp_path: Path) -> None:
    """The polish pass trains on a fresh draw of the same size; held-out combinations stay held out."""
    cfg = train.TrainConfig(tmp_path, base_samples=200)
    first, fresh = train.captioned_samples(cfg), train.captioned_samples(cfg, fresh=True)
    assert len(fresh) == len(first)
    assert [s.caption for s in fresh] != [s.caption for s in first]
    held_out = data.held_out_combos()
    assert all((s.spec.colour, s.spec.shape, s.spec.background) not in held_out for s in fresh)
