/**
 * The authorization rules of room versions 1-12 (the "Authorisation rules"
 * section of each room version page), applied to one event against one
 * state. Pure: the caller supplies the state (built from the event's auth
 * events, the state before the event, or the current state) and gets
 * ALLOWED or a denial naming the rule.
 *
 * The rules about the `auth_events` list itself (duplicates, entries outside
 * the selection, rejected entries, v12 create event listed) live in
 * auth-events.ts because they need the list, not a state.
 */
import type { JsonObject } from '../matrix/json.js';
import { isJsonObject } from '../matrix/json.js';
import { canonicalJsonBytes } from '../matrix/canonical-json.js';
import { verifyBytes } from '../matrix/ed25519.js';
import type { MatrixEvent } from '../matrix/event.js';
import type { RoomVersion } from '../matrix/room-versions.js';
import { isKnownRoomVersion } from '../matrix/room-versions.js';
import { ALLOWED, type AuthResult, type AuthStateLookup } from './types.js';
import { LEVEL_KEYS, parsePowerLevelsContent, roomCreators, RoomPowerLevels } from './power-levels.js';
import { ruleNumbers, type RuleNumbers } from './rule-numbers.js';
import { domainOf, isValidUserId } from './user-id.js';

export interface CheckAuthOptions {
  /**
   * Whether the event is validly signed by `serverName`. Used by the
   * `join_authorised_via_users_server` rule (v8+), which needs the
   * authorising user's server to have signed the join. Signature checking
   * needs server keys, which pure code does not hold: pass a verifier here.
   * Without one, the rule requires that the event's `signatures` hold at
   * least one signature from that server, and trusts the signature stage
   * (which runs before the auth rules) to have verified it.
   */
  readonly isSignedBy?: (event: MatrixEvent, serverName: string) => boolean;
}

function deny(code: string, rule: string, message: string): AuthResult {
  return { ok: false, code, rule, message };
}

function has(o: JsonObject, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** The `membership` of a member event, undefined when there is none. */
function membershipOf(ev: MatrixEvent | undefined): string | undefined {
  const m = ev?.content.membership;
  return typeof m === 'string' ? m : undefined;
}

/**
 * The room's join rule. With no `m.room.join_rules` event the room is
 * treated as `invite` (the spec gives no default; a room nobody opened is
 * invite-only, as the major servers read it). A join_rules event without a
 * string `join_rule` matches no rule.
 */
function joinRuleOf(state: AuthStateLookup): string | undefined {
  const ev = state.get('m.room.join_rules', '');
  if (!ev) return 'invite';
  const r = ev.content.join_rule;
  return typeof r === 'string' ? r : undefined;
}

function hasSignatureFrom(event: MatrixEvent, serverName: string): boolean {
  const sigs = event.json.signatures;
  if (!isJsonObject(sigs)) return false;
  const byServer = sigs[serverName];
  if (!isJsonObject(byServer)) return false;
  return Object.values(byServer).some((s) => typeof s === 'string' && s.length > 0);
}

/**
 * Rule 1: the create event. Checked on its own; it has no auth events.
 */
function checkCreate(event: MatrixEvent, rv: RoomVersion): AuthResult {
  if (event.prevEvents.length > 0) return deny('bad_create_event', '1.1', 'the create event has prev_events');
  if (rv.roomIdFromCreateEvent) {
    if (has(event.json, 'room_id')) return deny('bad_create_event', '1.2', 'a v12 create event must not have a room_id');
  } else {
    const roomDomain = domainOf(event.roomId);
    if (roomDomain === undefined || roomDomain !== domainOf(event.sender)) {
      return deny('bad_create_event', '1.2', `room ID domain ${JSON.stringify(roomDomain)} does not match the sender's`);
    }
  }
  const content = event.content;
  if (has(content, 'room_version') && !isKnownRoomVersion(content.room_version)) {
    return deny('bad_create_event', '1.3', `unrecognised room_version ${JSON.stringify(content.room_version)}`);
  }
  if (!rv.v11Format && !has(content, 'creator')) return deny('bad_create_event', '1.4', 'the create event has no content.creator');
  if (rv.creatorsHaveInfinitePower && has(content, 'additional_creators')) {
    const extra = content.additional_creators;
    if (!Array.isArray(extra) || !extra.every((u) => isValidUserId(u))) {
      return deny('bad_create_event', '1.4', 'additional_creators is not an array of valid user IDs');
    }
  }
  return ALLOWED;
}

/**
 * Checks `content.third_party_invite.signed` against the public keys of the
 * `m.room.third_party_invite` event: any ed25519 signature in `signed` that
 * verifies with `public_key` or any `public_keys[].public_key` allows. The
 * signed bytes are the canonical JSON of `signed` as received (every field,
 * known or not) without `signatures`.
 */
export function verifyThirdPartyInviteSigned(signed: JsonObject, thirdPartyInviteContent: JsonObject): boolean {
  const sigs = signed.signatures;
  if (!isJsonObject(sigs)) return false;
  const keys: string[] = [];
  if (typeof thirdPartyInviteContent.public_key === 'string') keys.push(thirdPartyInviteContent.public_key);
  const list = thirdPartyInviteContent.public_keys;
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (isJsonObject(entry) && typeof entry.public_key === 'string' && !keys.includes(entry.public_key)) keys.push(entry.public_key);
    }
  }
  if (keys.length === 0) return false;
  const unsigned: JsonObject = {};
  for (const [k, v] of Object.entries(signed)) if (k !== 'signatures') unsigned[k] = v;
  let bytes: Buffer;
  try {
    bytes = canonicalJsonBytes(unsigned);
  } catch {
    return false;
  }
  for (const byServer of Object.values(sigs)) {
    if (!isJsonObject(byServer)) continue;
    for (const [keyId, sig] of Object.entries(byServer)) {
      if (!keyId.startsWith('ed25519:') || typeof sig !== 'string') continue;
      for (const key of keys) if (verifyBytes(key, bytes, sig)) return true;
    }
  }
  return false;
}

