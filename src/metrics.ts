/**
 * Prometheus metrics: one registry for the process, with Node's default
 * process metrics, and the metric objects every part updates. The gateway
 * updates the connection, request and subscriber metrics; the RoomServer
 * (actors, committer, state resolution) updates the others.
 *
 * Metrics are process-wide: several RoomServer instances in one process (as
 * in tests) add to the same series.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

// ---- garbage collection ----

/*
 * prom-client's default `nodejs_gc_duration_seconds` observes only the
 * first GC entry of each observer callback, and a callback often carries
 * several (every young collection of a busy stretch): under load it counted
 * 2 of 24. The series keeps its name, kinds and buckets, fed from every entry
 * (prom-client's own observer still runs, into a histogram no longer exposed).
 */
const GC_METRIC = 'nodejs_gc_duration_seconds';
registry.removeSingleMetric(GC_METRIC);
/** perf_hooks GC entry kinds by the names this series labels them with (the load tool's report uses them too). */
export const GC_KIND_NAMES: Readonly<Record<number, 'major' | 'minor' | 'incremental' | 'weakcb'>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
/** Garbage collection pauses by kind (major, minor, incremental, weakcb), every one counted. */
export const gcDuration = new Histogram({
  name: GC_METRIC,
  help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
  labelNames: ['kind'],
  buckets: [0.001, 0.01, 0.1, 1, 2, 5],
  registers: [registry],
});
const gcListeners: Array<(kind: number, ms: number) => void> = [];
/**
 * Calls `listener` with every GC entry of this process (its perf_hooks kind
 * and duration in ms), as this series is fed: one observer per process
 * (the load tool's pause counts use it).
 */
export function onGcEntry(listener: (kind: number, ms: number) => void): void {
  gcListeners.push(listener);
}
new PerformanceObserver((list) => {
  for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
    const code = e.detail?.kind ?? -1;
    const kind = GC_KIND_NAMES[code];
    if (kind !== undefined) gcDuration.observe({ kind }, e.duration / 1000);
    for (const l of gcListeners) l(code, e.duration);
  }
}).observe({ entryTypes: ['gc'] });

// ---- input path (RoomServer side) ----

/** Input events by final status: accepted, soft_failed, rejected, outlier, duplicate. */
export const inputsTotal = new Counter({
  name: 'roomserver_inputs_total',
  help: 'Input events by final status',
  labelNames: ['status'] as const,
  registers: [registry],
});

/** Inputs waiting in room actor mailboxes, summed over rooms. */
export const roomQueueDepth = new Gauge({
  name: 'roomserver_room_queue_depth',
  help: 'Inputs queued in room mailboxes (sum over rooms)',
  registers: [registry],
});

/** Inputs admitted and not yet finished (the global in-flight bound applies to this). */
export const inFlightInputs = new Gauge({
  name: 'roomserver_inputs_in_flight',
  help: 'Inputs admitted and not yet final',
  registers: [registry],
});

/** Events parked because some prev events are missing. */
export const parkedEvents = new Gauge({
  name: 'roomserver_parked_events',
  help: 'Events parked waiting for missing prev events',
  registers: [registry],
});

/** Seconds from handing a batch to the committer to the write being durable. */
export const commitLatency = new Histogram({
  name: 'roomserver_commit_seconds',
  help: 'Group commit latency in seconds',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

/** Seconds spent in one state resolution. */
export const stateResolutionTime = new Histogram({
  name: 'roomserver_state_resolution_seconds',
  help: 'Time spent resolving state in seconds',
  buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  registers: [registry],
});

/** The name the room actors use for stateResolutionTime. */
export const stateResSeconds = stateResolutionTime;

// ---- gateway side ----

/** Open WebSocket connections by role (admin, peer). */
export const connections = new Gauge({
  name: 'roomserver_ws_connections',
  help: 'Open WebSocket connections',
  labelNames: ['role'] as const,
  registers: [registry],
});

/** Requests answered by the gateway, by op and reply code (`ok` or an M_* code). */
export const requestsTotal = new Counter({
  name: 'roomserver_ws_requests_total',
  help: 'WebSocket requests by op and outcome',
  labelNames: ['op', 'code'] as const,
  registers: [registry],
});

/** Seconds from decoding a request to writing its reply, by op. */
export const requestDuration = new Histogram({
  name: 'roomserver_ws_request_seconds',
  help: 'WebSocket request latency in seconds',
  labelNames: ['op'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  registers: [registry],
});

/** Active output subscriptions over WebSocket. */
export const subscriptions = new Gauge({
  name: 'roomserver_ws_subscriptions',
  help: 'Active output subscriptions over WebSocket',
  registers: [registry],
});

/**
 * Subscriber lag in log positions (log head minus the position just pushed),
 * observed on every pushed output.
 */
export const subscriberLag = new Histogram({
  name: 'roomserver_subscriber_lag_positions',
  help: 'Output log head minus the position pushed to a subscriber',
  buckets: [0, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000],
  registers: [registry],
});

/** Sources of the current lag of each live subscriber; the gauge reports the largest at scrape time. */
const lagSources = new Set<() => number>();

export function addSubscriberLagSource(fn: () => number): () => void {
  lagSources.add(fn);
  return () => {
    lagSources.delete(fn);
  };
}

export const subscriberLagMax = new Gauge({
  name: 'roomserver_subscriber_lag_max_positions',
  help: 'Largest current lag of a live subscriber, in log positions',
  registers: [registry],
  collect() {
    let max = 0;
    for (const fn of lagSources) {
      try {
        max = Math.max(max, fn());
      } catch {
        // a source whose server has closed: ignore
      }
    }
    this.set(max);
  },
});

/** Pauses of a connection's reading side (input backpressure), by cause. */
export const readPauses = new Counter({
  name: 'roomserver_ws_read_pauses_total',
  help: 'Times a connection stopped reading because of backpressure',
  labelNames: ['cause'] as const,
  registers: [registry],
});

export async function metricsText(): Promise<string> {
  return registry.metrics();
}

export const metricsContentType: string = registry.contentType;
