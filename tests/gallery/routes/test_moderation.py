"""The /mod pages over HTTP: only moderators get in (members see a 403 page, visitors are sent to log
in), every action is a same-site POST that confirms or shows the service's message, and the report
queue, hidden images, banned terms, role quotas and audit log do what they say."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import AuditEntry, BannedTerm, Image, Report, ReportState, Role, RoleQuota, User
from atelier.services import audit
from atelier.settings import Settings
from gallery.app import create_app
from tests.gallery.factories import add_image, log_in_as

CROSS_SITE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}

PAGES = ["/mod", "/mod/reports", "/mod/models", "/mod/hidden", "/mod/bans", "/mod/quotas", "/mod/audit"]
# Every state-changing /mod route, with a body it would accept from a moderator.
ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("/mod/reports/1/hide", {}),
    ("/mod/reports/1/dismiss", {}),
    ("/mod/images/1/hide", {}),
    ("/mod/images/1/unhide", {}),
    ("/mod/bans", {"term": "gore", "reason": "rules"}),
    ("/mod/bans/remove", {"term": "gore"}),
    ("/mod/quotas", {"role_id": "123", "role_name": "supporters", "gpu_minutes": "30", "max_queued": "5"}),
    ("/mod/quotas/123/remove", {}),
    ("/mod/models/1/enable", {}),
    ("/mod/models/1/disable", {}),
    ("/mod/models/1/default", {}),
    ("/mod/models/1/allow-nsfw", {}),
    ("/mod/models/1/forbid-nsfw", {}),
    ("/mod/models/1/trigger-words", {"trigger_words": "ink"}),
    ("/mod/models/scan", {}),
    ("/mod/models/upload", {}),
]


@pytest.fixture
def browser(registered: Settings) -> Iterator[TestClient]:
    """A client that does not follow redirects, so tests see where they lead."""
    with TestClient(create_app(registered), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def moderator(browser: TestClient, registered: Settings) -> TestClient:
    log_in_as(browser, registered, "Mo", Role.MODERATOR)
    return browser


@pytest.fixture
def member(browser: TestClient, registered: Settings) -> TestClient:
    log_in_as(browser, registered, "Bo")
    return browser


def audit_actions(settings: Settings) -> list[str]:
    with session_scope(settings.database_url) as session:
        return [entry.action for entry in audit.recent(session)]


def notice(response_location: str) -> str:
    return parse_qs(urlsplit(response_location).query).get("done", [""])[0]


# -- who gets in -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_moderator_opens_every_page(moderator: TestClient, path: str) -> None:
    """Each /mod page answers 200 to a moderator, with the moderators' navigation."""
    response = moderator.get(path)
    assert response.status_code == 200, response.text
    assert 'aria-label="Moderation"' in response.text


@pytest.mark.parametrize("path", PAGES)
def test_member_gets_a_403_page_that_says_why(member: TestClient, path: str) -> None:
    """A logged-in member is refused every page with a sentence naming the reason."""
    response = member.get(path)
    assert response.status_code == 403
    assert "These pages are for the studio&#39;s moderators" in response.text


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_log_in(browser: TestClient, path: str) -> None:
    """A visitor is redirected to the login page, which brings them back to the page."""
    response = browser.get(path)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_member_cannot_take_any_action(
    member: TestClient, registered: Settings, path: str, data: dict[str, str]
) -> None:
    """Every moderator action is refused to a member (403) and changes nothing."""
    add_image(registered)
    response = member.post(path, data=data)
    assert response.status_code == 403
    assert audit_actions(registered) == []


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_anonymous_action_leads_to_login(
    browser: TestClient, registered: Settings, path: str, data: dict[str, str]
) -> None:
    """A visitor's POST to a moderator action is sent to log in and changes nothing."""
    response = browser.post(path, data=data)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?")
    assert audit_actions(registered) == []


@pytest.mark.parametrize(("path", "data"), ACTIONS)
def test_cross_site_post_is_refused(
    moderator: TestClient, registered: Settings, path: str, data: dict[str, str]
) -> None:
    """A moderator's browser posting from another site is refused (403) before anything changes."""
    add_image(registered)
    response = moderator.post(path, data=data, headers=CROSS_SITE)
    assert response.status_code == 403 and "pages of this gallery" in response.text
    assert audit_actions(registered) == []


