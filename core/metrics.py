"""Per-run performance metrics, read from what runs record, and Prometheus text for ``/metrics``.

A finished run row holds its duration, asset count, API calls per operation and system
(``api_calls``), retries and throttles, and — since revision 0006 — a :class:`core.perf.RunPerf`
(``metrics``: latency histograms, retries, throttles and errors per system). From them:

* :func:`run_metrics` / :func:`recent_metrics` → :class:`RunMetrics`: duration, assets/s,
  objects/s, API calls per operation per system, p50/p95/p99 latency per system, retries,
  throttles, Glue writes. A run recorded before 0006 has no latencies (``None``).
* :func:`prometheus_text` renders the newest runs, run counts and the latest validation (and,
  given ``services``, the live call counters and latency histograms of this process) in the
  Prometheus text format, through a custom collector (:class:`DgsyncCollector`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from core import heap
from core.glue.stats import is_write
from core.perf import Histogram, RunPerf, upper_bound

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from core.services import Services
    from core.store.db import Store
    from core.store.schemas import RunOut

__all__ = [
    "CONTENT_TYPE",
    "PROMETHEUS_BUCKETS",
    "DgsyncCollector",
    "RunMetrics",
    "SystemMetrics",
    "metrics_of",
    "prometheus_text",
    "recent_metrics",
    "run_metrics",
]

#: The ``Content-Type`` of :func:`prometheus_text` (text format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: ``le`` bounds (seconds) of the exposed latency histograms (stable across scrapes).
PROMETHEUS_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SYSTEMS = ("glue", "datasphere")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


class SystemMetrics(BaseModel):
    """One system's share of a run (``glue`` or ``datasphere``)."""

    model_config = ConfigDict(extra="forbid")

    #: API calls per operation (Glue) or route template (Datasphere), as the run recorded.
    calls: int = 0
    by_operation: dict[str, int] = Field(default_factory=dict)
    #: Latency of the logical calls (retries included); ``None`` when not recorded.
    timed_calls: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None
    retries: int | None = None
    throttles: int | None = None
    errors: int | None = None
    latency: Histogram | None = None


