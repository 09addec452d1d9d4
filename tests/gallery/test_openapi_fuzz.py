"""Every operation of the gallery's OpenAPI document, fuzzed with schemathesis against the real app on
a real database: no answer is a 5xx, and answers match the documented shapes where one is documented.

The database holds images (one hidden, a remix with its parent, voted ones), queued, done and failed
jobs, a LoRA and members. Each generated request goes out as an anonymous visitor, a member or a
moderator (a live session, so the logged-in paths run, not only their 401s), and path parameters that
name ids, models or files are often swapped for ones that exist, so the fuzzer reaches rows and not
only 404s; generated text is often swapped for hostile text (NUL, huge numbers, markup).
Generation is derandomized and bounded (`EXAMPLES` per operation and mode) so the run takes the
same path and about the same time each time. Schemathesis is driven directly with
Hypothesis's `@given`, so it needs no pytest plugin (it runs with or without Hypothesis's).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

import hypothesis.errors
import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlalchemy import select

from atelier.db import session_scope
from atelier.recipe import LoraUse
from atelier.schema import Job, JobSource, JobState, ModelFile, ModelKind, Report, Role, RoleQuota, User
from atelier.settings import Settings
from gallery.app import create_app
from gallery.deps import RECIPE_FIELDS
from tests.gallery.factories import add_failed_job, add_image, add_model, add_vote, log_in_as

EXAMPLES = int(os.environ.get("ATELIER_FUZZ_EXAMPLES", "16"))
"""Generated requests per operation and generation mode (valid and invalid input); raise it for a
deeper hunt, e.g. ATELIER_FUZZ_EXAMPLES=200."""

EXCLUDED = {
    # A live job's event stream stays open until the job finishes (up to 30 minutes), so a generated
    # request naming a queued job would never end. Its answers (404, a finished job's single event,
    # the stream of a live one) are tested in tests/gallery/routes/test_events.py.
    "GET /api/jobs/{job_id}/events": "a live job's SSE stream does not end",
}

# Form and upload routes read their fields by hand (so the form, the bot and the API word a mistake
# the same way), which leaves their bodies out of the document; the fields they read are described
# here so the fuzzer sends them. A POST route not listed gets a body of arbitrary text fields.
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "/preferences/nsfw": (FORM, {"show": {"type": "string"}, "next": {"type": "string"}}),
    "/draw": (FORM, {name: {"type": "string"} for name in RECIPE_FIELDS}),
    "/auth/local": (FORM, {"next": {"type": "string"}}),
    "/auth/logout": (FORM, {"everywhere": {"type": "string"}}),
    "/images/{image_id}/vote": (FORM, {"next": {"type": "string"}}),
    "/images/{image_id}/report": (FORM, {"reason": {"type": "string"}, "next": {"type": "string"}}),
    "/api/prompt/check": (
        "application/json",
        {"prompt": {}, "negative_prompt": {}, "steps": {}, "checkpoint": {}},
    ),
    "/api/uploads": (MULTIPART, {"image": {"type": "string", "format": "binary"}}),
    "/mod/images/{image_id}/hide": (FORM, {"next": {"type": "string"}}),
    "/mod/images/{image_id}/unhide": (FORM, {"next": {"type": "string"}}),
    "/mod/bans": (FORM, {"term": {"type": "string"}, "reason": {"type": "string"}}),
    "/mod/bans/remove": (FORM, {"term": {"type": "string"}}),
    "/mod/quotas": (
        FORM,
        {name: {"type": "string"} for name in ("role_id", "role_name", "gpu_minutes", "max_queued")},
    ),
    "/mod/models/{model_id}/{action}": (FORM, {"trigger_words": {"type": "string"}}),
    "/mod/models/upload": (
        MULTIPART,
        {"file": {"type": "string", "format": "binary"}, "name": {"type": "string"}, "kind": {"type": "string"}},
    ),
}
ANY_FORM = (FORM, {})


def _with_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the hand-read bodies of POST routes described (see BODIES)."""
    for path, operations in document["paths"].items():
        post = operations.get("post")
        if post is None or "requestBody" in post:
            continue
        media_type, properties = BODIES.get(path, ANY_FORM)
        body_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if not properties:
            body_schema["additionalProperties"] = {"type": "string"}
        post["requestBody"] = {"content": {media_type: {"schema": body_schema}}}
    return document


