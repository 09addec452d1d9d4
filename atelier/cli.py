"""The `atelier` command: run the whole system or one part of it, migrate, scan models, render.

Parts run as `python -m workers|gallery|bot` child processes, so this module never imports torch,
discord or fastapi itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from atelier.hashes import HashCache
from atelier.schema import ModelKind
from atelier.settings import Settings, get_settings

if TYPE_CHECKING:
    from atelier.services.operations import Status as StatusLike

app = typer.Typer(help="Atelier: a community's shared Stable Diffusion studio.", no_args_is_help=True)
models_app = typer.Typer(help="Manage the model store.", no_args_is_help=True)
app.add_typer(models_app, name="models")
prompt_app = typer.Typer(help="Check prompts before rendering.", no_args_is_help=True)
app.add_typer(prompt_app, name="prompt")
mod_app = typer.Typer(help="Moderation rules (as the machine's operator).", no_args_is_help=True)
app.add_typer(mod_app, name="mod")


def _exec_module(module: str, *args: str) -> None:
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def _hash_cache(settings: Settings) -> HashCache:
    return HashCache(settings.paths.data_dir / "hash-cache.json")


def _prepare(settings: Settings) -> None:
    """Migrate the database and register the store's checkpoints: every start needs both."""
    from atelier.db import migrate, session_scope
    from atelier.services.models import scan

    settings.paths.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    with session_scope(settings.database_url) as session:
        report = scan(
            session, settings.paths.models_dir, settings.render.default_checkpoint, hash_cache=_hash_cache(settings)
        )
    for line in report.refused:
        typer.echo(f"refused: {line}", err=True)


@app.command()
def up() -> None:
    """Start everything: embedded Redis (when no Redis URL is set), migrations, worker, gallery, bot."""
    from atelier.logging_setup import setup_logging
    from atelier.supervisor import Part, Supervisor, python_module

    settings = get_settings()
    setup_logging(settings)
    redis_process = None
    if not settings.redis.redis_url:
        from atelier.embedded import start_embedded_redis

        redis_process = start_embedded_redis(settings.paths.data_dir, settings.paths.embedded_redis_socket)
    try:
        _prepare(settings)
        parts = [Part("worker", python_module("workers")), Part("gallery", python_module("gallery"))]
        if settings.discord.discord_token:
            parts.append(Part("bot", python_module("bot")))
        else:
            typer.echo("atelier: no ATELIER_DISCORD_TOKEN set; the Discord bot stays off")
        typer.echo(f"atelier: gallery on http://{settings.web.gallery_host}:{settings.web.gallery_port}")
        code = Supervisor(parts, stop_grace_seconds=settings.render.shutdown_grace_seconds + 15).run()
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(10)
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run one render worker (Celery, solo pool, one job at a time: one per GPU)."""
    _prepare(get_settings())
    _exec_module("workers")


@app.command()
def gallery() -> None:
    """Run the web gallery."""
    _prepare(get_settings())
    _exec_module("gallery")


@app.command()
def bot() -> None:
    """Run the Discord bot (needs ATELIER_DISCORD_TOKEN)."""
    _prepare(get_settings())
    _exec_module("bot")


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from atelier.db import migrate as run_migrations

    run_migrations(get_settings().database_url)
    typer.echo("database is up to date")


@models_app.command("scan")
def models_scan() -> None:
    """Register new checkpoints, LoRAs, embeddings and VAEs found in the model store."""
    from atelier.db import migrate as run_migrations
    from atelier.db import session_scope
    from atelier.services.models import scan

    settings = get_settings()
    run_migrations(settings.database_url)
    with session_scope(settings.database_url) as session:
        report = scan(
            session, settings.paths.models_dir, settings.render.default_checkpoint, hash_cache=_hash_cache(settings)
        )
    typer.echo(json.dumps(report.__dict__, indent=2))


@models_app.command("import")
def models_import(
    path: Annotated[Path, typer.Argument(help="a .safetensors file or a diffusers folder")],
    kind: Annotated[ModelKind | None, typer.Option(help="default: detected from the file's keys")] = None,
    name: Annotated[str | None, typer.Option(help="registry name (default: the file or folder name)")] = None,
) -> None:
    """Copy (or hard-link) a model into the store and register it. Pickle files are refused unopened."""
    from atelier.db import migrate as run_migrations
    from atelier.db import session_scope
    from atelier.errors import ModelRefused
    from atelier.services.model_import import import_model, missing_config_note

    settings = get_settings()
    run_migrations(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            model = import_model(
                session, settings.paths.models_dir, path, kind=kind, name=name, hash_cache=_hash_cache(settings)
            )
            line = (
                f"imported {model.kind.value} {model.name!r} ({model.base_arch}) as "
                f"{settings.paths.models_dir / model.file_path}; AutoV2 {model.autov2}"
                + (f", AutoV3 {model.autov3}" if model.autov3 else "")
                + (f", trigger words: {', '.join(model.trigger_words)}" if model.trigger_words else "")
            )
            note = missing_config_note(settings.paths.models_dir, model)
    except ModelRefused as refused:
        typer.echo(f"refused: {refused.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(line)
    if note is not None:
        typer.echo(f"note: {note}", err=True)


@models_app.command("tokenizer")
def models_tokenizer(
    output_dir: Annotated[Path, typer.Argument(help="folder to write vocab.json, merges.txt and configs to")],
    bpe: Annotated[
        Path | None, typer.Option(help="the BPE .txt.gz or an open_clip_torch wheel (default: the installed one)")
    ] = None,
    pad_token: Annotated[str, typer.Option(help="'<|endoftext|>' for SD1, '!' for SD2 and SDXL's second encoder")] = (
        "<|endoftext|>"
    ),
) -> None:
    """Write the real CLIP tokenizer (49 408 tokens), built offline from open_clip's BPE file."""
    from atelier.clip_vocab import VocabularyNotFound, write_clip_tokenizer

    try:
        folder = write_clip_tokenizer(output_dir, bpe, pad_token=pad_token)
    except VocabularyNotFound as missing:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
        typer.echo(f"error: cannot write {output_dir}: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote the CLIP tokenizer to {folder}")


