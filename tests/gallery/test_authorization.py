"""Who may change what: every state-changing route of the gallery, for each kind of visitor.

`ROUTES` has one row per POST/PUT/PATCH/DELETE route of the app: how to call it on a target (an
image, a job, a report, a model, a quota owned by the target's owner) and what each visitor gets.
A route the app serves without a row fails `test_every_state_changing_route_has_a_row`, naming it;
a row is a few lines (see the /mod rows). For each route and visitor (anonymous, a member, the
owner of the target, a moderator) the test checks the outcome, and that a refused request left
every table as it was. Every route is also sent from another site (a foreign `Origin`) by a
moderator, who could otherwise do it, and must be refused without a change.

The gallery runs with Log in with Discord configured, the deployment where these rules matter:
there, visitors must log in to draw, and the local owner's login is off.
"""

from __future__ import annotations

import enum
import io
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image as PILImage

from atelier.db import engine_for, session_scope
from atelier.schema import BannedTerm, Base, Job, JobSource, ModelKind, Report, Role, RoleQuota, User
from atelier.settings import Settings, load_settings
from gallery.app import create_app
from tests.gallery.factories import add_image, add_model, log_in_as
from tests.helpers import model_files

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FOREIGN = {"origin": "https://evil.example"}


# -- the world each route is called in -------------------------------------------------------------


@dataclass
class World:
    """Rows a route can act on; the image, job, report and quota belong to (or were made about) the
    target's owner, who is a plain member."""

    settings: Settings
    image_id: int
    job_id: int
    report_id: int
    model_id: int
    role_id: int = 4242
    banned_term: str = "gore"
    upload_dir: Path = field(default_factory=Path)


def _world(settings: Settings, tmp_path: Path) -> World:
    made = add_image(settings, "a red circle", owner="Olive")
    lora_id = add_model(settings, ModelKind.LORA, "paper")
    with session_scope(settings.database_url) as session:
        reporter = User(name="Rita")
        session.add(reporter)
        session.flush()
        report = Report(image_id=made["image_id"], reporter_id=reporter.id, reason="not for this server")
        queued = Job(owner_id=made["owner_id"], source=JobSource.WEB, recipe={"prompt": "a blue square"})
        session.add_all([report, queued, BannedTerm(term="gore", reason="rules")])
        session.add(RoleQuota(discord_role_id=4242, role_name="Guests", max_queued=1))
        session.flush()
        report_id, queued_id = report.id, queued.id
    return World(settings, made["image_id"], queued_id, report_id, lora_id, upload_dir=tmp_path)


# -- outcomes --------------------------------------------------------------------------------------


class Outcome(enum.Enum):
    ALLOWED = "allowed"
    """Done: a 2xx answer, or a redirect that is not to the login page."""
    LOGIN = "login"
    """Refused until the visitor logs in: 401, or a redirect to /login."""
    FORBIDDEN = "forbidden"
    """Refused whoever asks like this: 403."""


ALLOWED, LOGIN, FORBIDDEN = Outcome.ALLOWED, Outcome.LOGIN, Outcome.FORBIDDEN


def outcome_of(response: Response) -> Outcome | None:
    location = response.headers.get("location", "")
    if response.status_code == 401 or (response.is_redirect and location.startswith("/login")):
        return LOGIN
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code < 400:
        return ALLOWED
    return None


def snapshot(settings: Settings) -> dict[str, list[str]]:
    """Every row of every table, to compare before and after a refused request."""
    with engine_for(settings.database_url).connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
            for table in Base.metadata.sorted_tables
        }


# -- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    data: dict[str, str] | None = None
    json: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


@dataclass(frozen=True)
class Row:
    """A state-changing route, how to call it on `World`'s rows, and what each visitor gets."""

    method: str
    path: str
    call: Callable[[World], Call]
    anonymous: Outcome
    member: Outcome
    owner: Outcome
    moderator: Outcome
    cross_site: Outcome = FORBIDDEN

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    return {"anonymous": outcome, "member": outcome, "owner": outcome, "moderator": outcome}


LOGGED_IN = {"anonymous": FORBIDDEN, "member": ALLOWED, "owner": ALLOWED, "moderator": ALLOWED}
"""Drawing: a visitor is refused (403, "log in with Discord to draw"); any member may."""
MODERATORS = {"anonymous": LOGIN, "member": FORBIDDEN, "owner": FORBIDDEN, "moderator": ALLOWED}


