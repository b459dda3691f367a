"""Shared test helpers: free ports, private Mosquitto brokers, MQTT recorders, device processes."""
