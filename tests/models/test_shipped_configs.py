"""The config folders shipped for members' own checkpoints (`models/configs/sd1`, `sd2`, `sdxl`) describe
the real published architectures: built on the meta device (no weights, no memory), each component has
the parameter count of the published model.

Where the numbers come from: SD1.5 (UNet 859,520,964; VAE 83,653,863; CLIP ViT-L/14 text 123,060,480)
are the counts diffusers reports for runwayml/stable-diffusion-v1-5. SD2.1 (UNet 865,910,724; OpenCLIP
ViT-H text with the last of its 24 layers dropped, 340,387,840) and SDXL base 1.0 (UNet 2,567,463,684;
OpenCLIP ViT-bigG text with projection 694,659,840) are the sizes public code loading the released
weights allocates for them; the text encoders' counts are also derived here from the layer formula, and
SD2.x/SDXL share SD1's VAE architecture (only the latent scaling differs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"
VOCAB, POSITIONS = 49_408, 77
VAE_PARAMETERS = 83_653_863
PUBLISHED = {
    "sd1": {"unet": 859_520_964, "vae": VAE_PARAMETERS, "text_encoder": 123_060_480},
    "sd2": {"unet": 865_910_724, "vae": VAE_PARAMETERS, "text_encoder": 340_387_840},
    "sdxl": {"unet": 2_567_463_684, "vae": VAE_PARAMETERS, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
}


def clip_text_parameters(width: int, layers: int, projection: int | None = None) -> int:
    """A CLIP text transformer's size from its shape: token and position tables, per layer two layer
    norms, q/k/v/out projections and a 4x MLP (all with biases), the final norm, an optional projection."""
    norms, attention, mlp = 2 * 2 * width, 4 * (width * width + width), 8 * width * width + 5 * width
    per_layer = norms + attention + mlp
    return VOCAB * width + POSITIONS * width + layers * per_layer + 2 * width + (projection or 0) * width


def count(model: Any) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def build(folder: Path, component: str) -> Any:
    """The component named in model_index.json, instantiated from its config with empty (meta) weights."""
    import diffusers
    import transformers
    from accelerate import init_empty_weights

    library, class_name = json.loads((folder / "model_index.json").read_text())[component]
    with init_empty_weights():
        if library == "diffusers":
            model_class = getattr(diffusers, class_name)
            return model_class.from_config(model_class.load_config(folder / component))
        model_class = getattr(transformers, class_name)
        return model_class(model_class.config_class.from_pretrained(folder / component))


@pytest.mark.parametrize("arch", ["sd1", "sd2", "sdxl"])
def test_components_have_the_published_parameter_counts(arch: str) -> None:
    """UNet, VAE and text encoders built from the shipped configs are exactly the published models' size."""
    folder = CONFIGS / arch
    assert {component: count(build(folder, component)) for component in PUBLISHED[arch]} == PUBLISHED[arch]


@pytest.mark.parametrize(("arch", "size"), [("sd1", 512), ("sd2", 768), ("sdxl", 1024)])
def test_components_fit_together_at_native_size(arch: str, size: int) -> None:
    """On the meta device (shapes only), text features feed the UNet's cross-attention (SDXL: both encoders'
    hidden states plus the pooled projection and six time ids), and the VAE decodes its output to size x size."""
    import torch

    folder, meta = CONFIGS / arch, torch.device("meta")
    ids = torch.zeros(1, 77, dtype=torch.long, device=meta)
    latents = torch.zeros(1, 4, size // 8, size // 8, device=meta)
    with torch.no_grad():
        context = build(folder, "text_encoder")(ids, output_hidden_states=True).hidden_states[-2]
        extra: dict[str, Any] = {}
        if arch == "sdxl":
            second = build(folder, "text_encoder_2")(ids, output_hidden_states=True)
            context = torch.cat([context, second.hidden_states[-2]], dim=-1)
            extra = {
                "added_cond_kwargs": {"text_embeds": second.text_embeds, "time_ids": torch.zeros(1, 6, device=meta)}
            }
        noise = build(folder, "unet")(latents, torch.tensor([999], device=meta), context, **extra).sample
        image = build(folder, "vae").decode(noise).sample
    assert noise.shape == latents.shape and image.shape == (1, 3, size, size)


def test_text_encoder_counts_follow_from_their_shapes() -> None:
    """CLIP-L (12 x 768), SD2's OpenCLIP-H (23 of 24 x 1024) and OpenCLIP-bigG (32 x 1280, projection)."""
    assert clip_text_parameters(768, 12) == PUBLISHED["sd1"]["text_encoder"]
    assert clip_text_parameters(1024, 23) == PUBLISHED["sd2"]["text_encoder"]
    assert clip_text_parameters(1280, 32, projection=1280) == PUBLISHED["sdxl"]["text_encoder_2"]


@pytest.mark.parametrize(
    ("arch", "component", "pad"),
    [
        ("sd1", "tokenizer", "<|endoftext|>"),
        ("sd2", "tokenizer", "!"),
        ("sdxl", "tokenizer", "<|endoftext|>"),
        ("sdxl", "tokenizer_2", "!"),
    ],
)
def test_tokenizers_are_openai_clips_with_the_bases_padding(arch: str, component: str, pad: str) -> None:
    """Each shipped tokenizer gives CLIP's ids for "a photo of a cat", 77 positions and its base's pad token."""
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(CONFIGS / arch / component))
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert (tokenizer.model_max_length, tokenizer.pad_token, len(tokenizer)) == (77, pad, VOCAB)


@pytest.mark.parametrize(("arch", "prediction"), [("sd1", "epsilon"), ("sd2", "v_prediction"), ("sdxl", "epsilon")])
def test_schedulers_predict_what_the_base_was_trained_on(arch: str, prediction: str) -> None:
    """SD 2.x defaults to the 768-v model (v-prediction); SD1 and SDXL base predict noise."""
    config = json.loads((CONFIGS / arch / "scheduler" / "scheduler_config.json").read_text())
    assert config["prediction_type"] == prediction
    assert (config["beta_schedule"], config["beta_start"], config["beta_end"]) == ("scaled_linear", 0.00085, 0.012)


@pytest.mark.parametrize(
    ("arch", "scaling", "size"), [("sd1", 0.18215, 512), ("sd2", 0.18215, 768), ("sdxl", 0.13025, 1024)]
)
def test_latent_scaling_and_native_size(arch: str, scaling: float, size: int) -> None:
    """The VAE's latent scaling factor is the base's, and UNet sample size x 8 is its native resolution."""
    vae = json.loads((CONFIGS / arch / "vae" / "config.json").read_text())
    unet = json.loads((CONFIGS / arch / "unet" / "config.json").read_text())
    assert (vae["scaling_factor"], vae["force_upcast"]) == (scaling, True)
    assert unet["sample_size"] * 2 ** (len(vae["block_out_channels"]) - 1) == size


def test_every_component_named_in_model_index_has_its_files() -> None:
    """Each non-null component of each model_index.json has a config (or tokenizer vocabulary) folder."""
    missing = []
    for index in sorted(CONFIGS.glob("*/model_index.json")):
        for component, value in json.loads(index.read_text()).items():
            if isinstance(value, list) and value[0] is not None:
                wanted = {"tokenizer": "vocab.json", "scheduler": "scheduler_config.json"}
                name = next((file for prefix, file in wanted.items() if component.startswith(prefix)), "config.json")
                if not (index.parent / component / name).is_file():
                    missing.append(f"{index.parent.name}/{component}/{name}")
    assert missing == []
