/** The authorization rules of room versions 1-12: the public API of src/auth. */
export { ALLOWED } from './types.js';
export type { AuthDenialCode, AuthResult, AuthStateLookup } from './types.js';
export { checkAuth, verifyThirdPartyInviteSigned } from './check.js';
export type { CheckAuthOptions } from './check.js';
export {
  authStateFromEvents,
  checkAuthEvents,
  checkAuthWithAuthEvents,
  EMPTY_STATE,
  MapStateLookup,
} from './auth-events.js';
export type { AuthEventsOptions, AuthEventsResult } from './auth-events.js';
export { authEventSelection, thirdPartyInviteToken } from './selection.js';
export type { SelectableEvent, StateEntry } from './selection.js';
export {
  CREATOR_DEFAULT_LEVEL,
  DEFAULT_LEVELS,
  DEFAULT_ROOM_NOTIFICATION_LEVEL,
  LEVEL_KEYS,
  parsePowerLevelsContent,
  parsePowerLevelValue,
  roomCreators,
  RoomPowerLevels,
  userPowerLevel,
} from './power-levels.js';
export type { LevelKey, PowerLevelsContent, PowerLevelsParseResult } from './power-levels.js';
export { ruleNumbers } from './rule-numbers.js';
export type { RuleNumbers } from './rule-numbers.js';
export { domainOf, isValidServerName, isValidUserId } from './user-id.js';
