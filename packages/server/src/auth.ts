import type { IncomingMessage } from 'node:http'
import { isLifelineError, LifelineError } from '@lifeline/codec'
import { protocolCloseCodes } from '@lifeline/core/protocol'
import { tryAgainLater } from './limits.js'
import type { Authenticate } from './options.js'

/** An error for `authenticate` to throw: the connection is closed with 4401 (unauthenticated). */
export function unauthenticated(message = 'unauthenticated'): LifelineError {
  return new LifelineError('UNAUTHENTICATED', message, {
    closeCode: protocolCloseCodes.unauthenticated,
  })
}

/** An error for `authenticate` to throw: the connection is closed with 4403 (forbidden). */
export function forbidden(message = 'forbidden'): LifelineError {
  return new LifelineError('FORBIDDEN', message, { closeCode: protocolCloseCodes.forbidden })
}

/**
 * An error for `authenticate` to throw when it cannot decide now, because what it consults (a
 * database, an identity provider) is down: the connection is closed with 1013 (try again later),
 * and the client retries through its backoff. Any other throw is a refusal (4401), which ends
 * the client for good: an outage of the credentials' store would end every client that
 * connected meanwhile.
 */
export function authUnavailable(
  message = 'cannot check credentials now: try again later',
): LifelineError {
  return new LifelineError('AUTH_UNAVAILABLE', message, { closeCode: tryAgainLater })
}

export type AuthOutcome<User> =
  | { ok: true; user: User }
  | {
      ok: false
      closeCode: 4401 | 4403 | 1013
      code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'AUTH_UNAVAILABLE'
      message: string
    }

/**
 * Runs `authenticate` and classifies its answer. Only the message of a refusal
 * (`unauthenticated()`, `forbidden()`, `authUnavailable()`, or a `LifelineError` of their codes),
 * written to be shown, goes to the client; any other error's message may hold a token or
 * internals, and is replaced by a fixed one.
 */
export async function runAuthenticate<User>(
  authenticate: Authenticate<User> | undefined,
  request: IncomingMessage,
): Promise<AuthOutcome<User>> {
  if (authenticate === undefined) return { ok: true, user: undefined as User }
  let user: Awaited<ReturnType<Authenticate<User>>>
  try {
    user = await authenticate(request)
  } catch (error) {
    try {
      return classified(error)
    } catch {
      // What was thrown throws when read (a getter, a revoked proxy): a refusal all the same.
      // Thrown from here, it was a rejection nobody handles, which ends a Node process, and the
      // client waited for the hello deadline.
      return refused(false, undefined)
    }
  }
  // Fails closed: a function that falls through without a `return` (no user found) answers
  // `undefined`, and `token && lookup(token)` answers the token itself when it is empty (`''`),
  // or a count or id of none (`0`, `NaN`): none of them must let the client in.
  if (!user) return refused(false, 'unauthenticated')
  return { ok: true, user }
}

/** The codes of the refusals `authenticate` throws, whose messages are written to be shown. */
const refusals: ReadonlySet<string> = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'AUTH_UNAVAILABLE'])

/** The refusal `error`, thrown by `authenticate`, stands for. May throw as `error` is read. */
function classified<User>(error: unknown): AuthOutcome<User> {
  // Only a refusal's message is shown: another `LifelineError` let through (a Lifeline client's
  // own, asking a service) may name hosts and ports. A message that is no string (an object
  // shaped as a `LifelineError`) is not shown either: the close reason is cut as a string, and
  // threw for it.
  const message =
    isLifelineError(error) && refusals.has(error.code) && typeof error.message === 'string'
      ? error.message
      : undefined
  if (isLifelineError(error, 'AUTH_UNAVAILABLE')) {
    return {
      ok: false,
      closeCode: tryAgainLater,
      code: 'AUTH_UNAVAILABLE',
      message: message ?? 'cannot check credentials now: try again later',
    }
  }
  const isForbidden =
    isLifelineError(error, 'FORBIDDEN') ||
    (isLifelineError(error) && error.closeCode === protocolCloseCodes.forbidden)
  return refused(isForbidden, message)
}

function refused<User>(isForbidden: boolean, message: string | undefined): AuthOutcome<User> {
  return isForbidden
    ? {
        ok: false,
        closeCode: protocolCloseCodes.forbidden,
        code: 'FORBIDDEN',
        message: message ?? 'forbidden',
      }
    : {
        ok: false,
        closeCode: protocolCloseCodes.unauthenticated,
        code: 'UNAUTHENTICATED',
        message: message ?? 'unauthenticated',
      }
}
