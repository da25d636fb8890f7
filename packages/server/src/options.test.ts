import { createServer as createHttpServer } from 'node:http'
import type { ListsEvery } from '@lifeline/test-utils'
import { describe, expect, it } from 'vitest'
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js'

// A project without `exactOptionalPropertyTypes` (TypeScript's default) passes its own optional
// settings on as they are, `{ sessionTtlMs: config.sessionTtlMs }`: an option given as
// `undefined` must be one not given, its default applying, never a refusal or another behaviour.

const optional = [
  'host',
  'path',
  'codecs',
  'authenticate',
  'sessionOwner',
  'allowedOrigins',
  'requireOrigin',
  'maxMessageSize',
  'heartbeat',
  'connectionLimits',
  'clientAddress',
  'upgradeTimeoutMs',
  'helloTimeoutMs',
  'sessionTtlMs',
  'replayLimit',
  'replayLimitBytes',
  'outboundHighWaterBytes',
  'maxOutboundBytes',
  'maxRoomsPerSession',
  'requestTimeoutMs',
  'closeTimeoutMs',
  'ackEvery',
  'ackDelayMs',
  'store',
  'cluster',
  'clock',
  'logger',
] as const satisfies readonly (keyof ServerOptions)[]

// Every option is in the list: one added to `ServerOptions` and not here fails to compile.
const listsEvery: ListsEvery<ServerOptions, (typeof optional)[number], 'port' | 'server'> = true

/** What resolving gave, with the objects made afresh each time (codecs, store) described. */
const described = (resolved: ResolvedOptions<unknown>) => ({
  ...resolved,
  codecs: resolved.codecs.map(({ name, maxBytes }) => ({ name, maxBytes })),
  store: typeof resolved.store,
})

const resolved = (options: ServerOptions) => described(resolveOptions(options))

describe('server options given as undefined', () => {
  it('resolve as if not given: every default applies', () => {
    expect(listsEvery).toBe(true)
    const base = resolved({ port: 0 })
    for (const key of optional) {
      expect([key, resolved({ port: 0, [key]: undefined })]).toEqual([key, base])
    }
    for (const key of ['intervalMs', 'timeoutMs']) {
      expect([key, resolved({ port: 0, heartbeat: { [key]: undefined } })]).toEqual([key, base])
    }
    const limits = [
      'connectionsPerSecond',
      'connectionBurst',
      'sessionsPerAddress',
      'maxSessions',
      'maxTrackedAddresses',
    ]
    for (const key of limits) {
      const options = { port: 0, connectionLimits: { [key]: undefined } }
      expect([key, resolved(options)]).toEqual([key, base])
    }
  })

  it('take an undefined port beside a server, or an undefined server beside a port', () => {
    const server = createHttpServer()
    expect(resolveOptions({ server, port: undefined }).server).toBe(server)
    expect(resolveOptions({ port: 0, server: undefined }).port).toBe(0)
  })
})
