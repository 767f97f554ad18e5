"""RFID: reader feeds to item interactions (picked, returned, fitting room, purchased).

A read carries an EPC; at this boundary the EPC is cut down to its product part
(GTIN), looked up in the store's catalogue, and fed to a per-tag state machine that
turns the noisy stream of repeated reads into ``ItemEvent``s. The EPC serial never
leaves this package: not in an event, a log line, a health counter or a summary.

Modules:
    config        the ``[[sources.rfid]]`` config models (one per reader protocol)
    epc           GS1 SGTIN-96/198 to GTIN, cached on the product bits only
    catalogue     GTIN to category, price tier and promo flag (CSV or SQLite)
    reads         vendor JSON (Zebra IoT Connector, Impinj IoT interface) to TagRead
    interactions  the per-tag state machine
    pipeline      decode, look up and track: TagRead in, ItemEvent out
    recorded      recorded reads (JSON lines), the fixture layer
    mqtt_feed     readers that publish their reads over MQTT
    llrp          LLRP readers through sllurp (the optional ``llrp`` extra)
    source        the Source the registry builds
    inspect       ``edge-agent inspect`` for recorded read files
"""
