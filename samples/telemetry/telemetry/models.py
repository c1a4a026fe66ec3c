"""The telemetry sample's data: plain pydantic, nothing portable-fn specific.

`DeviceState.with_readings` is the whole anomaly rule, a pure function so it can be tested and retried
under compare-and-set without side effects.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, Field, computed_field

RECENT = 20  # readings kept per device
MIN_READINGS = 10  # no anomaly is called before a device has this many recent readings
SIGMAS = 3.0  # a reading further than this many standard deviations from the recent mean is an anomaly


class Reading(BaseModel):
    reading_id: str = Field(min_length=1, max_length=128)
    at: datetime
    value: float = Field(allow_inf_nan=False)


class Batch(BaseModel):
    """One queue message: readings from one device."""

    device_id: str = Field(min_length=1, max_length=128)
    readings: list[Reading] = Field(min_length=1, max_length=500)


class Alert(BaseModel):
    """A reading far from its device's recent mean; `ticket` is set once maintenance opened one."""

    device_id: str
    reading_id: str
    at: datetime
    value: float
    mean: float
    stddev: float
    ticket: str | None = None


class DeviceState(BaseModel):
    """What is kept per device: the last RECENT readings and the running count, mean and stddev of all
    readings (Welford's method: `m2` is the sum of squared deviations from the mean)."""

    device_id: str
    recent: list[Reading] = Field(default_factory=list)
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stddev(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0

    def with_readings(self, readings: list[Reading]) -> tuple[DeviceState, list[Alert]]:
        """This state after `readings` (in order), and an Alert for each anomalous one."""
        state, alerts = self.model_copy(deep=True), []
        for reading in readings:
            alert = state.check(reading)
            if alert is not None:
                alerts.append(alert)
            state.add(reading)
        return state, alerts

    def check(self, reading: Reading) -> Alert | None:
        """An Alert when `reading` is more than SIGMAS standard deviations from the recent mean."""
        if len(self.recent) < MIN_READINGS:
            return None
        values = [r.value for r in self.recent]
        mean = sum(values) / len(values)
        stddev = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        if abs(reading.value - mean) <= SIGMAS * stddev:
            return None
        return Alert(
            device_id=self.device_id,
            reading_id=reading.reading_id,
            at=reading.at,
            value=reading.value,
            mean=mean,
            stddev=stddev,
        )

    def add(self, reading: Reading) -> None:
        self.recent = [*self.recent, reading][-RECENT:]
        self.count += 1
        delta = reading.value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (reading.value - self.mean)
