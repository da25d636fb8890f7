import { withTimeout } from './wait.js'

/** Anything with a `close()`: proxies, server fixtures, the SDK's own sockets and clients. */
export interface Closable {
  close(): unknown
}

/**
 * A client socket of `ws`. It is terminated rather than closed: a close handshake would wait on
 * a peer that may be gone (or black-holed), and `close()` returns before the socket is closed.
 */
export interface TerminableSocket {
  readonly readyState: number
  terminate(): void
  once(event: 'close', listener: () => void): unknown
  on(event: 'error', listener: () => void): unknown
}

/** What a scope can release: a closable, a `ws` socket, or a cleanup function. */
export type FixtureResource = Closable | TerminableSocket | (() => unknown)

export interface FixtureScopeOptions {
  /** How long one resource may take to close before `closeAll()` reports it. @default 5000 */
  closeTimeoutMs?: number
}

export const fixtureScopeDefaults = {
  closeTimeoutMs: 5_000,
} satisfies Required<FixtureScopeOptions>

export interface FixtureScope {
  /** Registers `resource` and returns it, so creation and registration fit on one line. */
  add<T extends FixtureResource>(resource: T): T
  /**
   * Releases every registered resource, last added first (clients before the servers they talk
   * to), each awaited before the next. A failure does not stop the others: all are released,
   * then the failure is thrown (an `AggregateError` if several failed). The scope is empty and
   * reusable afterwards.
   */
  closeAll(): Promise<void>
}

/**
 * A list of resources to release after a test, whatever its outcome:
 *
 * ```ts
 * const fx = createFixtureScope()
 * afterEach(() => fx.closeAll())
 *
 * const server = fx.add(await startWsServer())
 * const client = fx.add(new WebSocket(server.url()))
 * ```
 */
export function createFixtureScope(options: FixtureScopeOptions = {}): FixtureScope {
  const closeTimeoutMs = options.closeTimeoutMs ?? fixtureScopeDefaults.closeTimeoutMs
  let resources: FixtureResource[] = []
  return {
    add(resource) {
      resources.push(resource)
      return resource
    },
    async closeAll() {
      const pending = resources.reverse()
      resources = []
      const failures: unknown[] = []
      for (const [position, resource] of pending.entries()) {
        const number = pending.length - position
        try {
          await withTimeout(release(resource), closeTimeoutMs, `fixture #${number} to close`)
        } catch (error) {
          failures.push(error)
        }
      }
      if (failures.length === 1) throw failures[0]
      if (failures.length > 1) {
        throw new AggregateError(failures, `${failures.length} fixtures failed to close`)
      }
    },
  }
}

/**
 * `createFixtureScope()` with its `closeAll()` already registered as an after-each hook:
 * `const fx = useFixtures(afterEach)`. The hook is passed in rather than imported, so this
 * package does not depend on a test runner.
 */
export function useFixtures(
  afterEach: (hook: () => Promise<void>) => unknown,
  options: FixtureScopeOptions = {},
): FixtureScope {
  const scope = createFixtureScope(options)
  afterEach(() => scope.closeAll())
  return scope
}

const CLOSED = 3

async function release(resource: FixtureResource): Promise<void> {
  if (typeof resource === 'function') {
    await resource()
    return
  }
  if (isTerminableSocket(resource)) {
    if (resource.readyState === CLOSED) return
    await new Promise<void>((resolve) => {
      resource.once('close', () => resolve())
      // Terminating a socket that is still connecting emits an 'error' ("closed before the
      // connection was established"): expected during cleanup, and fatal if nobody listens.
      resource.on('error', () => {})
      resource.terminate()
    })
    return
  }
  await resource.close()
}

function isTerminableSocket(resource: Closable | TerminableSocket): resource is TerminableSocket {
  const candidate = resource as Partial<TerminableSocket>
  return (
    typeof candidate.terminate === 'function' &&
    typeof candidate.readyState === 'number' &&
    typeof candidate.once === 'function'
  )
}
