"""Tests for locales/: catalogs, translation, amounts."""
