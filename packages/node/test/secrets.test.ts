import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { startWsServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket, createClient } from '../src/index.js'
import type { NodeReconnectingWebSocketOptions } from '../src/index.js'
import { quickRetry } from './helpers.js'

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

/** Runs a socket with `debug: true` through `attempts` failures; returns all it logged and said. */
async function capture(url: string, options: NodeReconnectingWebSocketOptions, attempts = 2) {
  const lines: string[] = []
  vi.spyOn(console, 'debug').mockImplementation((...args: unknown[]) => {
    lines.push(args.map((arg) => inspect(arg, { depth: Infinity, showHidden: true })).join(' '))
  })
  const socket = fx.add(
    new ReconnectingWebSocket(url, undefined, { ...quickRetry, ...options, debug: true }),
  )
  let failures = 0
  socket.addEventListener('error', (event) => {
    failures++
    lines.push(event.message, ...renderings(event.error))
  })
  await waitFor(() => failures >= attempts, { message: `${attempts} failed attempts` })
  lines.push(inspect(socket, { depth: Infinity, showHidden: true }))
  lines.push(inspect(socket.state, { depth: Infinity, showHidden: true }))
  socket.close()
  return lines.join('\n')
}

describe('no header value in any log line or error, causes included', () => {
  it.each([
    ['a value', { Authorization: `Bearer ${secret}` }],
    ['a sync function', () => ({ Authorization: `Bearer ${secret}` })],
    ['an async function', async () => ({ Authorization: `Bearer ${secret}` })],
  ] as const)('given as %s, to a server that refuses it', async (_, headers) => {
    const server = fx.add(await startWsServer({ verifyClient: () => false }))
    const text = await capture(server.url('/'), { headers })
    expect(text).toContain('401')
    expect(text).not.toContain(secret)
  })

  it("from a headers function's own error, sync and async", async () => {
    const server = fx.add(await startWsServer())
    const message = `token ${secret} expired`
    const sync = await capture(server.url('/'), {
      headers: () => {
        throw new Error(message)
      },
    })
    const async = await capture(server.url('/'), {
      headers: () => Promise.reject(new Error(message)),
    })
    expect(sync + async).toContain('CONNECTION_ERROR')
    expect(sync + async).not.toContain(secret)
  })

  it('a header value the request refuses (a line break in it)', async () => {
    const text = await capture('ws://127.0.0.1:1/', { headers: { Authorization: `${secret}\n` } })
    expect(text).toContain('CONNECTION_ERROR')
    expect(text).not.toContain(secret)
  })

  it("through a client's error events and debug lines too", async () => {
    const server = fx.add(await startWsServer({ verifyClient: () => false }))
    const lines: string[] = []
    const client = createClient({
      url: server.url('/'),
      socket: {
        ...quickRetry,
        headers: async () => ({ Authorization: `Bearer ${secret}` }),
        debug: (message, details) => lines.push(message, inspect(details, { depth: Infinity })),
      },
    })
    fx.add(() => client.close())
    client.events.on('error', (error) => lines.push(...renderings(error)))
    await waitFor(() => lines.some((line) => line.includes('401')), { message: 'a refusal' })
    lines.push(inspect(client, { depth: Infinity, showHidden: true }))
    expect(lines.join('\n')).not.toContain(secret)
  })
})
