"""Watch the cloud through its caregiver API: did the fleet's events get stored, and alerted?

The API shows events per senior, so before the run the observer creates one senior for the
fleet and registers every simulated robot to it (as an installer would; needs an admin or the
service token). After the run it waits until the senior's timeline holds every acknowledged
event (or a deadline passes), then pages through events and alerts to time them:
first publish → the cloud's `received_at`, and → the alert's `created_at`. Only HTTP: the
simulator never imports the cloud.
"""

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from firmware_sim.fleet.config import FleetError, check_api_url
from firmware_sim.fleet.report import ApiReport
from firmware_sim.fleet.stats import Samples

_PAGE = 500
_ALERT_PAGE = 200
_CONCURRENCY = 16
_TIMEOUT_S = 30.0

Progress = Callable[[str], None]


class CloudObserver:
    """Registers the fleet to a senior before the run and reads what the API shows after it."""

    def __init__(
        self,
        api_url: str,
        token: str,
        senior_id: str,
        *,
        settle_s: float = 60.0,
        max_events: int = 100_000,
    ) -> None:
        self.api_url = check_api_url(api_url).rstrip("/")
        self.senior_id = senior_id
        self.settle_s = settle_s
        self.max_events = max_events
        self._headers = {"Authorization": f"Bearer {token}"}

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.api_url, headers=self._headers, timeout=_TIMEOUT_S, trust_env=False
        )

    async def prepare(self, device_ids: list[str], progress: Progress) -> None:
        """Create the fleet's senior (or reuse it) and register every device to it."""
        async with self._client() as http:
            r = await self._call(
                http,
                "POST",
                "/seniors",
                json={"id": self.senior_id, "display_name": f"fleet {self.senior_id}"},
            )
            if r.status_code not in (201, 409):
                raise FleetError(f"the API refused to create senior {self.senior_id!r}: {_why(r)}")
            progress(f"registering {len(device_ids)} devices to senior {self.senior_id}…")
            sem = asyncio.Semaphore(_CONCURRENCY)

            async def register(device_id: str) -> None:
                async with sem:
                    r = await self._call(
                        http,
                        "POST",
                        "/devices",
                        json={"id": device_id, "senior_id": self.senior_id},
                    )
                if r.status_code != 201:
                    raise FleetError(f"the API refused to register {device_id}: {_why(r)}")

            await asyncio.gather(*(register(d) for d in device_ids))

    async def collect(
        self, first_published: Mapping[tuple[str, int], float], acked: int, progress: Progress
    ) -> ApiReport:
        """Wait for the events to be stored, then time events and alerts from their publish."""
        loop = asyncio.get_running_loop()
        async with self._client() as http:
            t0 = loop.time()
            stored = await self._stored(http)
            if stored < acked:
                progress(f"waiting up to {self.settle_s:.0f} s for the cloud to store {acked}…")
            while stored < acked and loop.time() - t0 < self.settle_s:
                await asyncio.sleep(0.5)
                stored = await self._stored(http)
            waited = loop.time() - t0
            stored_latency, sampled = await self._event_latencies(http, first_published)
            alerts, alert_latency = await self._alerts(http, first_published)
        return ApiReport(
            api_url=self.api_url,
            senior_id=self.senior_id,
            expected_stored=acked,
            stored=stored,
            stored_waited_s=round(waited, 2),
            alerts=alerts,
            stored_latency_s=stored_latency.summary(),
            alert_latency_s=alert_latency.summary(),
            sampled_events=sampled,
        )

    async def _stored(self, http: httpx.AsyncClient) -> int:
        r = await self._call(http, "GET", f"/seniors/{self.senior_id}/events", params={"limit": 1})
        if r.status_code != 200:
            raise FleetError(f"the API did not list the fleet's events: {_why(r)}")
        return int(r.json()["total"])

    async def _event_latencies(
        self, http: httpx.AsyncClient, first_published: Mapping[tuple[str, int], float]
    ) -> tuple[Samples, int]:
        samples = Samples()
        seen = 0
        offset = 0
        while offset < self.max_events:
            r = await self._call(
                http,
                "GET",
                f"/seniors/{self.senior_id}/events",
                params={"limit": _PAGE, "offset": offset},
            )
            if r.status_code != 200:
                raise FleetError(f"the API did not list the fleet's events: {_why(r)}")
            items: list[dict[str, Any]] = r.json()["items"]
            for e in items:
                sent = first_published.get((e["device_id"], int(e["seq"])))
                if sent is not None:
                    samples.add(_epoch(e["received_at"]) - sent)
            seen += len(items)
            if len(items) < _PAGE:
                break
            offset += _PAGE
        return samples, seen

    async def _alerts(
        self, http: httpx.AsyncClient, first_published: Mapping[tuple[str, int], float]
    ) -> tuple[int, Samples]:
        samples = Samples()
        offset = 0
        total = 0
        while True:
            r = await self._call(
                http,
                "GET",
                "/alerts",
                params={"senior_id": self.senior_id, "limit": _ALERT_PAGE, "offset": offset},
            )
            if r.status_code != 200:
                raise FleetError(f"the API did not list the fleet's alerts: {_why(r)}")
            page = r.json()
            total = int(page["total"])
            for a in page["items"]:
                sent = first_published.get((a["device_id"], int(a["event_seq"])))
                if sent is not None:
                    samples.add(_epoch(a["created_at"]) - sent)
            offset += _ALERT_PAGE
            if offset >= total:
                return total, samples

    async def _call(
        self, http: httpx.AsyncClient, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        try:
            r = await http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise FleetError(f"cannot reach the cloud API at {self.api_url}: {e}") from None
        if r.status_code in (401, 403):
            raise FleetError(
                f"the cloud API refused the token ({r.status_code}): the fleet needs an admin"
                " login token or the service token (DOLBOM_API_TOKEN)"
            )
        return r


def _why(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail", r.text)
    except ValueError:
        detail = r.text
    return f"{r.status_code} {str(detail)[:200]}"


def _epoch(ts: str) -> float:
    """An API timestamp as Unix seconds (naive ones are UTC, as the store writes them)."""
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
