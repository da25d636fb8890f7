import { afterEach, describe, expect, it } from 'vitest'
import { isLifelineError } from '@lifeline/core'
import { ReconnectingWebSocket, createClient } from '../../src/index.js'
import type { LabSchema } from './servers.js'
import { echoUrl, lifelineUrl, quickRetry } from './control.js'
import { nextEvent, until } from './waits.js'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function open(): ReconnectingWebSocket {
  const socket = new ReconnectingWebSocket(echoUrl, undefined, quickRetry)
  cleanups.push(() => socket.close())
  return socket
}

describe('the preset in Chromium', () => {
  it("uses the page's WebSocket, takes binary as ArrayBuffer, and sends Blobs", async () => {
    const socket = open()
    const received: unknown[] = []
    socket.onmessage = (event) => received.push(event.data)
    await nextEvent(socket, 'open')
    expect(socket.binaryType).toBe('arraybuffer')
    socket.send(new Blob([new Uint8Array([1, 2, 3])]))
    socket.send(new Uint8Array([4, 5]))
    socket.send('text')
    await until(() => received.length === 3, 'three echoes')
    expect(received[0]).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(received[0] as ArrayBuffer)]).toEqual([1, 2, 3])
    expect([...new Uint8Array(received[1] as ArrayBuffer)]).toEqual([4, 5])
    expect(received[2]).toBe('text')
  })

  it('queues a Blob while the link is down and sends it on open, in order', async () => {
    const socket = open()
    const received: unknown[] = []
    socket.onmessage = (event) => received.push(event.data)
    socket.send(new Blob(['blob, queued']))
    socket.send('text, queued')
    await until(() => received.length === 2, 'both echoes')
    expect(new TextDecoder().decode(received[0] as ArrayBuffer)).toBe('blob, queued')
    expect(received[1]).toBe('text, queued')
  })

  it('refuses a bad close() at the call with INVALID_ARGUMENT, never a DOMException later', async () => {
    const socket = open()
    const client = createClient<LabSchema>({ url: lifelineUrl, socket: quickRetry })
    cleanups.push(() => client.close())
    await nextEvent(socket, 'open')
    await until(() => client.state.status === 'open', 'the client open')
    // What the page's own WebSocket does with the same arguments: a DOMException.
    expect(() => new WebSocket(echoUrl).close(1001)).toThrow(DOMException)
    const failures: unknown[] = []
    const onError = (event: ErrorEvent) => failures.push(event.error)
    const onRejection = (event: PromiseRejectionEvent) => failures.push(event.reason)
    addEventListener('error', onError)
    addEventListener('unhandledrejection', onRejection)
    cleanups.push(() => {
      removeEventListener('error', onError)
      removeEventListener('unhandledrejection', onRejection)
    })
    const bad: [number, string][] = [
      [1001, ''],
      [1005, ''],
      [2999, ''],
      [5000, ''],
      [1000, 'x'.repeat(124)],
      [1000, '€'.repeat(42)],
    ]
    for (const [code, reason] of bad) {
      for (const close of [() => socket.close(code, reason), () => client.close(code, reason)]) {
        let thrown: unknown
        try {
          close()
        } catch (error) {
          thrown = error
        }
        expect(isLifelineError(thrown) && thrown.code).toBe('INVALID_ARGUMENT')
      }
    }
    // Both still work, and nothing was thrown later from a timer or a handler.
    const echoed = nextEvent(socket, 'message')
    socket.send('still open')
    expect((await echoed).data).toBe('still open')
    await expect(client.request('ping', null)).resolves.toBe('pong')
    expect(failures).toEqual([])
    expect(socket.readyState).toBe(WebSocket.OPEN)
  })
})
