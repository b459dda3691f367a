"""Cloud settings from `DOLBOM_*` environment variables (pydantic-settings)."""

import ipaddress
import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from protocol.topics import SHARED_GROUP


class CloudSettings(BaseSettings):
    """Everything one cloud worker needs: store, broker, notifications, HTTP API."""

    model_config = SettingsConfigDict(env_prefix="DOLBOM_", extra="ignore")

    database_url: str = "sqlite:///var/cloud/dolbom.sqlite3"
    # A read replica (or a PgBouncer database pointing at one) for the research report, summary
    # and exports; unset: the primary. Reads there may lag the primary by the replication delay.
    reports_database_url: str | None = None

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    # False: a plain subscription, for brokers without `$share` (amqtt in the demo).
    mqtt_shared: bool = True
    mqtt_share_group: str = Field(default=SHARED_GROUP, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Empty: `dolbom-ingest-<hostname>-<worker_id>`, stable across restarts, so the broker keeps
    # this worker's persistent session (and queued events) while it is down. Two live workers
    # with one id are refused at start-up (a lease row in the store). See docs/reliability.md.
    mqtt_client_id: str = Field(default="", max_length=128)
    worker_id: str = Field(default="0", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    # "clean": a fresh random id and no session (development and tests only: loses events
    # across restarts).
    mqtt_session: Literal["persistent", "clean"] = "persistent"
    mqtt_session_expiry_s: int = Field(default=24 * 3600, ge=60)
    mqtt_keepalive_s: int = Field(default=30, ge=5)
    # TLS to the broker (production: Mosquitto's 8883 listener); the CA that signed its cert.
    mqtt_tls: bool = False
    mqtt_ca_file: str | None = None
    mqtt_connect_timeout_s: float = Field(default=5.0, ge=0)

    # Ingest stores up to `ingest_batch_max` messages per transaction, waiting at most
    # `ingest_batch_wait_s` for a batch to fill (a critical event does not wait). MQTT 5: the
    # broker keeps at most `ingest_receive_maximum` unacknowledged messages in flight to us;
    # acks go out after commit. `ingest_queue_max` bounds what sits in memory meanwhile.
    ingest_batch_max: int = Field(default=500, ge=1, le=10_000)  # half the receive window
    ingest_batch_wait_s: float = Field(default=0.05, ge=0, le=5)
    ingest_receive_maximum: int = Field(default=1000, ge=1, le=65_535)
    ingest_queue_max: int = Field(default=2000, ge=1)
    ingest_stop_timeout_s: float = Field(default=5.0, ge=0)
    # Health: ingest is "stuck" when messages wait and none was stored for `ingest_stuck_s`;
    # `dolbom cloud serve` exits non-zero when ingest died, or stayed stuck for
    # `ingest_stuck_exit_s` (0: never for stuck), so systemd restarts it.
    ingest_stuck_s: float = Field(default=60.0, gt=0)
    ingest_stuck_exit_s: float = Field(default=600.0, ge=0)
    # The client-id lease: renewed every ttl/3; a holder silent for `ingest_lease_ttl_s` is gone.
    ingest_lease_ttl_s: float = Field(default=30.0, gt=0)

    webhook_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_s: float = Field(default=0.5, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    dispatcher_poll_s: float = Field(default=0.25, gt=0)

    # E-mail notifications; no host: contacts with an e-mail channel are not reachable.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "dolbom@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(default=10.0, gt=0)

    # Escalation steps are polled from the store; the offline/inactivity sweep runs less often.
    escalation_poll_s: float = Field(default=1.0, gt=0)
    sweep_interval_s: float = Field(default=60.0, gt=0)

    api_token: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    sse_poll_s: float = Field(default=0.25, gt=0)
    # Files the cloud makes and keeps (the app's VAPID key for Web Push); never in the repo.
    data_dir: str = "var/cloud"
    # The VAPID `sub` claim push services may use to reach the operator.
    push_subject: str = Field(default="mailto:dolbom@localhost", pattern=r"^(mailto:|https://)\S+$")

    # Login tokens (HS256); unset: a random secret per process, so tokens die with it.
    auth_secret: SecretStr | None = None
    auth_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    auth_cookie_secure: bool = True  # False only for plain-HTTP development
    login_max_failures: int = Field(default=5, ge=1)  # per (account, source) per window
    login_window_s: float = Field(default=60.0, gt=0)
    # Per account, all sources together: past this, only sources the account has logged in
    # from before may try until the window ends (docs/api-security.md).
    login_account_max_failures: int = Field(default=20, ge=1)
    # CIDRs of reverse proxies whose X-Forwarded-For is believed; empty: none (the peer is
    # the client).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # CIDRs a webhook may reach although private/loopback/link-local (default: none).
    webhook_allow_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("auth_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """HS256 wants at least 32 bytes of key."""
        if value is not None and len(value.get_secret_value().encode("utf-8")) < 32:
            raise ValueError("DOLBOM_AUTH_SECRET must be at least 32 bytes")
        return value

    @field_validator("webhook_urls", "trusted_proxies", "webhook_allow_networks", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        """Accept a JSON list or a comma-separated string."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [u.strip() for u in text.split(",") if u.strip()]
        return value

    @field_validator("trusted_proxies", "webhook_allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Every entry a CIDR or an address (`ipaddress.ip_network`, non-strict)."""
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError: pydantic reports it
        return value