function checkJoin(event: MatrixEvent, state: AuthStateLookup, pl: RoomPowerLevels, create: MatrixEvent, n: RuleNumbers): AuthResult {
  const rv = event.roomVersion;
  const r = n.join;
  const target = event.stateKey as string;
  // .1: the creator's own first join, right after the create event.
  const creator = rv.v11Format ? create.sender : create.content.creator;
  if (event.prevEvents.length === 1 && event.prevEvents[0] === create.eventId && target === creator) return ALLOWED;
  if (event.sender !== target) return deny('sender_not_target', `${r}.2`, 'a join must be sent by the joining user');
  const current = membershipOf(state.get('m.room.member', event.sender));
  if (current === 'ban') return deny('sender_banned', `${r}.3`, 'the sender is banned');
  const rule = joinRuleOf(state);
  if (rule === 'invite' || (rv.knocking && rule === 'knock')) {
    if (current === 'invite' || current === 'join') return ALLOWED;
  } else if ((rv.restrictedJoins && rule === 'restricted') || (rv.knockRestricted && rule === 'knock_restricted')) {
    if (current === 'join' || current === 'invite') return ALLOWED;
    const via = event.content.join_authorised_via_users_server;
    if (typeof via !== 'string') {
      return deny('restricted_join_unauthorised', `${n.joinRestricted}.2`, 'a restricted join needs join_authorised_via_users_server');
    }
    if (membershipOf(state.get('m.room.member', via)) !== 'join') {
      return deny('restricted_join_unauthorised', `${n.joinRestricted}.2`, `the authorising user ${via} is not joined`);
    }
    if (pl.userLevel(via) < pl.invite) {
      return deny('restricted_join_unauthorised', `${n.joinRestricted}.2`, `the authorising user ${via} cannot invite`);
    }
    return ALLOWED;
  } else if (rule === 'public') {
    return ALLOWED;
  }
  return deny('join_not_allowed', n.joinOtherwise, `join rule ${JSON.stringify(rule)} does not let ${event.sender} join from membership ${JSON.stringify(current ?? null)}`);
}