def test_nav_links_moderation_for_moderators_only(moderator: TestClient, registered: Settings) -> None:
    """The header's Moderation link is shown to a moderator; a member's header has none."""
    assert 'data-role="mod-link"' in moderator.get("/").text
    with TestClient(create_app(registered)) as other:
        log_in_as(other, registered, "Plain")
        assert 'data-role="mod-link"' not in other.get("/").text


# -- overview and reports --------------------------------------------------------------------------


def report(settings: Settings, image_id: int, reporter: str, reason: str) -> int:
    with session_scope(settings.database_url) as session:
        user = User(name=reporter)
        session.add(user)
        session.flush()
        row = Report(image_id=image_id, reporter_id=user.id, reason=reason)
        session.add(row)
        session.flush()
        return row.id


def report_states(settings: Settings) -> list[ReportState]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(Report.state).order_by(Report.id)))


def is_hidden(settings: Settings, image_id: int) -> bool:
    with session_scope(settings.database_url) as session:
        return bool(session.scalar(select(Image.hidden).where(Image.id == image_id)))


def test_overview_counts_open_reports_and_hidden_images(moderator: TestClient, registered: Settings) -> None:
    """The overview shows how many reports wait and how many images are hidden."""
    image_id = add_image(registered)["image_id"]
    add_image(registered, "a green square", hidden=True)
    report(registered, image_id, "Ada", "spam")
    report(registered, image_id, "Cy", "spam too")
    html = moderator.get("/mod").text
    assert '<strong data-role="open-reports">2</strong>' in html
    assert '<strong data-role="hidden-count">1</strong>' in html


def test_report_queue_shows_thumbnail_reason_and_reporter(moderator: TestClient, registered: Settings) -> None:
    """The queue names the reporter, quotes the reason and shows the image's thumbnail."""
    image = add_image(registered)
    report(registered, image["image_id"], "Ada", "stolen <art>")
    html = moderator.get("/mod/reports").text
    assert f'src="/files/{image["thumbnail_path"]}"' in html
    assert "<strong>Ada</strong>" in html and "stolen &lt;art&gt;" in html


def test_hide_from_the_queue_hides_and_resolves(moderator: TestClient, registered: Settings) -> None:
    """ "Hide image" hides it, resolves its reports and comes back to the queue confirmed."""
    image_id = add_image(registered)["image_id"]
    report_id = report(registered, image_id, "Ada", "spam")
    report(registered, image_id, "Cy", "spam")
    response = moderator.post(f"/mod/reports/{report_id}/hide")
    assert response.status_code == 303 and notice(response.headers["location"]) == "resolved"
    assert is_hidden(registered, image_id)
    assert report_states(registered) == [ReportState.RESOLVED, ReportState.RESOLVED]
    assert "The image is hidden and its reports are resolved." in moderator.get(response.headers["location"]).text


def test_dismiss_from_the_queue_leaves_the_image_up(moderator: TestClient, registered: Settings) -> None:
    """ "Dismiss" closes the reports and the image stays visible."""
    image_id = add_image(registered)["image_id"]
    report_id = report(registered, image_id, "Ada", "spam")
    response = moderator.post(f"/mod/reports/{report_id}/dismiss")
    assert notice(response.headers["location"]) == "dismissed"
    assert report_states(registered) == [ReportState.DISMISSED] and not is_hidden(registered, image_id)


def test_settling_a_settled_report_shows_the_message(moderator: TestClient, registered: Settings) -> None:
    """A second decision on the same report re-shows the queue with the service's message (422)."""
    report_id = report(registered, add_image(registered)["image_id"], "Ada", "spam")
    moderator.post(f"/mod/reports/{report_id}/dismiss")
    response = moderator.post(f"/mod/reports/{report_id}/hide")
    assert response.status_code == 422 and "already dismissed" in response.text


def test_unknown_report_is_a_404_page(moderator: TestClient) -> None:
    """Settling a report that does not exist answers 404 with the message, not a 500."""
    response = moderator.post("/mod/reports/424242/hide")
    assert response.status_code == 404 and "report 424242 does not exist" in response.text


# -- hidden images ---------------------------------------------------------------------------------


def test_hidden_page_lists_hidden_images_only(moderator: TestClient, registered: Settings) -> None:
    """Hidden images are listed with an Unhide button; visible ones are not."""
    hidden = add_image(registered, "a green square", hidden=True)["image_id"]
    shown = add_image(registered, "a red circle")["image_id"]
    html = moderator.get("/mod/hidden").text
    assert f'data-image-id="{hidden}"' in html and f'data-image-id="{shown}"' not in html


