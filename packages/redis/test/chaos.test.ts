import { createClient, type Client } from '@lifeline/core'
import { startBalancer, startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import type { Balancer } from '@lifeline/test-utils'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Chaos } from './chaosSchema.js'
import { bundleNode, NodeProcess, type Processed } from './nodeProcess.js'

const fx = useFixtures(afterEach)
let bundle: Awaited<ReturnType<typeof bundleNode>>
beforeAll(async () => {
  bundle = await bundleNode()
})
afterAll(() => bundle?.remove())
const clientCount = 20
const rooms = 4

interface Member {
  client: Client<Chaos>
  room: string
  sent: number
  down: number[]
  said: { from: string; n: number }[]
  resets: number
}

/** Seeded PRNG (mulberry32), so that a failing run can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * 3 server processes behind a balancer with no stickiness, 20 clients in 4 rooms, 500 messages
 * each way per client, with balancer cuts, a graceful restart of each process, a SIGKILL of
 * each, and a rolling restart of all three, at seeded points of the traffic.
 */
async function chaosRun(mode: 'cluster' | 'alone', seed: number, perClient: number) {
  const random = seeded(seed)
  const redis = fx.add(await startRedisServer())
  const log: Processed[] = []
  let started = 0
  const live: NodeProcess[] = []
  const all: NodeProcess[] = []
  const spawnNode = async (): Promise<NodeProcess> => {
    const node = await NodeProcess.start(bundle.script, started++, redis.url, mode, log)
    fx.add(() => (node.killed ? undefined : node.kill()))
    all.push(node)
    return node
  }
  for (let i = 0; i < 3; i++) live.push(await spawnNode())
  // A replacement is started ahead, so that a restart is a switch, not a wait for a start
  // (which takes seconds on a busy 2-core machine).
  let spare = spawnNode()
  const takeSpare = async (): Promise<NodeProcess> => {
    const node = await spare
    spare = spawnNode()
    return node
  }
  const balancer: Balancer = fx.add(
    await startBalancer({ backends: live.map((node) => node.port) }),
  )
  const route = (): void => balancer.setBackends(live.map((node) => node.port))
  /** Replaces live[i]: the new process first, then the old one stops (or is killed). */
  const replace = async (i: number, how: 'stop' | 'kill'): Promise<void> => {
    const old = live[i] as NodeProcess
    if (how === 'kill') await old.kill()
    const fresh = await takeSpare()
    live[i] = fresh
    route()
    if (how === 'stop') await old.stop()
  }

  const members: Member[] = Array.from({ length: clientCount }, (_, i) => {
    const client = createClient<Chaos>({
      url: balancer.url('/'),
      socket: { initialDelayMs: 10, maxDelayMs: 200 },
    })
    client.events.on('error', () => undefined)
    fx.add(() => client.close())
    const member: Member = {
      client,
      room: `room-${i % rooms}`,
      sent: 0,
      down: [],
      said: [],
      resets: 0,
    }
    client.on('down', ({ n }) => member.down.push(n))
    client.on('said', (said) => member.said.push(said))
    client.events.on('reset', () => member.resets++)
    return member
  })
  const send = (member: Member): void => {
    member.client.send('up', { n: ++member.sent, room: member.room })
  }
  // Everyone is in their room before the first room message (every 10th `up` is one).
  for (const member of members) send(member)
  await waitFor(() => members.every((member) => member.down.length > 0), {
    message: 'every client joined',
    timeoutMs: 10_000,
  })

  const total = clientCount * perClient
  const progress = (): number => members.reduce((sum, member) => sum + member.sent, 0) / total
  type Fault = { at: number; run: () => Promise<void> }
  const faults: Fault[] = [
    ...Array.from({ length: 8 }, () => ({
      at: random() * 0.8,
      run: async () => balancer.cut(),
    })),
    ...[0, 1, 2].map((i) => ({ at: 0.05 + random() * 0.6, run: () => replace(i, 'stop') })),
    ...[0, 1, 2].map((i) => ({ at: 0.05 + random() * 0.6, run: () => replace(i, 'kill') })),
    {
      at: 0.75,
      run: async () => {
        for (let i = 0; i < 3; i++) await replace(i, 'stop')
      },
    },
  ].sort((a, b) => a.at - b.at)
  let applied = 0
  const began = performance.now()
  const faultTask = (async () => {
    for (const fault of faults) {
      await waitFor(() => progress() >= fault.at, { message: 'traffic', timeoutMs: 60_000 })
      await fault.run()
      applied++
    }
  })()

  while (members.some((member) => member.sent < perClient)) {
    for (const member of members) {
      // At most 40 in flight per client: the traffic follows the cluster, not the other way.
      const burst = 1 + Math.floor(random() * 5)
      for (let k = 0; k < burst && member.sent < perClient; k++) {
        if (member.sent - member.down.length >= 40 && mode === 'cluster') break
        send(member)
      }
    }
    await pause(5)
  }
  await faultTask
  await spare
  const roomMessages = (perClient / 10) * (clientCount / rooms)
  if (mode === 'cluster') {
    await waitFor(
      () =>
        members.every(
          (member) => member.down.length >= perClient && member.said.length >= roomMessages,
        ),
      {
        message: () =>
          `every message (short: ${members
            .filter((m) => m.down.length < perClient || m.said.length < roomMessages)
            .map((m) => `${m.down.length}/${perClient} down, ${m.said.length}/${roomMessages} said`)
            .join('; ')})`,
        timeoutMs: 30_000,
      },
    )
  } else {
    // Without the shared store nothing says when all that will come has come: wait for quiet.
    let last = -1
    await waitFor(
      () => {
        const now = members.reduce((sum, m) => sum + m.down.length + m.said.length, 0)
        const quiet = now === last
        last = now
        return quiet
      },
      { message: 'quiet', timeoutMs: 20_000, intervalMs: 500 },
    )
  }
  return {
    perClient,
    members,
    log,
    all,
    applied,
    faults: faults.length,
    ms: performance.now() - began,
    roomMessages,
  }
}

