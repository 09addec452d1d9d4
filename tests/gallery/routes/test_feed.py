"""The feed over HTTP: pages and the infinite-scroll fragment, sorts, the search form, errors, NSFW."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings
from gallery.routes import feed as feed_routes
from tests.gallery.factories import add_image, add_votes

NOW = datetime.now(UTC)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pages of two images, so a handful of images makes several pages."""
    monkeypatch.setattr(feed_routes, "FEED_PAGE_SIZE", 2)
    return 2


def _more_link(html: str) -> tuple[str, str]:
    """The next page's URL and fragment URL from the "More images" link."""
    match = re.search(r'<a class="button" href="([^"]+)" data-more="([^"]+)" rel="next">', html)
    assert match, "no More link"
    return html_lib.unescape(match.group(1)), html_lib.unescape(match.group(2))


def _card_prompts(html: str) -> list[str]:
    return re.findall(r'<a class="card-prompt" href="/images/\d+">([^<]*)</a>', html)


def _five_images(settings: Settings) -> None:
    for minute in range(5):
        add_image(settings, f"image {minute}", created_at=NOW - timedelta(minutes=minute))


def test_more_link_continues_without_javascript(client: TestClient, registered: Settings, small_pages: int) -> None:
    """The "More images" link is a plain page link: following it lists the next images, then the end."""
    _five_images(registered)
    first = client.get("/")
    assert _card_prompts(first.text) == ["image 0", "image 1"]
    next_url, _ = _more_link(first.text)
    assert "cursor=" in next_url and "page=" not in next_url
    second = client.get(next_url)
    assert _card_prompts(second.text) == ["image 2", "image 3"]
    assert "back to the top" in second.text
    third = client.get(_more_link(second.text)[0])
    assert _card_prompts(third.text) == ["image 4"]
    assert "That is everything" in third.text


def test_fragment_holds_cards_and_next_link(client: TestClient, registered: Settings, small_pages: int) -> None:
    """The fragment infinite scroll fetches has the next cards and the following More link, no page chrome."""
    _five_images(registered)
    _, fragment_url = _more_link(client.get("/").text)
    assert fragment_url.startswith("/feed/page?")
    fragment = client.get(fragment_url)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert _card_prompts(fragment.text) == ["image 2", "image 3"]
    assert _more_link(fragment.text)[1].startswith("/feed/page?")


def test_next_link_keeps_sort_and_filters(client: TestClient, registered: Settings, small_pages: int) -> None:
    """Later pages stay in the same sort and search."""
    for minute in range(3):
        made = add_image(registered, f"red {minute}", created_at=NOW - timedelta(minutes=minute))
        add_votes(registered, made["image_id"], *[1] * (minute + 1))
    add_image(registered, "blue", created_at=NOW)
    first = client.get("/", params={"q": "red", "sort": "top-day"})
    assert _card_prompts(first.text) == ["red 2", "red 1"]
    next_url, _ = _more_link(first.text)
    assert "q=red" in next_url and "sort=top-day" in next_url
    assert _card_prompts(client.get(next_url).text) == ["red 0"]


def test_sort_tabs_keep_the_search(client: TestClient) -> None:
    """Each sort tab links to the same search in that order; the current one is marked."""
    html = client.get("/", params={"q": "red", "sort": "top-week"}).text
    assert 'href="/?q=red&amp;sort=top-month"' in html
    assert 'href="/?q=red"' in html  # newest is the default, left out of the URL
    assert re.search(r'href="/\?q=red&amp;sort=top-week" aria-current="page">Top this week<', html)


def test_filters_round_trip_into_the_form(client: TestClient) -> None:
    """A shared search URL refills every field of the search form, with the filters opened."""
    params = {
        "q": "red circle",
        "checkpoint": "tiny-test",
        "lora": "glow",
        "member": "ada",
        "from": "2026-01-01",
        "to": "2026-01-31",
        "sampler": "DDIM",
        "size": "64x128",
    }
    html = client.get("/", params=params).text
    for name, value in params.items():
        if name != "sampler":
            assert re.search(rf'<input id="s-{name}" name="{name}" type="\w+" value="{value}"', html), name
    assert '<option value="DDIM" selected>DDIM</option>' in html
    assert '<details class="filters" open>' in html


def test_card_shows_score_member_and_model(client: TestClient, registered: Settings) -> None:
    """A card shows its vote tally, its member (linking to their member page) and its model."""
    made = add_image(registered, "a red circle", owner="Ada Lovelace")
    add_votes(registered, made["image_id"], 1, 1)
    html = client.get("/").text
    assert '<span class="vote-count" data-role="vote-count">2</span>' in html
    assert re.search(r'<a class="member" href="/members/\d+">Ada Lovelace</a>', html)
    assert '<span class="chip">tiny-test</span>' in html


