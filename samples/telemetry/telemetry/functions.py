"""IoT telemetry: devices post batches of readings to a queue; each reading is ingested once, per-device
state keeps the recent readings and running statistics, an anomaly is recorded as an alert and published
to the `alerts` topic, and a flaky maintenance API that opens a ticket for an alert sits behind a circuit
breaker.

The same file runs locally (`MAINTENANCE_URL=... portable-fn dev samples/telemetry`) and on every cloud.
"""

from __future__ import annotations

import json
import os
import urllib.request

from portable_fn import (
    CloudEvent,
    KeyExistsError,
    Request,
    Response,
    Retry,
    RetryPolicy,
    VersionConflictError,
    breaker,
    emit,
    exponential,
    function,
    http,
    queue,
    state,
    topic,
)

from .models import Alert, Batch, DeviceState, Reading

SEEN_FOR_S = 7 * 24 * 3600  # a device re-sending a reading after a week is not caught as a duplicate
CAS_ATTEMPTS = 5  # compare-and-set rounds on one device before the message is retried later

seen = state("readings-seen", ttl=SEEN_FOR_S)
devices = state("devices", model=DeviceState)
alerts = state("alerts", ttl=30 * 24 * 3600, model=Alert)
maintenance_api = breaker("maintenance", failures=5, reset_after=30)
alert_events = topic("alerts")


@function(
    trigger=queue("readings", batch_size=10),
    idempotent=True,
    retry=RetryPolicy(attempts=5, backoff=exponential(1, max=60)),
    uses=[seen.write(), devices.write(), alerts.write(), alert_events.publish()],
)
def ingest(event: CloudEvent[Batch]) -> None:
    """Apply a device's batch of readings once each: a reading seen before (in this message or an earlier
    one) is skipped; the device's state is updated by compare-and-set; anomalies become alerts."""
    batch = event.data
    fresh = _claim(batch)
    if not fresh:
        return
    try:
        found = _update_device(batch.device_id, fresh)
    except BaseException:
        # Let the retry apply them. (A process killed during the update cannot: its readings stay marked
        # seen and are missing from the device's statistics.)
        _release(batch.device_id, fresh)
        raise
    for alert in found:  # published to `maintenance` once this message is ingested (never for a failed one)
        alerts.put(_alert_key(alert), alert)
        emit(alert_events, alert, type="telemetry.alert", subject=batch.device_id)


def _claim(batch: Batch) -> dict[str, tuple[Reading, str]]:
    """The readings of `batch` not seen before, each now marked seen (with the version to release it)."""
    fresh: dict[str, tuple[Reading, str]] = {}
    for reading in batch.readings:
        try:
            version = seen.create(f"{batch.device_id}:{reading.reading_id}", {"at": reading.at.isoformat()})
        except KeyExistsError:  # a duplicate
            continue
        fresh[reading.reading_id] = (reading, version)
    return fresh


def _release(device_id: str, fresh: dict[str, tuple[Reading, str]]) -> None:
    for reading_id, (_, version) in fresh.items():
        seen.delete(f"{device_id}:{reading_id}", version=version)


def _update_device(device_id: str, fresh: dict[str, tuple[Reading, str]]) -> list[Alert]:
    """Add the readings to the device's state by compare-and-set; the alerts they raise."""
    readings = sorted((reading for reading, _ in fresh.values()), key=lambda r: r.at)
    for _ in range(CAS_ATTEMPTS):
        item = devices.item(device_id)
        current = DeviceState(device_id=device_id) if item is None else item.value
        updated, found = current.with_readings(readings)
        try:
            if item is None:
                devices.create(device_id, updated)
            else:
                devices.update(device_id, updated, version=item.version)
        except (KeyExistsError, VersionConflictError):  # another instance wrote it first: read it again
            continue
        return found
    raise Retry(f"device {device_id!r} changed under {CAS_ATTEMPTS} updates in a row", after=1)


def _alert_key(alert: Alert) -> str:
    return f"{alert.device_id}:{alert.reading_id}"


@function(
    trigger=alert_events,
    idempotent=True,
    retry=RetryPolicy(attempts=10, backoff=exponential(5, max=300)),
    uses=[alerts.write(), maintenance_api],
)
def maintenance(event: CloudEvent[Alert]) -> None:
    """Open a maintenance ticket for an alert, once. While the maintenance API keeps failing its circuit
    is open: the call is not made and the event is retried later."""
    alert = event.data
    key = _alert_key(alert)
    known = alerts.get(key)
    if known is not None and known.ticket:
        return
    url = os.environ.get("MAINTENANCE_URL")
    if not url:  # a setting missing is not the API failing: the breaker does not count it
        raise RuntimeError("maintenance: MAINTENANCE_URL is unset; set it to the maintenance API's ticket URL.")
    with maintenance_api:
        ticket = open_ticket(url, alert)
    alerts.put(key, alert.model_copy(update={"ticket": ticket}))


def open_ticket(url: str, alert: Alert) -> str:
    """POST the alert to the maintenance API at `url`; the ticket id it answers with. Errors raise (and
    count as the breaker's failures)."""
    request = urllib.request.Request(
        url, data=alert.model_dump_json().encode(), method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["ticket"])


@function(trigger=http("GET", "/devices/{device_id}", response={200: DeviceState, 404: None}), uses=[devices.read()])
def device(request: Request) -> Response:
    """A device's state: its recent readings and running statistics; 404 for a device never heard from."""
    device_id = request.path_params["device_id"]
    found = devices.get(device_id)
    if found is None:
        return Response.json({"error": f"device {device_id!r} has sent no readings"}, status=404)
    return Response.json(found)
