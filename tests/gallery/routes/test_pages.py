"""The HTML pages: feed, draw form, job page, image page (with its report form and Discord link)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import Job, Report
from atelier.settings import Settings, load_settings
from gallery.app import create_app
from tests.gallery.factories import add_failed_job, add_image, job_count
from tests.gallery.routes.test_moderation import log_in_as

GOOD_FORM = {
    "prompt": "a red circle on a blue background",
    "negative_prompt": "",
    "checkpoint": "tiny-test",
    "sampler": "Euler a",
    "steps": "4",
    "cfg_scale": "7",
    "width": "64",
    "height": "64",
    "seed": "42",
    "count": "1",
}


def _error_for(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="error-{field}"[^>]*>([^<]*)</p>', html)
    return match.group(1) if match else ""


# --- feed ---------------------------------------------------------------------------------------


def test_feed_lists_images_newest_first(client: TestClient, registered: Settings) -> None:
    """The feed shows visible images ordered by creation time, newest first."""
    now = datetime.now(UTC)
    add_image(registered, "a green square on a red background", created_at=now - timedelta(hours=2))
    add_image(registered, "a yellow triangle on a blue background", created_at=now)
    add_image(registered, "a blue circle on a yellow background", created_at=now - timedelta(hours=1))
    html = client.get("/").text
    order = [html.index(word) for word in ("yellow triangle", "blue circle", "green square")]
    assert order == sorted(order)


def test_feed_hides_hidden_images(client: TestClient, registered: Settings) -> None:
    """A hidden image appears nowhere in the feed."""
    add_image(registered, "a green square on a red background")
    add_image(registered, "a secret purple circle", hidden=True)
    html = client.get("/").text
    assert "green square" in html
    assert "secret purple" not in html


def test_feed_card_shows_model_and_time(client: TestClient, registered: Settings) -> None:
    """Each card names the model and when the image was made."""
    add_image(registered, "a red circle", created_at=datetime.now(UTC) - timedelta(minutes=5))
    html = client.get("/").text
    assert '<span class="chip">tiny-test</span>' in html
    assert "5 min ago" in html


def test_feed_escapes_prompts(client: TestClient, registered: Settings) -> None:
    """A prompt with markup is shown as text, never as HTML."""
    add_image(registered, "<script>alert(1)</script> a red circle")
    html = client.get("/").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_feed_form_offers_enabled_checkpoints_and_samplers(client: TestClient) -> None:
    """The form's model select lists the registered checkpoint and the sampler select every sampler."""
    html = client.get("/").text
    assert re.search(r'<option value="tiny-test" data-size="64" selected>', html)
    assert '<option value="DPM++ 2M"' in html and '<option value="UniPC"' in html


def test_feed_form_defaults_to_tiny_native_size(client: TestClient) -> None:
    """With the tiny model as default, width and height default to its native 64."""
    html = client.get("/").text
    assert re.search(r'name="width" type="number"[^>]*value="64"', html)
    assert re.search(r'name="height" type="number"[^>]*value="64"', html)


def test_draw_page_prefills_form_from_query(client: TestClient) -> None:
    """Query parameters named like fields prefill the draw page's form (the image page's remix link)."""
    html = client.get("/draw", params={"prompt": "a blue square", "seed": "77"}).text
    assert ">a blue square</textarea>" in html
    assert re.search(r'name="seed" type="number"[^>]*value="77"', html)


# --- draw ---------------------------------------------------------------------------------------


def test_draw_queues_one_job_and_redirects(client: TestClient, registered: Settings) -> None:
    """A good form creates exactly one queued job and redirects to its page with 303."""
    response = client.post("/draw", data=GOOD_FORM, follow_redirects=False)
    assert response.status_code == 303
    assert re.fullmatch(r"/jobs/\d+", response.headers["location"])
    assert job_count(registered) == 1
    page = client.get(response.headers["location"])
    assert 'data-role="state">queued<' in page.text


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("prompt", "", "must not be empty"),
        ("prompt", "x" * 20000, "limit is 4000"),
        ("steps", "0", "between 1 and 150"),
        ("steps", "10000", "between 1 and 150"),
        ("steps", "lots", "whole number"),
        ("cfg_scale", "hot", "number"),
        ("width", "100", "multiple of 8"),
        ("height", "9999", "between 64 and 2048"),
        ("seed", "-5", "between 0"),
        ("count", "99", "between 1 and 4"),
        ("sampler", "Warp drive", "unknown sampler"),
        ("checkpoint", "no-such-model", "unknown model"),
    ],
)
def test_draw_bad_input_is_422_beside_field(
    client: TestClient, registered: Settings, field: str, value: str, words: str
) -> None:
    """Each bad value re-renders the form with 422, the message next to its field, and queues nothing."""
    response = client.post("/draw", data={**GOOD_FORM, field: value}, follow_redirects=False)
    assert response.status_code == 422
    assert words in _error_for(response.text, field)
    assert job_count(registered) == 0


