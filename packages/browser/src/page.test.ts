import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeWebSocket, ManualClock } from '@lifeline/core/testing'
import { ReconnectingWebSocket, createClient } from './presets.js'
import { followPage, pageHiddenReason } from './page.js'
import type { PageLike } from './page.js'

/** A page whose events the test fires by hand. */
class FakePage extends EventTarget implements PageLike {
  readonly document = Object.assign(new EventTarget(), {
    visibilityState: 'visible' as DocumentVisibilityState,
  })
  show(visibility: DocumentVisibilityState): void {
    this.document.visibilityState = visibility
    this.document.dispatchEvent(new Event('visibilitychange'))
  }
  transition(type: 'pagehide' | 'pageshow', persisted: boolean): void {
    this.dispatchEvent(Object.assign(new Event(type), { persisted }))
  }
}

let clock: ManualClock
let page: FakePage
const network = { onLine: true }
const heartbeat = {
  intervalMs: 1_000,
  timeoutMs: 500,
  ping: 'ping',
  isPong: (d: unknown) => d === 'pong',
}

function create(options: ConstructorParameters<typeof ReconnectingWebSocket>[2] = {}) {
  return new ReconnectingWebSocket('ws://test.local/', undefined, {
    WebSocket: FakeWebSocket,
    clock,
    random: () => 0.5,
    ...options,
  })
}

beforeEach(() => {
  FakeWebSocket.reset()
  clock = new ManualClock(1_000_000)
  page = new FakePage()
  network.onLine = true
  vi.stubGlobal('window', page)
  vi.stubGlobal('navigator', network)
})

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('the preset', () => {
  it('takes binary frames as ArrayBuffer', () => {
    const socket = create()
    expect(socket.binaryType).toBe('arraybuffer')
    expect(FakeWebSocket.last.binaryType).toBe('arraybuffer')
    socket.close()
  })

  it('uses the global WebSocket by default', () => {
    vi.stubGlobal('WebSocket', FakeWebSocket)
    const socket = new ReconnectingWebSocket('ws://test.local/')
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })

  it('follows nothing without a window, and refuses its own unknown options as core does', () => {
    vi.stubGlobal('window', undefined)
    create().close()
    expect(() => create({ followPage: true, nope: 1 } as never)).toThrow(/unknown option 'nope'/)
  })
})

describe('offline and online', () => {
  it('burns no attempt while offline, and connects at once when back online', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    network.onLine = false
    FakeWebSocket.last.fail()
    socket.send('kept')
    clock.advance(120_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 2 })
    network.onLine = true
    page.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(2)
    expect(socket.state).toEqual({ status: 'connecting', attempt: 1 })
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['kept'])
    socket.close()
  })

  it('makes no first attempt while offline', () => {
    network.onLine = false
    const socket = create()
    expect(FakeWebSocket.instances).toHaveLength(0)
    network.onLine = true
    page.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })

  it('connects when back online with followPage false too, since it still waits while offline', () => {
    const socket = create({ followPage: false })
    FakeWebSocket.last.accept()
    network.onLine = false
    FakeWebSocket.last.fail()
    clock.advance(120_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    network.onLine = true
    page.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(2)
    socket.close()
  })

  it('in a worker, with no page to follow, connects when back online', () => {
    // A worker's global scope: an event target, and no `window`.
    vi.stubGlobal('window', undefined)
    const scope = new EventTarget()
    vi.stubGlobal('addEventListener', scope.addEventListener.bind(scope))
    network.onLine = false
    const socket = create()
    expect(FakeWebSocket.instances).toHaveLength(0)
    network.onLine = true
    scope.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })

  it('follows the network alone where a window has no document (Deno 1.x)', () => {
    const scope = new EventTarget()
    vi.stubGlobal('window', scope)
    network.onLine = false
    const socket = create()
    const client = createClient({ url: 'ws://test.local/', socket: { WebSocket: FakeWebSocket } })
    expect(FakeWebSocket.instances).toHaveLength(0)
    network.onLine = true
    scope.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(2)
    client.close()
    socket.close()
  })

  it('pings an open link at once when back online: it may not have survived the network change', () => {
    const socket = create({ heartbeat })
    FakeWebSocket.last.accept()
    network.onLine = false
    page.dispatchEvent(new Event('offline'))
    network.onLine = true
    page.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.last.sent).toEqual(['ping'])
    // No frame within timeoutMs of that ping: half-open, closed and reconnected.
    clock.advance(600)
    expect(socket.state.status).toBe('reconnecting')
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })

  it("asks the application's canConnect too", () => {
    let allowed = false
    const socket = create({ canConnect: () => allowed })
    expect(FakeWebSocket.instances).toHaveLength(0)
    allowed = true
    socket.reconnect()
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })
})

