/**
 * Auth events selection (server-server API, "Auth events selection"): the
 * state entries that give the sender permission to send an event, which is
 * what its `auth_events` may list. Pure.
 */
import type { JsonObject } from '../matrix/json.js';
import { isJsonObject } from '../matrix/json.js';
import type { RoomVersion } from '../matrix/room-versions.js';

/** The fields of an event the selection depends on (a MatrixEvent fits). */
export interface SelectableEvent {
  readonly type: string;
  readonly sender: string;
  readonly stateKey: string | undefined;
  readonly content: JsonObject;
}

export type StateEntry = [type: string, stateKey: string];

/** `content.third_party_invite.signed.token` when it is a string. */
export function thirdPartyInviteToken(content: JsonObject): string | undefined {
  const tpi = content.third_party_invite;
  if (!isJsonObject(tpi)) return undefined;
  const signed = tpi.signed;
  if (!isJsonObject(signed)) return undefined;
  return typeof signed.token === 'string' ? signed.token : undefined;
}

/** Adds a (type, state key) pair unless present (a selection has at most six). */
function addEntry(out: StateEntry[], type: string, key: string): void {
  for (const [t, k] of out) if (t === type && k === key) return;
  out.push([type, key]);
}

/**
 * The (type, state key) pairs an event's auth events are chosen from, without
 * duplicates, in this order: create (not in v12), power levels, sender's
 * member; and for `m.room.member`: target's member, join rules (membership
 * join, invite or knock), the third-party invite named by
 * `third_party_invite.signed.token` (invite), and the member event of
 * `join_authorised_via_users_server` (join, room versions with restricted
 * joins). The create event itself has no auth events.
 */
export function authEventSelection(event: SelectableEvent, rv: RoomVersion): StateEntry[] {
  if (event.type === 'm.room.create' && event.stateKey === '') return [];
  const out: StateEntry[] = [];
  if (!rv.roomIdFromCreateEvent) addEntry(out, 'm.room.create', '');
  addEntry(out, 'm.room.power_levels', '');
  addEntry(out, 'm.room.member', event.sender);
  if (event.type === 'm.room.member' && event.stateKey !== undefined) {
    addEntry(out, 'm.room.member', event.stateKey);
    const membership = event.content.membership;
    if (membership === 'join' || membership === 'invite' || membership === 'knock') addEntry(out, 'm.room.join_rules', '');
    if (membership === 'invite') {
      const token = thirdPartyInviteToken(event.content);
      if (token !== undefined) addEntry(out, 'm.room.third_party_invite', token);
    }
    if (membership === 'join' && rv.restrictedJoins) {
      const via = event.content.join_authorised_via_users_server;
      if (typeof via === 'string') addEntry(out, 'm.room.member', via);
    }
  }
  return out;
}
