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

const sized = (v: number): string =>
  v === 0 ? 'unlimited' : v % 2 ** 20 === 0 ? `${v / 2 ** 20}M` : v % 1024 === 0 ? `${v / 1024}K` : String(v);
const counted = (v: number): string => (v === 0 ? 'unlimited' : String(v));

function stageText(name: string, stage: ReadTimeoutStage | null): string {
  if (!stage) return `${name}=0`;
  const max = stage.max > 0 ? `-${stage.max / 1000}` : '';
  return `${name}=${stage.timeout / 1000}${max}${stage.minRate > 0 ? `,MinRate=${stage.minRate}` : ''}`;
}

/** The limits' lines of `mpmproxy -V`. */
export function limitsReport(l: LimitSettings): Array<[string, string]> {
  return [
    ['LimitClients', counted(l.clients)],
    ['LimitConnections', counted(l.connections)],
    ['LimitConnectionsPerClient', counted(l.connectionsPerClient)],
    ['LimitRequestsPerClient', counted(l.requestsPerClient)],
    ['LimitRequestBody', sized(l.requestBody)],
    ['LimitRequestForm', l.requestForm === 0 ? 'unlimited (forms stream)' : `${sized(l.requestForm)} (forms held whole)`],
    ['LimitUpload', sized(l.upload)],
    ['LimitRequestHeader', sized(l.requestHeader)],
    ['LimitRequestHeaderLines', counted(l.requestHeaderLines)],
    ['LimitUri', sized(l.uri)],
    ['LimitKeepAlive', counted(l.keepAlive)],
    ['LimitResponseBody', sized(l.responseBody)],
    ['LimitChunk', sized(l.chunk)],
    ['LimitStreams', String(l.streams)],
    ['LimitWebSocketsMessage', sized(l.webSocketsMessage)],
    ['LimitWebSocketsFrame', sized(l.webSocketsFrame)],
    ['LimitWebSocketsPacket', sized(l.webSocketsPacket)],
    ['LimitPacket', l.packet === 0 ? "Node's default" : sized(l.packet)],
    ['RequestReadTimeout', `${stageText('header', l.readTimeout.header)} ${stageText('body', l.readTimeout.body)}`],
  ];
}
