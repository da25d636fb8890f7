// The two delivery scenarios of the scale-out benchmark, run in the load process against two
// server processes on one Redis:
// - fan-out: 1,000 members of one room, alternately on either server; a sender (on the first)
//   keeps `window` messages in flight, sending the next when the oldest reached every member;
// - chat: 100 rooms × 10 members, each room's members alternately on either server; every
//   member sends `perClient` messages to its room, the next once its previous came back to it.
// Latency is the receiver's wall clock minus the timestamp the sender put in the message; the
// Redis commands the servers ran meanwhile are counted with `INFO commandstats`.
import { wallClockMs } from '../lib/serverProcess.js'
import { openChatClient } from './clients.js'
import type { ChatClient } from './clients.js'
import type { Say, ServerKind } from './schema.js'
import { pad } from './schema.js'
import {
  callsBetween,
  commandCalls,
  cpuSnapshot,
  openMany,
  percentile,
  scriptCalls,
  until,
} from './stats.js'
import type { CpuSnapshot } from './stats.js'

export interface TrafficResult {
  /** Deliveries expected: messages × members. */
  expected: number
  /** Deliveries that arrived (duplicates excluded). */
  delivered: number
  duplicates: number
  /** Messages that overtook an earlier one of the same sender at a receiver. */
  outOfOrder: number
  /** From the first send to the last delivery. */
  ms: number
  deliveriesPerSecond: number
  p50Ms: number
  p99Ms: number
  /** The scenario did not complete within its time limit (the figures cover what arrived). */
  timedOut: boolean
  /**
   * Redis commands the servers ran per message sent, over the whole scenario, those that Lua
   * scripts ran included (`INFO commandstats` counts them).
   */
  redisCommandsPerMessage: number
  /**
   * CPU µs per delivery from the first send to the last delivery: of both server processes,
   * of the load process (every client: on a machine of few cores it is paid out of the servers'
   * share), and of Redis; and the servers' write system calls per delivery.
   */
  cpuUsPerDelivery: CpuSnapshot
  /** Of which script calls (`EVALSHA`, `EVAL`): each one request, whatever it runs. */
  redisScriptsPerMessage: number
  /** The most called ones, `[command, calls per message]`. */
  topCommands: Array<[string, number]>
}

/** What a receiver checks: each sender's messages once, in order. */
class Receiver {
  private readonly last = new Map<number, number>()
  constructor(private readonly tally: Tally) {}

  receive(body: Say): void {
    const tally = this.tally
    const previous = this.last.get(body.from) ?? -1
    if (body.n <= previous) {
      tally.duplicates += 1
      return
    }
    if (body.n !== previous + 1) tally.outOfOrder += 1
    this.last.set(body.from, body.n)
    tally.latencies[tally.delivered++] = wallClockMs() - body.at
    tally.lastAt = wallClockMs()
    tally.onDelivery(body)
  }
}

class Tally {
  delivered = 0
  duplicates = 0
  outOfOrder = 0
  lastAt = 0
  readonly latencies: Float64Array
  onDelivery: (body: Say) => void = () => {}
  constructor(readonly expected: number) {
    this.latencies = new Float64Array(expected)
  }

  result(
    startedAt: number,
    cpu: CpuSnapshot,
    timedOut: boolean,
    messages: number,
    calls: Array<[string, number]>,
  ): TrafficResult {
    const ms = this.lastAt - startedAt
    const perDelivery = (us: number) => us / this.delivered
    const latencies = Array.from(this.latencies.subarray(0, this.delivered))
    return {
      expected: this.expected,
      delivered: this.delivered,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      ms,
      deliveriesPerSecond: (this.delivered / ms) * 1000,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      timedOut,
      cpuUsPerDelivery: {
        servers: perDelivery(cpu.servers),
        load: perDelivery(cpu.load),
        redis: perDelivery(cpu.redis),
        serverWrites: perDelivery(cpu.serverWrites),
      },
      redisCommandsPerMessage: calls.reduce((sum, [, count]) => sum + count, 0) / messages,
      redisScriptsPerMessage: scriptCalls(calls) / messages,
      topCommands: calls.slice(0, 4).map(([command, count]) => [command, count / messages]),
    }
  }
}

