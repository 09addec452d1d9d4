"""An image's remix lineage: the images it came from and the remixes made from it, each with a diff.

A job's `parent_image_id` names the image it remixed; walking it up gives the ancestors (a few levels,
so a long chain of remixes cannot make one page slow), and the jobs that name this image give its
children. Every step applies `visible_to`, so a hidden image never shows up in anyone's tree but a
moderator's, and the walk stops at it rather than skipping over it. Diffs read in lineage order: from
an ancestor to this image, and from this image to each child.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from atelier.recipe import Recipe
from atelier.recipe_diff import RecipeDiff, diff_recipes
from atelier.schema import Image, Job
from gallery.queries import visible_to
from gallery.viewer import Viewer

MAX_ANCESTORS = 3
MAX_CHILDREN = 24


@dataclass(frozen=True)
class Relative:
    image: Image
    diff: RecipeDiff
    # 1 for a parent or a child, 2 for a grandparent, …
    depth: int = 1

    @property
    def relation(self) -> str:
        return {1: "parent", 2: "grandparent", 3: "great-grandparent"}.get(self.depth, "ancestor")


@dataclass(frozen=True)
class Lineage:
    ancestors: list[Relative] = field(default_factory=list)
    """Nearest first: the parent, then its parent, …"""
    children: list[Relative] = field(default_factory=list)
    more_children: bool = False
    more_ancestors: bool = False

    def __bool__(self) -> bool:
        return bool(self.ancestors or self.children)


def image_recipe(image: Image) -> Recipe:
    """The recipe of one image, with its own seed (image i of a batch used seed + i)."""
    try:
        recipe = Recipe.from_json(image.job.recipe)
    except (TypeError, ValueError):  # a recipe stored by much older code: compare what can be read
        recipe = Recipe(prompt=str(image.job.recipe.get("prompt", "")))
    return replace(recipe, seed=image.seed)


def _visible(session: Session, image_id: int, viewer: Viewer) -> Image | None:
    query = select(Image).options(joinedload(Image.job)).where(Image.id == image_id, visible_to(viewer))
    return session.scalars(query).first()


def lineage_of(session: Session, image: Image, viewer: Viewer, remixed: bool) -> Lineage:
    """The image's ancestors and, when `remixed` (some job names it as parent), its visible remixes."""
    recipe = image_recipe(image)
    ancestors: list[Relative] = []
    seen = {image.id}
    parent_id = image.job.parent_image_id
    while parent_id is not None and parent_id not in seen and len(ancestors) < MAX_ANCESTORS:
        parent = _visible(session, parent_id, viewer)
        if parent is None:
            break
        seen.add(parent.id)
        ancestors.append(Relative(parent, diff_recipes(image_recipe(parent), recipe), len(ancestors) + 1))
        parent_id = parent.job.parent_image_id
    more_ancestors = (
        parent_id is not None and parent_id not in seen and _visible(session, parent_id, viewer) is not None
    )
    if not remixed:
        return Lineage(ancestors, more_ancestors=more_ancestors)
    query = (
        select(Image)
        .join(Image.job)
        .options(joinedload(Image.job))
        .where(Job.parent_image_id == image.id, Image.id != image.id, visible_to(viewer))
        .order_by(Image.created_at, Image.id)
        .limit(MAX_CHILDREN + 1)
    )
    rows = list(session.scalars(query).unique())
    children = [Relative(child, diff_recipes(recipe, image_recipe(child))) for child in rows[:MAX_CHILDREN]]
    return Lineage(ancestors, children, more_children=len(rows) > MAX_CHILDREN, more_ancestors=more_ancestors)
