/**
 * How an acknowledged async input is kept in the input journal: the input
 * as given (so a restart runs it exactly as the caller sent it) plus the
 * room version it was parsed with. msgpack without records.
 */
import { Packr } from 'msgpackr';
import type { InputEvent } from './api.js';

const packr = new Packr({ useRecords: false });

export function encodeInputForJournal(input: InputEvent, roomVersion: string): Buffer {
  return packr.pack({ v: 1, rv: roomVersion, input });
}

export function decodeJournalInput(bytes: Uint8Array): { input: InputEvent; roomVersion: string } {
  const o = packr.unpack(bytes) as { v?: number; rv?: unknown; input?: InputEvent };
  if (!o || o.v !== 1 || typeof o.rv !== 'string' || !o.input || typeof o.input !== 'object') throw new Error('unrecognised journal entry');
  return { input: o.input, roomVersion: o.rv };
}
