"""Survey definitions (YAML), their loader and validation, and pure scoring rules."""