class RunMetrics(BaseModel):
    """The performance of one run."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    kind: str
    env: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    assets: int = 0
    #: Assets in scope per second of the run (``assets / duration_s``).
    assets_per_s: float | None = None
    #: Objects decided (created, updated, unchanged, …) per second (the run's ``throughput``).
    objects_per_s: float | None = None
    objects: int = 0
    glue_writes: int = 0
    glue_reads: int = 0
    retries: int = 0
    throttles: int = 0
    #: Glue calls rejected, ``Operation/ErrorCode`` → count.
    rejected: dict[str, int] = Field(default_factory=dict)
    systems: dict[str, SystemMetrics] = Field(default_factory=dict)
    limiter_wait_s: float | None = None
    #: Whether per-call latencies were recorded (runs since revision 0006).
    latency_recorded: bool = False


def _system(calls: dict[str, int], perf: RunPerf | None, name: str) -> SystemMetrics:
    out = SystemMetrics(calls=sum(calls.values()), by_operation=dict(sorted(calls.items())))
    if perf is None:
        return out
    hist = perf.latency.get(name)
    if hist is not None:
        out.latency = hist
        out.timed_calls = hist.count
        out.p50_ms, out.p95_ms, out.p99_ms = (_ms(hist.quantile(q)) for q in (0.5, 0.95, 0.99))
        out.mean_ms = _ms(hist.sum_s / hist.count) if hist.count else None
        out.max_ms = _ms(hist.max_s)
    out.retries = perf.retries.get(name)
    out.throttles = perf.throttles.get(name)
    out.errors = perf.errors.get(name)
    return out


def metrics_of(run: RunOut) -> RunMetrics:
    """The metrics of one stored run (pure)."""
    perf = RunPerf.model_validate(run.metrics) if run.metrics else None
    calls = run.api_calls or {}
    glue = dict(calls.get("glue", {}))
    writes = sum(n for op, n in glue.items() if is_write(op))
    duration = run.duration_s
    systems = {name: _system(dict(calls.get(name, {})), perf, name) for name in SYSTEMS
               if name in calls or (perf is not None and name in perf.latency)}
    retries = sum(v for v in perf.retries.values()) if perf else run.retries
    throttles = sum(v for v in perf.throttles.values()) if perf else run.throttles
    return RunMetrics(
        run_id=run.id, kind=str(run.kind), env=run.env, status=str(run.status), trigger=str(run.trigger),
        started_at=run.started_at, finished_at=run.finished_at, duration_s=duration,
        assets=run.assets_total, objects=run.counts.processed,
        assets_per_s=round(run.assets_total / duration, 3) if duration else None,
        objects_per_s=round(run.throughput, 3) if run.throughput is not None else None,
        glue_writes=writes, glue_reads=sum(glue.values()) - writes, retries=retries, throttles=throttles,
        rejected=dict(calls.get("glue_rejected", {})), systems=systems,
        limiter_wait_s=perf.limiter_wait_s if perf else None, latency_recorded=perf is not None,
    )


def run_metrics(store: Store, run_id: str) -> RunMetrics | None:
    """The metrics of run ``run_id`` (``None`` when the store has no such run)."""
    from core.store import repo

    with store.session(readonly=True) as session:
        run = repo.get_run(session=session, run_id=run_id, failed_limit=0)
    return metrics_of(run) if run is not None else None


def recent_metrics(store: Store, *, limit: int = 20, env: str | None = None,
                   kinds: Sequence[str] = ("sync",), finished_only: bool = True) -> list[RunMetrics]:
    """The metrics of the newest ``limit`` runs of ``kinds`` (newest first; all kinds when
    empty), finished ones only unless ``finished_only`` is false."""
    from core.store import repo

    with store.session(readonly=True) as session:
        runs = repo.list_runs(session=session, limit=max(limit * 4, 50), env=env)
    chosen = [r for r in runs if (not kinds or str(r.kind) in kinds)
              and (r.finished_at is not None or not finished_only)]
    return [metrics_of(r) for r in chosen[:limit]]


# -- Prometheus ---------------------------------------------------------------------------------
def _cumulative(hist: Histogram) -> list[tuple[str, float]]:
    """``(le, observations <= le)`` at :data:`PROMETHEUS_BUCKETS`, then ``+Inf``."""
    out = []
    for le in PROMETHEUS_BUCKETS:
        n = sum(c for b, c in hist.buckets.items() if upper_bound(b) <= le * (1 + 1e-9))
        out.append((_le(le), float(n)))
    out.append(("+Inf", float(hist.count)))
    return out


def _le(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(float(value))


class DgsyncCollector:
    """A ``prometheus_client`` collector over the state store (and optionally the live
    statistics of one :class:`~core.services.Services`). Every scrape reads the store once."""

    def __init__(self, store: Store, *, env: str | None = None, services: Services | None = None) -> None:
        self.store = store
        self.env = env
        self.services = services

    def collect(self) -> Iterator[Metric]:
        yield from self._runs()
        yield from self._validation()
        if self.services is not None:
            yield from self._live(self.services)

    def _runs(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from core.store import repo

        with self.store.session(readonly=True) as session:
            counts = repo.count_runs(session=session, env=self.env)
        total = CounterMetricFamily("dgsync_runs", "Runs in the state store by kind and status.",
                                    labels=["env", "kind", "status"])
        for (env, kind, status), n in sorted(counts.items()):
            total.add_metric([env, kind, status], n)
        yield total
        last: dict[str, RunMetrics] = {}
        for m in recent_metrics(self.store, limit=50, env=self.env):
            last.setdefault(m.env, m)
        g = {name: GaugeMetricFamily(f"dgsync_last_run_{name}", doc, labels=labels) for name, doc, labels in (
            ("info", "The newest finished sync run of the environment (value 1).", ["env", "run_id", "status", "trigger"]),
            ("finished_timestamp_seconds", "When it finished (Unix time).", ["env"]),
            ("duration_seconds", "Its duration.", ["env"]),
            ("assets", "Assets in its scope.", ["env"]),
            ("assets_per_second", "Assets per second.", ["env"]),
            ("glue_writes", "Glue write calls.", ["env"]),
            ("api_calls", "API calls per system and operation.", ["env", "system", "operation"]),
            ("retries", "Retries per system.", ["env", "system"]),
            ("throttles", "Throttled attempts per system.", ["env", "system"]),
            ("latency_seconds", "Call latency quantiles per system.", ["env", "system", "quantile"]),
        )}
        for env, m in sorted(last.items()):
            g["info"].add_metric([env, m.run_id, m.status, m.trigger], 1)
            if m.finished_at is not None:
                g["finished_timestamp_seconds"].add_metric([env], m.finished_at.timestamp())
            g["duration_seconds"].add_metric([env], m.duration_s or 0.0)
            g["assets"].add_metric([env], m.assets)
            g["assets_per_second"].add_metric([env], m.assets_per_s or 0.0)
            g["glue_writes"].add_metric([env], m.glue_writes)
            for system, sm in sorted(m.systems.items()):
                for op, n in sm.by_operation.items():
                    g["api_calls"].add_metric([env, system, op], n)
                if sm.retries is not None:
                    g["retries"].add_metric([env, system], sm.retries)
                if sm.throttles is not None:
                    g["throttles"].add_metric([env, system], sm.throttles)
                for q, value in (("0.5", sm.p50_ms), ("0.95", sm.p95_ms), ("0.99", sm.p99_ms)):
                    if value is not None:
                        g["latency_seconds"].add_metric([env, system, q], value / 1000)
        yield from g.values()

    def _validation(self) -> Iterable[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        from core.validation import list_validations

        rows = list_validations(self.store, env=self.env, limit=50)
        newest: dict[str, Any] = {}
        for row in rows:
            newest.setdefault(row.env, row)
        in_sync = GaugeMetricFamily("dgsync_validation_in_sync",
                                    "1 when the newest validation found Glue in sync with Datasphere.",
                                    labels=["env", "scope", "validation_id"])
        tables = GaugeMetricFamily("dgsync_validation_tables", "Tables of the newest validation by status.",
                                   labels=["env", "status"])
        stamp = GaugeMetricFamily("dgsync_validation_timestamp_seconds", "When the newest validation ran.",
                                  labels=["env"])
        for env, row in sorted(newest.items()):
            in_sync.add_metric([env, row.scope_key, row.id], 1 if row.in_sync else 0)
            stamp.add_metric([env], row.generated_at.timestamp())
            for status in ("ok", "drift", "missing", "extra", "unmanaged", "skipped"):
                tables.add_metric([env, status], int(row.summary.get(status, 0)))
        yield from (in_sync, tables, stamp)

    def _live(self, services: Services) -> Iterable[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        env = services.settings.env
        stats = services.built_client_stats()
        calls = CounterMetricFamily("dgsync_process_api_calls", "API calls made by this process.",
                                    labels=["env", "system", "operation"])
        hist = HistogramMetricFamily("dgsync_process_api_latency_seconds",
                                     "Latency of this process's logical API calls (retries included).",
                                     labels=["env", "system"])
        if "glue" in stats:
            glue = stats["glue"].snapshot()
            for op, s in glue.by_operation.items():
                calls.add_metric([env, "glue", op], s.calls)
            hist.add_metric([env, "glue"], _cumulative(glue.latency), sum_value=glue.latency.sum_s)
        if "datasphere" in stats:
            for route, n in stats["datasphere"].requests_by_route().items():
                calls.add_metric([env, "datasphere", route], n)
            latency = stats["datasphere"].latency.snapshot()
            hist.add_metric([env, "datasphere"], _cumulative(latency), sum_value=latency.sum_s)
        yield from (calls, hist)
        catalog = services.built_catalog()
        if catalog is not None:
            extractions = CounterMetricFamily(
                "dgsync_catalog_extractions", "Extractions of the browsing catalog by outcome (kept: the tenant "
                "was unchanged; incremental: changed objects read; full).", labels=["env", "outcome"])
            for outcome, n in sorted(catalog.extractions.items()):
                extractions.add_metric([env, outcome], n)
            age = GaugeMetricFamily("dgsync_catalog_age_seconds",
                                    "Seconds since the browsing catalog was extracted or confirmed.", labels=["env"])
            seconds = catalog.age_s()
            if seconds is not None:
                age.add_metric([env], seconds)
            yield from (extractions, age)
        pauses = heap.pauses()
        if pauses:
            gc_hist = HistogramMetricFamily(
                "dgsync_process_gc_pause_seconds",
                "Pauses of this process's cyclic garbage collector (every thread waits), per generation.",
                labels=["generation"])
            for generation, recorder in sorted(pauses.items()):
                seen = recorder.snapshot()
                gc_hist.add_metric([str(generation)], _cumulative(seen), sum_value=seen.sum_s)
            yield gc_hist


def prometheus_text(store: Store, *, env: str | None = None, services: Services | None = None) -> str:
    """The Prometheus text exposition (format 0.0.4) of :class:`DgsyncCollector`."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DgsyncCollector(store, env=env, services=services))
    return generate_latest(registry).decode("utf-8")