def test_unhide_brings_the_image_back(moderator: TestClient, registered: Settings) -> None:
    """Unhide from the list shows the image again and returns to the list, confirmed."""
    image_id = add_image(registered, hidden=True)["image_id"]
    response = moderator.post(f"/mod/images/{image_id}/unhide", data={"next": "/mod/hidden"})
    assert response.headers["location"] == "/mod/hidden?done=unhidden"
    assert not is_hidden(registered, image_id)


def test_hide_from_the_image_page_returns_there(moderator: TestClient, registered: Settings) -> None:
    """The image page's Hide button hides the image and goes back to its page, which says so."""
    image_id = add_image(registered)["image_id"]
    response = moderator.post(f"/mod/images/{image_id}/hide", data={"next": f"/images/{image_id}"})
    assert response.headers["location"] == f"/images/{image_id}?done=hidden"
    assert is_hidden(registered, image_id)
    assert "The image is hidden from the gallery." in moderator.get(response.headers["location"]).text


def test_hide_keeps_the_query_and_fragment_of_next(moderator: TestClient, registered: Settings) -> None:
    """The confirmation joins `next`'s own query, before its fragment."""
    image_id = add_image(registered)["image_id"]
    response = moderator.post(f"/mod/images/{image_id}/hide", data={"next": f"/images/{image_id}?a=1#report"})
    assert response.headers["location"] == f"/images/{image_id}?a=1&done=hidden#report"


def test_hide_never_redirects_off_site(moderator: TestClient, registered: Settings) -> None:
    """A `next` pointing at another site is replaced by the feed."""
    image_id = add_image(registered)["image_id"]
    response = moderator.post(f"/mod/images/{image_id}/hide", data={"next": "//evil.example/"})
    assert response.headers["location"] == "/?done=hidden"


def test_hiding_an_unknown_image_shows_the_message(moderator: TestClient) -> None:
    """An image id that does not exist answers 404 with the message."""
    response = moderator.post("/mod/images/999999/hide")
    assert response.status_code == 404 and "image 999999 does not exist" in response.text


def test_image_page_offers_moderators_hide_and_unhide(moderator: TestClient, registered: Settings) -> None:
    """A moderator sees Hide on a visible image and Unhide on a hidden one."""
    shown = add_image(registered)["image_id"]
    hidden = add_image(registered, "a blue square", hidden=True)["image_id"]
    assert f'action="/mod/images/{shown}/hide"' in moderator.get(f"/images/{shown}").text
    assert f'action="/mod/images/{hidden}/unhide"' in moderator.get(f"/images/{hidden}").text


def test_image_page_has_no_moderator_buttons_for_members(member: TestClient, registered: Settings) -> None:
    """A member's image page has no hide form."""
    image_id = add_image(registered)["image_id"]
    assert "/mod/images/" not in member.get(f"/images/{image_id}").text


# -- banned terms ----------------------------------------------------------------------------------


def banned(settings: Settings) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        return [(rule.term, rule.reason) for rule in session.scalars(select(BannedTerm))]


def test_ban_adds_the_term_with_its_reason(moderator: TestClient, registered: Settings) -> None:
    """Banning normalises the term, keeps the reason and lists it on the page."""
    response = moderator.post("/mod/bans", data={"term": "  GORE ", "reason": "not in this server"})
    assert response.headers["location"] == "/mod/bans?done=banned"
    assert banned(registered) == [("gore", "not in this server")]
    assert '<td data-role="term">gore</td>' in moderator.get("/mod/bans").text


def test_empty_term_shows_the_services_message(moderator: TestClient, registered: Settings) -> None:
    """A term without a word re-shows the page with the message (422) and bans nothing."""
    response = moderator.post("/mod/bans", data={"term": "(( ))", "reason": ""})
    assert response.status_code == 422 and "term: must contain a word" in response.text
    assert banned(registered) == []


def test_unban_removes_the_term(moderator: TestClient, registered: Settings) -> None:
    """Removing a banned term deletes it and confirms."""
    moderator.post("/mod/bans", data={"term": "gore", "reason": ""})
    response = moderator.post("/mod/bans/remove", data={"term": "gore"})
    assert response.headers["location"] == "/mod/bans?done=unbanned" and banned(registered) == []


