// The `limits` part of Settings: each sandbox limit in force, 0 where it is unlimited.
import { directives, type DirectiveSpec } from '../config/directives';
import type { LimitSettings, ReadTimeoutStage } from '../config/types';

/** mod_reqtimeout's defaults: a slowloris or slow-POST client is cut after 20 to 40 seconds. */
export const defaultHeaderTimeout: ReadTimeoutStage = { timeout: 20_000, max: 40_000, minRate: 500 };
export const defaultBodyTimeout: ReadTimeoutStage = { timeout: 20_000, max: 0, minRate: 500 };

const nodeHeaderSize = 16 * 1024;
const apacheHeaderLines = 100;
const defaultUri = 8 * 1024;
const defaultStreams = 20;
const defaultCacheItem = 512 * 1024;

type Value = <V>(spec: DirectiveSpec<V>) => V | undefined;

export function resolveLimitSettings(value: Value): LimitSettings {
  const readTimeout = value(directives.RequestReadTimeout) ?? {};
  return {
    clients: value(directives.LimitClients) ?? 0,
    connections: value(directives.LimitConnections) ?? 0,
    connectionsPerClient: value(directives.LimitConnectionsPerClient) ?? 0,
    requestsPerClient: value(directives.LimitRequestsPerClient) ?? 0,
    requestBody: value(directives.LimitRequestBody) ?? 0,
    requestForm: value(directives.LimitRequestForm) ?? 0,
    upload: value(directives.LimitUpload) ?? 0,
    requestHeader: value(directives.LimitRequestHeader) ?? nodeHeaderSize,
    requestHeaderLines: value(directives.LimitRequestHeaderLines) ?? apacheHeaderLines,
    uri: value(directives.LimitUri) ?? defaultUri,
    keepAlive: value(directives.LimitKeepAlive) ?? 0,
    responseBody: value(directives.LimitResponseBody) ?? 0,
    chunk: value(directives.LimitChunk) ?? 0,
    packet: value(directives.LimitPacket) ?? 0,
    sessions: value(directives.LimitSessions) ?? 0,
    streams: value(directives.LimitStreams) ?? defaultStreams,
    webSocketsMessage: value(directives.LimitWebSocketsMessage) ?? 0,
    webSocketsPacket: value(directives.LimitWebSocketsPacket) ?? 0,
    webSocketsFrame: value(directives.LimitWebSocketsFrame) ?? 0,
    cache: value(directives.LimitCache) ?? 0,
    cacheItem: value(directives.LimitCacheItem) ?? defaultCacheItem,
    readTimeout: {
      header: readTimeout.header === undefined ? defaultHeaderTimeout : readTimeout.header,
      body: readTimeout.body === undefined ? defaultBodyTimeout : readTimeout.body,
    },
  };
}

/** LimitKeepAlive and MaxKeepAliveRequests bound the same count; the smaller one is in force. */
export function requestsPerConnection(maxKeepAliveRequests: number, limitKeepAlive: number): number {
  if (maxKeepAliveRequests === 0) return limitKeepAlive;
  if (limitKeepAlive === 0) return maxKeepAliveRequests;
  return Math.min(maxKeepAliveRequests, limitKeepAlive);
}

/** Which directive closes a connection after its last request, for the log line. */
export function keepAliveLimitName(s: { maxKeepAliveRequests: number; limits: LimitSettings }): string {
  return s.limits.keepAlive !== 0 && s.limits.keepAlive === s.maxKeepAliveRequests ? 'LimitKeepAlive' : 'MaxKeepAliveRequests';
}
