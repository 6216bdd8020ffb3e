#!/bin/sh
# MWAA startup script (Airflow 3.3.1): runs on every scheduler, worker and webserver before
# Airflow starts. MWAA only allows it to set environment variables and install OS packages;
# it must not set Airflow's reserved variables (AIRFLOW__*, AIRFLOW_HOME, PATH, PYTHONPATH,
# JAVA_HOME, ...). Settings for Airflow itself go through the environment's
# airflow_configuration_options in Terraform, not here.

# How often the DAG's sensors poll the crawler and the state machine (seconds). Deferrable
# mode (operators.default_deferrable, set by Terraform) makes this the trigger's poll interval.
export LAKEHOUSE_POKE_SECONDS="${LAKEHOUSE_POKE_SECONDS:-60}"

# Log which component this is, once, so startup problems can be traced in CloudWatch.
echo "lakehouse startup: component=${MWAA_AIRFLOW_COMPONENT:-unknown} poke=${LAKEHOUSE_POKE_SECONDS}s"