def test_no_match_says_so(client: TestClient, registered: Settings) -> None:
    """A search without results says nothing matches (not "no images yet")."""
    add_image(registered, "a red circle")
    html = client.get("/", params={"q": "zebra"}).text
    assert "No images match this search." in html
    assert _card_prompts(html) == []


@pytest.mark.parametrize(
    ("params", "field", "label", "words"),
    [
        ({"size": "huge"}, "size", "Size", "like 512x768"),
        ({"from": "31/12/2025"}, "from", "From", "not a date"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to", "To", "before the start date"),
        ({"sampler": "Warp drive"}, "sampler", "Sampler", "unknown sampler"),
        ({"sort": "hottest"}, "sort", "Order", "unknown order"),
        ({"q": "!!!"}, "q", "Search", "no words to search for"),
        ({"q": "red\x00"}, "q", "Search", "control character"),
        ({"cursor": "%%%"}, "cursor", "Page link", "not a page link"),
    ],
)
def test_bad_filter_is_422_beside_its_field(
    client: TestClient, registered: Settings, params: dict[str, str], field: str, label: str, words: str
) -> None:
    """A bad filter value re-renders the feed with 422 and a message that names the field."""
    add_image(registered, "a red circle")
    response = client.get("/", params=params)
    assert response.status_code == 422
    match = re.search(rf'<p class="field-error" id="search-error-{field}" role="alert">([^<]*)</p>', response.text)
    assert match, response.text[:2000]
    message = html_lib.unescape(match.group(1))
    assert message.startswith(f"{label}: ") and words in message
    assert _card_prompts(response.text) == []


def test_bad_fragment_request_is_422_with_message(client: TestClient) -> None:
    """The fragment answers a mangled cursor with 422 and the message, which the script shows."""
    response = client.get("/feed/page", params={"cursor": "garbage!"})
    assert response.status_code == 422
    assert '<p class="form-error" role="alert">Page link: is not a page link' in response.text


@pytest.mark.parametrize(
    "hostile",
    ["'; DROP TABLE images; --", "red' OR '1'='1", "%' UNION SELECT * FROM users --", "\\x'; --", "名前 ' OR 1=1"],
)
def test_hostile_search_never_500(client: TestClient, registered: Settings, hostile: str) -> None:
    """SQL in a search box is just text: the page answers and the images are still there afterwards."""
    add_image(registered, "a red circle")
    response = client.get("/", params={"q": hostile, "member": hostile, "lora": hostile, "checkpoint": hostile})
    assert response.status_code in (200, 422)
    assert _card_prompts(client.get("/").text) == ["a red circle"]


def test_hidden_images_never_in_feed_or_fragment(client: TestClient, registered: Settings, small_pages: int) -> None:
    """Hidden images are left out of the page and of every fragment."""
    for minute in range(4):
        add_image(registered, f"image {minute}", created_at=NOW - timedelta(minutes=minute), hidden=minute % 2 == 1)
    first = client.get("/")
    assert _card_prompts(first.text) == ["image 0", "image 2"]
    assert 'rel="next"' not in first.text


def test_nsfw_is_blurred_until_the_viewer_opts_in(client: TestClient, registered: Settings) -> None:
    """NSFW cards carry the blur class; after "Show NSFW" (a cookie) they do not, and the form goes back."""
    add_image(registered, "spicy", nsfw=True)
    add_image(registered, "mild")
    html = client.get("/", params={"q": "spicy"}).text
    assert re.search(r'<li class="card nsfw" data-image-id="\d+">', html)
    assert ">NSFW</span>" in html
    response = client.post("/preferences/nsfw", data={"show": "1", "next": "/?q=spicy"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?q=spicy"
    assert "httponly" in response.headers["set-cookie"].lower()
    html = client.get("/", params={"q": "spicy"}).text
    assert not re.search(r'<li class="card nsfw"', html)
    assert "Blur NSFW" in html


def test_nsfw_preference_refuses_other_sites(client: TestClient) -> None:
    """A preference form posted from another site is refused, and sets nothing."""
    response = client.post(
        "/preferences/nsfw", data={"show": "1"}, headers={"origin": "https://evil.example"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_nsfw_preference_never_redirects_off_site(client: TestClient) -> None:
    """The preference form's return address cannot send the browser to another site."""
    response = client.post("/preferences/nsfw", data={"show": "0", "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_feed_loads_the_scroll_script(client: TestClient) -> None:
    """The feed page loads feed.js, and the static route serves it."""
    assert 'src="/static/feed.js' in client.get("/").text
    assert client.get("/static/feed.js").status_code == 200
