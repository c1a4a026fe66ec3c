"""The IoT telemetry sample app: see functions.py."""