function checkThirdPartyInvite(event: MatrixEvent, state: AuthStateLookup, r: string): AuthResult {
  const target = event.stateKey as string;
  if (membershipOf(state.get('m.room.member', target)) === 'ban') return deny('target_banned', `${r}.1.1`, 'the invited user is banned');
  const tpi = event.content.third_party_invite;
  const signed = isJsonObject(tpi) ? tpi.signed : undefined;
  if (!isJsonObject(signed)) return deny('bad_third_party_invite', `${r}.1.2`, 'third_party_invite has no signed object');
  if (!has(signed, 'mxid') || !has(signed, 'token')) return deny('bad_third_party_invite', `${r}.1.3`, 'signed has no mxid or no token');
  if (signed.mxid !== target) return deny('bad_third_party_invite', `${r}.1.4`, 'signed.mxid does not match the state key');
  const token = signed.token;
  const tpiEvent = typeof token === 'string' ? state.get('m.room.third_party_invite', token) : undefined;
  if (!tpiEvent) return deny('third_party_invite_not_found', `${r}.1.5`, 'no m.room.third_party_invite matches signed.token');
  if (tpiEvent.sender !== event.sender) return deny('third_party_invite_sender_mismatch', `${r}.1.6`, 'the invite is not sent by the sender of the m.room.third_party_invite');
  if (verifyThirdPartyInviteSigned(signed, tpiEvent.content)) return ALLOWED;
  return deny('third_party_invite_bad_signature', `${r}.1.8`, 'no signature in signed verifies with the third-party invite public keys');
}

function checkMember(
  event: MatrixEvent,
  state: AuthStateLookup,
  pl: RoomPowerLevels,
  create: MatrixEvent,
  n: RuleNumbers,
  options: CheckAuthOptions,
): AuthResult {
  const rv = event.roomVersion;
  const target = event.stateKey;
  if (target === undefined || !has(event.content, 'membership')) {
    return deny('bad_membership_event', n.memberFormat, 'a member event needs a state_key and content.membership');
  }
  if (rv.restrictedJoins && has(event.content, 'join_authorised_via_users_server')) {
    const via = event.content.join_authorised_via_users_server;
    const server = typeof via === 'string' ? domainOf(via) : undefined;
    const signed = server !== undefined && (options.isSignedBy ? options.isSignedBy(event, server) : hasSignatureFrom(event, server));
    if (!signed) return deny('authorising_server_not_signed', `${n.authorisedVia}.1`, `the event is not signed by the server of join_authorised_via_users_server`);
  }
  const membership = event.content.membership;
  const sender = event.sender;
  const senderMembership = membershipOf(state.get('m.room.member', sender));
  const targetMembership = membershipOf(state.get('m.room.member', target));

  switch (membership) {
    case 'join':
      return checkJoin(event, state, pl, create, n);

    case 'invite': {
      const r = n.invite;
      if (has(event.content, 'third_party_invite')) return checkThirdPartyInvite(event, state, r);
      if (senderMembership !== 'join') return deny('sender_not_joined', `${r}.2`, 'the inviter is not joined');
      if (targetMembership === 'join' || targetMembership === 'ban') {
        return deny('invalid_membership_transition', `${r}.3`, `cannot invite a user whose membership is ${targetMembership}`);
      }
      if (pl.userLevel(sender) >= pl.invite) return ALLOWED;
      return deny('insufficient_power', `${r}.5`, 'the sender is below the invite level');
    }

    case 'leave': {
      const r = n.leave;
      if (sender === target) {
        if (senderMembership === 'invite' || senderMembership === 'join' || (rv.knocking && senderMembership === 'knock')) return ALLOWED;
        return deny('invalid_membership_transition', `${r}.1`, `cannot leave from membership ${JSON.stringify(senderMembership ?? null)}`);
      }
      if (senderMembership !== 'join') return deny('sender_not_joined', `${r}.2`, 'the sender is not joined');
      const senderLevel = pl.userLevel(sender);
      if (targetMembership === 'ban' && senderLevel < pl.ban) return deny('insufficient_power', `${r}.3`, 'unbanning needs the ban level');
      if (senderLevel >= pl.kick && pl.userLevel(target) < senderLevel) return ALLOWED;
      return deny('insufficient_power', `${r}.5`, 'kicking needs the kick level and a level above the target');
    }

    case 'ban': {
      const r = n.ban;
      if (senderMembership !== 'join') return deny('sender_not_joined', `${r}.1`, 'the sender is not joined');
      const senderLevel = pl.userLevel(sender);
      if (senderLevel >= pl.ban && pl.userLevel(target) < senderLevel) return ALLOWED;
      return deny('insufficient_power', `${r}.3`, 'banning needs the ban level and a level above the target');
    }

    case 'knock': {
      if (!rv.knocking) break;
      const r = n.knock;
      const rule = joinRuleOf(state);
      if (!(rule === 'knock' || (rv.knockRestricted && rule === 'knock_restricted'))) {
        return deny('knock_not_allowed', `${r}.1`, `join rule ${JSON.stringify(rule)} does not allow knocking`);
      }
      if (sender !== target) return deny('sender_not_target', `${r}.2`, 'a knock must be sent by the knocking user');
      if (senderMembership !== 'ban' && senderMembership !== 'invite' && senderMembership !== 'join') return ALLOWED;
      return deny('invalid_membership_transition', `${r}.4`, `cannot knock from membership ${senderMembership}`);
    }
  }
  return deny('unknown_membership', n.unknownMembership, `unknown membership ${JSON.stringify(membership)}`);
}

