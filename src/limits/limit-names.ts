// The limits that refuse something, by the directive an operator reads in the log, in the order
// of their rejection counters in the limits segment (src/shm/limits.ts).
export const LIMIT_NAMES = [
  'LimitClients',
  'LimitConnections',
  'LimitConnectionsPerClient',
  'LimitRequestsPerClient',
  'LimitRequestBody',
  'LimitRequestForm',
  'LimitUpload',
  'LimitRequestHeader',
  'LimitRequestHeaderLines',
  'LimitUri',
  'LimitResponseBody',
  'RequestReadTimeout',
  'LimitWebSocketsFrame',
  'LimitWebSocketsMessage',
  'H2MaxResets',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];

export const Limit = Object.fromEntries(LIMIT_NAMES.map((name, i) => [name, i])) as { readonly [K in LimitName]: number };
