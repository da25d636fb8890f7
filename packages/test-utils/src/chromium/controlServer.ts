import { startWsServer } from '../wsServer.js'
import type { WsServerFixture } from '../wsServer.js'
import type { ControlFrame, ControlReply } from '../page/control.js'

/**
 * The Node end of a control link (see `openControl` in `@lifeline/test-utils/page`): a `ws`
 * server on 127.0.0.1 port 0 that runs `perform` for each request frame and replies once the
 * action has completed, so the page never has to guess with a sleep. A request that throws is
 * replied to with its message.
 *
 * Why a WebSocket and not browser commands: vitest loads the config (where commands live) and
 * the global setup (where the fixtures live) as separate module instances; the control link
 * keeps the fixtures, their controls and their teardown in the global setup, and the page
 * reaches it with the same `WebSocket` it tests, with no vitest internals in between.
 */
export function startControlServer<Request extends { readonly op: string }>(
  perform: (request: Request) => unknown,
): Promise<WsServerFixture> {
  return startWsServer({
    recordMessages: false,
    onConnection: ({ socket }) =>
      socket.on('message', (data) => {
        void handle(String(data), perform).then((reply) => socket.send(JSON.stringify(reply)))
      }),
  })
}

async function handle<Request extends { readonly op: string }>(
  text: string,
  perform: (request: Request) => unknown,
): Promise<ControlReply<unknown>> {
  let id = -1
  try {
    const frame = JSON.parse(text) as ControlFrame<Request>
    id = frame.id
    return { id, ok: true, result: (await perform(frame)) ?? null }
  } catch (error) {
    return { id, ok: false, error: error instanceof Error ? error.message : String(error) }
  }
}

/** Closes in reverse order of start (a proxy before the server behind it), whatever fails. */
export async function closeAll(started: { close(): Promise<void> }[]): Promise<void> {
  const failures: unknown[] = []
  for (const resource of started.reverse()) {
    try {
      await resource.close()
    } catch (error) {
      failures.push(error)
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'browser test servers did not close')
}
