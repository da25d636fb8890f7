import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import type { ClientRequestArgs } from 'node:http'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket, createClient } from '../src/index.js'
import type { ErrorEventLike, LifelineError, UrlProvider } from '../src/index.js'
import { FakeWebSocket } from '../src/testing/index.js'
import { freePort, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)
const secret = 'Sup3rSecretT0ken'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Every form in which an error or its causes could be printed or logged. */
function renderings(error: unknown): string[] {
  const forms: string[] = []
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    forms.push(String(current), inspect(current, { depth: Infinity, showHidden: true }))
    if (current instanceof Error) forms.push(current.message, current.stack ?? '')
    current = current instanceof Error ? current.cause : undefined
  }
  return forms
}

/**
 * Runs a socket with `debug: true` until it has failed `attempts` times, capturing every
 * `console.debug` line and every error event (its message and its cause chain, as `String`,
 * `util.inspect` and `stack`), and the final state.
 */
async function capture(
  url: UrlProvider,
  options: ConstructorParameters<typeof ReconnectingWebSocket>[2] = {},
  attempts = 2,
): Promise<string> {
  const lines: string[] = []
  vi.spyOn(console, 'debug').mockImplementation((...args: unknown[]) => {
    lines.push(args.map((arg) => inspect(arg, { depth: Infinity, showHidden: true })).join(' '))
  })
  const socket = fx.add(
    new ReconnectingWebSocket(url, undefined, { ...quickRetry, ...options, debug: true }),
  )
  const errors: LifelineError[] = []
  socket.addEventListener('error', (event) => {
    errors.push(event.error)
    lines.push(event.message, ...renderings(event.error))
  })
  await waitFor(() => errors.length >= attempts, { message: `${attempts} failed attempts` })
  lines.push(inspect(socket.state, { depth: Infinity, showHidden: true }))
  socket.close()
  expect(lines.length).toBeGreaterThan(attempts * 3)
  return lines.join('\n')
}

describe('no secret in any log line or error, causes included', () => {
  it('a token in the URL query, on a refused port', async () => {
    const port = await freePort()
    const text = await capture(`ws://127.0.0.1:${port}/?token=${secret}`)
    expect(text).toContain('ECONNREFUSED')
    expect(text).not.toContain(secret)
  })

  it("a token in a URL provider's own error message, sync and async", async () => {
    const message = `token ${secret} refused by https://auth.example/?t=${secret}`
    const sync = await capture(() => {
      throw new TypeError(message)
    })
    const async = await capture(() => Promise.reject(new Error(message)))
    expect(sync).toContain('CONNECTION_ERROR')
    expect(sync).toContain('TypeError')
    expect(sync + async).not.toContain(secret)
  })

  it('a token in a header, against a server that refuses it', async () => {
    const server = fx.add(await startWsServer({ verifyClient: () => false }))
    class WithAuthorization extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        const options: ClientRequestArgs = { headers: { Authorization: `Bearer ${secret}` } }
        super(url, protocols, options)
      }
    }
    const text = await capture(server.url(`/?token=${secret}`), { WebSocket: WithAuthorization })
    expect(text).toContain('401')
    expect(text).not.toContain(secret)
  })

  it('a token in the URL of a socket whose error event carries the socket, as browsers do', async () => {
    // No `error` object in the event, and its `target` is the socket, URL and all.
    class EventOnly extends FakeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols)
        queueMicrotask(() => {
          this.onerror?.({ type: 'error', target: this } as ErrorEventLike)
          this.serverClose(1006, '', false)
        })
      }
    }
    const text = await capture(`ws://127.0.0.1:1/?token=${secret}`, { WebSocket: EventOnly })
    expect(text).not.toContain(secret)
  })

  it("through the client's error events too", async () => {
    const lines: string[] = []
    const client = createClient({
      url: () => {
        throw new Error(`no token: ${secret}`)
      },
      socket: {
        ...quickRetry,
        debug: (message, details) => lines.push(message, inspect(details, { depth: Infinity })),
      },
    })
    fx.add(() => client.close())
    client.events.on('error', (error) => lines.push(...renderings(error)))
    await waitFor(() => lines.some((line) => line.includes('CONNECTION_ERROR')), {
      message: 'an error',
    })
    expect(lines.join('\n')).not.toContain(secret)
  })
})