describe('visibility and freeze', () => {
  it('pings an open link at once when the page becomes visible or resumes', () => {
    const socket = create({ heartbeat })
    FakeWebSocket.last.accept()
    page.show('hidden')
    expect(FakeWebSocket.last.sent).toEqual([])
    page.show('visible')
    expect(FakeWebSocket.last.sent).toEqual(['ping'])
    FakeWebSocket.last.receive('pong')
    page.document.dispatchEvent(new Event('resume'))
    expect(FakeWebSocket.last.sent).toEqual(['ping', 'ping'])
    socket.close()
  })

  it('makes a waiting reconnect at once, with the backoff reset', () => {
    const socket = create({ initialDelayMs: 60_000, maxDelayMs: 60_000 })
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last.fail()
      clock.advance(60_000)
    }
    FakeWebSocket.last.fail()
    expect(socket.state).toMatchObject({ status: 'reconnecting', attempt: 6 })
    const attempts = FakeWebSocket.instances.length
    page.show('visible')
    expect(FakeWebSocket.instances).toHaveLength(attempts + 1)
    expect(socket.state).toEqual({ status: 'connecting', attempt: 1 })
    socket.close()
  })

  it('leaves an attempt in progress alone', () => {
    const socket = create()
    page.show('visible')
    page.transition('pageshow', false)
    expect(FakeWebSocket.instances).toHaveLength(1)
    socket.close()
  })
})

