import { LifelineError } from '@lifeline/codec'
import { redactUrl } from './url.js'

/** The message of whatever was thrown or reported, or '' when there is none. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : typeof error === 'string' ? error : ''
}

/**
 * A `CONNECTION_ERROR` for what a socket reported (an error object, or only a message). A
 * `LifelineError` passes as it is. Nothing that may hold a secret is kept: URLs in the message
 * are redacted (sockets quote them, token and all), and the `cause` is not the original, which
 * may hold the URL and the request's headers (an error event's `target` is the socket itself),
 * but a copy: the name, the redacted message and a system `code` such as `ECONNREFUSED`.
 */
export function failure(message: string, error: unknown): LifelineError {
  if (error instanceof LifelineError) return error
  const detail = describeError(error).replace(/\b(?:wss?|https?):\/\/\S+/g, redactUrl)
  let cause: Error | undefined
  if (error instanceof Error) {
    cause = new Error(detail)
    cause.name = error.name
    const { code } = error as { code?: unknown }
    if (typeof code === 'string') Object.assign(cause, { code })
  }
  return new LifelineError('CONNECTION_ERROR', detail ? `${message}: ${detail}` : message, {
    cause,
  })
}

/**
 * A `CONNECTION_ERROR` for a URL or protocols provider that threw. Its message is the
 * application's own words about fetching a token and may quote it: only its name is kept.
 */
export function providerFailure(error: unknown): LifelineError {
  const name = error instanceof Error ? error.name : typeof error
  return new LifelineError('CONNECTION_ERROR', `the url or protocols provider threw ${name}`)
}
