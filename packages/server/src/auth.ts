import type { IncomingMessage } from 'node:http'
import { isLifelineError, LifelineError } from '@lifeline/codec'
import { protocolCloseCodes } from '@lifeline/core/protocol'
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

export type AuthOutcome<User> =
  | { ok: true; user: User }
  | { ok: false; closeCode: 4401 | 4403; code: 'UNAUTHENTICATED' | 'FORBIDDEN'; message: string }

/**
 * Runs `authenticate` and classifies its answer. Only a `LifelineError`'s message, written to be
 * shown, goes to the client; any other error's message may hold a token or internals, and is
 * replaced by a fixed one.
 */
export async function runAuthenticate<User>(
  authenticate: Authenticate<User> | undefined,
  request: IncomingMessage,
): Promise<AuthOutcome<User>> {
  if (authenticate === undefined) return { ok: true, user: undefined as User }
  try {
    const user = await authenticate(request)
    // Fails closed: a function that falls through without a `return` (no user found) answers
    // `undefined`, which must not let the client in.
    if (user === false || user === undefined || user === null) {
      return refused(false, 'unauthenticated')
    }
    return { ok: true, user }
  } catch (error) {
    const isForbidden =
      isLifelineError(error, 'FORBIDDEN') ||
      (isLifelineError(error) && error.closeCode === protocolCloseCodes.forbidden)
    return refused(isForbidden, isLifelineError(error) ? error.message : undefined)
  }
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
