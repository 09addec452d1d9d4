"""Render throughput on a GPU: the worker engine against a plain diffusers loop, on the same jobs.

For SD1.5 (512x512) and SDXL (1024x1024), 20 steps, CFG 7, "Euler a", fp16, it renders the same
8 txt2img jobs (different prompts and seeds) three ways and prints images/s for each:

- (a) plain: `pipe(prompt, num_inference_steps, guidance_scale, height, width, generator)` one job at a
  time, on a `StableDiffusionPipeline` / `StableDiffusionXLPipeline` left as diffusers makes it;
- (b) engine: `workers.render.render`, one job at a time (A1111 prompt encoding, batch-invariant UNet);
- (c) batched: `workers.batching.render_batch` over all jobs (SDXL renders them one by one there),

with the ratios (b)/(a) and (c)/(a), the peak GPU memory of each variant, and whether (c)'s images
equal (b)'s bit for bit. Rounds alternate between the variants so clock and thermal drift hit all of
them alike; medians are printed. A header names the GPU, the torch/diffusers versions and the dtype.

The models are built from the shipped config folders (`models/configs/sd1`, `models/configs/sdxl`) with
random weights: the configs fix every tensor shape and kernel, so the compute per step, and the speed,
do not depend on the weight values, and no checkpoint has to be downloaded (everything stays offline).
The images themselves are noise; only their equality between (b) and (c) is checked.

On the device machine (a CUDA build of torch in the environment):

    python bench/render_gpu.py --arch both --json "$OUT/render_gpu.json"

A CPU smoke check with tiny settings (fp32):

    OMP_NUM_THREADS=1 .venv/bin/python bench/render_gpu.py --arch sd1 --device cpu \\
        --size 64 --steps 2 --jobs 2 --rounds 1
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["HF_HUB_OFFLINE"] = "1"  # before diffusers/transformers are imported: never download

import diffusers  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402

from atelier.recipe import Recipe  # noqa: E402
from workers.batch_invariance import invariant_batch_images, make_timestep_path_batch_invariant  # noqa: E402
from workers.batching import render_batch  # noqa: E402
from workers.engine import pick_device, scheduler_for  # noqa: E402
from workers.render import render  # noqa: E402

CONFIGS = REPO / "models" / "configs"
DEFAULT_SIZE = {"sd1": 512, "sdxl": 1024}
SAMPLER = "Euler a"
# Arguments each pipeline class needs beyond its components: no safety checker for SD1 (the worker loads
# it without one), no watermark for SDXL (the worker environment has no invisible-watermark package).
PIPELINE_EXTRAS: dict[str, dict[str, Any]] = {
    "sd1": {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False},
    "sdxl": {"feature_extractor": None, "add_watermarker": False},
}
SUBJECTS = ("a lighthouse", "a red fox", "a bowl of ramen", "an old sailing ship")
STYLES = ("at dawn, oil painting", "in the rain, photograph", "on a snowy hill, watercolour", "at night, neon light")
VARIANTS = {
    "plain": "(a) plain diffusers loop",
    "engine": "(b) worker engine, one by one",
    "batched": "(c) worker engine, render_batch",
}
GIB = 1024**3

Variant = Callable[[], list[Image.Image]]


def parse_args() -> argparse.Namespace:
    """The defaults are the issue's setting: both architectures at native size, 20 steps, CFG 7, 8 jobs."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=("sd1", "sdxl", "both"), default="both")
    parser.add_argument("--size", type=int, default=None, help="width = height (default: 512 sd1, 1024 sdxl)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--dtype", choices=("fp16", "fp32"), default=None, help="default: fp16 on cuda, fp32 on cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    return parser.parse_args()


def resolve_dtype(requested: str | None, device: str) -> torch.dtype:
    """fp16 on CUDA as the worker loads checkpoints there (`workers.engine.load_pipeline`); fp32 on CPU,
    where half-precision kernels are slow or missing."""
    name = requested or ("fp16" if device.startswith("cuda") else "fp32")
    return torch.float16 if name == "fp16" else torch.float32


def build_components(folder: Path, device: str, dtype: torch.dtype) -> dict[str, Any]:
    """Every component that model_index.json names, built from its config with random weights.

    Models are created directly on `device` (a 2.6B-parameter UNet initialises in seconds on a GPU, minutes
    on a CPU) and cast to `dtype`; tokenizers and the scheduler load from their files, offline."""
    index = json.loads((folder / "model_index.json").read_text())
    components: dict[str, Any] = {}
    for name, entry in index.items():
        if name.startswith("_") or not isinstance(entry, list) or None in entry:
            continue
        library, class_name = entry
        component_class = getattr(importlib.import_module(library), class_name)
        path = folder / name
        if issubclass(component_class, diffusers.ModelMixin):
            with torch.device(device):
                model = component_class.from_config(component_class.load_config(path))
        elif issubclass(component_class, transformers.PreTrainedModel):
            with torch.device(device):
                model = component_class(component_class.config_class.from_pretrained(path))
        else:  # tokenizer or scheduler: small files shipped with the config
            components[name] = component_class.from_pretrained(path, local_files_only=True)
            continue
        components[name] = model.to(dtype=dtype).eval().requires_grad_(False)
    return components


def assemble(arch: str, components: dict[str, Any]) -> Any:
    """A pipeline over the given components; several pipelines can share the same modules (no copies)."""
    pipeline_class = diffusers.StableDiffusionXLPipeline if arch == "sdxl" else diffusers.StableDiffusionPipeline
    pipe = pipeline_class(**components, **PIPELINE_EXTRAS[arch])
    pipe.set_progress_bar_config(disable=True)
    return pipe


@contextmanager
def diffusers_own_forwards(module: torch.nn.Module) -> Iterator[None]:
    """Run the plain variant on diffusers' own UNet code, though it shares the UNet with the engine.

    `make_timestep_path_batch_invariant` replaces `forward` on module instances (the time embedding and each
    `time_emb_proj`); lifting those instance attributes falls back to the class's forward, and they are put
    back afterwards. This keeps one copy of the weights, which SDXL in fp32 on a small machine needs."""
    patched = {child: child.__dict__.pop("forward") for child in module.modules() if "forward" in child.__dict__}
    try:
        yield
    finally:
        for child, forward in patched.items():
            child.forward = forward


def make_jobs(count: int, size: int, steps: int, cfg: float) -> list[Recipe]:
    """Compatible jobs (one batch key) with their own prompts and seeds, as several members would submit."""
    prompts = [f"{subject} {style}" for style in STYLES for subject in SUBJECTS]
    return [
        Recipe(
            prompt=prompts[i % len(prompts)] + (f", study {i // len(prompts)}" if i >= len(prompts) else ""),
            seed=1000 + 7 * i,
            steps=steps,
            width=size,
            height=size,
            sampler=SAMPLER,
            cfg_scale=cfg,
        )
        for i in range(count)
    ]


def plain_loop(pipe: Any, jobs: Sequence[Recipe]) -> list[Image.Image]:
    """Variant (a): what a script calling diffusers directly does, one job per call, noise from a CPU
    generator as the worker draws it."""
    images: list[Image.Image] = []
    with diffusers_own_forwards(pipe.unet):
        for job in jobs:
            output = pipe(
                job.prompt,
                num_inference_steps=job.steps,
                guidance_scale=job.cfg_scale,
                height=job.height,
                width=job.width,
                generator=torch.Generator("cpu").manual_seed(job.seed),
            )
            images.append(output.images[0])
    return images


def engine_one_by_one(pipe: Any, jobs: Sequence[Recipe]) -> list[Image.Image]:
    """Variant (b): the worker's render path, one job per call."""
    return [render(pipe, job)[0] for job in jobs]


def engine_batched(pipe: Any, jobs: Sequence[Recipe]) -> list[Image.Image]:
    """Variant (c): the worker's cross-member batching, all jobs in one call."""
    return [images[0] for images in render_batch(pipe, jobs)]


def synchronize(device: str) -> None:
    """CUDA runs asynchronously: wait for queued kernels so a timing covers the work it started."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(run: Variant, device: str) -> tuple[float, list[Image.Image], float | None]:
    """Seconds, images and peak GPU memory (GiB, None off CUDA) of one call; the peak counter is reset first
    so each variant's peak is its own."""
    synchronize(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    images = run()
    synchronize(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / GIB if device.startswith("cuda") else None
    return seconds, images, peak


def same_pixels(first: Sequence[Image.Image], second: Sequence[Image.Image]) -> bool:
    """Equal bytes, not "close": batching promises each job exactly the image it gets alone."""
    return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, second, strict=True))


def non_uniform(images: Sequence[Image.Image]) -> int:
    """How many images hold more than one colour: fp16 overflow to NaN in random weights would give flat
    images, which would make the bit-identity check trivially true."""
    return sum(int(np.ptp(np.asarray(image)) > 0) for image in images)


def bench_arch(arch: str, args: argparse.Namespace, device: str, dtype: torch.dtype) -> dict[str, Any]:
    """Build one architecture, warm every variant up once, then time `rounds` alternating rounds."""
    size = args.size or DEFAULT_SIZE[arch]
    started = time.perf_counter()
    components = build_components(CONFIGS / arch, device, dtype)
    synchronize(device)
    build_seconds = time.perf_counter() - started
    engine = assemble(arch, components)
    make_timestep_path_batch_invariant(engine.unet)  # as workers.engine.load_pipeline does
    plain = assemble(arch, {**components, "scheduler": scheduler_for(components["scheduler"].config, SAMPLER)})
    jobs = make_jobs(args.jobs, size, args.steps, args.cfg)
    variants: dict[str, Variant] = {
        "plain": lambda: plain_loop(plain, jobs),
        "engine": lambda: engine_one_by_one(engine, jobs),
        "batched": lambda: engine_batched(engine, jobs),
    }
    plain_loop(plain, jobs[:1])  # warm-up: first-call allocations, kernel selection
    engine_one_by_one(engine, jobs[:1])
    engine_batched(engine, jobs)  # all jobs: also runs the batch-size probe once, as a worker's first batch does
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    peaks: dict[str, float | None] = dict.fromkeys(variants)
    identical, varied = True, len(jobs)
    for _ in range(args.rounds):
        images: dict[str, list[Image.Image]] = {}
        for name, run in variants.items():
            elapsed, images[name], peak = measure(run, device)
            seconds[name].append(elapsed)
            if peak is not None:
                peaks[name] = max(peak, peaks[name] or 0.0)
        identical &= same_pixels(images["engine"], images["batched"])
        varied = min(varied, non_uniform(images["engine"]))
    throughput = {name: len(jobs) / statistics.median(values) for name, values in seconds.items()}
    result = {
        "arch": arch,
        "size": size,
        "steps": args.steps,
        "cfg": args.cfg,
        "sampler": SAMPLER,
        "jobs": len(jobs),
        "rounds": args.rounds,
        "build_seconds": build_seconds,
        "batch_limit": invariant_batch_images(engine, len(jobs), size),
        "variants": {
            name: {
                "seconds": values,
                "median_seconds": statistics.median(values),
                "images_per_second": throughput[name],
                "peak_gib": peaks[name],
            }
            for name, values in seconds.items()
        },
        "engine_over_plain": throughput["engine"] / throughput["plain"],
        "batched_over_plain": throughput["batched"] / throughput["plain"],
        "batched_bit_identical": identical,
        "non_uniform_images": varied,
    }
    return result


def release(device: str) -> None:
    """Free one architecture's weights before the next is built (SD1.5 and SDXL need not fit together)."""
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def hardware(device: str, dtype: torch.dtype) -> dict[str, Any]:
    """What the numbers were measured on and with, for the header and the JSON."""
    if device.startswith("cuda"):
        name = f"{torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    else:
        name = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s)"
    return {
        "device": name,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "dtype": str(dtype).removeprefix("torch."),
    }


