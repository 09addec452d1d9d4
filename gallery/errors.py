"""How errors reach people: a page for browsers, `{"error": {...}}` for API clients, never a 500.

Atelier's services raise `InvalidInput` (naming the field), `NotFound`, `Forbidden` and `Refused`;
the handlers here turn them into 422, 404, 403 and 429 responses in the shape the caller asked for,
so routes stay free of try/except boilerplate. The form route catches `InvalidInput` itself, because it re-renders the
form with the user's input rather than showing a bare error.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from atelier.errors import AtelierError, Forbidden, InvalidInput, NotFound, Refused
from gallery.templating import templates

JSON_PREFIXES = ("/api/", "/healthz")


def status_of(error: AtelierError) -> int:
    """The HTTP status of a service's refusal, for the handlers here and for pages that show the
    message themselves (the moderator pages)."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    return 429 if isinstance(error, Refused) else 422


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES)


def json_error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if field is not None:
        body = {"field": field, **body}
    return JSONResponse({"error": body}, status_code=status)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    if wants_json(request):
        return json_error(status, message)
    if request.url.path.startswith("/files/"):
        return PlainTextResponse(message, status_code=status)
    context = {"title": title, "message": message, "status": status}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


async def _not_found(request: Request, exc: Exception) -> Response:
    message = exc.message if isinstance(exc, NotFound) else "not found"
    return error_page(request, 404, "Not found", message)


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    if wants_json(request):
        return json_error(422, exc.message, exc.field)
    return error_page(request, 422, "Invalid input", exc.message)


async def _rule_error(request: Request, exc: Exception) -> Response:
    """Forbidden (403) and Refused (429): the message says which rule and, for quotas, until when."""
    assert isinstance(exc, Forbidden | Refused)
    status = status_of(exc)
    return error_page(request, status, "Not allowed" if status == 403 else "Not now", exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    titles = {405: "Method not allowed", 400: "Bad request", 413: "Too large"}
    message = str(exc.detail) if exc.detail else titles.get(exc.status_code, "error")
    response = error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = str(first.get("loc", ["", "request"])[-1])
    return json_error(422, f"{field}: {first.get('msg', 'is invalid')}", field)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(Forbidden, _rule_error)
    app.add_exception_handler(Refused, _rule_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
