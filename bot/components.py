"""The buttons on the bot's messages, as persistent dynamic items.

Each button carries what it acts on in its `custom_id` (`atelier:reroll:<image id>`,
`atelier:cancel:<job id>`), and the item classes are registered once at start-up with
`add_dynamic_items`: any press on any message the bot ever posted is routed by pattern, so buttons
keep working after a restart and long after the interaction token that posted them died. Nothing
else is remembered per message.

The classes only parse the id and hand the press to the bot (`AtelierBot.press`); what a press does
lives in `bot.buttons`, which needs the delivery machinery that itself builds these views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import ui

if TYPE_CHECKING:
    from bot.client import AtelierBot

PREFIX = "atelier"
ID = r"[1-9][0-9]{0,18}"


@dataclass(frozen=True)
class Action:
    name: str
    emoji: str
    label: str
    style: discord.ButtonStyle = discord.ButtonStyle.secondary


REROLL = Action("reroll", "🔁", "Reroll")
VARY = Action("vary", "🎲", "Variations")
UPSCALE = Action("upscale", "⬆️", "Upscale")
REMIX = Action("remix", "✏️", "Remix")
VOTE = Action("vote", "❤️", "Vote")
INFO = Action("info", "\N{INFORMATION SOURCE}\ufe0f", "Parameters")
DELETE = Action("delete", "🗑️", "Delete", discord.ButtonStyle.danger)
CANCEL = Action("cancel", "✖️", "Cancel", discord.ButtonStyle.danger)
IMAGE_ACTIONS = {a.name: a for a in (REROLL, VARY, UPSCALE, REMIX, VOTE, INFO, DELETE)}


def custom_id(action: Action, target: int) -> str:
    return f"{PREFIX}:{action.name}:{target}"


class ImageButton(
    ui.DynamicItem[ui.Button[Any]],
    template=rf"{PREFIX}:(?P<action>{'|'.join(IMAGE_ACTIONS)}):(?P<image>{ID})",
):
    """A button that acts on one gallery image (reroll, variations, upscale, remix, vote, parameters, delete)."""

    def __init__(self, action: Action, image_id: int, label: str | None = None) -> None:
        button: ui.Button[Any] = ui.Button(
            style=action.style, emoji=action.emoji, label=label or action.label, custom_id=custom_id(action, image_id)
        )
        super().__init__(button)
        self.action = action
        self.image_id = image_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: Any) -> ImageButton:
        return cls(IMAGE_ACTIONS[match["action"]], int(match["image"]))

    async def callback(self, interaction: discord.Interaction[AtelierBot]) -> None:  # type: ignore[override]
        await interaction.client.press(interaction, self.action.name, self.image_id)


class CancelButton(ui.DynamicItem[ui.Button[Any]], template=rf"{PREFIX}:cancel:(?P<job>{ID})"):
    """✖️ on the queued/rendering message of a job."""

    def __init__(self, job_id: int, label: str | None = None) -> None:
        button: ui.Button[Any] = ui.Button(
            style=CANCEL.style, emoji=CANCEL.emoji, label=label or CANCEL.label, custom_id=custom_id(CANCEL, job_id)
        )
        super().__init__(button)
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Item[Any], match: Any
    ) -> CancelButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[AtelierBot]) -> None:  # type: ignore[override]
        await interaction.client.press(interaction, CANCEL.name, self.job_id)


def gallery_link(public_url: str, image_id: int, label: str = "Gallery") -> ui.Button[Any]:
    return ui.Button(style=discord.ButtonStyle.link, emoji="🔗", label=label, url=image_url(public_url, image_id))


def image_url(public_url: str, image_id: int) -> str:
    return f"{public_url.rstrip('/')}/images/{image_id}"


def result_view(image_ids: list[int], public_url: str) -> ui.View:
    """One image: all eight buttons on two rows. A batch (up to 4): reroll, the gallery link (of the
    first image) and delete for the whole job on the first row, then a row per image with its own
    variations, upscale, remix, vote and parameters (numbered as in the message), within Discord's
    five rows of five: a per-image link would make six."""
    view = ui.View(timeout=None)
    if not image_ids:
        return view
    first = image_ids[0]
    if len(image_ids) == 1:
        for action in (REROLL, VARY, UPSCALE, REMIX, VOTE):
            view.add_item(_row(ImageButton(action, first), 0))
        view.add_item(_row(ImageButton(INFO, first), 1))
        view.add_item(_row(gallery_link(public_url, first), 1))
        view.add_item(_row(ImageButton(DELETE, first), 1))
        return view
    view.add_item(_row(ImageButton(REROLL, first), 0))
    view.add_item(_row(gallery_link(public_url, first), 0))
    view.add_item(_row(ImageButton(DELETE, first), 0))
    for number, image_id in enumerate(image_ids[:4], start=1):
        for action in (VARY, UPSCALE, REMIX, VOTE, INFO):
            view.add_item(_row(ImageButton(action, image_id, str(number)), number))  # the emoji says what
    return view


def cancel_view(job_id: int) -> ui.View:
    view = ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


def queue_view(job_ids: list[int]) -> ui.View:
    """/queue: a ✖️ per job, labelled with the job number its line shows (25 at most: five rows of five)."""
    view = ui.View(timeout=None)
    for job_id in job_ids[:25]:
        view.add_item(CancelButton(job_id, str(job_id)))
    return view


def _row(item: ui.Item[Any], row: int) -> ui.Item[Any]:
    item.row = row
    return item
