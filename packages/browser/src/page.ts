import type { ReconnectingWebSocket } from '@lifeline/core'

/** The part of `window` the preset listens to; tests pass a plain `EventTarget`. */
export interface PageLike extends EventTarget {
  readonly document: EventTarget & { readonly visibilityState: DocumentVisibilityState }
}

/** The reason a link is closed with when the page goes into the back/forward cache. */
export const pageHiddenReason = 'page hidden'

/** The page is in the back/forward cache or frozen: every socket on it waits. One page, one flag. */
let asleep = false

/**
 * Clears `asleep` as the page is shown from the back/forward cache or resumes, whatever follows
 * it then: a socket its user closed as the page went to sleep (the Page Lifecycle advice: close
 * in `pagehide` or `freeze`, open again in `pageshow` or `resume`) follows the page no more, and
 * the flag it left would park it, and every other socket of the page, when connected again.
 */
const awake = (): void => {
  asleep = false
}

/**
 * The last event each socket acted on. A socket may be followed twice (the preset's own and the
 * application's `followPage` of `client.socket`): each event is acted on once, by the follower
 * that started first, which is also the one that holds the socket (its listeners come first for
 * every event). A second `reconnect()` on waking, or on `online`, dropped the attempt the first
 * had just made.
 */
const handled = new WeakMap<ReconnectingWebSocket, Event>()

/**
 * The preset's `canConnect`: no attempt while the browser says it is offline (it would fail at
 * once and count towards the backoff), nor while the page is in the back/forward cache or frozen.
 */
export const pageCanConnect = (): boolean => globalThis.navigator?.onLine !== false && !asleep

/**
 * Ties a socket to the page's lifecycle, the browser half of the preset (offline is the
 * other half: `pageCanConnect`):
 * - `online`: a waiting or held attempt is made now; an open link is checked now with a
 *   heartbeat ping, since it may not have survived the network change.
 * - `visibilitychange` to visible, `pageshow` and `resume` (after a freeze): an open link is
 *   checked now with a heartbeat ping; a waiting reconnect is made now, its backoff reset.
 * - `pagehide` into the back/forward cache, and `freeze`: the link is closed cleanly (the browser
 *   would close it, unclean: Chromium does, and a page with an open WebSocket used to be kept out
 *   of the cache) and the socket waits, queue and session kept; back from the cache or resumed,
 *   it connects at once and the queue flushes (protocol mode: the session resumes).
 *
 * The socket waits through `canConnect`: one built without `pageCanConnect` in it (core's own
 * options, not `browserSocketOptions`) connects again at once as the page goes to sleep.
 *
 * Returns a function that stops following. Where there is no `window` (a worker), or one with
 * no `document` (Deno 1.x), it follows the global scope's `online` only; where there is neither
 * (server rendering), nothing. It also stops on its own once the socket is closed by its user,
 * and starts again on `reconnect()`.
 */
export function followPage(
  socket: ReconnectingWebSocket,
  page: PageLike | undefined = globalThis.window,
): () => void {
  return follow(socket, page, true)
}

/**
 * `followPage`, or with `lifecycle` false the network alone: a socket that follows no page
 * still waits while offline (`pageCanConnect`), and without `online` would wait for good.
 */
export function follow(
  socket: ReconnectingWebSocket,
  page: PageLike | undefined,
  lifecycle: boolean,
): () => void {
  // A worker has no page, but its global scope has `online`; server rendering has neither.
  const target: Partial<EventTarget> = page ?? globalThis
  if (!target.addEventListener) return () => {}
  let controller: AbortController | undefined
  // This socket's link was closed for the back/forward cache or a freeze.
  let held = false
  const wake = (): void => {
    asleep = false
    if (held || socket.state.status === 'reconnecting') socket.reconnect()
    else socket.checkNow()
    held = false
  }
  const sleep = (): void => {
    asleep = held = true
    // Closes the link with 1000 and waits, since `pageCanConnect` now says no.
    socket.reconnect(1000, pageHiddenReason)
  }
  const listeners: [EventTarget, string, (event: Event) => void][] = [
    // A link that stayed open through it is checked as on waking: a network change (another
    // Wi-Fi, another address) leaves the old TCP link half-open, with nothing to tell it but
    // the heartbeat, a whole interval and timeout later.
    // Waiting (connecting or reconnecting: CONNECTING), the attempt is made now.
    [
      target as EventTarget,
      'online',
      () => (socket.readyState ? socket.checkNow() : socket.reconnect()),
    ],
  ]
  // A `window` with no `document` (Deno 1.x) is no page either: its `online` alone is followed.
  const document = page?.document
  if (page && document && lifecycle) {
    // Once per page (the same listener is added once), in the capture phase: before the page's
    // own handlers, which may connect a socket.
    page.addEventListener('pageshow', awake, true)
    document.addEventListener('resume', awake, true)
    listeners.push(
      [document, 'visibilitychange', () => document.visibilityState === 'visible' && wake()],
      [document, 'resume', wake],
      [page, 'pageshow', wake],
      [page, 'pagehide', (event) => (event as PageTransitionEvent).persisted && sleep()],
      [document, 'freeze', sleep],
    )
  }
  const start = (): void => {
    if (controller) return
    const { signal } = (controller = new AbortController())
    for (const [target, type, listener] of listeners) {
      target.addEventListener(
        type,
        (event) => handled.get(socket) !== event && (handled.set(socket, event), listener(event)),
        { signal },
      )
    }
  }
  const stop = (): void => {
    controller?.abort()
    controller = undefined
    // Closed by its user, even as the page went to sleep: no longer held, so connected again it
    // is not made to start over when the page wakes.
    held = false
  }
  const following = new AbortController()
  // A page does not keep listening for a socket its user closed, so the socket can be collected;
  // nor for one its user is closing (its closing handshake under way): put to sleep or woken,
  // it would be connected again. Closing or closed: CLOSING (2) or CLOSED (3).
  socket.addEventListener('statechange', () => (socket.readyState > 1 ? stop() : start()), {
    signal: following.signal,
  })
  // By its state: from a close listener, readyState reads CLOSED while it waits to reconnect.
  if (!/^clos/.test(socket.state.status)) start()
  return () => {
    following.abort()
    stop()
  }
}
