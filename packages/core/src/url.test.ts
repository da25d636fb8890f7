import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { thrownBy } from '@lifeline/test-utils'
import { LifelineError, isLifelineError } from '@lifeline/codec'
import { parseWebSocketUrl, redactUrl } from './url.js'

/** Long enough that it cannot appear in the rest of a URL or a message by chance. */
const secret = fc.stringMatching(/^[A-Za-z0-9_-]{16,32}$/)

describe('parseWebSocketUrl', () => {
  it.each([
    ['ws://example.com/socket', 'ws://example.com/socket'],
    ['wss://example.com/socket?room=1', 'wss://example.com/socket?room=1'],
    ['wss://example.com', 'wss://example.com/'],
    ['WSS://Example.COM:443/a', 'wss://example.com/a'],
    ['ws://alice:pw@example.com:8080/', 'ws://alice:pw@example.com:8080/'],
  ])('keeps ws: and wss: (%s)', (input, expected) => {
    expect(parseWebSocketUrl(input)).toBe(expected)
  })

  it.each([
    ['http://example.com:8080/x?y=1', 'ws://example.com:8080/x?y=1'],
    ['http://example.com:80/', 'ws://example.com/'],
    ['https://example.com/a?b=c', 'wss://example.com/a?b=c'],
    ['HTTPS://example.com:443/', 'wss://example.com/'],
  ])('maps http: to ws: and https: to wss: (%s)', (input, expected) => {
    expect(parseWebSocketUrl(input)).toBe(expected)
  })

  it('takes a URL object', () => {
    expect(parseWebSocketUrl(new URL('https://example.com/live'))).toBe('wss://example.com/live')
  })

  it.each([
    ['a fragment', 'ws://example.com/#part'],
    ['a fragment after a query', 'wss://example.com/?a=1#part'],
    ['ftp:', 'ftp://example.com/'],
    ['file:', 'file:///tmp/socket'],
    ['mailto:', 'mailto:someone@example.com'],
    ['javascript:', 'javascript:void(0)'],
    ['data:', 'data:text/plain,hello'],
    ['no scheme', 'example.com/socket'],
    ['a relative path', '/socket'],
    ['an empty string', ''],
    ['no host', 'ws://'],
    ['a bad port', 'ws://example.com:99999/'],
  ])('refuses %s with INVALID_URL', (_, input) => {
    const error = thrownBy(() => parseWebSocketUrl(input))
    expect(error).toBeInstanceOf(LifelineError)
    expect(isLifelineError(error, 'INVALID_URL')).toBe(true)
  })

  it('attaches no cause to an unparseable URL: the parser’s error would quote the input', () => {
    const error = thrownBy(() => parseWebSocketUrl('ws://[::1/'))
    expect((error as Error).cause).toBeUndefined()
  })

  it('never puts a query token in the error message', () => {
    const templates = [
      (token: string) => `ftp://example.com/path?token=${token}`,
      (token: string) => `mailto:someone@example.com?token=${token}`,
      (token: string) => `ws://example.com/?token=${token}#part`,
      (token: string) => `wss://example.com/?a=1&token=${token}&b=2#part`,
      (token: string) => `ws://exa mple.com/?token=${token}`,
      (token: string) => `ws://[::1/?token=${token}`,
      (token: string) => `wss://example.com:99999/?token=${token}`,
      (token: string) => `not a url?token=${token}&next=1`,
    ]
    fc.assert(
      fc.property(secret, fc.constantFrom(...templates), (token, template) => {
        const error = thrownBy(() => parseWebSocketUrl(template(token)))
        expect(isLifelineError(error, 'INVALID_URL')).toBe(true)
        expect((error as Error).message).not.toContain(token)
      }),
    )
  })

  it('never puts a password in the error message', () => {
    fc.assert(
      fc.property(secret, (password) => {
        for (const input of [
          `ftp://alice:${password}@example.com/`,
          `ws://alice:${password}@example.com/#part`,
          `ws://alice:${password}@exa mple.com/`,
        ]) {
          const error = thrownBy(() => parseWebSocketUrl(input))
          expect(isLifelineError(error, 'INVALID_URL')).toBe(true)
          expect((error as Error).message).not.toContain(password)
        }
      }),
    )
  })
})

