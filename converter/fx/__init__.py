"""Towards FX cloud: the HTTP client, the slips/import request bodies, the master data."""
