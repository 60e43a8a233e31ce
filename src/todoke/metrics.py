"""Operations: Prometheus metrics. Counters and histograms of all the processes of one
``todoke serve`` (its SMTP processes and its worker process add up, through prometheus_client's
multiprocess files under <data dir>/metrics: see metrics_files.py), plus gauges read from the
store at scrape time (jobs by state, results by code) so that every worker's work is counted,
on any host."""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

REGISTRY = CollectorRegistry()
INGESTED = Counter(
    "todoke_ingest_mails", "Fax mails received by this process, by outcome",
    ["outcome"], registry=REGISTRY,
)
JOBS_CREATED = Counter("todoke_ingest_jobs", "Fax jobs created by this process", registry=REGISTRY)
ATTEMPTS = Counter(
    "todoke_fax_attempts", "Fax calls placed by this process, by result code",
    ["code"], registry=REGISTRY,
)
CALL_SECONDS = Histogram(
    "todoke_fax_call_seconds", "Duration of fax calls (simulated seconds for the simulator)",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800), registry=REGISTRY,
)
OUTBOX_SENT = Counter(
    "todoke_outbox_mails", "Mails todoke wrote itself, by outcome", ["outcome"], registry=REGISTRY
)
WEBHOOK_POSTS = Counter(  # webhooks (issue 6)
    "todoke_webhook_posts", "Webhook batches posted by this process, by outcome "
    "(ok, http_error, timeout, connection_error)", ["outcome"], registry=REGISTRY,
)
WEBHOOK_DROPPED = Counter(  # webhooks (issue 6)
    "todoke_webhook_events_dropped", "Webhook events given up after 24 h of failed posts",
    registry=REGISTRY,
)


class StoreCollector(Collector):
    """Gauges computed from the store when Prometheus scrapes."""

    def __init__(self, store: object) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        from todoke.store.db import Store
        from todoke.store.models import FaxAttempt, FaxJob, InboundMail

        store = self.store
        assert isinstance(store, Store)
        jobs = GaugeMetricFamily("todoke_fax_jobs", "Fax jobs in the store by status",
                                 labels=["status"])
        results = CounterMetricFamily("todoke_fax_results", "Fax attempts in the store by code",
                                      labels=["code"])
        with store.session() as session:
            for status, count in session.execute(
                select(FaxJob.status, func.count()).group_by(FaxJob.status)
            ):
                jobs.add_metric([status], count)
            for code, count in session.execute(
                select(FaxAttempt.result_code, func.count()).group_by(FaxAttempt.result_code)
            ):
                results.add_metric([code], count)
            stored = session.scalar(select(func.max(InboundMail.id))) or 0
        yield jobs
        yield results
        # every ingest process's work, for the ingest rate (ids only grow)
        yield CounterMetricFamily("todoke_fax_mails_stored", "Fax mails committed by ingest",
                                  value=stored)


def exposition() -> bytes:
    """The text Prometheus scrapes: every process's counters when they share files."""
    from prometheus_client import generate_latest

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return generate_latest(REGISTRY)
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    for collector in _store_collectors:
        registry.register(collector)
    return generate_latest(registry)


_store_collectors: list[Collector] = []


def register_store(store: object) -> None:
    """Add the store gauges once per process."""
    if not getattr(REGISTRY, "_todoke_store", None):
        collector = StoreCollector(store)
        REGISTRY.register(collector)
        _store_collectors.append(collector)
        REGISTRY._todoke_store = True  # type: ignore[attr-defined]