def test_draw_keeps_user_input_on_error(client: TestClient) -> None:
    """After an error the form still holds what the user typed."""
    form = {**GOOD_FORM, "prompt": "a <b>bold</b> cat", "steps": "0", "seed": "31337"}
    html = client.post("/draw", data=form).text
    assert ">a &lt;b&gt;bold&lt;/b&gt; cat</textarea>" in html
    assert re.search(r'name="seed" type="number"[^>]*value="31337"', html)
    assert re.search(r'name="steps" type="number"[^>]*value="0"[^>]*aria-invalid="true"', html)


def test_draw_with_broken_multipart_is_400(client: TestClient, registered: Settings) -> None:
    """A multipart body without a boundary is a 400, not a 500."""
    response = client.post("/draw", content=b"garbage", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 400
    assert job_count(registered) == 0


def test_draw_with_missing_fields_is_422(client: TestClient, registered: Settings) -> None:
    """An empty post (every field missing) is a 422 about the prompt, not a 500."""
    response = client.post("/draw", data={})
    assert response.status_code == 422
    assert "must not be empty" in _error_for(response.text, "prompt")
    assert job_count(registered) == 0


def test_draw_without_enabled_model_is_422(settings: Settings) -> None:
    """With no checkpoint registered the form explains that instead of failing."""
    with TestClient(create_app(settings)) as client:
        response = client.post("/draw", data=GOOD_FORM)
    assert response.status_code == 422
    assert "no checkpoint is enabled" in _error_for(response.text, "checkpoint")


# --- job page -----------------------------------------------------------------------------------


def test_job_page_shows_queue_position(client: TestClient) -> None:
    """A queued job's page shows its place in the queue and an ETA, and loads the live script."""
    client.post("/draw", data=GOOD_FORM)
    second = client.post("/draw", data=GOOD_FORM, follow_redirects=False).headers["location"]
    html = client.get(second).text
    assert "#2 in the queue" in html
    assert "done in about" in html
    assert 'data-finished="false"' in html
    assert "/static/job.js" in html


def test_job_page_of_done_job_shows_images(client: TestClient, registered: Settings) -> None:
    """A finished job's page links its images."""
    made = add_image(registered)
    html = client.get(f"/jobs/{made['job_id']}").text
    assert 'data-finished="true"' in html
    assert f'href="/images/{made["image_id"]}"' in html
    assert f'src="/files/{made["thumbnail_path"]}"' in html


def test_job_page_of_failed_job_shows_reason(client: TestClient, registered: Settings) -> None:
    """A failed job's page says why it failed and stops following it."""
    job_id = add_failed_job(registered, "RuntimeError: CUDA out of memory")
    html = client.get(f"/jobs/{job_id}").text
    assert 'data-role="state">failed<' in html
    assert "RuntimeError: CUDA out of memory" in html
    assert 'data-finished="true"' in html


@pytest.mark.parametrize(
    "path", ["/jobs/999999", "/jobs/99999999999999999999", "/jobs/" + "9" * 5000, "/jobs/abc", "/jobs/²", "/jobs/-1"]
)
def test_unknown_job_is_404_page(client: TestClient, path: str) -> None:
    """Unknown, impossible and malformed job ids get the HTML 404 page."""
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text


# --- image page ---------------------------------------------------------------------------------


def test_image_page_shows_parameters(client: TestClient, registered: Settings) -> None:
    """The image page shows the full picture, each recipe field, the model, seed and infotext."""
    made = add_image(registered, "a blue square", seed=987654, negative_prompt="blurry", steps=12, cfg_scale=6.5)
    html = client.get(f"/images/{made['image_id']}").text
    assert f'src="/files/{made["file_path"]}"' in html
    for label, value in [
        ("Prompt", "a blue square"),
        ("Negative prompt", "blurry"),
        ("Model", "tiny-test"),
        ("Sampler", "Euler a"),
        ("Steps", "12"),
        ("CFG scale", "6.5"),
        ("Size", "64x64"),
        ("Seed", "987654"),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html
    assert '<pre class="infotext" id="infotext">a blue square\nNegative prompt: blurry\nSteps: 12' in html
    assert " UTC" in html


def test_image_page_links_remix(client: TestClient, registered: Settings) -> None:
    """The image page offers its settings back to the draw form."""
    made = add_image(registered, "a blue square", seed=55)
    html = client.get(f"/images/{made['image_id']}").text
    assert "/draw?prompt=a+blue+square" in html or "/draw?prompt=a%20blue%20square" in html
    assert "seed=55" in html


def test_hidden_image_page_is_404(client: TestClient, registered: Settings) -> None:
    """A hidden image's page does not exist for visitors."""
    made = add_image(registered, hidden=True)
    assert client.get(f"/images/{made['image_id']}").status_code == 404


def test_unknown_image_page_is_404(client: TestClient) -> None:
    """An unknown image id is a 404 page."""
    response = client.get("/images/424242")
    assert response.status_code == 404
    assert "image 424242 does not exist" in response.text


def test_rerender_exact_queues_the_image_seed(client: TestClient, registered: Settings) -> None:
    """The image page's "Re-render exact" posts, and the new job carries the image's seed."""
    made = add_image(registered, "a blue square", seed=55)
    assert f'action="/images/{made["image_id"]}/rerender-exact"' in client.get(f"/images/{made['image_id']}").text
    response = client.post(f"/images/{made['image_id']}/rerender-exact", follow_redirects=False)
    assert response.status_code == 303
    job_page = client.get(response.headers["location"]).text
    assert "a blue square" in job_page


def test_rerender_exact_from_another_site_is_refused(client: TestClient, registered: Settings) -> None:
    made = add_image(registered)
    response = client.post(
        f"/images/{made['image_id']}/rerender-exact", headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert response.status_code == 403 and "from pages of this gallery" in response.text
    assert job_count(registered) == 1


def test_image_page_says_whether_an_exact_rerender_matched(client: TestClient, registered: Settings) -> None:
    original = add_image(registered)
    again = add_image(registered, exact_of=original["image_id"], exact_match=False)
    html = client.get(f"/images/{again['image_id']}").text
    assert f'Exact re-render of <a href="/images/{original["image_id"]}">' in html
    assert "the pixels differ" in html


def test_remix_from_a_picture_prefills_img2img(client: TestClient, registered: Settings) -> None:
    """The image page's "Remix from this picture" opens the form with the image as init image."""
    made = add_image(registered, "a blue square", seed=55)
    page = client.get(f"/images/{made['image_id']}").text
    link = re.search(r'href="(/draw\?[^"]*init_image=[^"]+)"', page)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&")).text
    assert f'name="init_image" type="text" value="{made["image_id"]}"' in form
    assert '<details class="img2img" open>' in form


def test_draw_from_a_gallery_image_queues_img2img(client: TestClient, registered: Settings) -> None:
    made = add_image(registered)
    form = {**GOOD_FORM, "init_image": str(made["image_id"]), "denoising_strength": "0.4"}
    response = client.post("/draw", data=form, follow_redirects=False)
    assert response.status_code == 303
    with session_scope(registered.database_url) as session:
        recipe = session.query(Job).order_by(Job.id.desc()).first().recipe  # type: ignore[union-attr]
    assert (recipe["init_image"], recipe["denoising_strength"]) == (made["file_path"], 0.4)


# --- reports and "Open in Discord" ---------------------------------------------------------------


@pytest.fixture
def member_client(registered: Settings) -> Iterator[TestClient]:
    """A logged-in member (a live session row and its signed cookie); redirects are not followed."""
    with TestClient(create_app(registered), follow_redirects=False) as client:
        log_in_as(client, registered, "Ada")
        yield client


def _reports(settings: Settings) -> list[tuple[int, str]]:
    with session_scope(settings.database_url) as session:
        return [(row.image_id, row.reason) for row in session.scalars(select(Report))]


def test_image_page_offers_members_a_report_form(member_client: TestClient, registered: Settings) -> None:
    """A logged-in member sees the report form with its reason field."""
    image_id = add_image(registered)["image_id"]
    html = member_client.get(f"/images/{image_id}").text
    assert f'action="/images/{image_id}/report"' in html and 'name="reason"' in html


def test_image_page_has_no_report_form_for_visitors(client: TestClient, registered: Settings) -> None:
    """An anonymous visitor is not offered the report form."""
    image_id = add_image(registered)["image_id"]
    assert "/report" not in client.get(f"/images/{image_id}").text


def test_report_is_filed_and_confirmed(member_client: TestClient, registered: Settings) -> None:
    """Sending the form files the report and returns to the image page, which thanks the member."""
    image_id = add_image(registered)["image_id"]
    response = member_client.post(f"/images/{image_id}/report", data={"reason": "gore in a SFW channel"})
    assert response.status_code == 303 and response.headers["location"] == f"/images/{image_id}?reported=1#report"
    assert _reports(registered) == [(image_id, "gore in a SFW channel")]
    assert 'data-role="report-sent"' in member_client.get(response.headers["location"]).text


def test_report_without_reason_is_a_clear_422(member_client: TestClient, registered: Settings) -> None:
    """An empty reason is answered 422 with what to write; nothing is filed."""
    image_id = add_image(registered)["image_id"]
    response = member_client.post(f"/images/{image_id}/report", data={"reason": "  "})
    assert response.status_code == 422 and "reason: say what is wrong" in response.text
    assert _reports(registered) == []


def test_report_of_a_hidden_image_is_404(member_client: TestClient, registered: Settings) -> None:
    """A hidden image cannot be reported: it does not exist for members."""
    image_id = add_image(registered, hidden=True)["image_id"]
    response = member_client.post(f"/images/{image_id}/report", data={"reason": "spam"})
    assert response.status_code == 404 and _reports(registered) == []


def test_anonymous_report_leads_to_login(client: TestClient, registered: Settings) -> None:
    """A visitor's report goes to the login page, which brings them back to the image."""
    image_id = add_image(registered)["image_id"]
    response = client.post(f"/images/{image_id}/report", data={"reason": "spam"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/login?next=%2Fimages%2F{image_id}"
    assert _reports(registered) == []


def test_cross_site_report_is_refused(member_client: TestClient, registered: Settings) -> None:
    """A report posted from another site is refused (403) and not filed."""
    image_id = add_image(registered)["image_id"]
    headers = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    response = member_client.post(f"/images/{image_id}/report", data={"reason": "spam"}, headers=headers)
    assert response.status_code == 403 and _reports(registered) == []


def _delivered(settings: Settings, job_id: int) -> None:
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.discord_channel_id, job.discord_message_id = 810000000000000001, 820000000000000002


def _guild_client(monkeypatch: pytest.MonkeyPatch, guild: str) -> TestClient:
    monkeypatch.setenv("ATELIER_DISCORD_GUILD_ID", guild)
    return TestClient(create_app(load_settings()))


def test_open_in_discord_links_the_delivery_message(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image the bot delivered links to its message in the studio's guild."""
    image = add_image(registered)
    _delivered(registered, image["job_id"])
    with _guild_client(monkeypatch, "700000000000000001") as client:
        html = client.get(f"/images/{image['image_id']}").text
    expected = "https://discord.com/channels/700000000000000001/810000000000000001/820000000000000002"
    assert f'href="{expected}" data-role="open-in-discord"' in html


def test_no_discord_link_without_a_guild(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a configured guild there is no link, even for a delivered image."""
    image = add_image(registered)
    _delivered(registered, image["job_id"])
    with _guild_client(monkeypatch, "") as client:
        assert 'data-role="open-in-discord"' not in client.get(f"/images/{image['image_id']}").text


def test_no_discord_link_for_a_web_render(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image drawn on the web has no Discord message, so no link."""
    image_id = add_image(registered)["image_id"]
    with _guild_client(monkeypatch, "700000000000000001") as client:
        assert 'data-role="open-in-discord"' not in client.get(f"/images/{image_id}").text
