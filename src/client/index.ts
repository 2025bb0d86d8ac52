/** The typed WebSocket client and the peer link built on it. */
export { RoomServerClient, RemoteError, type ClientOptions, type ClientQueries, type ReconnectOptions } from './client.js';
export { ClientSubscription, type ClientSubscribeOptions } from './subscription.js';
export { WsPeerFetcher, type PeerConfig, type WsPeerFetcherOptions } from './peer-link.js';
