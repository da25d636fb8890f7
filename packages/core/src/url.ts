import { LifelineError } from '@lifeline/codec'

/** A value, or a function that gives it (sync or async), called before every attempt. */
export type Provider<T> = T | (() => T | Promise<T>)

export type UrlProvider = Provider<string | URL>
export type ProtocolsProvider = Provider<string | string[] | undefined>

/**
 * Checks a WebSocket URL as the standard constructor does: ws:, wss:, or http(s): mapped to
 * ws(s):, and no fragment. Returns the normalised URL string.
 */
export function parseWebSocketUrl(input: string | URL): string {
  let url: URL
  try {
    url = new URL(String(input))
  } catch {
    // No `cause`: the parser's error keeps the raw input, token and all.
    throw new LifelineError('INVALID_URL', `invalid WebSocket URL: ${redactUrl(String(input))}`)
  }
  if (url.protocol === 'http:') url.protocol = 'ws:'
  else if (url.protocol === 'https:') url.protocol = 'wss:'
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new LifelineError(
      'INVALID_URL',
      `WebSocket URL must use ws:, wss:, http: or https:, got ${url.protocol} (${redactUrl(url.href)})`,
    )
  }
  // An empty fragment (`…/#`) leaves `hash` empty but is still a fragment to the standard.
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw new LifelineError(
      'INVALID_URL',
      `WebSocket URL must not have a fragment: ${redactUrl(url.href)}`,
    )
  }
  return url.href
}

/**
 * A URL fit for logs and error messages: every query value and any password is replaced, since
 * tokens travel there (`?token=…`) and which names carry secrets cannot be known.
 */
export function redactUrl(input: string): string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    // Not parseable: drop everything after a `?` or `@`-credentials rather than guess.
    return input.replace(/\?.*$/s, '?[redacted]').replace(/\/\/[^/@]*@/, '//[redacted]@')
  }
  if (url.password !== '') url.password = 'redacted'
  // A fragment may carry a token too (`#access_token=…`).
  if (url.hash !== '') url.hash = '[redacted]'
  const entries = [...url.searchParams.entries()]
  if (entries.length === 0) return url.href
  // A bare `?name` is itself the secret (`?SECRETTOKEN`): redact the name too.
  url.search = entries
    .map(([name, value]) =>
      value === '' ? '[redacted]' : `${encodeURIComponent(name)}=[redacted]`,
    )
    .join('&')
  return url.href
}

/** Resolves a provider; a plain value stays synchronous so the first attempt is not deferred. */
export function resolveProvider<T>(provider: Provider<T>): T | Promise<T> {
  return typeof provider === 'function' ? (provider as () => T | Promise<T>)() : provider
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
