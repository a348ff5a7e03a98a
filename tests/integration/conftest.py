"""Fixtures the integration tests share with unit tests: the local webhook receiver and a sample alert."""

from tests.unit.alerts.conftest import make_alert, webhook  # noqa: F401
