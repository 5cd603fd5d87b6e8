"""Sensors: MQTT ingestion, rules and alerts, the device registry and a simulator."""
