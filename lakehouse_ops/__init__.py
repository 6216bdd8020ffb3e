"""The operator's features of the lakehouse (scripts/lakehouse): the run ledger, the data-quality
report, quarantine inspection and table maintenance, against AWS and the local stack alike."""