def _png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _lora_upload(world: World) -> Call:
    path = model_files.kohya_lora(world.upload_dir / "ink.safetensors", 768)
    files = {"file": ("ink.safetensors", path.read_bytes(), "application/octet-stream")}
    return Call("/mod/models/upload", data={"name": "ink", "kind": "lora"}, files=files)


RECIPE = {"prompt": "a red circle", "steps": "4", "width": "64", "height": "64", "seed": "7"}


def _mod(path: str, call: Callable[[World], Call]) -> Row:
    return Row("POST", path, call, **MODERATORS)


ROUTES: list[Row] = [
    Row(
        "POST",
        "/preferences/nsfw",
        lambda w: Call("/preferences/nsfw", {"show": "1", "next": "/"}),
        **everyone(ALLOWED),
    ),
    Row("POST", "/draw", lambda w: Call("/draw", RECIPE), **LOGGED_IN),
    Row(
        "POST",
        "/images/{image_id}/rerender-exact",
        lambda w: Call(f"/images/{w.image_id}/rerender-exact"),
        **LOGGED_IN,
    ),
    Row(
        "POST",
        "/api/jobs",
        lambda w: Call("/api/jobs", json={**RECIPE, "steps": 4, "width": 64, "height": 64}),
        **LOGGED_IN,
    ),
    # The machine owner's login is for the local default only; with Discord login it is off for all.
    Row("POST", "/auth/local", lambda w: Call("/auth/local", {"next": "/"}), **everyone(FORBIDDEN)),
    Row("POST", "/auth/logout", lambda w: Call("/auth/logout", {"everywhere": "1"}), **everyone(ALLOWED)),
    Row(
        "POST",
        "/images/{image_id}/vote",
        lambda w: Call(f"/images/{w.image_id}/vote", {"next": "/"}),
        anonymous=LOGIN,
        member=ALLOWED,
        owner=FORBIDDEN,  # no votes on one's own image
        moderator=ALLOWED,
    ),
    Row(
        "POST",
        "/api/images/{image_id}/vote",
        lambda w: Call(f"/api/images/{w.image_id}/vote"),
        anonymous=LOGIN,
        member=ALLOWED,
        owner=FORBIDDEN,
        moderator=ALLOWED,
    ),
    Row(
        "POST",
        "/api/uploads",
        lambda w: Call("/api/uploads", files={"image": ("init.png", _png(), "image/png")}),
        **LOGGED_IN,
    ),
    # Changes nothing (a POST only because prompts are long), so another site may ask it too; the
    # browser does not let that site read the answer.
    Row(
        "POST",
        "/api/prompt/check",
        lambda w: Call("/api/prompt/check", json={"prompt": "a red circle"}),
        **everyone(ALLOWED),
        cross_site=ALLOWED,
    ),
    Row(
        "POST",
        "/images/{image_id}/report",
        lambda w: Call(f"/images/{w.image_id}/report", {"reason": "spam"}),
        anonymous=LOGIN,
        member=ALLOWED,
        owner=ALLOWED,
        moderator=ALLOWED,
    ),
    _mod("/mod/reports/{report_id}/hide", lambda w: Call(f"/mod/reports/{w.report_id}/hide")),
    _mod("/mod/reports/{report_id}/dismiss", lambda w: Call(f"/mod/reports/{w.report_id}/dismiss")),
    _mod("/mod/images/{image_id}/hide", lambda w: Call(f"/mod/images/{w.image_id}/hide", {"next": "/"})),
    _mod("/mod/images/{image_id}/unhide", lambda w: Call(f"/mod/images/{w.image_id}/unhide", {"next": "/"})),
    _mod("/mod/bans", lambda w: Call("/mod/bans", {"term": "splatter", "reason": "rules"})),
    _mod("/mod/bans/remove", lambda w: Call("/mod/bans/remove", {"term": w.banned_term})),
    _mod(
        "/mod/quotas",
        lambda w: Call("/mod/quotas", {"role_id": "77", "role_name": "Fans", "gpu_minutes": "30", "max_queued": "2"}),
    ),
    _mod("/mod/quotas/{role_id}/remove", lambda w: Call(f"/mod/quotas/{w.role_id}/remove")),
    _mod("/mod/models/{model_id}/{action}", lambda w: Call(f"/mod/models/{w.model_id}/disable")),
    _mod("/mod/models/scan", lambda w: Call("/mod/models/scan")),
    _mod("/mod/models/upload", _lora_upload),
]
ROWS = {row.label: row for row in ROUTES}