describe('the back/forward cache', () => {
  it('closes cleanly on pagehide into the cache and resumes on pageshow, queue kept', () => {
    const socket = create()
    const closes: unknown[] = []
    socket.addEventListener('close', (event) => closes.push([event.code, event.reason]))
    FakeWebSocket.last.accept()
    page.transition('pagehide', true)
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 1000, reason: pageHiddenReason })
    expect(socket.state).toEqual({ status: 'connecting', attempt: 1 })
    clock.advance(60_000)
    socket.send('while cached')
    expect(FakeWebSocket.instances).toHaveLength(1)
    page.transition('pageshow', true)
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['while cached'])
    expect(closes).toEqual([[1000, pageHiddenReason]])
    socket.close()
  })

  it('closes cleanly on freeze and reconnects at once on resume, queue kept', () => {
    const socket = create({ heartbeat })
    FakeWebSocket.last.accept()
    page.show('hidden')
    page.document.dispatchEvent(new Event('freeze'))
    expect(FakeWebSocket.last.closedWith).toEqual({ code: 1000, reason: pageHiddenReason })
    socket.send('while frozen')
    clock.advance(60_000)
    expect(FakeWebSocket.instances).toHaveLength(1)
    page.document.dispatchEvent(new Event('resume'))
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last.accept()
    expect(FakeWebSocket.last.sent).toEqual(['while frozen'])
    socket.close()
  })

  it('ignores a pagehide that does not enter the cache, and a socket its user closed', () => {
    const socket = create()
    FakeWebSocket.last.accept()
    page.transition('pagehide', false)
    expect(socket.state.status).toBe('open')
    socket.close()
    page.transition('pagehide', true)
    page.transition('pageshow', true)
    page.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(socket.state.status).toBe('closing')
  })

  it('stops listening once closed by its user, and listens again after reconnect()', () => {
    const add = vi.spyOn(page, 'addEventListener')
    const socket = create({ heartbeat })
    socket.close()
    socket.reconnect()
    FakeWebSocket.last.accept()
    // The socket's own listeners; the page's wake is watched in the capture phase.
    const own = add.mock.calls.filter(
      ([type, , options]) => type === 'pageshow' && options !== true,
    )
    expect(own).toHaveLength(2)
    page.show('visible')
    expect(FakeWebSocket.last.sent).toEqual(['ping'])
    socket.close()
  })

  it("connects again when the page's own handlers close it on pagehide or freeze and connect it on the way back", () => {
    // The Page Lifecycle advice: close connections in pagehide (or freeze), open them again in
    // pageshow (or resume). Handlers added after the socket was made run after the preset's.
    const sleeps = [
      [page, 'pagehide', 'pageshow', { persisted: true }],
      [page.document, 'freeze', 'resume', {}],
    ] as const
    for (const [target, sleep, wake, init] of sleeps) {
      const socket = create()
      FakeWebSocket.last.accept()
      const attempts = FakeWebSocket.instances.length
      target.addEventListener(sleep, () => socket.close())
      target.addEventListener(wake, () => socket.reconnect())
      page.show('hidden')
      target.dispatchEvent(Object.assign(new Event(sleep), init))
      // Back, and still hidden (a page may resume in the background): no visibilitychange yet.
      target.dispatchEvent(Object.assign(new Event(wake), init))
      expect(FakeWebSocket.instances).toHaveLength(attempts + 1)
      FakeWebSocket.last.accept()
      expect(socket.state.status).toBe('open')
      // Shown, its open link is kept: it was closed, so no longer held for the page.
      page.show('visible')
      expect(FakeWebSocket.instances).toHaveLength(attempts + 1)
      // Nor is any other socket of the page held back.
      const other = create()
      expect(FakeWebSocket.instances).toHaveLength(attempts + 2)
      other.close()
      socket.close()
    }
  })

  it('acts once per event on a socket followed twice, as the README invites for client.socket', () => {
    const socket = create({ initialDelayMs: 60_000, maxDelayMs: 60_000 })
    followPage(socket, page)
    FakeWebSocket.last.accept()
    page.transition('pagehide', true)
    page.transition('pageshow', true)
    // One attempt on waking: a second reconnect() dropped the one the first had just made.
    expect(FakeWebSocket.instances).toHaveLength(2)
    FakeWebSocket.last.fail()
    expect(socket.state.status).toBe('reconnecting')
    page.dispatchEvent(new Event('online'))
    expect(FakeWebSocket.instances).toHaveLength(3)
    FakeWebSocket.last.accept()
    page.show('visible')
    expect(socket.state.status).toBe('open')
    expect(FakeWebSocket.instances).toHaveLength(3)
    socket.close()
  })

  it('stops for good when told to', () => {
    const socket = create({ followPage: false })
    const stop = followPage(socket, page)
    FakeWebSocket.last.accept()
    stop()
    page.transition('pagehide', true)
    expect(socket.state.status).toBe('open')
    socket.close()
  })
})

describe('createClient', () => {
  it('resumes its session after the back/forward cache, nothing lost', () => {
    const client = createClient({
      url: 'ws://test.local/',
      socket: { WebSocket: FakeWebSocket, clock, random: () => 0.5 },
    })
    const frames = (socket = FakeWebSocket.last) =>
      socket.sent.map((frame) => JSON.parse(frame as string) as { t: string; d?: unknown })
    FakeWebSocket.last.accept('lifeline.v1.json')
    FakeWebSocket.last.receive(
      JSON.stringify({ t: '$welcome', d: { sid: 'S1', resumed: false, a: 0 } }),
    )
    page.transition('pagehide', true)
    client.send('say', 'while cached')
    page.transition('pageshow', true)
    FakeWebSocket.last.accept('lifeline.v1.json')
    expect(frames()[0]).toMatchObject({ t: '$hello', d: { sid: 'S1', a: 0 } })
    FakeWebSocket.last.receive(
      JSON.stringify({ t: '$welcome', d: { sid: 'S1', resumed: true, a: 0 } }),
    )
    expect(frames().map((frame) => frame.t)).toEqual(['$hello', 'say'])
    expect(client.state).toMatchObject({ status: 'open', sessionId: 'S1', resumed: true })
    client.close()
  })
})
