import { afterEach, describe, expect, it } from 'vitest'
import type { AnySchema, Client } from '@lifeline/core'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { Rig } from './harness.js'

const fx = useFixtures(afterEach)

describe("the client's answers across a session reset", () => {
  it("answer the new session's request with its own answer, never the old session's", async () => {
    const rig = await new Rig(fx, { sessionTtlMs: 150 }).start()
    // The server asks each session once: 'first' in the one that expires, then 'second'.
    const labels = ['first', 'second']
    const answers: unknown[] = []
    rig.onServer((server) =>
      server.on('connection', (peer) => {
        const label = labels.shift()
        if (label === undefined) return
        ;(peer.request as (m: string, d: unknown) => Promise<unknown>)('ask', label).then(
          (answer) => answers.push(answer),
          () => answers.push('rejected'),
        )
      }),
    )
    const client = rig.client() as unknown as Client<AnySchema>
    const asked: string[] = []
    const release = new Map<string, (value: string) => void>()
    client.handle('ask', (label) => {
      asked.push(label as string)
      return new Promise<string>((resolve) => release.set(label as string, resolve))
    })
    await waitFor(() => asked.length === 1, { message: "asked 'first'" })

    // The session expires while the client is away; the one it gets back is new.
    rig.proxy.refuse()
    rig.proxy.cut()
    await waitFor(() => rig.server.stats.sessions === 0, {
      message: 'session expired',
      timeoutMs: 5_000,
    })
    rig.proxy.refuse(false)
    await waitFor(() => asked.length === 2, { message: "asked 'second'", timeoutMs: 5_000 })

    // The old session's handler resolves late, then the new one's. The client answers (or not)
    // in the microtasks of the handler's resolution: after a turn, an answer to 'first' would
    // be on the link ahead of the answer to 'second'.
    release.get('first')?.('answer to first')
    await new Promise((resolve) => setImmediate(resolve))
    release.get('second')?.('answer to second')
    await waitFor(() => answers.length === 2, { message: 'both settled' })
    expect(answers).toEqual(['rejected', 'answer to second'])
  }, 15_000)
})
