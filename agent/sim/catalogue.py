"""A generated product catalogue with real GS1 identifiers: GTIN-14s and SGTIN-96 EPCs.

SGTIN-96 layout (GS1 EPC Tag Data Standard, section 14.5.1): header 0x30 (8 bits),
filter (3), partition (3), company prefix and item reference (44 together, split by
the partition), serial (38). We use partition 5: a 7-digit company prefix in 24 bits
and a 6-digit item reference (indicator digit first) in 20 bits.

Example:
    >>> sgtin96_hex("0614141", "812345", 6789)
    '3034257BF7194E4000001A85'
    >>> gtin14("0614141", "812345")
    '80614141123458'
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass

from agent.sim.config import Point
from agent.sim.layout import StoreLayout

SGTIN96_HEADER = 0x30
FILTER_POS_ITEM = 1
"""Filter value 1: a point-of-sale trade item, what a shop floor tag carries."""
PARTITION_7_DIGIT_PREFIX = 5
PREFIX_BITS = 24
ITEM_REF_BITS = 20
SERIAL_BITS = 38
COMPANY_PREFIX = "0614141"
"""GS1's own documentation prefix: obviously not a real brand's products."""
INDICATOR = "0"
SHELF_IN_RANGE = 0.8
"""Shelved stock lies within this share of its antenna's nominal range."""


def gtin_check_digit(first13: str) -> int:
    """GS1 mod-10: weights 3,1,3,... from the left of the 13 leading digits."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(first13))
    return (10 - total % 10) % 10


def gtin14(company_prefix: str, item_reference: str) -> str:
    """GTIN-14 from a 7-digit prefix and a 6-digit item reference (indicator first)."""
    first13 = item_reference[0] + company_prefix + item_reference[1:]
    return first13 + str(gtin_check_digit(first13))


def sgtin96_hex(company_prefix: str, item_reference: str, serial: int) -> str:
    """The 24-hex-digit SGTIN-96 EPC of one item."""
    if not 0 <= serial < 1 << SERIAL_BITS:
        raise ValueError(f"serial must fit {SERIAL_BITS} bits")
    value = SGTIN96_HEADER
    value = (value << 3) | FILTER_POS_ITEM
    value = (value << 3) | PARTITION_7_DIGIT_PREFIX
    value = (value << PREFIX_BITS) | int(company_prefix)
    value = (value << ITEM_REF_BITS) | int(item_reference)
    value = (value << SERIAL_BITS) | serial
    return f"{value:024X}"


@dataclass(frozen=True, slots=True)
class CatalogueProduct:
    gtin: str
    item_reference: str
    category: str
    price_tier: str
    promo: bool
    zone: str


@dataclass(slots=True)
class TaggedItem:
    """One tagged unit. ``epc`` is synthetic and lives only in the feed files and truth."""

    index: int
    epc: str
    product: CatalogueProduct
    shelf: Point
    taken: bool = False  # picked by a planned visit: nobody else plans to take it...
    back_by: float = math.inf  # ...until this time (s after start), when it is surely back
    stocked_at: float = 0.0  # seconds after the start when it was put on the shelf


class Catalogue:
    """Products per selling zone and their tagged units on the shelves."""

    def __init__(self, layout: StoreLayout, rng: random.Random) -> None:
        self.products: list[CatalogueProduct] = []
        self.items: list[TaggedItem] = []
        self.by_zone: dict[str, list[TaggedItem]] = {}
        self._layout = layout
        self._rng = rng
        self._serial = 1000
        # Stock sits where the zone's RFID antenna can read it, as installers place them.
        self._anchors = {
            a.zone: (a.position, a.range_m * SHELF_IN_RANGE)
            for reader in layout.sim.rfid
            for a in reader.antennas
        }
        for area in layout.selling_zones():
            stock = area.stock
            assert stock is not None  # selling_zones() only returns stocked zones
            for n in range(stock.products):
                ref = f"{INDICATOR}{len(self.products) + 10001:05d}"
                product = CatalogueProduct(
                    gtin=gtin14(COMPANY_PREFIX, ref),
                    item_reference=ref,
                    category=stock.categories[n % len(stock.categories)],
                    price_tier=stock.price_tier,
                    promo=stock.promo,
                    zone=area.zone.id,
                )
                self.products.append(product)
                for _ in range(stock.units):
                    self._shelve(product, 0.0)

    def _shelve(self, product: CatalogueProduct, at: float) -> TaggedItem:
        # Serials jump irregularly, as they do on encoded stock.
        self._serial += self._rng.randint(1, 97)
        item = TaggedItem(
            index=len(self.items),
            epc=sgtin96_hex(COMPANY_PREFIX, product.item_reference, self._serial),
            product=product,
            shelf=self._layout.point_in(product.zone, self._rng, self._anchors.get(product.zone)),
            stocked_at=at,
        )
        self.items.append(item)
        self.by_zone.setdefault(product.zone, []).append(item)
        return item

    def csv(self) -> str:
        """The catalogue in the agent's CSV format: ``gtin,category,price_tier,promo``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["gtin", "category", "price_tier", "promo"])
        for p in self.products:
            writer.writerow([p.gtin, p.category, p.price_tier, "true" if p.promo else "false"])
        return out.getvalue()

    def available(self, zone: str, at: float = 0.0) -> list[TaggedItem]:
        """Units on the zone's shelf nobody has planned to take; an empty shelf gets one
        new unit (a new serial) of one of its products from the back room."""
        free = [i for i in self.by_zone.get(zone, []) if not i.taken or i.back_by <= at]
        if not free:
            products = [p for p in self.products if p.zone == zone]
            if products:
                free = [self._shelve(self._rng.choice(products), at)]
        return free
