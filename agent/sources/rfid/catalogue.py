"""The store's product catalogue: GTIN to category, price tier and promo flag.

Store IT supplies it as CSV (a header row with ``gtin,category,price_tier,promo``)
or as SQLite (a table ``products`` with those columns). A bad row is skipped with
one warning naming the file and row; the rest loads. Categories are free text so
that a new characteristic set needs no code; the ones the shipped segment
definitions read are listed in ``docs/rfid.md``.

Example:
    >>> cat = Catalogue({"80614141123458": Product("80614141123458", "formal_wear")})
    >>> cat.product("80614141123458").category
    'formal_wear'
    >>> cat.product(None).category
    'unknown'
"""

from __future__ import annotations

import csv
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

from agent.observations import Product
from agent.sources.rfid.epc import normalise_gtin

log = logging.getLogger(__name__)

UNKNOWN_CATEGORY = "unknown"
"""The category of a tag that is not a GS1 product, or whose GTIN the catalogue lacks."""

UNKNOWN_PRODUCT = Product(gtin=None, category=UNKNOWN_CATEGORY)

MAX_UNLISTED = 100_000
"""Unlisted GTINs whose Product is kept for reuse; garbage SGTINs must not grow memory."""

COLUMNS = ("gtin", "category", "price_tier", "promo")
TRUE_WORDS = frozenset({"1", "true", "yes", "y"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n"})
MAX_TEXT = 64
"""Category and tier names appear in events; a longer value is a broken row."""


class CatalogueError(ValueError):
    """The catalogue file cannot be read at all (the message names it)."""


class Catalogue:
    """GTIN to Product, plus a shared Product for every GTIN it does not list.

    Args:
        products: 14-digit GTIN to Product.
    """

    def __init__(self, products: Mapping[str, Product] | None = None) -> None:
        self._products = dict(products or {})
        self._unlisted: dict[str, Product] = {}
        self.skipped_rows = 0

    def __len__(self) -> int:
        return len(self._products)

    def product(self, gtin: str | None) -> Product:
        """The catalogue entry, ``unknown`` with the GTIN kept if unlisted, or UNKNOWN."""
        if gtin is None:
            return UNKNOWN_PRODUCT
        found = self._products.get(gtin)
        if found is not None:
            return found
        unlisted = self._unlisted.get(gtin)
        if unlisted is None:
            unlisted = Product(gtin=gtin, category=UNKNOWN_CATEGORY)
            if len(self._unlisted) < MAX_UNLISTED:
                self._unlisted[gtin] = unlisted
        return unlisted

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        """Read a CSV or SQLite catalogue, skipping (and logging) bad rows.

        Raises:
            CatalogueError: the file is missing, unreadable or has no usable columns.
        """
        with_magic = _is_sqlite(path)
        rows = _sqlite_rows(path) if with_magic else _csv_rows(path)
        products: dict[str, Product] = {}
        skipped = 0
        for where, row in rows:
            try:
                product = _product(row)
            except ValueError as e:
                skipped += 1
                log.warning("%s: %s: skipped: %s", path, where, e)
                continue
            assert product.gtin is not None
            products[product.gtin] = product
        catalogue = cls(products)
        catalogue.skipped_rows = skipped
        return catalogue


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError as e:
        raise CatalogueError(f"{path}: cannot read: {e.strerror or e}") from None


RawRow = dict[str, object]


def _csv_rows(path: Path) -> Iterator[tuple[str, RawRow]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            fields = [name.strip().lower() for name in reader.fieldnames or []]
            missing = [c for c in ("gtin", "category") if c not in fields]
            if missing:
                raise CatalogueError(f"{path}: header row lacks column(s) {', '.join(missing)}")
            reader.fieldnames = fields
            for row in reader:
                yield f"line {reader.line_num}", dict(row)
    except UnicodeDecodeError as e:
        raise CatalogueError(f"{path}: not UTF-8 text at byte {e.start}") from None
    except csv.Error as e:
        raise CatalogueError(f"{path}: not valid CSV: {e}") from None
    except OSError as e:
        raise CatalogueError(f"{path}: cannot read: {e.strerror or e}") from None


def _sqlite_rows(path: Path) -> Iterator[tuple[str, RawRow]]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise CatalogueError(f"{path}: cannot open SQLite: {e}") from None
    try:
        columns = {r[1].lower() for r in db.execute("PRAGMA table_info(products)")}
        missing = [c for c in ("gtin", "category") if c not in columns]
        if missing:
            raise CatalogueError(f"{path}: table 'products' lacks column(s) {', '.join(missing)}")
        chosen = [c for c in COLUMNS if c in columns]
        cursor = db.execute(f"SELECT rowid, {', '.join(chosen)} FROM products ORDER BY rowid")
        for values in cursor:
            yield f"rowid {values[0]}", dict(zip(chosen, values[1:], strict=True))
    except sqlite3.Error as e:
        raise CatalogueError(f"{path}: cannot read table 'products': {e}") from None
    finally:
        db.close()


def _text(row: RawRow, name: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"column '{name}' is empty")
        return None
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"column '{name}' is longer than {MAX_TEXT} characters")
    return text


def _product(row: RawRow) -> Product:
    raw_gtin = row.get("gtin")
    gtin = normalise_gtin(str(raw_gtin)) if raw_gtin is not None else None
    if gtin is None:
        raise ValueError("column 'gtin' is not a GTIN-8/12/13/14 with a valid check digit")
    category = _text(row, "category", required=True)
    assert category is not None
    promo_text = str(row.get("promo") or "").strip().lower()
    if promo_text in TRUE_WORDS:
        promo = True
    elif promo_text in FALSE_WORDS:
        promo = False
    else:
        raise ValueError("column 'promo' must be true/false, yes/no or 1/0")
    return Product(
        gtin=gtin,
        category=category.lower(),
        price_tier=_text(row, "price_tier", required=False),
        promo=promo,
    )
