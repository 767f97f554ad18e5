"""The shopper simulator: labelled multi-sensor recordings of a store (``edge-agent simulate``).

Needs the ``sim`` extra (JuPedSim, shapely) only to walk; the CLI registration in
``cli`` imports nothing heavy. Modules, in the order a recording is made:

- ``config``: the ``[simulation]`` table; ``sensors``: the store's own sensors;
- ``layout``: walkable floor, zones, stock; ``catalogue``: GTINs and SGTIN-96 EPCs;
- ``people`` and ``plan``: who comes, with which latent traits, to do what;
- ``walk`` and ``scenario``: JuPedSim walks, one ``Recording``;
- ``render_camera``, ``render_detections``, ``render_video``, ``render_wifi``,
  ``render_rfid``, ``truth``: the feeds and the ground truth;
- ``fixture``: the fixture directory; ``calibration``: every figure, with its source.

See ``agent/sim/README.md``.
"""