function checkPowerLevels(event: MatrixEvent, state: AuthStateLookup, pl: RoomPowerLevels, create: MatrixEvent, n: RuleNumbers): AuthResult {
  const rv = event.roomVersion;
  const parsed = parsePowerLevelsContent(event.content, rv, true);
  if (!parsed.ok) {
    let rule: string;
    if (parsed.field === 'users' || parsed.field.startsWith('users.')) rule = n.plUsers;
    else if (!rv.integerPowerLevels) rule = n.powerLevels; // v1-v9: the spec names only `users`; other values must still be levels
    else if (/^(events|notifications)(\.|$)/.test(parsed.field)) rule = n.plMaps;
    else rule = n.plIntegers;
    return deny('invalid_power_levels', rule, parsed.message);
  }
  const next = parsed.content;
  if (rv.creatorsHaveInfinitePower) {
    for (const c of roomCreators(create, rv)) {
      if (next.users.has(c)) return deny('creator_in_power_levels', n.plCreators, `room creator ${c} must not be listed in users`);
    }
  }
  const previous = state.get('m.room.power_levels', '');
  if (!previous || !pl.content) return ALLOWED;
  const prev = pl.content;
  const senderLevel = pl.userLevel(event.sender);

  for (const k of LEVEL_KEYS) {
    const before = prev.levels[k];
    const after = next.levels[k];
    if (before === after) continue;
    if (before !== undefined && before > senderLevel) return deny('insufficient_power', `${n.plLevels}.1`, `cannot change ${k} from ${before}, above the sender's level`);
    if (after !== undefined && after > senderLevel) return deny('insufficient_power', `${n.plLevels}.2`, `cannot set ${k} to ${after}, above the sender's level`);
  }

  const maps = rv.notificationsPowerLevels ? (['events', 'notifications'] as const) : (['events'] as const);
  for (const name of maps) {
    for (const [key, before] of prev[name]) {
      if (next[name].get(key) === before) continue;
      if (before > senderLevel) return deny('insufficient_power', `${n.plMapsRemoved}.1`, `cannot change or remove ${name}[${JSON.stringify(key)}] (${before}), above the sender's level`);
    }
  }
  for (const name of maps) {
    for (const [key, after] of next[name]) {
      if (prev[name].get(key) === after) continue;
      if (after > senderLevel) return deny('insufficient_power', `${n.plMapsAdded}.1`, `cannot set ${name}[${JSON.stringify(key)}] to ${after}, above the sender's level`);
    }
  }

  for (const [user, before] of prev.users) {
    if (user === event.sender || next.users.get(user) === before) continue;
    if (before >= senderLevel) return deny('insufficient_power', `${n.plUsersRemoved}.1`, `cannot change or remove the level of ${user} (${before}), not below the sender's`);
  }
  for (const [user, after] of next.users) {
    if (prev.users.get(user) === after) continue;
    if (after > senderLevel) return deny('insufficient_power', `${n.plUsersAdded}.1`, `cannot set the level of ${user} to ${after}, above the sender's level`);
  }
  return ALLOWED;
}

