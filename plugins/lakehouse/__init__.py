"""Airflow-side helpers of the lakehouse pipeline (shipped to MWAA in plugins.zip)."""
