import { LifelineError } from '@lifeline/codec'
import { redactUrl } from './url.js'

/** The message of whatever was thrown or reported, or '' when there is none. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  return ''
}

/** Redacts every URL inside a free text: sockets' error messages may quote the URL, token and all. */
export function redactText(text: string): string {
  return text.replace(/\b(?:wss?|https?):\/\/\S+/g, (url) => redactUrl(url))
}

/** A failed URL or protocols provider, as the error event reports it. */
export function providerError(error: unknown): LifelineError {
  if (error instanceof LifelineError) return error
  return new LifelineError(
    'CONNECTION_ERROR',
    `the url or protocols provider failed: ${redactText(describeError(error))}`,
    { cause: error },
  )
}
