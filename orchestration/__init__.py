"""The Dagster code location of kpi-alignment."""
