/**
 * The interface of the authorization rules (src/auth). Pure: the caller
 * supplies the state the event is checked against.
 */
import type { MatrixEvent } from '../matrix/event.js';

/** The state an event is authorised against: (type, state key) -> event. */
export interface AuthStateLookup {
  get(type: string, stateKey: string): MatrixEvent | undefined;
}

/** Stable reason codes for denials (extend as rules need; never rename). */
export type AuthDenialCode = string;

export type AuthResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: AuthDenialCode; readonly rule: string; readonly message: string };

export const ALLOWED: AuthResult = Object.freeze({ ok: true });
