import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { createFixtureScope, useFixtures } from './fixtures.js'
import { once } from './wait.js'
import { startWsServer } from './wsServer.js'

describe('createFixtureScope', () => {
  it('releases functions and closables, last added first, and is reusable', async () => {
    const scope = createFixtureScope()
    const order: string[] = []
    scope.add(() => order.push('first'))
    const closable = scope.add({ close: async () => order.push('second') })
    expect(closable).toHaveProperty('close')
    scope.add(() => order.push('third'))

    await scope.closeAll()
    expect(order).toEqual(['third', 'second', 'first'])
    await scope.closeAll()
    expect(order).toHaveLength(3)
  })

  it('releases everything before reporting failures', async () => {
    const scope = createFixtureScope()
    const released: number[] = []
    scope.add(() => released.push(1))
    scope.add(() => {
      throw new Error('close failed')
    })
    scope.add(() => released.push(3))
    await expect(scope.closeAll()).rejects.toThrow('close failed')
    expect(released).toEqual([3, 1])

    scope.add(() => Promise.reject(new Error('a')))
    scope.add(() => Promise.reject(new Error('b')))
    await expect(scope.closeAll()).rejects.toThrow('2 fixtures failed to close')
  })

  it('reports a resource that does not close in time', async () => {
    const scope = createFixtureScope({ closeTimeoutMs: 20 })
    scope.add({ close: () => new Promise(() => {}) })
    await expect(scope.closeAll()).rejects.toThrow('Timed out after 20 ms waiting for fixture #1')
  })

  it('terminates ws sockets, open or still connecting', async () => {
    const scope = createFixtureScope()
    const server = scope.add(await startWsServer())
    const open = scope.add(new WebSocket(server.url()))
    await once(open, 'open')
    const connecting = scope.add(new WebSocket(server.url()))

    await scope.closeAll()
    expect(open.readyState).toBe(WebSocket.CLOSED)
    expect(connecting.readyState).toBe(WebSocket.CLOSED)
    expect(server.listening).toBe(false)
  })
})

describe('useFixtures', () => {
  const fx = useFixtures(afterEach)
  const released: string[] = []

  it('registers closeAll as an after-each hook', () => {
    fx.add(() => released.push('fixture of the first test'))
    expect(released).toEqual([])
  })

  it('has released the previous test’s fixtures', () => {
    expect(released).toEqual(['fixture of the first test'])
  })
})
