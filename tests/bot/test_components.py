"""The button layout and custom ids: within Discord's limits, parsed back by the registered items."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.components import CancelButton, ImageButton, cancel_view, result_view

PUBLIC = "https://atelier.example"


def components(image_ids: list[int]) -> list[dict[str, Any]]:
    async def build() -> list[dict[str, Any]]:  # a View needs a running loop
        return result_view(image_ids, PUBLIC).to_components()

    return asyncio.run(build())


def test_single_image_has_eight_buttons_on_two_rows() -> None:
    """One image: reroll, variations, upscale, remix, vote; then parameters, the gallery link and delete."""
    rows = components([5])
    first, second = ([c.get("custom_id") or c.get("url") for c in row["components"]] for row in rows)
    assert first == ["atelier:reroll:5", "atelier:vary:5", "atelier:upscale:5", "atelier:remix:5", "atelier:vote:5"]
    assert second == ["atelier:info:5", f"{PUBLIC}/images/5", "atelier:delete:5"]


def test_batch_fits_discords_five_rows() -> None:
    """Four images: a row for the job and a row per image, at most five buttons a row."""
    rows = components([5, 6, 7, 8])
    assert len(rows) == 5 and all(len(row["components"]) <= 5 for row in rows)
    assert [c.get("custom_id") or c.get("url") for c in rows[0]["components"]] == [
        "atelier:reroll:5", f"{PUBLIC}/images/5", "atelier:delete:5"
    ]  # fmt: skip


def test_batch_rows_carry_each_images_own_buttons() -> None:
    """The fourth image's row: variations, upscale, remix, vote and parameters of that image, numbered 4."""
    row = components([5, 6, 7, 8])[4]["components"]
    assert [c["custom_id"] for c in row] == [f"atelier:{a}:8" for a in ("vary", "upscale", "remix", "vote", "info")]
    assert {c["label"] for c in row} == {"4"}


@pytest.mark.parametrize("custom_id", ["atelier:reroll:5", "atelier:vote:5", "atelier:delete:123456789012345678"])
def test_image_custom_ids_match_the_registered_template(custom_id: str) -> None:
    """What the views send is what the dynamic item parses after a restart."""
    assert ImageButton.__discord_ui_compiled_template__.fullmatch(custom_id)


def test_template_refuses_other_ids() -> None:
    """Unknown actions and non-numeric ids are not routed to the image buttons."""
    template = ImageButton.__discord_ui_compiled_template__
    assert not template.fullmatch("atelier:explode:5")
    assert not template.fullmatch("atelier:reroll:abc")
    assert not template.fullmatch("atelier:reroll:0")


def test_cancel_view_carries_the_job_id() -> None:
    """✖️ carries its job's id in a custom id the cancel item parses."""

    async def build() -> str:
        return str(cancel_view(42).to_components()[0]["components"][0]["custom_id"])

    custom_id = asyncio.run(build())
    assert custom_id == "atelier:cancel:42"
    assert CancelButton.__discord_ui_compiled_template__.fullmatch(custom_id)


def test_queue_view_has_a_cancel_per_job() -> None:
    """/queue: one ✖️ per job, labelled with its number, parsed back by the cancel item."""
    from bot.components import queue_view

    async def build() -> list[dict[str, Any]]:
        return [c for row in queue_view([7, 9]).to_components() for c in row["components"]]

    buttons = asyncio.run(build())
    assert [(b["custom_id"], b["label"]) for b in buttons] == [("atelier:cancel:7", "7"), ("atelier:cancel:9", "9")]
