"""The mappings folder: settings.yaml, the mapping tables, input profiles — loaded, checked, extended."""
