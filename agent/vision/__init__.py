"""The camera path's vision stages: motion gate, person detectors, tracker, floor plan.

Everything here works on frames and boxes held in memory; nothing in this package
writes a pixel, a crop or an embedding anywhere (the one exception is the
field engineer's explicit ``inspect --annotate`` picture, written by the camera
inspector on request).
"""