@app.command()
def sweep() -> None:
    """Re-enqueue lost jobs and fail jobs out of attempts, once."""
    from atelier import events
    from atelier.db import session_scope
    from atelier.services.jobs import sweep as run_sweep

    settings = get_settings()
    with session_scope(settings.database_url) as session:
        report = run_sweep(
            session, events.redis_client(settings.redis_url), settings, settings.render.max_render_seconds
        )
    typer.echo(f"requeued {report.requeued}, failed {report.failed}")


def _format_status(status: StatusLike) -> list[str]:
    jobs = ", ".join(f"{state} {count}" for state, count in status.jobs.items())
    lines = [f"jobs: {jobs}"]
    oldest = status.oldest_queued
    lines.append(
        f"oldest queued: job {oldest.job_id}, waiting {oldest.age_seconds:.0f} s" if oldest else "oldest queued: none"
    )
    lines.append("queued by checkpoint:" + ("" if status.queued_by_checkpoint else " none"))
    lines += [f"  {name}: {count}" for name, count in sorted(status.queued_by_checkpoint.items())]
    if status.redis_error is not None:
        lines.append(f"redis: unreachable ({status.redis_error}); broker queues and workers unknown")
        return lines
    lines.append("broker queues:")
    lines += [f"  {name}: {count}" for name, count in (status.broker_queues or {}).items()]
    workers = status.workers or {}
    lines.append(f"workers: {len(workers)} live" + (":" if workers else ""))
    lines += [f"  {name}: warm {', '.join(warm) or 'none'}" for name, warm in sorted(workers.items())]
    return lines


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object, for scripts")] = False,
) -> None:
    """Queue depth per checkpoint (database and broker), live workers and their warm checkpoints, jobs per
    state and the oldest waiting job. Exit 1 when Redis does not answer."""
    from atelier import events
    from atelier.db import session_scope
    from atelier.services.operations import gather_status

    settings = get_settings()
    client = events.redis_client(settings.redis_url)
    try:
        with session_scope(settings.database_url) as session:
            report = gather_status(session, client)
    finally:
        client.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        for line in _format_status(report):
            typer.echo(line)
    if report.redis_error is not None:
        raise typer.Exit(1)


@app.command()
def cancel(job_id: int) -> None:
    """Cancel a waiting or running job (as the operator: any member's)."""
    from atelier import events
    from atelier.db import session_scope
    from atelier.errors import AtelierError
    from atelier.services import jobs

    settings = get_settings()
    try:
        with session_scope(settings.database_url) as session:
            job = jobs.cancel(session, events.redis_client(settings.redis_url), job_id, jobs.OPERATOR)
    except AtelierError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"job {job.id} cancelled")


@mod_app.command("ban")
def mod_ban(
    term: str, reason: Annotated[str, typer.Option(help="the rule members are shown when refused")] = ""
) -> None:
    """Keep a word or phrase out of prompts (whole words, any case, A1111 syntax ignored)."""
    from atelier.db import migrate, session_scope
    from atelier.errors import AtelierError
    from atelier.services import moderation

    settings = get_settings()
    migrate(settings.database_url)
    try:
        with session_scope(settings.database_url) as session:
            rule = moderation.ban(session, term, reason)
            typer.echo(f"banned {rule.term!r}: {rule.reason}")
    except AtelierError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None


