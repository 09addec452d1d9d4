"""The image page's lineage: ancestors, this image and its remixes, each with a parameter diff."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from atelier.db import engine_for, session_scope
from atelier.recipe import LoraUse
from atelier.schema import Job
from atelier.settings import Settings
from tests.gallery.factories import add_image


def _section(html: str, role: str, image_id: int) -> str:
    """The lineage node of `image_id` with the given role, as HTML."""
    match = re.search(
        rf'<li class="lineage-node [a-z]+" data-role="{role}" data-image-id="{image_id}">(.*?)</li>', html, re.S
    )
    assert match, f"no {role} node for image {image_id}"
    return match.group(1)


def test_child_page_shows_parent_with_diff(client: TestClient, registered: Settings) -> None:
    """A remix's page links its parent and says what changed: weights, added terms, seed."""
    parent = add_image(registered, "a red circle, masterpiece", seed=1)
    child = add_image(registered, "a (red:1.3) circle, sharp", seed=2, parent=parent["image_id"])
    html = client.get(f"/images/{child['image_id']}").text
    node = _section(html, "parent", parent["image_id"])
    assert f'href="/images/{parent["image_id"]}"' in node
    assert '<span class="diff-old">1</span>→<span class="diff-new">1.3</span>' in node
    assert '<ins class="diff-added" title="added">sharp</ins>' in node
    assert '<del class="diff-removed" title="removed">masterpiece</del>' in node
    assert re.search(
        r'data-role="diff-seed">.*?<span class="diff-old">1</span>→<span class="diff-new">2</span>', node, re.S
    )


def test_parent_page_lists_children_with_diffs(client: TestClient, registered: Settings) -> None:
    """An image's page lists each remix of it, with what that remix changed."""
    parent = add_image(registered, "a red circle", seed=5)
    first = add_image(registered, "a red circle", seed=5, steps=30, parent=parent["image_id"])
    second = add_image(registered, "a red circle", seed=5, parent=parent["image_id"], loras=(LoraUse("paper", 0.7),))
    html = client.get(f"/images/{parent['image_id']}").text
    assert '<span class="diff-old">20</span>→<span class="diff-new">30</span>' in _section(
        html, "child", first["image_id"]
    )
    assert '<ins class="diff-added" title="added">paper:0.7</ins>' in _section(html, "child", second["image_id"])


def test_grandparent_is_shown_with_its_diff(client: TestClient, registered: Settings) -> None:
    """The tree goes up more than one level, each ancestor diffed against this image."""
    grandparent = add_image(registered, "a blue square", seed=1)
    parent = add_image(registered, "a blue square", seed=2, parent=grandparent["image_id"])
    child = add_image(registered, "a blue square", seed=3, parent=parent["image_id"])
    html = client.get(f"/images/{child['image_id']}").text
    node = _section(html, "grandparent", grandparent["image_id"])
    assert '<span class="diff-old">1</span>→<span class="diff-new">3</span>' in node
    assert html.index(f'data-image-id="{grandparent["image_id"]}"') < html.index(
        f'data-image-id="{parent["image_id"]}"'
    )


def test_hidden_child_is_not_in_the_tree(client: TestClient, registered: Settings) -> None:
    """A hidden remix appears nowhere on its parent's page."""
    parent = add_image(registered, "a red circle")
    shown = add_image(registered, "a red circle, visible remix", parent=parent["image_id"])
    hidden = add_image(registered, "a red circle, secret remix", parent=parent["image_id"], hidden=True)
    html = client.get(f"/images/{parent['image_id']}").text
    assert f'data-image-id="{shown["image_id"]}"' in html
    assert f'data-image-id="{hidden["image_id"]}"' not in html
    assert "secret remix" not in html


def test_hidden_parent_is_not_in_the_tree(client: TestClient, registered: Settings) -> None:
    """A remix of a hidden image shows no lineage for visitors."""
    parent = add_image(registered, "a secret purple circle", hidden=True)
    child = add_image(registered, "a red circle", parent=parent["image_id"])
    html = client.get(f"/images/{child['image_id']}").text
    assert 'data-role="lineage"' not in html
    assert "secret purple" not in html


def test_image_without_relatives_has_no_lineage(client: TestClient, registered: Settings) -> None:
    """An image nobody remixed, made from nothing, shows no lineage section."""
    made = add_image(registered, "a red circle")
    assert 'data-role="lineage"' not in client.get(f"/images/{made['image_id']}").text


def test_page_of_an_image_nobody_remixed_reads_it_in_one_query(client: TestClient, registered: Settings) -> None:
    """Most images have no remixes: the query that reads the image, its job and owner also says so,
    and the page does not look for remixes."""
    image = add_image(registered, "a red circle", seed=1)
    statements: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = engine_for(registered.database_url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(f"/images/{image['image_id']}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert len([statement for statement in statements if "FROM images" in statement]) == 1


def test_exact_rerender_child_says_same_recipe(client: TestClient, registered: Settings) -> None:
    """An exact re-render is listed as such, with nothing changed."""
    original = add_image(registered, "a red circle", seed=9)
    again = add_image(registered, "a red circle", seed=9, parent=original["image_id"], exact_of=original["image_id"])
    node = _section(client.get(f"/images/{original['image_id']}").text, "child", again["image_id"])
    assert "exact re-render" in node and "same recipe" in node


def test_lineage_escapes_prompts(client: TestClient, registered: Settings) -> None:
    """Prompts and diff terms with markup render as text in the tree."""
    parent = add_image(registered, "a red circle")
    child = add_image(registered, "a red circle, <script>alert(1)</script>", parent=parent["image_id"])
    for image_id in (parent["image_id"], child["image_id"]):
        html = client.get(f"/images/{image_id}").text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_image_page_links_models_and_member(client: TestClient, registered: Settings) -> None:
    """The checkpoint chip and LoRA names link to model pages; the owner links to the member page."""
    made = add_image(registered, "a red circle", owner="Ada", loras=(LoraUse("paper cut", 0.6),))
    html = client.get(f"/images/{made['image_id']}").text
    assert 'href="/models/checkpoint/tiny-test">tiny-test</a>' in html
    assert 'href="/models/lora/paper%20cut"' in html and ">paper cut:0.6</a>" in html
    assert f'<a class="member" href="/members/{made["owner_id"]}">Ada</a>' in html


def test_remix_from_a_gallery_picture_is_its_child(client: TestClient, registered: Settings) -> None:
    """Drawing from a gallery image records that image as the new job's parent; a plain draw has none."""
    parent = add_image(registered, "a red circle")
    form = {
        "prompt": "a (red:1.2) circle", "checkpoint": "tiny-test", "steps": "4", "width": "64", "height": "64",
        "seed": "3", "init_image": str(parent["image_id"]), "denoising_strength": "0.5",
    }  # fmt: skip
    assert client.post("/draw", data=form, follow_redirects=False).status_code == 303
    plain = {key: value for key, value in form.items() if key not in ("init_image", "denoising_strength")}
    assert client.post("/draw", data=plain, follow_redirects=False).status_code == 303
    with session_scope(registered.database_url) as session:
        parents = [job.parent_image_id for job in session.scalars(select(Job).order_by(Job.id))]
    assert parents[-2:] == [parent["image_id"], None]
