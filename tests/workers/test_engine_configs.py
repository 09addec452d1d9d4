"""Loading members' single-file checkpoints by base architecture: the config folder is the checkpoint's own
or the one shipped for its base, and the pipeline class follows the base (SDXL's for SDXL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.helpers.ldm_checkpoints import write_single_file
from tests.helpers.model_files import kohya_lora, sdxl_checkpoint
from workers.engine import ModelNotLoadable, config_dir_for, load_pipeline
from workers.model_cache import PipelineCache

SHIPPED = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Per base, a store whose only config folder is `configs/<base>/` and a member's checkpoint that has
    no folder of its own, with the diffusers pipeline its weights came from."""
    built = {}
    for arch in ("sd1", "sd2", "sdxl"):
        store = tmp_path_factory.mktemp(f"store-{arch}")
        checkpoint = store / "checkpoints" / f"member-{arch}.safetensors"
        source = write_single_file(arch, checkpoint, store / "configs" / arch, tmp_path_factory.mktemp("scratch"))
        built[arch] = (checkpoint, source)
    return built


def same_weights(loaded: Any, source: Any) -> bool:
    expected, found = source.state_dict(), loaded.state_dict()
    return expected.keys() == found.keys() and all(torch.equal(expected[k], found[k]) for k in expected)


def test_a_checkpoints_own_folder_comes_first(tmp_path: Path) -> None:
    """configs/<stem>/ wins over the base's folder when both exist."""
    for name in ("mine", "sdxl"):
        (tmp_path / "configs" / name).mkdir(parents=True)
        (tmp_path / "configs" / name / "model_index.json").write_text("{}")
    found = config_dir_for(tmp_path, tmp_path / "checkpoints" / "mine.safetensors", base_arch="sdxl")
    assert found == tmp_path / "configs" / "mine"


@pytest.mark.parametrize("arch", ["sd1", "sd2", "sdxl"])
def test_without_its_own_folder_a_checkpoint_gets_the_shipped_one_for_its_base(arch: str) -> None:
    """A member's checkpoint with no configs/<stem>/ resolves to the shipped configs/<base>/."""
    found = config_dir_for(SHIPPED, SHIPPED / "checkpoints" / "juggernaut.safetensors", base_arch=arch)
    assert found == SHIPPED / "configs" / arch


def test_the_default_base_is_sd1() -> None:
    """Callers that pass no base (the old two-argument call) still get the SD1 folder."""
    assert config_dir_for(SHIPPED, Path("dreamshaper.safetensors")) == SHIPPED / "configs" / "sd1"


def test_no_folder_at_all_names_both_candidates(tmp_path: Path) -> None:
    """A store without either folder refuses the file, naming configs/<stem>/ and configs/<base>/."""
    with pytest.raises(ModelNotLoadable, match=r"expected xl/ or sdxl/ with model_index.json"):
        config_dir_for(tmp_path, tmp_path / "xl.safetensors", base_arch="sdxl")


@pytest.mark.parametrize(
    ("arch", "pipeline", "prediction"),
    [
        ("sd1", "StableDiffusionPipeline", "epsilon"),
        ("sd2", "StableDiffusionPipeline", "v_prediction"),
        ("sdxl", "StableDiffusionXLPipeline", "epsilon"),
    ],
)
def test_single_file_loads_as_its_base_with_every_weight_intact(
    stores: dict[str, tuple[Path, Any]], arch: str, pipeline: str, prediction: str
) -> None:
    """The A1111-layout file loads through the three-argument call: base read from its header, the
    base's pipeline class and config folder, each component's weights equal to the ones written."""
    checkpoint, source = stores[arch]
    pipe = load_pipeline(checkpoint, checkpoint.parents[1], "cpu")
    assert type(pipe).__name__ == pipeline and pipe.scheduler.config.prediction_type == prediction
    encoders = ["text_encoder", "text_encoder_2"] if arch == "sdxl" else ["text_encoder"]
    assert all(same_weights(getattr(pipe, name), getattr(source, name)) for name in ["unet", "vae", *encoders])


def test_the_model_cache_loads_an_sdxl_file_by_store_path(stores: dict[str, tuple[Path, Any]]) -> None:
    """PipelineCache.get(relative path) needs no base either, and the SDXL pipeline renders."""
    checkpoint, _ = stores["sdxl"]
    pipe: Any = PipelineCache(checkpoint.parents[1], "cpu").get("checkpoints/member-sdxl.safetensors")
    image = pipe("a red circle", num_inference_steps=2, height=64, width=64, output_type="np").images[0]
    assert image.shape == (64, 64, 3)


def test_a_given_base_is_used_without_reading_the_header(stores: dict[str, tuple[Path, Any]]) -> None:
    """An explicit base_arch (the registry's) picks the folder: told sd1, the SDXL file looks for configs/sd1/."""
    checkpoint, _ = stores["sdxl"]
    with pytest.raises(ModelNotLoadable, match="expected member-sdxl/ or sd1/"):
        load_pipeline(checkpoint, checkpoint.parents[1], "cpu", base_arch="sd1")


def test_a_file_that_is_no_checkpoint_is_not_loadable(tmp_path: Path) -> None:
    """A LoRA dropped into checkpoints/ is refused with the detector's reason, before diffusers sees it."""
    lora = kohya_lora(tmp_path / "checkpoints" / "ink.safetensors", 768)
    with pytest.raises(ModelNotLoadable, match=r"ink\.safetensors: looks like a LoRA, not a checkpoint"):
        load_pipeline(lora, tmp_path, "cpu")


def test_a_known_base_without_configs_says_which_folder_is_missing(tmp_path: Path) -> None:
    """An SDXL file in a store with no configs/sdxl/ names the folders it looked for."""
    checkpoint = sdxl_checkpoint(tmp_path / "checkpoints" / "xl.safetensors")
    with pytest.raises(ModelNotLoadable, match=r"expected xl/ or sdxl/"):
        load_pipeline(checkpoint, tmp_path, "cpu")


def test_a_diffusers_folder_loads_with_the_class_its_model_index_names(
    stores: dict[str, tuple[Path, Any]], tmp_path: Path
) -> None:
    """An SDXL pipeline saved in diffusers layout loads as StableDiffusionXLPipeline, weights intact."""
    _, source = stores["sdxl"]
    folder = tmp_path / "checkpoints" / "xl-diffusers"
    source.save_pretrained(folder)
    pipe = load_pipeline(folder, tmp_path, "cpu")
    assert type(pipe).__name__ == "StableDiffusionXLPipeline" and same_weights(pipe.unet, source.unet)


def test_a_diffusers_folder_of_another_pipeline_is_refused(tmp_path: Path) -> None:
    """model_index.json naming a pipeline the workers do not run is refused by name."""
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(ModelNotLoadable, match="pipeline class 'FluxPipeline'"):
        load_pipeline(folder, tmp_path, "cpu")