def test_unbanning_an_unknown_term_is_a_404_page(moderator: TestClient) -> None:
    """Removing a term that is not banned says so (404)."""
    response = moderator.post("/mod/bans/remove", data={"term": "nothing"})
    assert response.status_code == 404 and "is not a banned term" in response.text


# -- role quotas -----------------------------------------------------------------------------------


def quota_rows(settings: Settings) -> list[tuple[int, str, float, int]]:
    with session_scope(settings.database_url) as session:
        rows = session.scalars(select(RoleQuota).order_by(RoleQuota.discord_role_id))
        return [(r.discord_role_id, r.role_name, r.daily_gpu_seconds, r.max_queued) for r in rows]


def test_set_quota_stores_minutes_as_seconds(moderator: TestClient, registered: Settings) -> None:
    """30 GPU minutes a day are stored as 1800 s, and the page lists the role."""
    form = {"role_id": "720000000000000002", "role_name": "supporters", "gpu_minutes": "30", "max_queued": "5"}
    response = moderator.post("/mod/quotas", data=form)
    assert response.headers["location"] == "/mod/quotas?done=quota-set"
    assert quota_rows(registered) == [(720000000000000002, "supporters", 1800.0, 5)]
    assert 'data-role-id="720000000000000002"' in moderator.get("/mod/quotas").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role_id", "supporters", "role_id: must be a Discord role id"),
        ("gpu_minutes", "lots", "gpu_minutes: must be a number"),
        ("gpu_minutes", "-5", "gpu_minutes: must be from 0"),
        ("max_queued", "2.5", "max_queued: must be a whole number"),
    ],
)
def test_bad_quota_input_shows_a_message(
    moderator: TestClient, registered: Settings, field: str, value: str, message: str
) -> None:
    """A role id that is not digits or a limit that is not a number ≥ 0 is refused (422) by name."""
    form = {"role_id": "123", "role_name": "x", "gpu_minutes": "1", "max_queued": "1", field: value}
    response = moderator.post("/mod/quotas", data=form)
    assert response.status_code == 422 and message in response.text
    assert quota_rows(registered) == []


def test_remove_quota(moderator: TestClient, registered: Settings) -> None:
    """Removing a role's quota deletes its row and confirms."""
    moderator.post("/mod/quotas", data={"role_id": "123", "role_name": "x", "gpu_minutes": "0", "max_queued": "0"})
    response = moderator.post("/mod/quotas/123/remove")
    assert response.headers["location"] == "/mod/quotas?done=quota-removed" and quota_rows(registered) == []


def test_removing_a_missing_quota_is_a_404_page(moderator: TestClient) -> None:
    """A role without a quota answers 404 with the service's message."""
    response = moderator.post("/mod/quotas/555/remove")
    assert response.status_code == 404 and "has no quota" in response.text


# -- audit log -------------------------------------------------------------------------------------


def add_audit_entries(settings: Settings, count: int) -> None:
    with session_scope(settings.database_url) as session:
        session.add_all(AuditEntry(action="ban.add", target=f"term {n}") for n in range(count))


def test_audit_log_is_newest_first_with_the_actor(moderator: TestClient, registered: Settings) -> None:
    """Actions taken on these pages appear in the log, newest first, by the moderator's name."""
    moderator.post("/mod/bans", data={"term": "gore", "reason": ""})
    moderator.post("/mod/bans/remove", data={"term": "gore"})
    html = moderator.get("/mod/audit").text
    assert html.index("ban.remove") < html.index("ban.add")
    assert "<td>Mo</td>" in html


def test_audit_log_is_paginated(moderator: TestClient, registered: Settings) -> None:
    """Fifty entries a page; the first links to older ones, the second holds the rest."""
    add_audit_entries(registered, 53)
    first = moderator.get("/mod/audit").text
    assert first.count('data-role="action"') == 50 and "/mod/audit?page=2" in first
    second = moderator.get("/mod/audit?page=2").text
    assert second.count('data-role="action"') == 3 and 'data-role="older"' not in second


@pytest.mark.parametrize("page", ["0", "two", "9" * 30])
def test_bad_page_number_is_a_clear_422(moderator: TestClient, page: str) -> None:
    """A page that is not a whole number from 1 is refused with a message, never a 500."""
    response = moderator.get(f"/mod/audit?page={page}")
    assert response.status_code == 422 and "page: must be a whole number" in response.text
