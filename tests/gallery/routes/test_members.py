"""Member pages: their images and the images they voted for, with counts, newest first, paged."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings
from gallery import listing
from tests.gallery.factories import add_image, add_vote


def _card_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li class="card[^"]*" data-image-id="(\d+)">', html)]


def test_member_page_lists_their_images_newest_first(client: TestClient, registered: Settings) -> None:
    """Only the member's own images are listed, newest first, with their count."""
    now = datetime.now(UTC)
    old = add_image(registered, "a red circle", owner="Ada", created_at=now - timedelta(hours=1))
    new = add_image(registered, "a blue square", owner="Ada", created_at=now)
    add_image(registered, "a green triangle", owner="Grace")
    html = client.get(f"/members/{old['owner_id']}").text
    assert "<h1>Ada" in html
    assert _card_ids(html) == [new["image_id"], old["image_id"]]
    assert '<span class="chip" data-role="image-count">2</span>' in html


def test_member_votes_tab_lists_images_they_voted_for(client: TestClient, registered: Settings) -> None:
    """The votes tab lists the images the member voted for, not their own, with the count."""
    mine = add_image(registered, "a red circle", owner="Ada")
    liked = add_image(registered, "a yellow triangle", owner="Grace")
    add_image(registered, "a green square", owner="Grace")
    voter = add_vote(registered, liked["image_id"], "Ada")
    assert voter == mine["owner_id"]
    html = client.get(f"/members/{voter}/votes").text
    assert _card_ids(html) == [liked["image_id"]]
    assert '<span class="chip" data-role="vote-count">1</span>' in html
    assert '<span class="chip" data-role="image-count">1</span>' in html


def test_member_page_hides_hidden_images(client: TestClient, registered: Settings) -> None:
    """A hidden image is neither listed nor counted for visitors, in either tab."""
    shown = add_image(registered, "a red circle", owner="Ada")
    hidden = add_image(registered, "a secret purple circle", owner="Ada", hidden=True)
    add_vote(registered, hidden["image_id"], "Grace")
    html = client.get(f"/members/{shown['owner_id']}").text
    assert _card_ids(html) == [shown["image_id"]]
    assert "secret purple" not in html
    grace = add_vote(registered, shown["image_id"], "Grace")
    assert _card_ids(client.get(f"/members/{grace}/votes").text) == [shown["image_id"]]


def test_member_pages_continue_with_a_cursor(
    client: TestClient, registered: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Following "More images" (or its fragment) walks every image once, in order."""
    monkeypatch.setattr(listing, "LISTING_PAGE_SIZE", 2)
    now = datetime.now(UTC)
    made = [
        add_image(registered, f"a red circle {n}", owner="Ada", created_at=now - timedelta(minutes=n)) for n in range(5)
    ]
    member = made[0]["owner_id"]
    seen: list[int] = []
    url = f"/members/{member}"
    while url:
        html = client.get(url).text
        seen += _card_ids(html)
        more = re.search(r'<a class="button" href="([^"]+)" data-more="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else ""
        if more:
            fragment = client.get(more.group(2).replace("&amp;", "&"))
            assert fragment.status_code == 200 and 'id="feed-more"' in fragment.text
            assert "<html" not in fragment.text
    assert seen == [image["image_id"] for image in made]


def test_bad_cursor_is_an_error_page(client: TestClient, registered: Settings) -> None:
    """A mangled page link is answered with a message, never a server error."""
    made = add_image(registered, "a red circle", owner="Ada")
    response = client.get(f"/members/{made['owner_id']}", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422


@pytest.mark.parametrize("member_id", ["999999", "0", "abc", "9" * 40])
def test_unknown_member_is_a_404_page(client: TestClient, member_id: str) -> None:
    """A member id that does not exist (or is not an id) is a 404 page."""
    for path in (f"/members/{member_id}", f"/members/{member_id}/votes"):
        response = client.get(path)
        assert response.status_code == 404
        assert "<html" in response.text


def test_member_page_escapes_names_and_prompts(client: TestClient, registered: Settings) -> None:
    """A member name or prompt with markup renders as text."""
    made = add_image(registered, "<script>alert(1)</script> a red circle", owner="<script>alert(2)</script>")
    html = client.get(f"/members/{made['owner_id']}").text
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    votes = client.get(f"/members/{add_vote(registered, made['image_id'], 'Grace')}/votes").text
    assert "<script>alert(" not in votes and "&lt;script&gt;alert(1)&lt;/script&gt;" in votes
