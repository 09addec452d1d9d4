"""`POST /images/{id}/report`: a logged-in member reports an image to the moderators, from its page.

Like the vote form it needs a login (an anonymous visitor is sent to log in and comes back to the
image) and refuses requests from other sites. The reason is checked by `atelier.services.reports`;
a bad one is answered with its message. After a report the image page says it was received.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from atelier.errors import Forbidden
from atelier.services import reports
from gallery.deps import SessionDep, checked_id, refuse_nul
from gallery.viewer import ViewerDep, same_origin

router = APIRouter()


async def _reason(request: Request) -> str:
    form = await request.form(max_files=0, max_fields=4)
    value = form.get("reason")
    return refuse_nul("reason", value) if isinstance(value, str) else ""


ReasonField = Annotated[str, Depends(_reason)]


@router.post("/images/{image_id}/report", name="report_image")
def report_image(
    request: Request, image_id: str, reason: ReasonField, session: SessionDep, viewer: ViewerDep
) -> Response:
    """File the member's report (or rewrite their earlier one), then back to the image, confirmed."""
    if not same_origin(request):
        raise Forbidden("a report can only be sent from pages of this gallery")
    checked = checked_id(image_id, "image")
    if viewer.user_id is None:
        query = urlencode({"next": f"/images/{checked}"})
        return RedirectResponse(f"/login?{query}", status_code=303)
    reports.report(session, viewer.user_id, checked, reason)
    return RedirectResponse(f"/images/{checked}?reported=1#report", status_code=303)
