import type { WebSocket } from 'ws'
import { startWsServer } from './wsServer.js'
import type { WsServerFixture } from './wsServer.js'

/** The subprotocol of the JSON codec: what a scripted server speaks. */
const jsonSubprotocol = 'lifeline.v1.json'

/** One envelope of the Lifeline wire protocol, as a script writes or reads it. */
export interface ScriptedEnvelope {
  t: string
  d?: unknown
  s?: number
  a?: number
}

/** One client connection to a scripted server, after its `$hello`. */
export interface ScriptedLink {
  /** 0 for the first connection, 1 for the second, … */
  readonly index: number
  readonly socket: WebSocket
  /** The payload of the client's `$hello`. */
  readonly hello: Record<string, unknown>
  /** Every envelope the client sent after `$hello`, in order. */
  readonly received: readonly ScriptedEnvelope[]
  /** Writes an envelope as a JSON text frame. */
  send(envelope: ScriptedEnvelope): void
}

/**
 * A hostile (or merely old) Lifeline server for client tests: a real `ws` server on 127.0.0.1,
 * port 0, that agrees on `lifeline.v1.json` and, on each connection's `$hello`, hands the link
 * to `script`, which sends whatever a test needs (a bad frame, no `$welcome`, a lying ack). A
 * `$ping` is answered with `$pong` unless `answerPings` is false. Close it with the fixture.
 */
export async function startScriptedServer(
  script: (link: ScriptedLink) => void,
  options: { answerPings?: boolean } = {},
): Promise<WsServerFixture> {
  return startWsServer({
    handleProtocols: (protocols) => (protocols.has(jsonSubprotocol) ? jsonSubprotocol : false),
    onConnection: ({ index, socket }) => {
      const received: ScriptedEnvelope[] = []
      let link: ScriptedLink | undefined
      socket.on('message', (data) => {
        const envelope = JSON.parse(String(data)) as ScriptedEnvelope
        if (link === undefined) {
          const hello = (envelope.d ?? {}) as Record<string, unknown>
          link = {
            index,
            socket,
            hello,
            received,
            send: (frame) => socket.send(JSON.stringify(frame)),
          }
          script(link)
        } else if (envelope.t === '$ping' && options.answerPings !== false) {
          link.send({ t: '$pong', d: envelope.d })
        } else received.push(envelope)
      })
    },
  })
}