const say = (room: string, from: number, n: number): Say => ({
  room,
  from,
  n,
  at: wallClockMs(),
  pad,
})

export async function fanOut(
  kind: ServerKind,
  ports: readonly [number, number],
  redisPort: number,
  members: number,
  messages: number,
  window: number,
  timeoutMs: number,
  serverPids: readonly number[],
): Promise<TrafficResult> {
  const room = 'fan'
  const tally = new Tally(members * messages)
  const clients = await openMany(members, async (i) => {
    const receiver = new Receiver(tally)
    const client = await openChatClient(kind, ports[i % 2] as number, (body) =>
      receiver.receive(body),
    )
    await client.join(room)
    return client
  })
  const sender = await openChatClient(kind, ports[0], () => {})
  const reached = new Uint32Array(messages)
  let sent = 0
  let complete = 0
  const sendNext = () => {
    if (sent < messages) sender.say(say(room, 0, sent++))
  }
  tally.onDelivery = (body) => {
    if (++reached[body.n]! === members) {
      complete += 1
      sendNext()
    }
  }
  const before = await commandCalls(redisPort)
  const cpuAtStart = await cpuSnapshot(serverPids, redisPort)
  const startedAt = wallClockMs()
  for (let i = 0; i < window; i++) sendNext()
  const timedOut = await timesOut(until(() => complete === messages, timeoutMs))
  const cpu = cpuSince(cpuAtStart, await cpuSnapshot(serverPids, redisPort))
  const calls = callsBetween(before, await commandCalls(redisPort))
  closeAll([...clients, sender])
  return tally.result(startedAt, cpu, timedOut, sent, calls)
}

export async function chat(
  kind: ServerKind,
  ports: readonly [number, number],
  redisPort: number,
  rooms: number,
  perRoom: number,
  perClient: number,
  timeoutMs: number,
  serverPids: readonly number[],
): Promise<TrafficResult> {
  const members = rooms * perRoom
  const tally = new Tally(members * perClient * perRoom)
  const sent = new Uint32Array(members)
  let clients: ChatClient[] = []
  const clientsReady = openMany(members, async (i) => {
    const room = `chat-${i % rooms}`
    const receiver = new Receiver(tally)
    // Member k of a room (i = room + k × rooms) is on server k % 2: every room spans both.
    const client = await openChatClient(
      kind,
      ports[Math.floor(i / rooms) % 2] as number,
      (body) => {
        receiver.receive(body)
        // Its own message came back: the member sends its next.
        if (body.from === i && sent[i]! < perClient) clients[i]?.say(say(room, i, sent[i]!++))
      },
    )
    await client.join(room)
    return client
  })
  clients = await clientsReady
  const before = await commandCalls(redisPort)
  const cpuAtStart = await cpuSnapshot(serverPids, redisPort)
  const startedAt = wallClockMs()
  clients.forEach((client, i) => client.say(say(`chat-${i % rooms}`, i, sent[i]!++)))
  const timedOut = await timesOut(until(() => tally.delivered >= tally.expected, timeoutMs))
  const cpu = cpuSince(cpuAtStart, await cpuSnapshot(serverPids, redisPort))
  const calls = callsBetween(before, await commandCalls(redisPort))
  closeAll(clients)
  const messages = sent.reduce((sum, count) => sum + count, 0)
  return tally.result(startedAt, cpu, timedOut, messages, calls)
}

function cpuSince(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return {
    servers: after.servers - before.servers,
    load: after.load - before.load,
    redis: after.redis - before.redis,
    serverWrites: after.serverWrites - before.serverWrites,
  }
}

/** Whether `wait` rejected (ran out of time). */
function timesOut(wait: Promise<void>): Promise<boolean> {
  return wait.then(
    () => false,
    () => true,
  )
}

function closeAll(clients: readonly ChatClient[]) {
  for (const client of clients) client.close()
}