# Text that often breaks a web app: NUL (PostgreSQL refuses it in text), control and bidi characters,
# numbers past 64 bits, paths, markup, huge and full-width input. Any generated text value may become one.
NASTY = (
    "\x00",
    "a\x00b",
    " ",
    "\t\r\n",
    "-1",
    "0",
    "9" * 40,
    "1e999",
    "NaN",
    "%00",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202e",
    "x" * 5000,
    "\uff12\uff10",
    "\U0001d54f",
)

BASE_URL = "http://testserver"
IDENTITIES = ("anonymous", "member", "moderator")


def _seed(settings: Settings) -> dict[str, list[str]]:
    """Rows the fuzzer can reach; returns known values for path parameters, by parameter name."""
    add_model(settings, ModelKind.LORA, "paper cut", trigger_words=["papercut"])
    first = add_image(settings, "a red circle on a blue background", owner="Ada", seed=1)
    remix = add_image(
        settings, "a (red:1.2) circle, sharp", owner="Bo", seed=2, parent=first["image_id"], loras=(LoraUse("paper"),)
    )
    hidden = add_image(settings, "a hidden green square", owner="Ada", hidden=True)
    nsfw = add_image(settings, "a purple triangle", owner="Fuzz member", nsfw=True)
    add_vote(settings, first["image_id"], "Bo")
    add_vote(settings, remix["image_id"], "Fuzz member")
    failed = add_failed_job(settings)
    with session_scope(settings.database_url) as session:
        queued = Job(source=JobSource.WEB, recipe={"prompt": "a blue square", "checkpoint": "tiny-test"})
        queued.state = JobState.QUEUED
        session.add(queued)
        session.flush()
        queued_id = queued.id
        report = Report(image_id=nsfw["image_id"], reporter_id=remix["owner_id"], reason="not for this server")
        session.add_all([report, RoleQuota(discord_role_id=4242, role_name="Guests", max_queued=1)])
        session.flush()
        report_id = report.id
        members = [user.id for user in session.scalars(select(User))]
        model_ids = [model.id for model in session.scalars(select(ModelFile))]
    images = [first, remix, hidden, nsfw]
    return {
        "image_id": [str(made["image_id"]) for made in images],
        "job_id": [str(made["job_id"]) for made in images] + [str(failed), str(queued_id)],
        "member_id": [str(member) for member in members],
        "kind": ["checkpoint", "lora"],
        "name": ["tiny-test", "paper cut"],
        "path": [made["file_path"] for made in images] + [made["thumbnail_path"] for made in images],
        "report_id": [str(report_id)],
        "role_id": ["4242"],
        "model_id": [str(model_id) for model_id in model_ids],
        "action": ["enable", "disable", "default", "allow-nsfw", "forbid-nsfw", "trigger-words"],
    }


