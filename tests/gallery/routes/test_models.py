"""Model pages: a checkpoint's or LoRA's facts and the images made with it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from atelier.recipe import LoraUse
from atelier.schema import ModelKind
from atelier.settings import Settings
from tests.gallery.factories import add_image, add_model


def _card_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li class="card[^"]*" data-image-id="(\d+)">', html)]


def test_checkpoint_page_lists_its_images(client: TestClient, registered: Settings) -> None:
    """The checkpoint's page shows its facts and the visible images rendered with it."""
    shown = add_image(registered, "a red circle")
    add_image(registered, "a secret purple circle", hidden=True)
    html = client.get("/models/checkpoint/tiny-test").text
    assert "<h1>tiny-test" in html
    assert _card_ids(html) == [shown["image_id"]]
    assert '<dd data-role="image-count">1</dd>' in html
    assert re.search(r'<dd class="hash" data-role="autov2">[0-9a-f]{10}</dd>', html)
    assert "secret purple" not in html


def test_lora_page_shows_facts_and_images_using_it(client: TestClient, registered: Settings) -> None:
    """A LoRA's page shows base architecture, trigger words, hashes, size and state, and the images
    whose recipe lists it."""
    add_model(
        registered, ModelKind.LORA, "paper cut", trigger_words=["papercut", "layered"], autov2="1234567890",
        autov3="123456789abc", size_bytes=151_000_000, enabled=False,
    )  # fmt: skip
    using = add_image(registered, "a red circle", loras=(LoraUse("Paper Cut", 0.8),))
    add_image(registered, "a blue square", loras=(LoraUse("ink", 0.8),))
    add_image(registered, "a green triangle")
    html = client.get("/models/lora/paper%20cut").text
    assert _card_ids(html) == [using["image_id"]]
    assert '<dd data-role="base-arch">sd1</dd>' in html
    assert '<span class="chip">papercut</span>' in html and '<span class="chip">layered</span>' in html
    assert '<dd class="hash" data-role="autov2">1234567890</dd>' in html
    assert '<dd class="hash" data-role="autov3">123456789abc</dd>' in html
    assert '<dd data-role="size">151.0 MB</dd>' in html
    assert '<span class="chip chip-warn" data-role="state">disabled</span>' in html


def test_model_name_matches_without_case(client: TestClient, registered: Settings) -> None:
    """A link with another case still finds the model."""
    assert client.get("/models/checkpoint/TINY-TEST").status_code == 200


@pytest.mark.parametrize(
    "path", ["/models/checkpoint/nope", "/models/lora/tiny-test", "/models/vae/tiny-test", "/models/lora/" + "x" * 300]
)
def test_unknown_model_is_a_404_page(client: TestClient, path: str) -> None:
    """An unregistered name, a name of another kind, or a kind without pages is a 404 page."""
    response = client.get(path)
    assert response.status_code == 404
    assert "<html" in response.text


def test_model_page_escapes_names_prompts_and_trigger_words(client: TestClient, registered: Settings) -> None:
    """Markup in a model's name, trigger words or its images' prompts renders as text."""
    add_model(registered, ModelKind.LORA, "<script>alert(1)</script>", trigger_words=["<script>alert(2)</script>"])
    add_image(registered, "<script>alert(3)</script> a red circle", loras=(LoraUse("<script>alert(1)</script>"),))
    response = client.get("/models/lora/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert response.status_code == 200
    assert "<script>alert(" not in response.text
    for n in (1, 2, 3):
        assert f"&lt;script&gt;alert({n})&lt;/script&gt;" in response.text
