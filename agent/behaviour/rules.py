"""Characteristic sets: rules over the items a visit handled, kept as data in config.

Segments change over time (organic buyers can appear overnight), so a set is a
config entry, not code: which item categories count, which interactions count,
and how many such items make the visit a member.

Example:
    >>> from agent.observations import ItemEvent, Product, Visit
    >>> rule = CharacteristicRule(name="fitness", description="protein buyers",
    ...                           categories=["protein"], actions=["purchased"])
    >>> item = ItemEvent(5.0, "rfid", "checkout", "purchased", Product(None, "protein"))
    >>> rule.matches(Visit(start=0, end=9, entered=True, stays=(), path_m=0, items=(item,)))
    True
"""

from __future__ import annotations

from pydantic import Field, model_validator

from agent.configbase import Model
from agent.observations import ItemAction, Visit

HANDLED: tuple[ItemAction, ...] = ("picked", "purchased")
"""By default an item counts once it was taken from the shelf or bought."""
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"
"""Set names are keys in published payloads: short, lower case, no spaces."""


class CharacteristicRule(Model):
    name: str = Field(
        title="Name", description="Key of the set in characteristics events.", pattern=NAME_PATTERN
    )
    description: str = Field(
        default="", title="Description", description="What the set means, for analysts."
    )
    categories: list[str] = Field(
        default_factory=list,
        title="Categories",
        description="Item categories (from the catalogue) that count; empty counts any item.",
    )
    actions: list[ItemAction] = Field(
        default_factory=lambda: list(HANDLED),
        title="Interactions",
        description="Which item interactions count: picked, returned, fitting_room, purchased.",
        min_length=1,
    )
    min_items: int = Field(
        default=1, ge=1, title="At least", description="Fewest counted items for membership."
    )
    max_items: int | None = Field(
        default=None,
        ge=1,
        title="At most",
        description="Most counted items for membership (for 'small basket'); none: no limit.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> CharacteristicRule:
        if self.max_items is not None and self.max_items < self.min_items:
            raise ValueError(f"max_items ({self.max_items}) is below min_items ({self.min_items})")
        return self

    def matches(self, visit: Visit) -> bool:
        wanted = set(self.categories)
        n = sum(
            1
            for item in visit.items
            if item.action in self.actions and (not wanted or item.product.category in wanted)
        )
        return n >= self.min_items and (self.max_items is None or n <= self.max_items)


DEFAULT_RULES = [
    CharacteristicRule(
        name="small_basket",
        description="Bought a few items: a solo or small household.",
        actions=["purchased"],
        min_items=1,
        max_items=3,
    ),
    CharacteristicRule(
        name="family_with_kids",
        description="Handled children's products.",
        categories=["childrens"],
    ),
    CharacteristicRule(
        name="fitness",
        description="Handled protein or supplements.",
        categories=["protein"],
    ),
    CharacteristicRule(
        name="working_professional",
        description="Handled formal wear.",
        categories=["formal_wear"],
    ),
    CharacteristicRule(
        name="ready_to_eat",
        description="Handled ready-to-eat food: singles and couples.",
        categories=["ready_to_eat"],
    ),
]
