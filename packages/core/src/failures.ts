import { LifelineError } from '@lifeline/codec'
import { redactUrl } from './url.js'

/** The message of whatever was thrown or reported, or '' when there is none. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : typeof error === 'string' ? error : ''
}

/**
 * A `CONNECTION_ERROR` as an error event reports it, with every URL in the detail redacted:
 * sockets' and providers' messages may quote the URL, token and all. A `LifelineError` passes
 * as it is. `cause` is left out where it would carry the raw URL.
 */
export function failure(message: string, error: unknown, cause?: unknown): LifelineError {
  if (error instanceof LifelineError) return error
  const detail = describeError(error).replace(/\b(?:wss?|https?):\/\/\S+/g, redactUrl)
  return new LifelineError('CONNECTION_ERROR', detail ? `${message}: ${detail}` : message, {
    cause,
  })
}
