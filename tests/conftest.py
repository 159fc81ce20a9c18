"""Shared test setup: no telemetry leaves the machine, ever."""

from __future__ import annotations

import os

os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
