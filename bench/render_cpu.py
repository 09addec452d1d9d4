"""Render-side speeds on CPU with the bundled model, measured side by side in one run.

- per-image latency (txt2img, 20 steps, 64x64) through `workers.render.render`;
- 8 compatible jobs: sequential renders vs one batched call (`workers.batching.render_batch`), with
  a check that the batched images equal the sequential ones bit for bit;
- cold load of the checkpoint (from disk) vs a warm hit in the worker's pipeline cache;
- LoRA load + unload around a job (`workers.networks.networks_applied`).

Rounds alternate between the compared variants so background load hits both alike; medians are
printed. Usage: .venv/bin/python bench/render_cpu.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODELS = REPO / "models"
CHECKPOINT = "checkpoints/atelier-tiny-v1.safetensors"
LORA = MODELS / "loras" / "atelier-stripes-v1.safetensors"


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    import torch

    from atelier.recipe import LoraUse, Recipe
    from workers.batching import render_batch
    from workers.engine import load_pipeline
    from workers.model_cache import PipelineCache
    from workers.networks import networks_applied
    from workers.render import render

    torch.set_num_threads(args.threads)
    cache = PipelineCache(MODELS, "cpu")
    pipe = cache.get(CHECKPOINT)
    shared = {"steps": 20, "width": 64, "height": 64, "sampler": "Euler a"}
    prompts = [
        f"a {c} circle on a {b} background" for c in ("red", "green", "yellow", "purple") for b in ("blue", "white")
    ]
    jobs = [Recipe(prompt=prompt, seed=seed, **shared) for seed, prompt in enumerate(prompts)]
    render(pipe, jobs[0])  # warm-up: first-call allocations

    single, sequential, batched = [], [], []
    identical = True
    for _ in range(args.rounds):
        single.append(timed(lambda: render(pipe, jobs[0])))
        started = time.perf_counter()
        alone = [render(pipe, job)[0] for job in jobs]
        sequential.append(time.perf_counter() - started)
        started = time.perf_counter()
        together = [images[0] for images in render_batch(pipe, jobs)]
        batched.append(time.perf_counter() - started)
        identical &= all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(alone, together, strict=True))

    cold, warm = [], []
    for _ in range(args.rounds):
        cold.append(timed(lambda: load_pipeline(MODELS / CHECKPOINT, MODELS, "cpu")))
        warm.append(timed(lambda: cache.get(CHECKPOINT)))

    with_lora = Recipe(
        prompt="a red circle on a blue background, atelierstripes", loras=(LoraUse("stripes"),), **shared
    )
    files = {("lora", "stripes"): LORA}
    lora_cycle = []
    for _ in range(args.rounds):

        def apply_and_remove() -> None:
            with networks_applied(pipe, with_lora, files):
                pass

        lora_cycle.append(timed(apply_and_remove))

    median = statistics.median
    seq, bat = median(sequential), median(batched)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} rounds, medians")
    print(f"per image (20 steps, 64x64): {median(single) * 1000:.0f} ms")
    print(f"8 jobs sequential: {seq:.3f} s ({8 / seq:.2f} img/s); batched: {bat:.3f} s ({8 / bat:.2f} img/s)")
    print(f"batched/sequential throughput: {seq / bat:.2f}x; images bit-identical: {identical}")
    print(f"checkpoint cold load: {median(cold) * 1000:.0f} ms; warm cache hit: {median(warm) * 1000:.3f} ms")
    print(f"LoRA load + unload: {median(lora_cycle) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
