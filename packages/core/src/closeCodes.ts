import { LifelineError } from '@lifeline/codec'
import type { LifelineErrorCode } from '@lifeline/codec'
import type { DisconnectCause } from './state.js'
import type { CloseEventLike } from './webSocketLike.js'
import { utf8ByteLength } from './utf8.js'

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

/**
 * Checks `close()` arguments as the standard does, with a `LifelineError` instead of a
 * DOMException, and returns the reason as the standard takes it: a string of whatever was given
 * (`null` is `'null'`; a symbol throws a TypeError).
 */
export function validateCloseArguments(code: number | undefined, reason = ''): string {
  if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
    throw new LifelineError('INVALID_ARGUMENT', `close code must be 1000 or 3000–4999, got ${code}`)
  }
  reason = `${reason}`
  if (utf8ByteLength(reason) > 123) {
    throw new LifelineError('INVALID_ARGUMENT', 'close reason must be at most 123 UTF-8 bytes')
  }
  return reason
}

/**
 * The error code of each close code that ends the socket for good; any other code that
 * `shouldReconnect` refused is `CLOSED_BY_PEER`.
 */
const closeErrorCodes: Partial<Record<number, LifelineErrorCode>> = {
  1002: 'PROTOCOL_ERROR',
  1003: 'DECODE_FAILED',
  1007: 'DECODE_FAILED',
  1008: 'POLICY_VIOLATION',
  1009: 'MESSAGE_TOO_LARGE',
  1010: 'PROTOCOL_ERROR',
  4401: 'UNAUTHENTICATED',
  4403: 'FORBIDDEN',
  4409: 'SESSION_TAKEN_OVER',
}

/**
 * The error a close that ends the socket for good is reported with: the cause's own error when
 * it has one (a timeout, already reported), else one named after the close code, with
 * `closeCode`. Never silent: a socket that stops for good always says why.
 */
export function fatalCloseError({ code, reason, error }: DisconnectCause): LifelineError {
  return (
    error ??
    new LifelineError(
      closeErrorCodes[code] ?? 'CLOSED_BY_PEER',
      `closed for good with ${code}${reason ? `: ${reason}` : ''}`,
      { closeCode: code },
    )
  )
}
