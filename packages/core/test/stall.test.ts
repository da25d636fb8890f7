import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runScript, startScriptedServer, useFixtures } from '@lifeline/test-utils'

const fx = useFixtures(afterEach)
const child = fileURLToPath(new URL('./fixtures/stall.ts', import.meta.url))
const limitMs = 8_000

/** Welcomes every client at once and answers every request with its own data. */
const answering = () =>
  startScriptedServer((link) => {
    link.send({ t: '$welcome', d: { sid: `S${link.index}`, resumed: false, a: 0 } })
    link.socket.on('message', (data) => {
      const envelope = JSON.parse(String(data)) as { t: string; d: { id: number; d: unknown } }
      if (envelope.t === '$req') {
        link.send({ t: '$res', d: { id: envelope.d.id, d: envelope.d.d }, s: 1 })
      }
    })
  })

describe('a client whose event loop stalls past a deadline, with the answer already in', () => {
  it('resolves the request the server answered in time', async () => {
    const server = fx.add(await answering())
    const { code, out } = await runScript(child, [server.url('/'), 'request'], limitMs)
    expect(out).toBe('resolved 42 \n')
    expect(code).toBe(0)
  }, 12_000)

  it('completes the handshake the server answered in time', async () => {
    const server = fx.add(await answering())
    const { code, out } = await runScript(child, [server.url('/'), 'welcome'], limitMs)
    expect(out).toBe('open \n')
    expect(code).toBe(0)
  }, 12_000)
})