def report(result: dict[str, Any]) -> None:
    """One block per architecture: the three variants side by side, the ratios, the identity check."""
    size = result["size"]
    print(
        f"== {result['arch']} {size}x{size}, {result['steps']} steps, CFG {result['cfg']}, {result['sampler']}, "
        f"{result['jobs']} jobs, {result['rounds']} round(s), medians; built in {result['build_seconds']:.1f} s"
    )
    for name, label in VARIANTS.items():
        numbers = result["variants"][name]
        peak = "" if numbers["peak_gib"] is None else f", peak {numbers['peak_gib']:.2f} GiB"
        print(f"  {label:<34} {numbers['median_seconds']:8.3f} s  {numbers['images_per_second']:7.3f} img/s{peak}")
    print(f"  ratios: (b)/(a) {result['engine_over_plain']:.3f}x, (c)/(a) {result['batched_over_plain']:.3f}x")
    together = "SDXL renders one by one in render_batch" if result["arch"] == "sdxl" else "batch-invariance probe"
    print(
        f"  (c) images bit-identical to (b): {result['batched_bit_identical']} "
        f"({result['non_uniform_images']}/{result['jobs']} images non-uniform; "
        f"up to {result['batch_limit']} image(s) per call: {together})"
    )


def main() -> None:
    args = parse_args()
    device = pick_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    header = hardware(device, dtype)
    print(
        f"render_gpu: {header['device']} | torch {header['torch']}, diffusers {header['diffusers']}, "
        f"transformers {header['transformers']} | {header['dtype']} | random weights from models/configs"
    )
    archs = ["sd1", "sdxl"] if args.arch == "both" else [args.arch]
    results = []
    for arch in archs:
        results.append(bench_arch(arch, args, device, dtype))
        release(device)  # the pipelines went out of scope with bench_arch
        report(results[-1])
    if args.json is not None:
        args.json.write_text(json.dumps({"hardware": header, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
