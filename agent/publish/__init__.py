"""Where events go: payload envelope, sinks (console, file, MQTT) and the outbox."""
