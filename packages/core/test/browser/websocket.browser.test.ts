import { afterEach, describe, expect, it } from 'vitest'
import { LifelineError, ReconnectingWebSocket } from '../../src/index.js'
import type { ReconnectingWebSocketOptions } from '../../src/index.js'
import { servers, wsUrl } from './control.js'
import { nextEvent, pageWaitMs, quickRetry, until } from './waits.js'

const echoUrl = wsUrl(servers.echoPort)
const opened: ReconnectingWebSocket[] = []

function open(options: ReconnectingWebSocketOptions = {}): ReconnectingWebSocket {
  const socket = new ReconnectingWebSocket(echoUrl, undefined, { ...quickRetry, ...options })
  opened.push(socket)
  return socket
}

afterEach(() => {
  for (const socket of opened.splice(0)) socket.close()
})

describe('ReconnectingWebSocket in Chromium against a real ws server', () => {
  it('uses the browser WebSocket by default and echoes strings', async () => {
    const socket = open()
    const received: unknown[] = []
    socket.onmessage = (event) => received.push(event.data)
    await nextEvent(socket, 'open')
    socket.send('hello')
    socket.send('héllo wörld ✓')
    await until(() => received.length === 2, 'both echoes')
    expect(received).toEqual(['hello', 'héllo wörld ✓'])
    expect(socket.readyState).toBe(WebSocket.OPEN)
    expect(navigator.userAgent).toMatch(/Chrome\//)
  })

  it('takes the browser WebSocket passed explicitly', async () => {
    const socket = open({ WebSocket: globalThis.WebSocket })
    const echoed = nextEvent(socket, 'message')
    // Queued before the link opens, flushed on open.
    socket.send('queued before open')
    expect(socket.queuedMessages).toBe(1)
    expect((await echoed).data).toBe('queued before open')
    expect(socket.queuedMessages).toBe(0)
  })

  it("delivers binary frames as ArrayBuffer with binaryType 'arraybuffer'", async () => {
    const socket = open()
    socket.binaryType = 'arraybuffer'
    const received: unknown[] = []
    socket.onmessage = (event) => received.push(event.data)
    await nextEvent(socket, 'open')
    socket.send(new Uint8Array([1, 2, 3]))
    socket.send(new Uint8Array([9, 4, 5, 6]).subarray(1, 3))
    socket.send(new Uint16Array([0x0807]).buffer)
    socket.send(new Blob([new Uint8Array([10, 11])]))
    await until(() => received.length === 4, 'four binary echoes')
    for (const data of received) expect(data).toBeInstanceOf(ArrayBuffer)
    expect(received.map((data) => [...new Uint8Array(data as ArrayBuffer)])).toEqual([
      [1, 2, 3],
      [4, 5],
      [7, 8],
      [10, 11],
    ])
  })

  it('sends a Blob made in another frame, open or queued, as the browser WebSocket does', async () => {
    // Of another realm (an iframe's), it is no instance of this page's Blob, yet a Blob to the
    // browser's WebSocket, which sends it.
    const frame = document.createElement('iframe')
    document.body.append(frame)
    try {
      const ForeignBlob = (frame.contentWindow as unknown as { Blob: typeof Blob }).Blob
      const socket = open()
      socket.binaryType = 'arraybuffer'
      const received: unknown[] = []
      socket.onmessage = (event) => received.push(event.data)
      socket.send(new ForeignBlob([new Uint8Array([1, 2])]))
      await nextEvent(socket, 'open')
      socket.send(new ForeignBlob([new Uint8Array([3])]))
      await until(() => received.length === 2, 'both echoes')
      expect(received.map((data) => [...new Uint8Array(data as ArrayBuffer)])).toEqual([
        [1, 2],
        [3],
      ])
    } finally {
      frame.remove()
    }
  })

  it("delivers binary frames as Blob by default ('blob')", async () => {
    const socket = open()
    expect(socket.binaryType).toBe('blob')
    const echoed = nextEvent(socket, 'message')
    socket.send(new Uint8Array([0, 255, 128]))
    const { data } = await echoed
    expect(data).toBeInstanceOf(Blob)
    expect([...new Uint8Array(await (data as Blob).arrayBuffer())]).toEqual([0, 255, 128])
  })

  it('runs code written for the plain WebSocket unchanged', async () => {
    interface Outcome {
      readonly opened: boolean
      readonly messages: unknown[]
      readonly close: { code: number; reason: string; wasClean: boolean }
    }
    // The usual example for the standard WebSocket, typed only by the surface it uses, and run
    // once with the browser's WebSocket and once with ReconnectingWebSocket. Handlers are only
    // assigned here, so their slots take `never`: both the DOM's and Lifeline's event types fit.
    type Handler = ((event: never) => void) | null
    type PlainWebSocket = new (url: string) => {
      onopen: Handler
      onmessage: Handler
      onclose: Handler
      send(data: string): void
      close(code?: number, reason?: string): void
    }
    const example = (Impl: PlainWebSocket, url: string) =>
      new Promise<Outcome>((resolve, reject) => {
        const messages: unknown[] = []
        let opened = false
        const timer = setTimeout(() => reject(new Error('example did not finish')), pageWaitMs)
        const ws = new Impl(url)
        ws.onopen = () => {
          opened = true
          ws.send('hello')
        }
        ws.onmessage = (event: { data: unknown }) => {
          messages.push(event.data)
          ws.close(1000, 'done')
        }
        ws.onclose = (event: { code: number; reason: string; wasClean: boolean }) => {
          clearTimeout(timer)
          const { code, reason, wasClean } = event
          resolve({ opened, messages, close: { code, reason, wasClean } })
        }
      })

    const plain = await example(WebSocket, echoUrl)
    const reconnecting = await example(ReconnectingWebSocket, echoUrl)
    expect(plain).toEqual({
      opened: true,
      messages: ['hello'],
      close: { code: 1000, reason: 'done', wasClean: true },
    })
    expect(reconnecting).toEqual(plain)
  })

  it("takes a URL relative to the page's, as the browser's WebSocket does", async () => {
    // Scheme-relative: the page is served over http:, so the link is ws: to the echo server.
    const relative = `//127.0.0.1:${servers.echoPort}/`
    const plain = new WebSocket(relative)
    expect(plain.url).toBe(echoUrl)
    plain.close()
    const fromRelative = new ReconnectingWebSocket(relative, undefined, quickRetry)
    opened.push(fromRelative)
    expect(fromRelative.url).toBe(echoUrl)
    await nextEvent(fromRelative, 'open')
  })

  it("resolves a relative URL against the document's base URL (<base href>), as WebSocket does", () => {
    // A <base> element moves the document's base URL away from its location; both sockets are
    // made (and their URLs resolved) before it goes, so the test page's own loads never see it.
    const base = document.createElement('base')
    base.href = `http://127.0.0.1:${servers.echoPort}/app/`
    document.head.append(base)
    let plain: WebSocket
    let reconnecting: ReconnectingWebSocket
    try {
      plain = new WebSocket('live')
      reconnecting = new ReconnectingWebSocket('live', undefined, quickRetry)
    } finally {
      base.remove()
    }
    plain.close()
    reconnecting.close()
    expect(plain.url).toBe(`${echoUrl}app/live`)
    expect(reconnecting.url).toBe(plain.url)
  })

  it('reads in its close event, and dispatches, what the browser WebSocket does', async () => {
    interface Outcome {
      readonly dispatched: unknown[]
      readonly close: { readyState: number; protocol: string; reason: string }
    }
    type Handler = ((event: never) => void) | null
    type PlainWebSocket = new (
      url: string,
      protocols: string[],
    ) => {
      readonly readyState: number
      readonly protocol: string
      onopen: Handler
      onmessage: Handler
      onclose: Handler
      close(code?: number, reason?: string): void
      dispatchEvent(event: Event): boolean
    }
    // The same code, run with the browser's WebSocket and with ReconnectingWebSocket: an event of
    // its own dispatched on the socket, then a close with a null reason (the echo server sends
    // back the close frame it got, and picks the first subprotocol offered).
    const example = (Impl: PlainWebSocket, url: string) =>
      new Promise<Outcome>((resolve, reject) => {
        const dispatched: unknown[] = []
        const timer = setTimeout(() => reject(new Error('example did not finish')), pageWaitMs)
        const ws = new Impl(url, ['chat'])
        ws.onmessage = function (this: unknown, event: MessageEvent) {
          dispatched.push(this === ws, event.target === (ws as unknown), event.data)
        }
        ws.onopen = () => {
          dispatched.push(ws.dispatchEvent(new MessageEvent('message', { data: 'own' })))
          ws.close(1000, null as unknown as string)
        }
        ws.onclose = (event: { reason: string }) => {
          clearTimeout(timer)
          const { readyState, protocol } = ws
          resolve({ dispatched, close: { readyState, protocol, reason: event.reason } })
        }
      })

    const plain = await example(WebSocket, echoUrl)
    const reconnecting = await example(ReconnectingWebSocket, echoUrl)
    expect(plain).toEqual({
      dispatched: [true, true, 'own', true],
      close: { readyState: WebSocket.CLOSED, protocol: 'chat', reason: 'null' },
    })
    expect(reconnecting).toEqual(plain)
  })

  it('rejects invalid close() arguments with LifelineError INVALID_ARGUMENT', async () => {
    const socket = open()
    await nextEvent(socket, 'open')
    const attempts: [number | undefined, string | undefined][] = [
      [999, undefined],
      [1001, undefined],
      [5000, undefined],
      [1000, 'x'.repeat(124)],
      // 42 three-byte characters: 126 UTF-8 bytes though only 42 UTF-16 units.
      [1000, '€'.repeat(42)],
    ]
    for (const [code, reason] of attempts) {
      let thrown: unknown
      try {
        socket.close(code, reason)
      } catch (error) {
        thrown = error
      }
      expect(thrown, `close(${code}, ${reason?.length ?? 'undefined'} chars)`).toBeInstanceOf(
        LifelineError,
      )
      expect((thrown as LifelineError).code).toBe('INVALID_ARGUMENT')
    }
    // Nothing was closed by the rejected calls; valid arguments still close cleanly.
    expect(socket.readyState).toBe(WebSocket.OPEN)
    const closed = nextEvent(socket, 'close')
    socket.close(4000, '€'.repeat(41))
    expect(await closed).toMatchObject({ code: 4000, wasClean: true })
  })
})