/**
 * Applies the authorization rules of `event.roomVersion` to `event` against
 * `state`. Returns ALLOWED or `{ ok: false, code, rule, message }` where
 * `rule` is the rule's number on that version's spec page.
 */
export function checkAuth(event: MatrixEvent, state: AuthStateLookup, options: CheckAuthOptions = {}): AuthResult {
  const rv = event.roomVersion;
  const n = ruleNumbers(rv);
  if (event.type === 'm.room.create') return checkCreate(event, rv);

  const create = state.get('m.room.create', '');
  if (!create) return deny('missing_create_event', rv.roomIdFromCreateEvent ? n.roomId : `${n.authEvents}.4`, 'the state has no m.room.create event');
  if (rv.roomIdFromCreateEvent) {
    if (event.roomId !== '!' + create.eventId.slice(1)) return deny('room_id_mismatch', n.roomId, 'the room ID is not the create event ID');
  } else if (create.roomId !== event.roomId) {
    return deny('auth_event_wrong_room', `${n.authEvents}.5`, 'the create event belongs to another room');
  }

  if (create.content['m.federate'] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return deny('federation_forbidden', n.federate, 'the room does not federate and the sender is on another server');
  }

  if (rv.specialCaseAliases && event.type === 'm.room.aliases') {
    if (event.stateKey === undefined) return deny('bad_aliases_event', `${n.aliases}.1`, 'm.room.aliases needs a state_key');
    if (domainOf(event.sender) !== event.stateKey) return deny('bad_aliases_event', `${n.aliases}.2`, "the state key is not the sender's domain");
    return ALLOWED;
  }

  const pl = RoomPowerLevels.fromState(state, rv);

  if (event.type === 'm.room.member') return checkMember(event, state, pl, create, n, options);

  if (membershipOf(state.get('m.room.member', event.sender)) !== 'join') {
    return deny('sender_not_joined', n.senderJoined, `${event.sender} is not joined`);
  }

  const senderLevel = pl.userLevel(event.sender);

  if (event.type === 'm.room.third_party_invite') {
    if (senderLevel >= pl.invite) return ALLOWED;
    return deny('insufficient_power', `${n.thirdPartyInvite}.1`, 'the sender is below the invite level');
  }

  const required = pl.sendLevel(event.type, event.stateKey !== undefined);
  if (required > senderLevel) {
    return deny('insufficient_power', n.requiredLevel, `${event.type} needs level ${required}, the sender has ${senderLevel}`);
  }

  if (event.stateKey !== undefined && event.stateKey.startsWith('@') && event.stateKey !== event.sender) {
    return deny('state_key_not_sender', n.stateKeyUser, 'a state key starting with @ must be the sender');
  }

  if (event.type === 'm.room.power_levels') return checkPowerLevels(event, state, pl, create, n);

  if (rv.redactionInAuthRules && event.type === 'm.room.redaction') {
    if (senderLevel >= pl.redact) return ALLOWED;
    const target = event.redacts;
    const targetDomain = target === undefined ? undefined : domainOf(target);
    if (targetDomain !== undefined && targetDomain === domainOf(event.eventId)) return ALLOWED;
    return deny('insufficient_power', `${n.redaction}.3`, 'redacting an event from another server needs the redact level');
  }

  return ALLOWED;
}
