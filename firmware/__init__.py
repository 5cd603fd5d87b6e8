"""MicroPython for the ESP32 sensor boards, with host shims so it also runs on CPython."""
