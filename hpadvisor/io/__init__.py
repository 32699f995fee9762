"""Files in and out: YAML (safe, with line numbers), JSON/TOML, tables and training logs, law files, atomic outputs, plots."""
