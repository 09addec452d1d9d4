"""Score the bundled tiny model (models/checkpoints/atelier-tiny-v1.safetensors) automatically.

Renders a fixed set of prompts with fixed seeds through the worker's own loading and render path
(`workers.engine.load_pipeline` + `workers.render.render`; falls back to the loading contract + a plain pipeline
call if the engine is unavailable, and says so), then scores each picture against the generator's ground truth:
background colour, shape colour, shape (a small mask classifier trained here, seeded), position, on seen
combinations and on held-out ones separately; the LoRA's style with vs without its trigger word; the embedding's
concept; and seconds per 64x64 image at 20 steps on one CPU thread.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_bundled.py [--update-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atelier.samplers import DEFAULT_SAMPLER  # noqa: E402
from workers.training import data, pipeline, scoring, styles  # noqa: E402

CHECKPOINT = f"checkpoints/{pipeline.MODEL_NAME}.safetensors"
BEGIN, END = "<!-- eval_bundled:begin -->", "<!-- eval_bundled:end -->"

Renderer = Callable[[str, int], np.ndarray]


@dataclass(frozen=True)
class Case:
    prompt: str
    seed: int
    spec: data.Spec
    checks_position: bool


def seen_cases(count: int = 96) -> list[Case]:
    rng = random.Random("eval-seen")
    cases = []
    for i in range(count):
        spec = data.random_spec(rng)
        full = i % 2 == 0
        prompt = data.caption(spec, with_size=full, with_position=full)
        cases.append(Case(prompt, 1000 + i, spec, full))
    return cases


def held_out_cases() -> list[Case]:
    cases = []
    for i, (colour, shape, bg) in enumerate(sorted(data.held_out_combos())):
        spec = data.Spec(shape, colour, bg, "large", "center")
        cases.append(Case(data.caption(spec, with_size=False, with_position=False), 2000 + i, spec, False))
    return cases


def make_renderer(models_dir: Path, steps: int, cfg: float, sampler: str) -> tuple[Renderer, object, str]:
    try:
        from atelier.recipe import Recipe
        from workers import engine
        from workers import render as render_module

        pipe = engine.load_pipeline(models_dir / CHECKPOINT, models_dir, "cpu")

        def render(prompt: str, seed: int) -> np.ndarray:
            recipe = Recipe(
                prompt=prompt, sampler=sampler, steps=steps, cfg_scale=cfg, width=64, height=64, seed=seed, count=1
            )
            return np.asarray(render_module.render(pipe, recipe)[0].convert("RGB"))

        return render, pipe, "workers.engine.load_pipeline + workers.render.render"
    except (ImportError, AttributeError) as exc:  # engine missing or its API changed: use the contract directly
        pipe = pipeline.load_single_file(models_dir / CHECKPOINT, models_dir / "configs" / pipeline.MODEL_NAME)
        pipe.set_progress_bar_config(disable=True)

        def render(prompt: str, seed: int) -> np.ndarray:
            out = pipe(
                prompt,
                num_inference_steps=steps,
                guidance_scale=cfg,
                height=64,
                width=64,
                generator=torch.Generator("cpu").manual_seed(seed),
            )
            return np.asarray(out.images[0].convert("RGB"))

        return render, pipe, f"StableDiffusionPipeline.from_single_file directly (engine unavailable: {exc})"


def vae_round_trip(pipe: object, images: list[np.ndarray]) -> list[np.ndarray]:
    """The pictures through the checkpoint's own VAE: scoring these tells the VAE's losses from the UNet's."""
    return scoring.vae_round_trip(pipe.vae, images)  # type: ignore[attr-defined]


