"""EPC decoding against GS1's published SGTIN examples, and the catalogue."""

from __future__ import annotations

import doctest
import logging
import sqlite3
from pathlib import Path

import pytest

from agent.observations import Product
from agent.sources.rfid import catalogue as catalogue_module
from agent.sources.rfid import epc as epc_module
from agent.sources.rfid import interactions, pipeline, synth
from agent.sources.rfid.catalogue import UNKNOWN_PRODUCT, Catalogue, CatalogueError
from agent.sources.rfid.epc import EpcDecoder, normalise_gtin, product_key
from agent.sources.rfid.synth import sgtin96

# GS1 EPC Tag Data Standard, SGTIN examples: GTIN 80614141123458 is indicator 8,
# company prefix 0614141, item reference 12345, check digit 8.
TDS_SGTIN96_URI = "urn:epc:tag:sgtin-96:3.0614141.812345.6789"
TDS_SGTIN96_HEX = "3074257BF7194E4000001A85"
TDS_SGTIN198_URI = "urn:epc:tag:sgtin-198:3.0614141.812345.32a%2Fb"
TDS_GTIN = "80614141123458"


def sgtin198_hex(filter_value: int, company: str, item: str, serial: str) -> str:
    """SGTIN-198 packed by hand from the TDS tables (7-bit serial characters), so the
    decoder is checked against an independent encoder, not against itself."""
    partition, company_bits, item_bits = synth.PARTITIONS[len(company)]
    bits = f"{0x36:08b}{filter_value:03b}{partition:03b}"
    bits += f"{int(company):0{company_bits}b}{int(item):0{item_bits}b}"
    bits += "".join(f"{ord(c):07b}" for c in serial).ljust(140, "0")
    bits = bits.ljust(208, "0")  # the EPC bank holds whole 16-bit words
    return f"{int(bits, 2):052X}"


def test_sgtin96_published_example_decodes_to_its_gtin() -> None:
    assert sgtin96("0614141", "812345", 6789, filter_value=3) == TDS_SGTIN96_HEX
    assert EpcDecoder().gtin_of(TDS_SGTIN96_HEX) == TDS_GTIN
    assert EpcDecoder().gtin_of(TDS_SGTIN96_HEX.lower()) == TDS_GTIN


def test_sgtin198_published_example_decodes_to_its_gtin() -> None:
    epc = sgtin198_hex(3, "0614141", "812345", "32a/b")  # %2F is '/' in the URI
    assert TDS_SGTIN198_URI.endswith("32a%2Fb")
    assert EpcDecoder().gtin_of(epc) == TDS_GTIN
    assert EpcDecoder().gtin_of(epc[:50]) == TDS_GTIN  # 198 bits without word padding


@pytest.mark.parametrize(
    "epc",
    [
        "E2801160600002054CC4B5B7",  # a chip's factory EPC (not GS1)
        "3174257BF7194E4000001A85",  # SGTIN header off by one
        "3074257BF7194E4000001A",  # SGTIN-96 cut short
        "3474257BF7194E4000001A85",  # GRAI-96: GS1, but not a product
        "30FF",
        "",
        "zz74257BF7194E4000001A85",
    ],
)
def test_anything_but_an_sgtin_is_not_a_product(epc: str) -> None:
    assert EpcDecoder().gtin_of(epc) is None


def test_partition_seven_is_rejected() -> None:
    # Partition value 7 is reserved in the TDS: the EPC is malformed, not a product.
    bad = f"{(0x30 << 88) | (3 << 85) | (7 << 82):024X}"
    assert EpcDecoder().gtin_of(bad) is None


def test_cache_is_keyed_on_product_bits_not_serials() -> None:
    decoder = EpcDecoder()
    epcs = [sgtin96("0614141", "812345", serial, filter_value=3) for serial in range(500)]
    assert {product_key(e) for e in epcs} == {product_key(TDS_SGTIN96_HEX)}
    assert {decoder.gtin_of(e) for e in epcs} == {TDS_GTIN}
    assert decoder.decoded == 1
    other = sgtin96("0614141", "812346", 1)
    assert product_key(other) != product_key(epcs[0])


def test_cache_is_bounded() -> None:
    decoder = EpcDecoder(cache_size=10)
    for item in range(30):
        decoder.gtin_of(sgtin96("0614141", f"8{item:05d}", 1))
    assert len(decoder._cache) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80614141123458", "80614141123458"),
        ("4006381333931", "04006381333931"),  # EAN-13
        ("036000291452", "00036000291452"),  # UPC-A
        ("96385074", "00000096385074"),  # EAN-8
        ("80614141123459", None),  # wrong check digit
        ("8061414112345", None),
        ("abc", None),
    ],
)
def test_gtin_normalisation(text: str, expected: str | None) -> None:
    assert normalise_gtin(text) == expected


def test_csv_catalogue_loads_and_skips_bad_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text(
        "gtin,category,price_tier,promo\n"
        "80614141123458,Formal_Wear,premium,no\n"
        "4006381333931,protein,mid,yes\n"
        "80614141123459,children,low,no\n"  # bad check digit
        "036000291452,,low,no\n"  # no category
        "96385074,ready_to_eat,low,maybe\n",  # bad promo
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING):
        cat = Catalogue.load(path)
    assert len(cat) == 2
    assert cat.skipped_rows == 3
    assert cat.product("80614141123458") == Product("80614141123458", "formal_wear", "premium")
    assert cat.product("04006381333931").promo is True
    assert cat.product("00036000291452") == Product("00036000291452", "unknown")
    assert cat.product(None) is UNKNOWN_PRODUCT
    lines = [r.getMessage() for r in caplog.records]
    assert any("line 4" in line and "check digit" in line for line in lines)
    assert any("line 6" in line and "promo" in line for line in lines)


def test_sqlite_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE products (gtin TEXT, category TEXT, price_tier TEXT, promo INT)")
    db.executemany(
        "INSERT INTO products VALUES (?, ?, ?, ?)",
        [
            ("80614141123458", "formal_wear", "premium", 0),
            ("4006381333931", "protein", None, 1),
            ("123", "children", None, 0),
        ],
    )
    db.commit()
    db.close()
    cat = Catalogue.load(path)
    assert len(cat) == 2 and cat.skipped_rows == 1
    assert cat.product("04006381333931") == Product("04006381333931", "protein", None, True)


def test_unreadable_catalogues_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        Catalogue.load(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("sku,name\n1,x\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="lacks column"):
        Catalogue.load(wrong)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"gtin,category\n\xff\xfe\n")
    with pytest.raises(CatalogueError, match="UTF-8"):
        Catalogue.load(binary)


@pytest.mark.parametrize("module", [epc_module, catalogue_module, interactions, pipeline, synth])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
