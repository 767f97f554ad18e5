"""The Wi-Fi source: radiotap 802.11 captures to anonymous device sightings.

Modules, in the order a frame meets them:

- ``capture``: pcap / pcapng readers (gzip too), byte offsets for every problem;
- ``live``: a monitor-mode interface through an AF_PACKET raw socket (Linux);
- ``radiotap`` and ``dot11``: the frame parsers (signal, channel, type, source
  address, sequence number), which skip every frame we do not need cheaply;
- ``anonymise``: MAC to token (keyed hash, daily key rotation, ignore list);
- ``source``: the ``Source`` the runtime drives; ``config`` its config model;
  ``sighting`` builds the observations at capture rate;
- ``presence`` and ``devices``: zone presence with hysteresis, and the distinct
  device estimate that survives MAC randomisation; ``linker`` follows a phone
  across MAC changes by sequence continuity (in memory, opt-in for presence);
- ``inspect``: the ``edge-agent inspect`` summary of a capture;
- ``synth``: writes real radiotap 802.11 captures (tests, benchmarks, simulator);
  ``crowd``: phones with known identities and randomisation habits (ground truth).

Nothing is imported here so that loading the config does not load the parsers.
"""