def score(cases: list[Case], images: list[np.ndarray], classifier: scoring.ShapeClassifier) -> dict[str, float]:
    shapes = classifier.predict(images)
    bg = [scoring.background(im)[0] == c.spec.background for im, c in zip(images, cases, strict=True)]
    colour = [scoring.shape_colour(im) == c.spec.colour for im, c in zip(images, cases, strict=True)]
    shape = [p == c.spec.shape for p, c in zip(shapes, cases, strict=True)]
    pos = [scoring.position(im) == c.spec.position for im, c in zip(images, cases, strict=True) if c.checks_position]
    every = [a and b and s for a, b, s in zip(bg, colour, shape, strict=True)]
    result = {
        "n": len(cases),
        "background": np.mean(bg),
        "shape_colour": np.mean(colour),
        "shape": np.mean(shape),
        "all_three": np.mean(every),
    }
    if pos:
        result["position"] = np.mean(pos)
    return {k: v if k == "n" else round(float(v), 3) for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument(
        "--sampler", default=DEFAULT_SAMPLER, help="A1111 name, schedule 'Automatic' (default: what /draw uses)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    parser.add_argument("--save-grid", type=Path, default=None, help="PNG of the first 48 seen renders")
    parser.add_argument("--quick", action="store_true", help="a handful of prompts: checks the script, not the model")
    parser.add_argument("--seen", type=int, default=None, help="score only the first N seen prompts (a quick look)")
    parser.add_argument("--update-docs", action="store_true", help="write scores into MODEL_CARD.md / RESULTS.md")
    args = parser.parse_args()
    if args.update_docs and (args.quick or args.seen):
        parser.error("--update-docs records the full evaluation; drop --quick and --seen")
    torch.set_num_threads(1)
    started = time.time()

    n_seen, n_held, n_lora, n_emb = (8, 4, 4, 3) if args.quick else (96, 1000, 20, 10)
    n_seen = args.seen or n_seen
    render, pipe, path = make_renderer(args.models_dir, args.steps, args.cfg, args.sampler)
    # Shapes as this checkpoint's VAE draws them (rounded corners, softened points), so that a square the
    # UNet drew well is not called a circle for the VAE's softening.
    classifier = scoring.train_shape_classifier(
        count=300 if args.quick else 2000,
        steps=30 if args.quick else 300,
        round_trip=lambda images: vae_round_trip(pipe, images),
    )
    print(f"render path: {path}")
    print(f"settings: {args.sampler}, {args.steps} steps, CFG {args.cfg}, 64x64, 1 CPU thread")

    timings, cpu_timings = [], []
    for case in seen_cases()[: 3 if args.quick else 6]:
        t0, c0 = time.perf_counter(), time.process_time()
        render(case.prompt, case.seed)
        timings.append(time.perf_counter() - t0)
        cpu_timings.append(time.process_time() - c0)
    seconds_per_image = float(np.median(timings[1:]))  # first call pays one-off warm-up
    cpu_seconds_per_image = float(np.median(cpu_timings[1:]))  # excludes waiting for a busy machine

    results: dict[str, object] = {
        "settings": f"{args.sampler}, {args.steps} steps, CFG {args.cfg}",
        "render_path": path,
        "seconds_per_image_1_thread": round(seconds_per_image, 3),
        "cpu_seconds_per_image_1_thread": round(cpu_seconds_per_image, 3),
        # How busy the machine was while timing (the evaluation itself adds about 1): time per image is only
        # comparable between runs on an otherwise idle machine.
        "load_average_when_timed": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "shape_classifier_accuracy_on_ground_truth": classifier.accuracy_on_ground_truth,
        "shape_classifier_accuracy_on_vae_round_trips": classifier.accuracy_on_round_trips,
    }
    for name, cases in (("seen", seen_cases(n_seen)), ("held_out", held_out_cases()[:n_held])):
        images = [render(c.prompt, c.seed) for c in cases]
        results[name] = score(cases, images, classifier)
        truths = [data.render(c.spec) for c in cases]
        results[f"{name}_ground_truth_ceiling"] = score(cases, truths, classifier)
        results[f"{name}_vae_round_trip_ceiling"] = score(cases, vae_round_trip(pipe, truths), classifier)
        if name == "seen" and args.save_grid:
            from PIL import Image

            rows = [np.concatenate(images[r * 8 : r * 8 + 8], axis=1) for r in range(len(images) // 8)]
            Image.fromarray(np.concatenate(rows, axis=0)).save(args.save_grid)

    lora_path = args.models_dir / "loras" / styles.LORA_FILE
    if lora_path.exists():
        cases = seen_cases(n_lora)
        pipe.load_lora_weights(str(lora_path))  # type: ignore[attr-defined]
        with_tag = [scoring.stripe_score(render(f"{styles.LORA_TRIGGER}, {c.prompt}", c.seed)) for c in cases]
        without = [render(c.prompt, c.seed) for c in cases]
        pipe.unload_lora_weights()  # type: ignore[attr-defined]
        base_with_tag = [scoring.stripe_score(render(f"{styles.LORA_TRIGGER}, {c.prompt}", c.seed)) for c in cases]
        results["lora"] = {
            "n": len(cases),
            "striped_with_tag": round(float(np.mean([s > scoring.STRIPE_THRESHOLD for s in with_tag])), 3),
            "striped_without_tag": round(
                float(np.mean([scoring.stripe_score(im) > scoring.STRIPE_THRESHOLD for im in without])), 3
            ),
            "striped_base_model_with_tag": round(
                float(np.mean([s > scoring.STRIPE_THRESHOLD for s in base_with_tag])), 3
            ),
            "without_tag_scores": score(cases, without, classifier),
            "striped_ground_truth_ceiling": round(
                float(
                    np.mean(
                        [
                            scoring.stripe_score(data.render(data.with_style(c.spec, striped=True)))
                            > scoring.STRIPE_THRESHOLD
                            for c in cases
                        ]
                    )
                ),
                3,
            ),
        }

    emb_path = args.models_dir / "embeddings" / styles.EMBEDDING_FILE
    if emb_path.exists():
        pipe.load_textual_inversion(str(emb_path), token=styles.EMBEDDING_TOKEN)  # type: ignore[attr-defined]
        backgrounds = [c for c in data.COLOURS if c != styles.EMBEDDING_COLOUR]
        images = [
            render(f"a {styles.EMBEDDING_TOKEN} on a {bg} background", 3000 + i)
            for i, bg in enumerate((backgrounds * 2)[:n_emb])
        ]
        shapes = classifier.predict(images)
        hits = [
            scoring.shape_colour(im) == styles.EMBEDDING_COLOUR and s == styles.EMBEDDING_SHAPE
            for im, s in zip(images, shapes, strict=True)
        ]
        yellow = [scoring.shape_colour(im) == styles.EMBEDDING_COLOUR for im in images]
        results["embedding"] = {
            "n": len(images),
            "yellow_circle": round(float(np.mean(hits)), 3),
            "yellow_shape": round(float(np.mean(yellow)), 3),
        }
        pipe.unload_textual_inversion()  # type: ignore[attr-defined]

    results["eval_seconds"] = round(time.time() - started, 1)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.update_docs:
        update_docs(results)


def _pct(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, float) else "n/a"


def _table(results: dict[str, object]) -> str:
    lines = ["| set | n | background | shape colour | shape | all three | position |", "|---|---|---|---|---|---|---|"]
    for name in (
        "seen",
        "held_out",
        "seen_vae_round_trip_ceiling",
        "held_out_vae_round_trip_ceiling",
        "seen_ground_truth_ceiling",
        "held_out_ground_truth_ceiling",
    ):
        r = results.get(name)
        if isinstance(r, dict):
            cells = [_pct(r.get(k)) for k in ("background", "shape_colour", "shape", "all_three", "position")]
            lines.append(f"| {name} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _targets(results: dict[str, object]) -> str:
    """The issue's acceptance targets, each marked met or missed."""
    seen = results.get("seen", {})
    lora = results.get("lora", {})
    assert isinstance(seen, dict) and isinstance(lora, dict)
    checks = [
        ("background >= 95%", seen.get("background", 0) >= 0.95),
        ("shape colour >= 90%", seen.get("shape_colour", 0) >= 0.90),
        ("shape >= 80%", seen.get("shape", 0) >= 0.80),
        ("LoRA style >= 90% with tag", lora.get("striped_with_tag", 0) >= 0.90),
        ("LoRA style <= 10% without tag", lora.get("striped_without_tag", 1) <= 0.10),
        ("<= 1 s per image", float(results["seconds_per_image_1_thread"]) <= 1.0),  # type: ignore[arg-type]
    ]
    return "Targets: " + "; ".join(f"{name} {'met' if ok else '**missed**'}" for name, ok in checks) + "."


def render_section(results: dict[str, object]) -> str:
    lora = results.get("lora", {})
    emb = results.get("embedding", {})
    assert isinstance(lora, dict) and isinstance(emb, dict)
    parts = [
        BEGIN,
        f"Measured by `bench/eval_bundled.py` ({results['settings']}, 64x64; render path: {results['render_path']}).",
        "",
        _table(results),
        "",
        _targets(results),
        "",
        f"- LoRA `{styles.LORA_FILE}`: striped with the trigger `{styles.LORA_TRIGGER}` "
        f"{lora.get('striped_with_tag', float('nan')):.0%}, "
        f"without it {lora.get('striped_without_tag', float('nan')):.0%}"
        f" (base model with the trigger word but no LoRA: {lora.get('striped_base_model_with_tag', float('nan')):.0%};"
        f" n={lora.get('n')} each). With the LoRA loaded and no trigger, backgrounds are right in "
        f"{_pct(lora.get('without_tag_scores', {}).get('background'))} of prompts (100% without the LoRA).",
        f"- Embedding `{styles.EMBEDDING_FILE}`: `a {styles.EMBEDDING_TOKEN} on a <colour> background` gives a yellow"
        f" circle in {emb.get('yellow_circle', float('nan')):.0%} of n={emb.get('n')} (yellow shape, any form:"
        f" {emb.get('yellow_shape', float('nan')):.0%}).",
        f"- Time per image, 20 steps, 1 CPU thread: {results['seconds_per_image_1_thread']} s wall clock, "
        f"{results['cpu_seconds_per_image_1_thread']} s of CPU time (load average {results['load_average_when_timed']}"
        f" on {results['cpu_count']} cores when timed; the evaluation itself adds about 1).",
        "- Shape classifier (trained on generated pictures, half of them through this checkpoint's VAE) accuracy"
        f" on fresh ground-truth renders: {results['shape_classifier_accuracy_on_ground_truth']:.0%}; on fresh"
        f" pictures after the VAE's round trip: {_pct(results.get('shape_classifier_accuracy_on_vae_round_trips'))}.",
        END,
    ]
    return "\n".join(parts)


def _replace_section(path: Path, section: str, heading: str) -> None:
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + ("\n\n" if text else "") + heading + "\n\n" + section + "\n"
    path.write_text(text)


def update_docs(results: dict[str, object]) -> None:
    section = render_section(results)
    _replace_section(ROOT / "models" / "MODEL_CARD.md", section, "## Measured scores")
    _replace_section(ROOT / "bench" / "RESULTS.md", section, "## Bundled tiny model (bench/eval_bundled.py)")


if __name__ == "__main__":
    main()
