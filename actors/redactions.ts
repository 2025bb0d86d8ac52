/**
 * When a redaction takes effect. v1-v2: the auth rules already demanded the
 * redact level or the same event ID domain. v3+: the auth rules allow any
 * redaction; it is applied only when the redaction's sender has the redact
 * level, or is on the same server as the redacted event's sender.
 */
import type { MatrixEvent } from '../src/matrix/event.js';
import type { JsonObject } from '../src/matrix/json.js';
import type { RoomVersion } from '../src/matrix/room-versions.js';
import type { AuthStateLookup } from '../src/auth/types.js';
import { RoomPowerLevels } from '../src/auth/power-levels.js';
import { redactEvent } from '../src/matrix/redaction.js';
import { serverNameOf } from '../src/matrix/ids.js';

export function redactionAllowed(redaction: MatrixEvent, target: MatrixEvent, stateAtRedaction: AuthStateLookup, rv: RoomVersion): boolean {
  if (redaction.roomId !== target.roomId) return false;
  if (rv.redactionInAuthRules) return true;
  if (serverNameOf(redaction.sender) === serverNameOf(target.sender)) return true;
  const pl = RoomPowerLevels.fromState(stateAtRedaction, rv);
  return pl.userLevel(redaction.sender) >= pl.redact;
}

/** The stored form of a redacted event. */
export function redactedCopy(json: JsonObject, rv: RoomVersion): JsonObject {
  return redactEvent(json, rv);
}
