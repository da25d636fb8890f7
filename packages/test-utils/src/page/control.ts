/**
 * The page's end of a control link to the Node side of a Chromium test (the other end is
 * `startControlServer` in `@lifeline/test-utils/chromium`): one JSON request per text frame,
 * `{ id, op, ... }`, and one reply per request, `{ id, ok, result | error }`. Browser-safe: no
 * Node module is imported here.
 */

/** One frame from the page: a request and the id its reply carries. */
export type ControlFrame<Request> = Request & { readonly id: number }

/** One frame to the page. */
export type ControlReply<Result> =
  | { readonly id: number; readonly ok: true; readonly result: Result }
  | { readonly id: number; readonly ok: false; readonly error: string }

/**
 * How long a wait in a page gets by default, an open included: Chromium holds a page's new
 * WebSocket back, before it even connects, while the page's process has seen many more fail
 * than succeed (its per-process WebSocket throttle, up to a random 1-5 s; after some 90 refused
 * attempts its opens waited 0.4-1.8 s). These pages fail links on purpose (restarts, black
 * holes, offline), beside other tests on a loaded machine, so a wait covers the throttle's worst
 * twice over.
 */
export const pageWaitMs = 10_000

/** Every control request gets this long to be answered; each action is bounded well below. */
const requestTimeoutMs = 5_000

export interface Control<
  Request extends { readonly op: string },
  Results extends Record<Request['op'], unknown>,
> {
  request<Op extends Request['op']>(request: Extract<Request, { op: Op }>): Promise<Results[Op]>
  close(): void
}

/** Opens the control link to `ws://127.0.0.1:<port>/`. */
export async function openControl<
  Request extends { readonly op: string },
  Results extends Record<Request['op'], unknown>,
>(port: number): Promise<Control<Request, Results>> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`control link did not open within ${pageWaitMs} ms`)),
      pageWaitMs,
    )
    socket.onopen = () => {
      clearTimeout(timer)
      resolve()
    }
    socket.onerror = () => {
      clearTimeout(timer)
      reject(new Error('control link failed to open'))
    }
  })
  let nextId = 1
  const pending = new Map<number, (reply: ControlReply<unknown>) => void>()
  socket.onmessage = (event: MessageEvent<string>) => {
    const reply = JSON.parse(event.data) as ControlReply<unknown>
    pending.get(reply.id)?.(reply)
  }
  return {
    request(request) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`control '${request.op}' got no reply within ${requestTimeoutMs} ms`))
        }, requestTimeoutMs)
        pending.set(id, (reply) => {
          clearTimeout(timer)
          pending.delete(id)
          if (reply.ok) resolve(reply.result as Results[typeof request.op])
          else reject(new Error(`control '${request.op}' failed: ${reply.error}`))
        })
        socket.send(JSON.stringify({ ...request, id }))
      })
    },
    close() {
      socket.close()
    },
  }
}

/** Resolves when `predicate` holds; rejects naming `what` after `timeoutMs`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = pageWaitMs,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
