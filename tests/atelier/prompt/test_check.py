"""`check_prompt` resolves LoRAs and embeddings against the registry; `submit` refuses bad prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.prompt import PromptError, check_prompt
from atelier.schema import Job, JobSource, ModelFile, ModelKind
from atelier.services import jobs
from atelier.settings import Settings


@pytest.fixture
def session(sqlite_url: str) -> Session:
    return session_factory(sqlite_url)()


def add_model(session: Session, kind: ModelKind, name: str, *, enabled: bool = True) -> None:
    session.add(ModelFile(kind=kind, name=name, file_path=f"{kind}/{name}.safetensors", sha256="0" * 64,
                          autov2="0" * 10, enabled=enabled))  # fmt: skip
    session.commit()


def test_no_loras_installed(session: Session) -> None:
    """With no LoRA registered, any LoRA tag is unknown and the message says none are installed."""
    with pytest.raises(PromptError) as caught:
        check_prompt(session, "a cat <lora:ink:1>", "prompt")
    assert "no LoRAs are installed" in caught.value.reason and caught.value.position == 6


def test_unknown_lora_suggests_close_names(session: Session) -> None:
    """A misspelt LoRA name is refused with the closest registered names."""
    add_model(session, ModelKind.LORA, "inkwash")
    add_model(session, ModelKind.LORA, "pixelart")
    with pytest.raises(PromptError) as caught:
        check_prompt(session, "<lora:inkwsh:1> a cat", "prompt")
    assert "did you mean inkwash" in caught.value.reason


def test_known_lora_passes(session: Session) -> None:
    """A registered, enabled LoRA resolves and comes back as a network item."""
    add_model(session, ModelKind.LORA, "inkwash")
    parsed = check_prompt(session, "<lora:inkwash:0.6> a cat", "prompt")
    assert [(r.name, r.te_weight) for r in parsed.networks] == [("inkwash", 0.6)]


def test_disabled_lora_is_refused(session: Session) -> None:
    """A LoRA a moderator disabled is refused by name."""
    add_model(session, ModelKind.LORA, "inkwash", enabled=False)
    with pytest.raises(PromptError) as caught:
        check_prompt(session, "a <lora:inkwash:1>", "prompt")
    assert "disabled" in caught.value.reason


def test_embeddings_come_from_the_registry(session: Session) -> None:
    """Registered embedding names used in the negative prompt are listed."""
    add_model(session, ModelKind.EMBEDDING, "badhands")
    parsed = check_prompt(session, "blurry, BadHands", "negative_prompt")
    assert parsed.embeddings == ("badhands",)


def test_submit_refuses_a_bad_prompt_before_writing(session: Session, registered: Settings) -> None:
    """submit raises the prompt error with its position and writes no job."""
    db = session_factory(registered.database_url)()
    with pytest.raises(PromptError) as caught:
        jobs.submit(db, registered, {"prompt": "a cat AND a dog"}, source=JobSource.WEB)
    assert caught.value.field == "prompt" and caught.value.position == 6
    assert db.scalar(select(Job.id)) is None


def test_recipe_records_the_prompts_networks_with_hashes(session: Session) -> None:
    """The recipe lists the prompt's LoRAs (tag weights, AutoV3) and embeddings (sha256[:12]) for infotext."""
    from atelier.recipe import EmbeddingUse, LoraUse, Recipe

    add_model(session, ModelKind.LORA, "ink")
    add_model(session, ModelKind.EMBEDDING, "badhands")
    lora = session.scalar(select(ModelFile).where(ModelFile.name == "ink"))
    assert lora is not None
    lora.autov3 = "0b8a5c1f2e3d"
    session.commit()
    positive = check_prompt(session, "a cat <lora:ink:0.7:0.4>", "prompt")
    negative = check_prompt(session, "badhands", "negative_prompt")
    recipe = jobs.with_networks(session, Recipe(prompt="a cat <lora:ink:0.7:0.4>"), positive, negative)
    assert recipe.loras == (LoraUse("ink", 0.7, 0.4, "0b8a5c1f2e3d"),)
    assert recipe.embeddings == (EmbeddingUse("badhands", "0" * 12),)


def test_review_collects_every_problem_and_trigger_words(session: Session) -> None:
    """One review reports the unknown LoRA with a suggestion, a negative-prompt error, and missing trigger words."""
    from atelier.prompt.check import review_prompt

    add_model(session, ModelKind.LORA, "inkwash")
    lora = session.scalar(select(ModelFile).where(ModelFile.name == "inkwash"))
    assert lora is not None
    lora.trigger_words = ["ink style"]
    session.commit()
    review = review_prompt(session, "a cat <lora:inkwash:1>", "<lora:inkwash:1>")
    assert review.loras == ["inkwash"] and any("ink style" in w for w in review.warnings)
    assert len(review.errors) == 1 and review.errors[0].startswith("negative_prompt")
    bad = review_prompt(session, "a cat <lora:inkwsh:1>", "<lora:inkwash:1>")
    assert len(bad.errors) == 2 and "did you mean inkwash" in bad.errors[0]


def test_review_reports_every_problem_of_a_field_at_once(session: Session) -> None:
    """Two unknown LoRAs, an SDXL LoRA on an SD1 checkpoint and a banned word: four errors, in text order."""
    from atelier.prompt.check import review_prompt
    from atelier.services import moderation

    add_model(session, ModelKind.LORA, "inkwash")
    add_model(session, ModelKind.LORA, "xl-only")
    session.scalars(select(ModelFile).where(ModelFile.name == "xl-only")).one().base_arch = "sdxl"
    add_model(session, ModelKind.CHECKPOINT, "base15")
    checkpoint = session.scalars(select(ModelFile).where(ModelFile.name == "base15")).one()
    moderation.ban(session, "gore", "no gore")
    prompt = "<lora:inkwsh:1> gore <lora:nope:1> <lora:xl-only:1>"
    review = review_prompt(session, prompt, "", checkpoint=checkpoint)
    assert [error.split(":")[1].strip()[:12] for error in review.errors] == [
        "unknown LoRA", "'gore' is no", "unknown LoRA", "LoRA 'xl-onl",
    ]  # fmt: skip
    assert "sdxl models but 'base15' is sd1" in review.errors[3]


def test_review_counts_tokens_per_chunk_with_the_checkpoints_tokenizer(session: Session, tmp_path: Path) -> None:
    """Counts as A1111 shows them: 100 words make 75 + 25, BREAK closes a chunk, an empty field has none."""
    from atelier.prompt.check import review_prompt
    from tests.helpers.tiny_model import write_tokenizer

    write_tokenizer(tmp_path / "configs" / "base15" / "tokenizer")
    add_model(session, ModelKind.CHECKPOINT, "base15")
    checkpoint = session.scalars(select(ModelFile).where(ModelFile.name == "base15")).one()
    review = review_prompt(session, "a " * 100, "a BREAK cat", checkpoint=checkpoint, models_dir=tmp_path)
    assert review.tokens == {"prompt": [75, 25], "negative_prompt": [1, 3]}  # the test vocabulary spells "cat"
    empty = review_prompt(session, "a cat", "", checkpoint=checkpoint, models_dir=tmp_path)
    assert empty.tokens["negative_prompt"] == []
