/**
 * What the room actors need from storage, in the actors' own terms (event
 * IDs and string-keyed state maps). `StoreAdapter` (store-adapter.ts)
 * implements it over storage/, translating to NIDs, blocks and snapshots,
 * so the room logic never handles NIDs.
 */
import type { JsonObject } from '../src/matrix/json.js';
import type { StateMap, StateKeyString } from '../src/matrix/state-key.js';
import type { InputStatus, Output } from '../src/api.js';

export interface RoomHead {
  roomId: string;
  roomVersion: string;
  createEventId: string;
  /** forward extremities (event IDs) */
  extremities: string[];
  /** snapshot ID of the current state */
  currentSnapshot: number;
  /** greatest depth of an event in the room */
  depth: number;
}

export interface EventRecord {
  eventId: string;
  roomId: string;
  /** undefined for message events */
  stateKey: StateKeyString | undefined;
  depth: number;
  prevEvents: string[];
  authEvents: string[];
  outlier: boolean;
  rejected: boolean;
  softFailed: boolean;
  redacted: boolean;
  rejectReason?: string;
  /** snapshot of the state before the event; 0 when the event has none (outliers, events rejected early) */
  beforeSnapshot: number;
}

export function statusOf(r: EventRecord): InputStatus {
  if (r.rejected) return 'rejected';
  if (r.softFailed) return 'soft_failed';
  if (r.outlier) return 'outlier';
  return 'accepted';
}

export interface NewEvent {
  record: EventRecord;
  json: JsonObject;
  /** The canonical JSON text of `json` when already computed (written as is); undefined: the store encodes `json`. */
  text?: string | undefined;
  /** stored for the first time: no earlier record of it can be in a cache */
  fresh: boolean;
}

/** Takes an event's canonical text for its commit unit, dropping it from the event (see MatrixEvent.text). */
export function takeText(ev: { text?: string | undefined }): string | undefined {
  const t = ev.text;
  if (t !== undefined) ev.text = undefined;
  return t;
}

type WithoutPos<T> = T extends unknown ? Omit<T, 'pos'> : never;
/** The output as the room actor produces it; the position is assigned at commit. */
export type PendingOutput = WithoutPos<Output>;

/** A state change: key -> new event ID, or undefined when the entry is removed. */
export type StateChanges = Array<[StateKeyString, string | undefined]>;

/**
 * NIDs a room's commits keep needing (the room's own, its latest event's,
 * its auth events'), kept by the room so that a commit takes them from a
 * small map of its own instead of the store's shared caches (large maps,
 * slow to probe with thousands of rooms). Filled and bounded by the store.
 */
export interface NidHints {
  /** the room's NID (0 until known) */
  room: number;
  /** the room's newest committed event and its NID ('' and 0 until one is) */
  lastId: string;
  lastNid: number;
  /** state events' NIDs and those looked up for earlier commits (bounded) */
  events: Map<string, number>;
}

/** Everything one processed event touches; committed as one write. */
export interface Unit {
  /** the adapter's storage-level unit, created on first use */
  storeUnit?: unknown;
  /** the committing room's NID hints */
  nids?: NidHints;
  /** the event itself (new, or a re-stored one whose flags changed) */
  event?: NewEvent;
  /** snapshot for `event.record.beforeSnapshot`: built by the adapter from these when set */
  head?: RoomHead;
  /** current state changes for the membership index: state key -> event ID (undefined = removed) */
  memberChanges?: Array<{ userId: string; membership: string; eventId: string }>;
  output?: PendingOutput;
  extraOutputs?: PendingOutput[];
  /** flags to change on already stored events (redaction) */
  redactEvents?: Array<{ eventId: string; redactedJson: JsonObject }>;
  /** remember a redaction whose target we do not hold yet */
  pendingRedaction?: { targetEventId: string; redactionEventId: string };
  journalSeqs?: number[];
  txn?: { sender: string; txnId: string; eventId: string; status: InputStatus };
}

export interface RoomStore {
  getRoom(roomId: string): Promise<RoomHead | undefined>;
  getEvent(eventId: string): Promise<EventRecord | undefined>;
  /** Notes the ID of an event this server has just built: it was never stored, so storing it needs no lookup. */
  markNewEvent(eventId: string): void;
  getEventJson(eventId: string): Promise<JsonObject | undefined>;
  /** the full state of a snapshot (0 = empty) */
  loadSnapshot(snapshot: number): Promise<StateMap>;
  /**
   * The snapshot of `base`'s state with `changes` applied (`base` itself
   * when there are none). New blocks and snapshots are written with `unit`.
   */
  deriveSnapshot(unit: Unit, roomId: string, base: number, changes: StateChanges): Promise<number>;
  /** A snapshot for a state given in full (no base). */
  snapshotOf(unit: Unit, roomId: string, state: StateMap): Promise<number>;
  /** redaction events that target this event and arrived before it (at once when known to be none) */
  pendingRedactions(targetEventId: string): string[] | Promise<string[]>;
  /** at once when the txn ID is known to be new */
  getTxn(sender: string, txnId: string): { eventId: string; status: InputStatus } | undefined | Promise<{ eventId: string; status: InputStatus } | undefined>;
  /** Commits one unit (one write, group-committed); resolves once it is durable and its outputs are published. */
  commit(roomId: string, unit: Unit): Promise<unknown>;
}