def state_changing_routes() -> set[str]:
    """ "METHOD path" of every route of the app that takes an unsafe method."""
    app = create_app(load_settings())
    labels = set()
    for route in iter_route_contexts(app.routes):
        for method in sorted(set(getattr(route, "methods", None) or ()) & UNSAFE):
            labels.add(f"{method} {route.path}")
    return labels


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Who may do what does not depend on the database; SQLite keeps the matrix quick."""
    return sqlite_url


@pytest.fixture
def models_dir(models_dir: Path, tmp_path: Path) -> Path:
    """A copy of the model store (hard links), so an upload or scan here leaves the shared one alone."""
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy, copy_function=os.link)
    return copy


@pytest.fixture
def discord_settings(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings with Log in with Discord configured (no call reaches Discord here)."""
    monkeypatch.setenv("ATELIER_OAUTH_CLIENT_ID", "1234")
    monkeypatch.setenv("ATELIER_OAUTH_CLIENT_SECRET", "not-a-real-secret")
    return load_settings()


@pytest.fixture
def gallery(discord_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(discord_settings), follow_redirects=False) as client:
        yield client


def _send(client: TestClient, row: Row, call: Call, headers: dict[str, str] | None = None) -> Response:
    return client.request(
        row.method, call.path, data=call.data, json=call.json, files=call.files, headers=headers or {}
    )


def _as(client: TestClient, settings: Settings, identity: str) -> None:
    client.cookies.clear()
    if identity == "owner":
        log_in_as(client, settings, "Olive")
    elif identity == "member":
        log_in_as(client, settings, "Max")
    elif identity == "moderator":
        log_in_as(client, settings, "Mona", Role.MODERATOR)


# -- tests -----------------------------------------------------------------------------------------


def test_every_state_changing_route_has_a_row(discord_settings: Settings) -> None:
    """Each POST/PUT/PATCH/DELETE route of the app is in ROUTES, and each row is a route of the app."""
    served = state_changing_routes()
    missing = sorted(served - set(ROWS))
    assert not missing, f"state-changing routes without a row in ROUTES (add one): {missing}"
    assert not set(ROWS) - served, f"rows of routes the app no longer serves: {sorted(set(ROWS) - served)}"


@pytest.mark.parametrize("row", ROUTES, ids=[row.label for row in ROUTES])
def test_each_visitor_gets_the_expected_outcome(
    row: Row, gallery: TestClient, discord_settings: Settings, tmp_path: Path
) -> None:
    """Anonymous, member, owner and moderator each get the row's outcome; a refusal changes no row."""
    world = _world(discord_settings, tmp_path)
    got: dict[str, Any] = {}
    for identity in ("anonymous", "member", "owner", "moderator"):
        _as(gallery, discord_settings, identity)
        before = snapshot(discord_settings)
        response = _send(gallery, row, row.call(world))
        outcome = outcome_of(response)
        got[identity] = outcome
        if outcome is not ALLOWED:
            assert snapshot(discord_settings) == before, f"{row.label} as {identity}: refused, yet rows changed"
        if outcome is not getattr(row, identity):
            got[identity] = f"{outcome} (HTTP {response.status_code} {response.text[:200]!r})"
    expected = {identity: getattr(row, identity) for identity in got}
    assert got == expected


@pytest.mark.parametrize("row", ROUTES, ids=[row.label for row in ROUTES])
def test_cross_site_request_is_refused(
    row: Row, gallery: TestClient, discord_settings: Settings, tmp_path: Path
) -> None:
    """A moderator's browser sending the request from another site (foreign Origin) is refused; no row changes."""
    world = _world(discord_settings, tmp_path)
    _as(gallery, discord_settings, "moderator")
    before = snapshot(discord_settings)
    response = _send(gallery, row, row.call(world), FOREIGN)
    assert outcome_of(response) is row.cross_site, f"HTTP {response.status_code} {response.text[:200]!r}"
    if row.cross_site is not ALLOWED:
        assert snapshot(discord_settings) == before
