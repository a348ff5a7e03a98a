"""One settings object for every process, read from ``NEWSRIFT_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsrift.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Defaults run everything on 127.0.0.1 from the repository checkout."""

    model_config = SettingsConfigDict(env_prefix="NEWSRIFT_", frozen=True, extra="ignore")

    home: Path = REPO_ROOT / ".newsrift"
    """Where local services, their data and logs, and worker state live."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_version: str = "4.4.0"
    kafka_heap: str = "512m"

    es_url: str = "http://127.0.0.1:9200"
    es_port: int = 9200
    es_transport_port: int = 9300
    es_version: str = "9.5.4"
    es_fallback_version: str = "8.19.21"
    es_heap: str = "1g"
    java_home: Path | None = None
    """A Java 21+ for Elasticsearch 9; found under /usr/lib/jvm when unset."""

    topic_prefix: str = ""
    """Prefixed to every topic name; tests use it to get topics of their own."""
    index_prefix: str = "newsrift"
    partitions: int = 3
    replication: int = 1

    app_id: str = "newsrift"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    store: str = "memory://"
    """Faust table store; tables are rebuilt from their changelog topics on start."""

    nlp_processes: int = 1
    """spaCy processes per worker. 0 runs spaCy in a thread of the worker process, where it shares one core (the
    GIL) with Kafka clients, JSON and every other agent; each process loads its own model (~0.4 GiB)."""

    producer_request_timeout_seconds: float = 3600.0
    """How long the worker's producer keeps an output it could not send yet (aiokafka expires the batch after this;
    Faust's default is 20 minutes). The worker commits its input offsets only after the producer flushed, so an
    output kept through a Kafka outage is sent when the broker is back; one expired is lost once its input is
    committed. aiokafka also waits this long for any response on the producer's connection, so a half-open
    connection can hold sends for as long: an hour is the compromise."""

    settle_seconds: float = 30.0
    """How often the assign stage is asked to settle (regroup recent fragments into events) when no article has
    come for it to settle on its own (every 50 articles): the last articles of a quiet stream are settled this
    long after they came."""
    sweep_seconds: float = 600.0
    """How often events with live disputes are checked for staleness."""
    dispute_stale_seconds: float = 3 * 86400.0
    """A dispute with no news for this long becomes stale. Counted from when its claims arrived, so a replay of old
    news stays live for this long after the replay, not stale on landing."""
    dispute_retention_seconds: float = 30 * 86400.0
    """An event with no claim for this long has its dispute state dropped from the worker's table (the documents
    stay in Elasticsearch). At least ``dispute_stale_seconds``."""

    index_batch: int = 500
    index_flush_seconds: float = 1.0

    webhook_url: str | None = None
    webhook_slack: bool = False
    smtp_host: str | None = None
    smtp_port: int = 25
    alert_email_from: str = "newsrift@localhost"
    alert_email_to: str | None = None
    watchlist: Path = REPO_ROOT / ".newsrift" / "watchlists.json"
    alert_retry_first_seconds: float = 30.0
    """A sink that still refuses an alert after the alerts agent's quick tries (about 3 s) gets it again from the
    retry topic after this long, then after twice as long, and so on up to ``alert_retry_max_seconds``."""
    alert_retry_max_seconds: float = 600.0
    alert_retry_give_up_seconds: float = 86400.0
    """Counted from the first failure; then the alert goes to news.alerts.v1.dlq (``newsrift dlq replay`` sends it
    again). 0: no retries, straight to the dead letter."""

    user_agent: str = "newsrift/0.1 (news feed reader; operator contact not configured)"
    """The User-Agent of every feed, page and robots.txt request, and the agent robots.txt rules are matched for
    (its first word, before "/"). Set one with your contact, e.g. ``examplebot/1.0 (+https://example.org/bot;
    bot@example.org)``, so that a publisher can reach you instead of blocking you."""
    feed_dead_after_seconds: float = 7 * 86400.0
    """A feed failing this long without a success is dead: logged and reported once, then tried once a day."""
    max_crawl_delay_seconds: float = 60.0
    """A robots.txt ``Crawl-delay`` raises its host's interval between requests up to this many seconds."""

    @field_validator("user_agent")
    @classmethod
    def _check_user_agent(cls, v: str) -> str:
        v = v.strip()
        if not v or len(v) > 300 or any(not " " <= c <= "~" for c in v):
            raise ValueError("must be 1-300 printable ASCII characters (it is sent as an HTTP header)")
        return v

    @field_validator("feed_dead_after_seconds", "max_crawl_delay_seconds")
    @classmethod
    def _check_connector_seconds(cls, v: float) -> float:
        if not 0 <= v < 10 * 365 * 86400:
            raise ValueError("must be between 0 and ten years")
        return v

    @model_validator(mode="after")
    def _check_times(self) -> Settings:
        if not 0 < self.dispute_stale_seconds <= self.dispute_retention_seconds:
            raise ValueError(
                "NEWSRIFT_DISPUTE_STALE_SECONDS must be positive and at most NEWSRIFT_DISPUTE_RETENTION_SECONDS "
                f"(got {self.dispute_stale_seconds} and {self.dispute_retention_seconds}): a dispute goes stale "
                "before its event's state is dropped")
        if not 0 < self.alert_retry_first_seconds <= self.alert_retry_max_seconds:
            raise ValueError(
                "NEWSRIFT_ALERT_RETRY_FIRST_SECONDS must be positive and at most NEWSRIFT_ALERT_RETRY_MAX_SECONDS "
                f"(got {self.alert_retry_first_seconds} and {self.alert_retry_max_seconds})")
        if not 0 <= self.alert_retry_give_up_seconds < 10 * 365 * 86400 or self.alert_retry_max_seconds > 86400:
            raise ValueError(
                "NEWSRIFT_ALERT_RETRY_GIVE_UP_SECONDS must be between 0 and ten years, and "
                "NEWSRIFT_ALERT_RETRY_MAX_SECONDS at most a day "
                f"(got {self.alert_retry_give_up_seconds} and {self.alert_retry_max_seconds})")
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def describe_invalid(e: ValidationError) -> str:
    """One line naming each bad ``NEWSRIFT_*`` variable, its value and why it was refused."""
    parts = []
    for err in e.errors():
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("loc"):
            var = f"NEWSRIFT_{str(err['loc'][0]).upper()}"
            parts.append(f"{var}={err.get('input')!r}: {msg}")
        else:  # a check across fields: its message names the variables
            parts.append(msg)
    return "invalid settings: " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment; ``ConfigError`` (one line per the CLI) when a value is invalid."""
    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError(describe_invalid(e)) from None
