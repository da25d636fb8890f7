import { LifelineError } from '@lifeline/codec'

/** A value, or a function that gives it (sync or async), called before every attempt. */
export type Provider<T> = T | (() => T | Promise<T>)

export type UrlProvider = Provider<string | URL>
/** Subprotocols, or a provider of them; `null` and `undefined` mean none. */
export type ProtocolsProvider = Provider<string | string[] | null | undefined>

/** What a subprotocol may be: an HTTP token (RFC 6455 section 4.1). */
const subprotocolToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Checks subprotocols as the standard constructor does (each a non-empty token, none twice),
 * with `INVALID_ARGUMENT` rather than a `SyntaxError`. `null` means none, as in partysocket and
 * reconnecting-websocket, where code written for plain JavaScript passes it to reach the options.
 */
export function checkProtocols(protocols: unknown): string | string[] | undefined {
  if (protocols === null || protocols === undefined) return undefined
  const list: unknown[] = typeof protocols === 'string' ? [protocols] : (protocols as unknown[])
  const bad = Array.isArray(list)
    ? list.findIndex(
        (protocol, index) =>
          typeof protocol !== 'string' ||
          !subprotocolToken.test(protocol) ||
          list.indexOf(protocol) !== index,
      )
    : 0
  if (bad >= 0) {
    throw new LifelineError(
      'INVALID_ARGUMENT',
      // The position, not the value: subprotocols often carry a token.
      `invalid subprotocol${Array.isArray(list) ? ` at index ${bad}` : ''}: each is a distinct RFC 7230 token`,
    )
  }
  return protocols as string | string[]
}

/**
 * Checks a WebSocket URL as the standard constructor does: ws:, wss:, or http(s): mapped to
 * ws(s):, relative to the page's URL where there is one, and no fragment (an empty one, `…/#`,
 * included). Returns the normalised URL string.
 */
export function parseWebSocketUrl(input: string | URL): string {
  const text = String(input)
  let href = ''
  try {
    // Relative to the page (or worker), as the standard resolves it: `/live`, `//host/live`.
    // A page's base is its document's, which a `<base href>` moves (and an `about:blank` frame
    // inherits); a worker's is its location, which reads as its href. Node has neither (the
    // reference to `location` throws): absolute only. Read only for a URL that is not absolute,
    // so that server rendering reads no browser global.
    let url: URL
    try {
      url = new URL(text)
    } catch {
      url = new URL(
        text,
        (globalThis.document as Document | undefined)?.baseURI ?? (location as unknown as string),
      )
    }
    href = url.href.replace(/^http/, 'ws')
  } catch {
    // No `cause`: the parser's error keeps the raw input, token and all.
  }
  if (!/^wss?:[^#]*$/.test(href)) {
    throw new LifelineError(
      'INVALID_URL',
      `invalid WebSocket URL (ws:, wss:, http: or https:, no fragment): ${redactUrl(href || text)}`,
    )
  }
  // The caller's own string when it was already in this form: thousands of sockets to one URL
  // then share one string.
  return href === text ? text : href
}

/**
 * A URL fit for logs and error messages: every query value, any password and the fragment are
 * replaced, since tokens travel there (`?token=…`, `#access_token=…`) and which names carry
 * secrets cannot be known. A bare `?name` is itself the secret: the name goes too; so does a user
 * name without a password (`wss://TOKEN@host`, `https://API_KEY:@host`).
 */
export function redactUrl(input: string): string {
  try {
    const url = new URL(input)
    const entries = [...url.searchParams]
    if (url.password) url.password = 'redacted'
    else if (url.username) url.username = 'redacted'
    if (url.hash) url.hash = '[redacted]'
    if (entries.length > 0) {
      url.search = entries
        .map(([name, value]) => (value ? `${encodeURIComponent(name)}=[redacted]` : '[redacted]'))
        .join('&')
    }
    return url.href
  } catch {
    // Not parseable: drop everything after a `?` or `#`, and anything that may be credentials
    // (up to the last `@`), rather than guess.
    return input.replace(/([?#]).*$/s, '$1[redacted]').replace(/\/\/.*@/s, '//[redacted]@')
  }
}

/** Resolves a provider; a plain value stays synchronous so the first attempt is not deferred. */
export function resolveProvider<T>(provider: Provider<T>): T | Promise<T> {
  return typeof provider === 'function' ? (provider as () => T | Promise<T>)() : provider
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
