import { get } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createFaultProxy } from './faultProxy.js'
import { useFixtures } from './fixtures.js'
import { once, waitFor } from './wait.js'
import { startWsServer } from './wsServer.js'

const fx = useFixtures(afterEach)

async function openClient(url: string, protocols?: string[]): Promise<WebSocket> {
  const client = fx.add(new WebSocket(url, protocols))
  await once(client, 'open')
  return client
}

async function failedConnect(url: string): Promise<unknown> {
  const client = fx.add(new WebSocket(url))
  const [[error]] = await Promise.all([once(client, 'error'), once(client, 'close')])
  return error
}

describe('startWsServer', () => {
  it('listens on 127.0.0.1 and records connections and messages in order', async () => {
    const server = fx.add(await startWsServer())
    expect(server.url('room')).toBe(`ws://127.0.0.1:${server.port}/room`)
    const first = await openClient(server.url('/a'))
    const second = await openClient(server.url('/b'))

    // The cursor hands out connections in order even though both have already arrived.
    expect((await server.waitForConnection()).index).toBe(0)
    expect((await server.waitForConnection()).request.url).toBe('/b')
    expect(server.clients).toHaveLength(2)

    first.send('one')
    await server.waitForMessages(1)
    second.send(Buffer.from('two'))
    const messages = await server.waitForMessages(2)
    expect(messages.map((m) => [m.text, m.isBinary, m.client])).toEqual([
      ['one', false, 0],
      ['two', true, 1],
    ])
  })

  it('calls connection handlers and lets them be removed', async () => {
    const seen: number[] = []
    const server = fx.add(await startWsServer({ onConnection: (c) => seen.push(c.index) }))
    const removed: number[] = []
    const remove = server.onConnection((c) => removed.push(c.index))
    await openClient(server.url())
    await server.waitForConnection()
    remove()
    await openClient(server.url())
    await server.waitForConnection()
    expect(seen).toEqual([0, 1])
    expect(removed).toEqual([0])
  })

  it('passes options through to ws: handleProtocols, verifyClient, maxPayload, path', async () => {
    const negotiating = fx.add(
      await startWsServer({
        handleProtocols: (offered) =>
          offered.has('lifeline.v1.json') ? 'lifeline.v1.json' : false,
      }),
    )
    const client = await openClient(negotiating.url(), ['lifeline.v1.msgpack', 'lifeline.v1.json'])
    expect(client.protocol).toBe('lifeline.v1.json')

    const refusing = fx.add(await startWsServer({ verifyClient: () => false }))
    expect(String(await failedConnect(refusing.url()))).toContain('401')

    const small = fx.add(await startWsServer({ maxPayload: 8 }))
    const sender = await openClient(small.url())
    const closed = once(sender, 'close')
    sender.send('more than eight bytes')
    expect((await closed)[0]).toBe(1009)
    await waitFor(() => small.errors.length === 1, { message: 'the maxPayload error' })

    const routed = fx.add(await startWsServer({ path: '/ws' }))
    await openClient(routed.url('/ws'))
    expect(String(await failedConnect(routed.url('/elsewhere')))).toContain('400')
  })

  it('answers plain HTTP requests with 426', async () => {
    const server = fx.add(await startWsServer())
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get({ host: '127.0.0.1', port: server.port, agent: false }, (response) => {
        response.resume()
        resolve(response.statusCode)
      }).on('error', reject)
    })
    expect(status).toBe(426)
  })

  it('stop() closes clients with 1012 and restart() listens on the same port', async () => {
    const server = fx.add(await startWsServer())
    const { port, wss } = server
    const client = await openClient(server.url())

    const closed = once(client, 'close')
    await server.stop()
    const [code] = await closed
    expect(code).toBe(1012)
    expect(server.listening).toBe(false)
    expect(server.clients).toHaveLength(0)
    expect(await failedConnect(server.url())).toMatchObject({ code: 'ECONNREFUSED' })

    await server.restart()
    expect(server.port).toBe(port)
    expect(server.wss).toBe(wss)
    expect(server.listening).toBe(true)
    const again = await openClient(server.url())
    again.send('back')
    const [message] = await server.waitForMessages(1)
    expect(message).toMatchObject({ text: 'back', client: 1 })
  })

  it('stop() takes a close code and reason, or terminates', async () => {
    const server = fx.add(await startWsServer())
    const polite = await openClient(server.url())
    const politeClosed = once(polite, 'close')
    await server.stop({ code: 1001, reason: 'going away' })
    const [code, reason] = await politeClosed
    expect([code, String(reason)]).toEqual([1001, 'going away'])

    await server.restart()
    const abrupt = await openClient(server.url())
    const abruptClosed = once(abrupt, 'close')
    await server.stop({ terminate: true })
    expect((await abruptClosed)[0]).toBe(1006)
  })

  it('stop() stays bounded when a client cannot answer the closing handshake', async () => {
    const server = fx.add(await startWsServer())
    const proxy = fx.add(await createFaultProxy({ targetPort: server.port }))
    const client = await openClient(proxy.url())
    await server.waitForConnection()

    proxy.blackhole()
    const startedAt = performance.now()
    await server.stop({ closeTimeoutMs: 100 })
    // Without the timeout, `ws` waits 30 s; 2 s is slack for a loaded machine.
    expect(performance.now() - startedAt).toBeLessThan(2_000)
    expect(client.readyState).toBe(WebSocket.OPEN)
  })

  it('restart() while running stops first; close() is final and idempotent', async () => {
    const server = await startWsServer()
    const client = await openClient(server.url())
    const closed = once(client, 'close')
    await server.restart()
    expect((await closed)[0]).toBe(1012)
    await openClient(server.url())

    const closing = server.close()
    expect(server.close()).toBe(closing)
    await closing
    expect(server.clients).toHaveLength(0)
    await expect(server.restart()).rejects.toThrow('restart() after close()')
  })
})
