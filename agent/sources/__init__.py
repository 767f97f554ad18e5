"""Feeds: each module turns one kind of raw feed into anonymous observations.

A source owns its config model beside its class. Adding a feed touches its own
module, one field in ``agent.config.SourcesConfig`` and one line in
``agent.sources.registry``.
"""
