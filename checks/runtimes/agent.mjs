// The client side of the runtime matrix: one process per runtime (Node, Bun, Deno) runs this
// plain JavaScript against the built packages, as an app would. It makes sockets and clients
// when told to on stdin, one JSON command a line, and reports on stdout, one JSON line each:
// the answer to every command (`{id, ok}` or `{id, fail}`) and every event of what it made
// (`{h, ev, …}`). The servers, faults and assertions stay in the test process.
//
// `<runtime> agent.mjs global|ws`: the WebSocket the sockets are given. When stdin ends,
// everything is closed and nothing else is done: the process must then exit by itself.
import process from 'node:process'
import { createInterface } from 'node:readline'
import { ReconnectingWebSocket, createClient, isLifelineError } from '@lifeline/core'
import { json } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'

const implementation = process.argv[2]
const WebSocketImpl =
  implementation === 'ws' ? (await import('ws')).WebSocket : globalThis.WebSocket

/** What the runtime calls itself: its own version, not the Node version it emulates. */
function runtimeName() {
  if (globalThis.Bun) return `Bun ${globalThis.Bun.version}`
  if (globalThis.Deno) return `Deno ${globalThis.Deno.version.deno}`
  return `Node ${process.versions.node}`
}

function report(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

/** An event, stamped with the wall clock the test process shares. */
function emit(event) {
  report({ ...event, t: Date.now() })
}

/** Frames as the test reads them: text as is, binary as its bytes and the type it came as. */
function describeData(data) {
  if (typeof data === 'string') return { text: data }
  const kind = data?.constructor?.name ?? typeof data
  if (data instanceof ArrayBuffer) return { kind, bytes: [...new Uint8Array(data)] }
  if (ArrayBuffer.isView(data)) {
    return { kind, bytes: [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)] }
  }
  return { kind, size: data?.size }
}

function errorCode(error) {
  return isLifelineError(error) ? error.code : String(error?.message ?? error)
}

const made = new Map()
let nextHandle = 1

function keep(thing) {
  const h = nextHandle++
  made.set(h, thing)
  return h
}

function find(h) {
  const thing = made.get(h)
  if (!thing) throw new Error(`no handle ${h}`)
  return thing
}

const ops = {
  /**
   * A ReconnectingWebSocket; `heartbeat.pong` is the text that answers a ping. `throwIn`: an
   * event whose first listener, the application's, throws every time.
   */
  socket({ url, options = {}, binaryType, throwIn }) {
    const { heartbeat, ...rest } = options
    const socket = new ReconnectingWebSocket(url, undefined, {
      ...rest,
      WebSocket: WebSocketImpl,
      ...(heartbeat && {
        heartbeat: {
          intervalMs: heartbeat.intervalMs,
          timeoutMs: heartbeat.timeoutMs,
          ping: heartbeat.ping,
          isPong: (data) => data === heartbeat.pong,
        },
      }),
    })
    if (binaryType) socket.binaryType = binaryType
    const h = keep({ kind: 'socket', socket, close: () => socket.close() })
    if (throwIn) {
      socket.addEventListener(throwIn, () => {
        throw new Error(`a faulty ${throwIn} listener`)
      })
    }
    socket.addEventListener('open', () => emit({ h, ev: 'open' }))
    socket.addEventListener('message', (event) =>
      emit({ h, ev: 'message', ...describeData(event.data) }),
    )
    socket.addEventListener('close', (event) =>
      emit({ h, ev: 'close', code: event.code, reason: event.reason, wasClean: event.wasClean }),
    )
    socket.addEventListener('error', (event) =>
      emit({ h, ev: 'error', code: event.error ? errorCode(event.error) : undefined }),
    )
    socket.addEventListener('statechange', (event) =>
      emit({ h, ev: 'state', status: event.state.status }),
    )
    return h
  },

  /** A typed client in protocol mode (schema: `up {n}` out, `down {n}` in, `echo` RPC). */
  client({ url, codec = 'json', options = {} }) {
    const { socket, ...rest } = options
    const client = createClient({
      url,
      codecs: [codec === 'msgpack' ? msgpack() : json()],
      ...rest,
      socket: { ...socket, WebSocket: WebSocketImpl },
    })
    const h = keep({ kind: 'client', client, close: () => client.close() })
    client.events.on('statechange', (state) =>
      emit({ h, ev: 'state', status: state.status, resumed: state.resumed }),
    )
    client.events.on('reset', (event) => emit({ h, ev: 'reset', resent: event.resent }))
    client.events.on('error', (error) => emit({ h, ev: 'error', code: error.code }))
    client.events.on('drop', (event) => emit({ h, ev: 'drop', reason: event.reason }))
    client.on('down', (data) => emit({ h, ev: 'down', n: data.n }))
    return h
  },

  /** Sends one frame: `text`, or `bytes` as a Uint8Array, an ArrayBuffer or a Blob. */
  send({ h, text, bytes, as = 'uint8' }) {
    const { socket } = find(h)
    if (text !== undefined) return socket.send(text)
    const view = new Uint8Array(bytes)
    if (as === 'blob') return socket.send(new globalThis.Blob([view]))
    return socket.send(as === 'arraybuffer' ? view.buffer : view)
  },

  /** `count` frames `<prefix><from>`, `<prefix><from + 1>`, … on a socket, in one turn. */
  sendMany({ h, prefix, from, count }) {
    const { socket } = find(h)
    for (let i = from; i < from + count; i++) socket.send(`${prefix}${i}`)
  },

  /** `count` messages `up {n}` from `from` on a client, in one turn. */
  up({ h, from, count }) {
    const { client } = find(h)
    for (let n = from; n < from + count; n++) client.send('up', { n })
  },

  /** An RPC: the response, or the error's code. */
  async request({ h, method, data, timeoutMs }) {
    const { client } = find(h)
    try {
      return { response: await client.request(method, data, { timeoutMs }) }
    } catch (error) {
      return { error: errorCode(error) }
    }
  },

  inspect({ h }) {
    const thing = find(h)
    if (thing.kind === 'client') {
      return { status: thing.client.state.status, unacked: thing.client.unacked }
    }
    const { socket } = thing
    return {
      status: socket.state.status,
      readyState: socket.readyState,
      queued: socket.queuedMessages,
    }
  },

  close({ h, code, reason }) {
    const thing = find(h)
    if (thing.kind === 'socket') thing.socket.close(code, reason)
    else thing.client.close(code, reason)
  },
}

const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const { id, op, ...args } = JSON.parse(line)
  try {
    const result = await ops[op](args)
    report({ id, ok: result ?? null })
  } catch (error) {
    report({ id, fail: `${op}: ${error?.stack ?? error}` })
  }
})
lines.on('close', () => {
  for (const thing of made.values()) thing.close()
  made.clear()
})

report({
  ready: {
    runtime: runtimeName(),
    webSocket: implementation === 'ws' ? 'ws' : 'global',
    hasGlobalWebSocket: typeof globalThis.WebSocket === 'function',
    hasCloseEvent: typeof globalThis.CloseEvent === 'function',
  },
})
