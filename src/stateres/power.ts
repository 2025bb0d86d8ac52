/**
 * Power events and the sender power level used by the reverse topological
 * power ordering (rooms v2+, "Definitions").
 */
import type { MatrixEvent } from '../matrix/event.js';
import type { RoomVersion } from '../matrix/room-versions.js';
import { RoomPowerLevels } from '../auth/power-levels.js';
import type { EventCache } from './lookup.js';

export const CREATE = 'm.room.create';
export const POWER_LEVELS = 'm.room.power_levels';
export const JOIN_RULES = 'm.room.join_rules';
export const MEMBER = 'm.room.member';

/**
 * A power event: a state event of type `m.room.power_levels` or
 * `m.room.join_rules`, or an `m.room.member` state event with membership
 * `leave` or `ban` whose sender is not its state key (a kick, a ban, an
 * unban): events that might take an ability away.
 */
export function isPowerEvent(ev: MatrixEvent): boolean {
  if (ev.stateKey === undefined) return false;
  if (ev.type === POWER_LEVELS || ev.type === JOIN_RULES) return true;
  if (ev.type !== MEMBER) return false;
  const m = ev.content.membership;
  return (m === 'leave' || m === 'ban') && ev.sender !== ev.stateKey;
}

/** v12: the create event's ID, which the room ID names (`!x` -> `$x`). */
export function createEventIdOfRoom(roomId: string): string | undefined {
  return roomId.startsWith('!') ? '$' + roomId.slice(1) : undefined;
}

/** The first loaded `m.room.power_levels` (state key '') event among the event's auth events. */
export function powerLevelsAuthEvent(ev: MatrixEvent, cache: EventCache): MatrixEvent | undefined {
  for (const id of ev.authEvents) {
    const a = cache.get(id);
    if (a !== undefined && a.type === POWER_LEVELS && a.stateKey === '') return a;
  }
  return undefined;
}

/**
 * The power level of each event's sender "when looking at their respective
 * auth_events": the power levels event among its auth events (or the
 * defaults without one: the creator 100 in v1-v11), and in v12 the creators'
 * infinite power. Parsed power levels are shared between events citing the
 * same events.
 */
export class SenderPower {
  private readonly rv: RoomVersion;
  private readonly cache: EventCache;
  private readonly levels = new Map<string, RoomPowerLevels>();

  constructor(rv: RoomVersion, cache: EventCache) {
    this.rv = rv;
    this.cache = cache;
  }

  of(ev: MatrixEvent): number {
    let pl: MatrixEvent | undefined;
    let create: MatrixEvent | undefined;
    for (const id of ev.authEvents) {
      const a = this.cache.get(id);
      if (a === undefined || a.stateKey !== '') continue;
      if (a.type === POWER_LEVELS && pl === undefined) pl = a;
      else if (a.type === CREATE && create === undefined) create = a;
    }
    if (this.rv.roomIdFromCreateEvent) {
      const cid = createEventIdOfRoom(ev.roomId);
      create = cid === undefined ? undefined : this.cache.get(cid);
    }
    const memo = (pl?.eventId ?? '') + '\u0000' + (create?.eventId ?? '');
    let levels = this.levels.get(memo);
    if (levels === undefined) {
      levels = RoomPowerLevels.fromEvents(pl, create, this.rv);
      this.levels.set(memo, levels);
    }
    return levels.userLevel(ev.sender);
  }
}
