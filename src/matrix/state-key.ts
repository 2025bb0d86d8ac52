/**
 * A state entry is named by (event type, state key). Pure code keys maps by
 * one string built from both; NUL cannot occur in event types (pdu.ts
 * refuses it), so the join is unambiguous.
 */
export type StateKeyString = string;

export function stateKey(type: string, key: string): StateKeyString {
  return type + '\u0000' + key;
}

export function splitStateKey(k: StateKeyString): [type: string, key: string] {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), k.slice(i + 1)];
}

/** State as a map from (type, state key) to event ID. */
export type StateMap = Map<StateKeyString, string>;
