"""Runs at every boot on the ESP32 (after boot.py): starts the node with config.json."""
import node

node.main("config.json")
