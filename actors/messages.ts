/** Messages to a room actor, and the shapes of prepared inputs. */
import type { MatrixEvent } from '../src/matrix/event.js';
import type { CreateRoomReply, InputKind, InputResult, SendReply, SendRequest, CreateRoomRequest } from '../src/api.js';
import type { JsonObject } from '../src/matrix/json.js';

export interface Reply<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

/** An input parsed and routed by the server, ready for its room actor. */
export interface PreparedInput {
  event: MatrixEvent;
  kind: InputKind;
  origin?: string;
  stateEventIds?: string[];
  /** journal sequence numbers to remove when the input is finished */
  journalSeqs?: number[];
  /** built and signed here: signatures need no check */
  local?: boolean;
  /**
   * A local event's auth events, as its build picked them from the room's
   * current state (so present, not rejected and the ones the selection
   * wants): the pipeline takes them as they are.
   */
  localAuth?: MatrixEvent[];
  /** set by the pipeline: no record of this event was stored before (so none is cached anywhere) */
  fresh?: boolean;
  txnId?: string;
  /** the content hash did not match: the event was redacted before use */
  hashMismatch?: boolean;
  /** UTF-8 canonical JSON of the redacted event, when parsing computed it (saves a second encoding for signatures) */
  signedBytes?: Buffer;
  /** when the caller stops waiting (ms since epoch) */
  deadline: number;
}

export interface PreparedCreate {
  req: CreateRoomRequest;
  roomId: string;
  /** for v12 the create event is built before the room ID is known */
  createEvent?: JsonObject;
}

export type RoomMsg =
  | { op: 'input'; input: PreparedInput; reply: Reply<InputResult> }
  | { op: 'send'; req: SendRequest; reply: Reply<SendReply> }
  | { op: 'create'; create: PreparedCreate; reply: Reply<CreateRoomReply> }
  /** events fetched for a gap, to be processed before the parked ones are retried */
  | { op: 'fetched'; inputs: PreparedInput[]; gapFor: string }
  /** retry parked events, failing those past their deadline */
  | { op: 'retry' };