describe('redactUrl', () => {
  it('replaces every query value and keeps the names', () => {
    expect(redactUrl('wss://example.com/path?token=abc&user=bob&token=def')).toBe(
      'wss://example.com/path?token=[redacted]&user=[redacted]&token=[redacted]',
    )
  })

  it('replaces any query value, whatever the names', () => {
    const names = fc.stringMatching(/^[a-z]{1,8}$/)
    fc.assert(
      fc.property(fc.array(fc.tuple(names, secret), { minLength: 1, maxLength: 5 }), (pairs) => {
        const query = pairs.map(([name, value]) => `${name}=${value}`).join('&')
        const redacted = redactUrl(`wss://example.com/socket?${query}`)
        expect(redacted).toBe(
          `wss://example.com/socket?${pairs.map(([name]) => `${name}=[redacted]`).join('&')}`,
        )
        for (const [, value] of pairs) expect(redacted).not.toContain(value)
      }),
    )
  })

  it('replaces the password and keeps the user name', () => {
    expect(redactUrl('wss://alice:s3cretPass@example.com/')).toBe(
      'wss://alice:redacted@example.com/',
    )
    expect(redactUrl('wss://alice:s3cretPass@example.com/?token=abc')).toBe(
      'wss://alice:redacted@example.com/?token=[redacted]',
    )
  })

  it.each([
    [
      'a bad host',
      'ws://alice:s3cret@exa mple.com/?token=abc',
      'ws://[redacted]@exa mple.com/?[redacted]',
    ],
    [
      'a bad port',
      'wss://alice:s3cret@example.com:99999/?t=1',
      'wss://[redacted]@example.com:99999/?[redacted]',
    ],
    ['a bad IPv6 address', 'ws://[::1/?token=abc', 'ws://[::1/?[redacted]'],
    ['no scheme', 'example.com/socket?token=abc&x=1', 'example.com/socket?[redacted]'],
    [
      'a bad port and a fragment',
      'wss://example.com:99999/#access_token=abc',
      'wss://example.com:99999/#[redacted]',
    ],
    [
      'a slash in the password',
      'wss://alice:s3/cret@example.com/',
      'wss://[redacted]@example.com/',
    ],
  ])('still removes the query and credentials of an unparseable URL (%s)', (_, input, expected) => {
    expect(redactUrl(input)).toBe(expected)
  })

  it('removes the query and credentials of any unparseable URL', () => {
    fc.assert(
      fc.property(secret, secret, (password, token) => {
        const redacted = redactUrl(`ws://alice:${password}@[::1/path?token=${token}`)
        expect(redacted).not.toContain(password)
        expect(redacted).not.toContain(token)
      }),
    )
  })

  it('replaces a user name that has no password: it is the credential', () => {
    expect(redactUrl('wss://s3cretT0ken@example.com/x')).toBe('wss://redacted@example.com/x')
    expect(redactUrl('https://sk_live_s3cret:@example.com/')).toBe('https://redacted@example.com/')
  })

  it.each(['wss://example.com/', 'wss://example.com/a/b', 'ws://example.com:8080/socket'])(
    'leaves %s, which has no query or password, unchanged',
    (input) => {
      expect(redactUrl(input)).toBe(input)
    },
  )
})

describe('URL edge cases', () => {
  it('refuses an empty fragment, as the standard constructor does', () => {
    const error = thrownBy(() => parseWebSocketUrl('ws://example.com/#'))
    expect(isLifelineError(error, 'INVALID_URL')).toBe(true)
  })

  it('keeps a query token out of the whole error, cause included', () => {
    const error = thrownBy(() => parseWebSocketUrl('ws://[::1/?token=s3cretT0kenValue'))
    expect(isLifelineError(error, 'INVALID_URL')).toBe(true)
    expect(inspect(error)).not.toContain('s3cretT0kenValue')
  })

  it('redacts a bare query name and a fragment', () => {
    const redacted = redactUrl('wss://example.com/x?SECRETTOKEN#access_token=abc')
    expect(redacted).not.toContain('SECRETTOKEN')
    expect(redacted).not.toContain('abc')
    expect(redacted).toBe('wss://example.com/x?[redacted]#[redacted]')
  })
})