def _send(client: TestClient, case: schemathesis.Case) -> Any:
    """The generated request, encoded as schemathesis encodes it for `requests` (forms, multipart,
    JSON), then sent through the app's own test client (one app, lifespan started once)."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    for name, value in (kwargs.pop("cookies", None) or {}).items():
        client.cookies.set(name, value)
    names = ("method", "url", "headers", "params", "json", "data", "files")
    prepared = requests.Request(**{name: kwargs[name] for name in names if name in kwargs}).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert prepared.method is not None and prepared.url is not None
    return client.request(prepared.method, prepared.url, content=body, headers=dict(prepared.headers))


def _maybe_nasty(data: st.DataObject, container: object, choices: Sequence[str] = NASTY) -> None:
    """Swap about one in four of the generated text values for one of `choices`. (A path parameter
    gets none with a slash: the client would resolve `../` and ask for another path.)"""
    if not isinstance(container, dict):
        return
    for name, value in container.items():
        if isinstance(value, str) and data.draw(st.integers(0, 3), label=f"nasty {name}") == 0:
            container[name] = data.draw(st.sampled_from(choices), label=name)


def _checks(case: schemathesis.Case) -> list[Any]:
    checks = [not_a_server_error, response_schema_conformance]
    if case.operation.path.startswith("/api/"):
        checks.append(content_type_conformance)  # pages answer HTML that the document cannot describe
    return checks


def _fuzz(
    client: TestClient,
    settings: Settings,
    operation: Any,
    mode: schemathesis.GenerationMode,
    known: dict[str, list[str]],
    failures: list[str],
) -> None:
    """Run one operation's generated cases in one mode; the first failures of its checks are recorded,
    not raised, so one run names every broken operation."""
    failed: set[str] = set()

    @settings_for_fuzzing
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: schemathesis.Case, data: st.DataObject) -> None:
        for container in (case.query, case.body):
            _maybe_nasty(data, container)
        _maybe_nasty(data, case.path_parameters, [text for text in NASTY if "/" not in text])
        for name in list(case.path_parameters or {}):
            if name in known and data.draw(st.booleans(), label=f"known {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]), label=name)
        identity = data.draw(st.sampled_from(IDENTITIES), label="identity")
        client.cookies.clear()
        if identity != "anonymous":
            role = Role.MODERATOR if identity == "moderator" else Role.MEMBER
            log_in_as(client, settings, f"Fuzz {identity}", role)
        response = _send(client, case)
        try:
            case.validate_response(response, checks=_checks(case))
        except (FailureGroup, AssertionError) as error:  # the checks' failures
            key = f"{type(error).__name__}: {str(error)[:200]}"
            if key not in failed and len(failed) < 3:
                failed.add(key)
                failures.append(
                    f"{operation.label} as {identity} ({mode.value}): HTTP {response.status_code}\n"
                    f"{response.text[:300]!r}\n{str(error)[:1500]}\n  {case.as_curl_command()}"
                )

    # Unsatisfiable: nothing in this operation can be made invalid (no parameters to break).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


settings_for_fuzzing = hypothesis_settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def fuzz_client(registered: Settings) -> Any:
    with TestClient(create_app(registered), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def test_every_operation_survives_fuzzing(fuzz_client: TestClient, registered: Settings) -> None:
    """No generated request to any documented operation gets a 5xx or an answer off its documented shape."""
    known = _seed(registered)
    schema = schemathesis.openapi.from_dict(_with_bodies(fuzz_client.get("/api/openapi.json").json()))
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert set(EXCLUDED) <= labels, f"excluded operations no longer in the document: {set(EXCLUDED) - labels}"
    failures: list[str] = []
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            if operation.label not in EXCLUDED:
                _fuzz(fuzz_client, registered, operation, mode, known, failures)
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)


# -- what fuzzing found ----------------------------------------------------------------------------

NUL = "a\x00b"


@pytest.fixture
def moderator_client(registered: Settings) -> Any:
    with TestClient(create_app(registered), raise_server_exceptions=False, follow_redirects=False) as client:
        log_in_as(client, registered, "Mona", Role.MODERATOR)
        yield client


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/images/{image_id}/report", {"reason": NUL}),
        ("/mod/bans", {"term": NUL, "reason": "rules"}),
        ("/mod/bans", {"term": "gore", "reason": NUL}),
        ("/mod/bans/remove", {"term": NUL}),
        ("/mod/quotas", {"role_id": "5", "role_name": NUL, "gpu_minutes": "1", "max_queued": "1"}),
        ("/mod/models/{model_id}/trigger-words", {"trigger_words": NUL}),
    ],
)
def test_nul_in_form_text_is_a_422(
    moderator_client: TestClient, registered: Settings, path: str, form: dict[str, str]
) -> None:
    """A NUL character in a form's text is refused with a message naming the field (PostgreSQL cannot
    store one: this was a 500)."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    model_id = add_model(registered, ModelKind.LORA, "paper")
    response = moderator_client.post(path.format(image_id=image_id, model_id=model_id), data=form)
    assert response.status_code == 422
    field = next(name for name, value in form.items() if value == NUL)
    assert f"{field}: contains a NUL character" in response.text


def test_model_page_with_nul_in_the_name_is_a_404(moderator_client: TestClient) -> None:
    """A model name with a NUL character names no model: 404 (it was a 500 on PostgreSQL)."""
    response = moderator_client.get("/models/lora/a%00b")
    assert response.status_code == 404
    assert "NUL" in response.text