describe('a cluster of 3 processes on Redis under chaos', () => {
  it('loses nothing, duplicates nothing but same-id redeliveries after SIGKILL, keeps order', async () => {
    // 10,000 messages each way in all.
    const { perClient, members, log, all, applied, faults, ms, roomMessages } = await chaosRun(
      'cluster',
      15,
      500,
    )
    expect(applied).toBe(faults)
    const expected = Array.from({ length: perClient }, (_, i) => i + 1)
    for (const member of members) {
      expect(member.resets).toBe(0)
      expect(member.down).toEqual(expected)
      // Every room message once, in order per sender: 5 members × 50 each.
      const bySender = new Map<string, number[]>()
      for (const { from, n } of member.said) bySender.set(from, [...(bySender.get(from) ?? []), n])
      expect(member.said).toHaveLength(roomMessages)
      expect(bySender.size).toBe(clientCount / rooms)
      for (const ns of bySender.values()) {
        expect(ns).toEqual(Array.from({ length: perClient / 10 }, (_, i) => (i + 1) * 10))
      }
    }
    // Server side: every `up` processed; more than once only after a SIGKILL of the process
    // that processed it first, and then with the same id.
    const byMessage = new Map<string, Processed[]>()
    for (const entry of log) {
      const key = `${entry.peer} ${entry.n}`
      byMessage.set(key, [...(byMessage.get(key) ?? []), entry])
    }
    expect(byMessage.size).toBe(clientCount * perClient)
    let redelivered = 0
    for (const entries of byMessage.values()) {
      if (entries.length === 1) continue
      redelivered += entries.length - 1
      expect(new Set(entries.map((entry) => entry.id)).size).toBe(1)
      for (const entry of entries.slice(0, -1)) {
        expect(all[entry.process]?.killed).toBe(true)
      }
    }
    // Order per session: each peer's `up`s in order, a redelivery going back only after a kill.
    const byPeer = new Map<string, Processed[]>()
    for (const entry of log) byPeer.set(entry.peer, [...(byPeer.get(entry.peer) ?? []), entry])
    for (const entries of byPeer.values()) {
      for (let i = 1; i < entries.length; i++) {
        const [before, now] = [entries[i - 1] as Processed, entries[i] as Processed]
        if (now.n !== before.n + 1) {
          expect(now.n).toBeLessThanOrEqual(before.n)
          expect(all[before.process]?.killed).toBe(true)
        }
      }
    }
    console.info(
      `chaos: ${clientCount * perClient} messages each way and ${members.length * roomMessages} room deliveries in ${Math.round(ms)} ms, ${faults} faults, ${all.length} processes started; lost 0, duplicated 0, redelivered after SIGKILL ${redelivered}`,
    )
  }, 90_000)

  it('negative control: without the shared store the same faults lose messages', async () => {
    // The same faults at the same points of a shorter run: the loss shows all the same.
    const { perClient, members, roomMessages } = await chaosRun('alone', 15, 200)
    const lostDown = members.reduce((sum, member) => sum + perClient - new Set(member.down).size, 0)
    const lostRoom = members.reduce(
      (sum, member) =>
        sum + roomMessages - new Set(member.said.map((s) => `${s.from} ${s.n}`)).size,
      0,
    )
    const resets = members.reduce((sum, member) => sum + member.resets, 0)
    console.info(
      `negative control: ${lostDown} replies lost, ${lostRoom} room deliveries lost, ${resets} resets`,
    )
    expect(resets).toBeGreaterThan(0)
    expect(lostDown + lostRoom).toBeGreaterThan(0)
  }, 90_000)
})
