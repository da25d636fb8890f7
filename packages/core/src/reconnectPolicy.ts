import type { CloseEventLike } from './webSocketLike.js'

/**
 * Close codes after which reconnecting cannot help: the server will refuse the same request
 * again. Everything else (1006 abnormal, 1011 server error, 1012 service restart, 1013 try
 * again later, other 4xxx) is retried.
 */
export const fatalCloseCodes: ReadonlySet<number> = new Set([
  1002, // protocol error
  1003, // unsupported data
  1007, // invalid payload
  1008, // policy violation
  1009, // message too big
  1010, // missing extension
  4401, // unauthenticated
  4403, // forbidden
])

/** The default `shouldReconnect`: retry unless the close code is in `fatalCloseCodes`. */
export function defaultShouldReconnect(event: CloseEventLike): boolean {
  return !fatalCloseCodes.has(event.code)
}