@mod_app.command("unban")
def mod_unban(term: str) -> None:
    """Allow a banned word or phrase again."""
    from atelier.db import session_scope
    from atelier.errors import AtelierError
    from atelier.services import moderation

    try:
        with session_scope(get_settings().database_url) as session:
            moderation.unban(session, term)
    except AtelierError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{moderation.normalise(term)!r} is allowed again")


@mod_app.command("bans")
def mod_bans() -> None:
    """List the banned terms and their rules."""
    from atelier.db import migrate, session_scope
    from atelier.services import moderation

    settings = get_settings()
    migrate(settings.database_url)
    with session_scope(settings.database_url) as session:
        rules = moderation.banned_terms(session)
        for rule in rules:
            typer.echo(f"{rule.term}\t{rule.reason}")
    if not rules:
        typer.echo("no banned terms")


@app.command("train-bundled")
def train_bundled(args: Annotated[list[str] | None, typer.Argument(help="options for the trainer")] = None) -> None:
    """Train the bundled tiny model from scratch (see models/MODEL_CARD.md)."""
    _exec_module("workers.training", *(args or []))


@app.command()
def render(
    prompt: str,
    negative: Annotated[str, typer.Option(help="negative prompt")] = "",
    model: Annotated[str, typer.Option(help="checkpoint name (default: the default checkpoint)")] = "",
    sampler: Annotated[str, typer.Option()] = "Euler a",
    steps: Annotated[int, typer.Option()] = 20,
    cfg: Annotated[float, typer.Option(help="CFG scale")] = 7.0,
    width: Annotated[int | None, typer.Option(help="default: the checkpoint's native size")] = None,
    height: Annotated[int | None, typer.Option()] = None,
    seed: Annotated[int, typer.Option(help="-1 for random")] = -1,
    count: Annotated[int, typer.Option(help="images (1-4)")] = 1,
    init_image: Annotated[str, typer.Option(help="img2img source: a gallery image id or ab/<sha256>.png")] = "",
    denoise: Annotated[float | None, typer.Option(help="img2img denoising strength (0-1)")] = None,
    hires: Annotated[bool, typer.Option(help="hires fix: upscale, then a second pass")] = False,
    hires_scale: Annotated[float, typer.Option()] = 2.0,
    hires_denoise: Annotated[float, typer.Option()] = 0.7,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 600.0,
) -> None:
    """Submit a render to the running system, wait for it, and print the image paths."""
    from atelier.cli_render import submit_and_wait

    fields = {
        "prompt": prompt,
        "negative_prompt": negative,
        "checkpoint": model,
        "sampler": sampler,
        "steps": steps,
        "cfg_scale": cfg,
        "width": width,
        "height": height,
        "seed": seed,
        "count": count,
        "init_image": init_image,
        "denoising_strength": denoise,
        "hires": hires,
        "hires_scale": hires_scale,
        "hires_denoise": hires_denoise,
    }
    paths = submit_and_wait(get_settings(), {k: v for k, v in fields.items() if v is not None}, timeout)
    for path in paths:
        typer.echo(str(path))


@prompt_app.command("check")
def prompt_check(
    prompt: str,
    negative: Annotated[str, typer.Option(help="negative prompt")] = "",
    steps: Annotated[int, typer.Option(help="sampling steps (prompt editing depends on them)")] = 20,
) -> None:
    """Check a prompt: token counts per 75-token chunk, unknown or mismatched LoRAs, banned terms, missing
    trigger words, all at once. Exit 1 on errors."""
    from atelier.db import session_scope
    from atelier.prompt.check import review_prompt
    from atelier.services.models import default_checkpoint

    settings = get_settings()
    with session_scope(settings.database_url) as session:
        checkpoint = default_checkpoint(session)
        review = review_prompt(
            session, prompt, negative, steps=steps, checkpoint=checkpoint, models_dir=settings.paths.models_dir
        )
    for field, label in (("prompt", "prompt"), ("negative_prompt", "negative prompt")):
        if field in review.tokens:
            shown = ", ".join(f"{n}/75" for n in review.tokens[field]) or "0/75"
            typer.echo(f"{label} tokens: {shown}")
    if not review.tokens:
        typer.echo("tokens: not counted (no tokenizer folder for the default checkpoint)")
    for name in review.loras:
        typer.echo(f"LoRA: {name}")
    for name in review.embeddings:
        typer.echo(f"embedding: {name}")
    for line in review.warnings:
        typer.echo(f"warning: {line}")
    for line in review.errors:
        typer.echo(f"error: {line}", err=True)
    if review.errors:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
