"""The JSON API: submit a job, read its status, and a health check for the process manager.

Errors keep one shape, `{"error": {"field": ..., "message": ...}}`, so a script can point at the
parameter it got wrong; the handlers in `gallery.errors` produce it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from atelier.errors import Forbidden
from atelier.schema import JobSource
from atelier.services.jobs import get_job, submit
from gallery.deps import JsonDep, SessionDep, SettingsDep, checked_id
from gallery.presenters import job_status
from gallery.viewer import ViewerDep, drawing_owner, same_origin

router = APIRouter()


@router.post("/api/jobs", status_code=201)
def create_job(
    request: Request, body: JsonDep, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> JSONResponse:
    """Queue a render as the logged-in member (cookie session; anonymous only without Discord login)."""
    if not same_origin(request):
        raise Forbidden("jobs can only be submitted from pages of this gallery or by non-browser clients")
    job = submit(session, settings, body, source=JobSource.WEB, owner_id=drawing_owner(viewer, settings))
    status = job_status(session, job)
    headers = {"Location": f"/api/jobs/{job.id}"}
    return JSONResponse(status, status_code=201, headers=headers)


@router.get("/api/jobs/{job_id}")
def read_job(job_id: str, session: SessionDep) -> dict[str, Any]:
    return job_status(session, get_job(session, checked_id(job_id, "job")))


@router.get("/healthz")
def healthz(session: SessionDep) -> JSONResponse:
    """200 only when the database answers: a gallery that cannot read jobs is not healthy."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:
        return JSONResponse({"status": "error", "detail": type(error).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})
