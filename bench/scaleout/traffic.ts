// The two delivery scenarios of the scale-out benchmark, run in the load process against two
// server processes on one Redis:
// - fan-out: 1,000 members of one room, alternately on either server; a sender (on the first)
//   keeps `window` messages in flight, sending the next when the oldest reached every member;
// - chat: 100 rooms × 10 members, each room's members alternately on either server; every
//   member sends `perClient` messages to its room, the next once its previous came back to it.
// Each is run twice on the same clients: a warm-up round of a fifth of the messages
// (`SCALEOUT_WARMUP`), from other senders, so the servers' code is compiled, then the measured
// round. Latency is the receiver's wall clock minus the timestamp the sender put in the message;
// the Redis commands the servers ran meanwhile are counted with `INFO commandstats`.
import { percentile } from '../lib/measure.js'
import { wallClockMs } from '../lib/serverProcess.js'
import { Arrivals } from './arrivals.js'
import { openChatClient } from './clients.js'
import type { ChatClient } from './clients.js'
import type { Say, ServerKind } from './schema.js'
import { pad, scenarioSizes } from './schema.js'
import { callsBetween, commandCalls, cpuSnapshot, openMany, scriptCalls, until } from './stats.js'
import type { CpuSnapshot } from './stats.js'

export interface TrafficResult {
  /** Deliveries expected: messages × members. */
  expected: number
  /** Deliveries that arrived (duplicates excluded). */
  delivered: number
  duplicates: number
  /**
   * Deliveries that came after a later message of the same sender (a message lost shows in
   * `delivered`, not here).
   */
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
  /** The warm-up round before, not measured: its deliveries and what its receivers saw amiss. */
  warmUp: { delivered: number; duplicates: number; outOfOrder: number; timedOut: boolean }
}

/** What a receiver checks: each sender's messages once, in order, counted in the round's tally. */
class Receiver {
  private readonly arrivals = new Arrivals()
  constructor(private readonly round: { tally: Tally }) {}

  receive(body: Say): void {
    const tally = this.round.tally
    const arrival = this.arrivals.arrive(body.from, body.n)
    if (arrival === 'duplicate') {
      tally.duplicates += 1
      return
    }
    // A late message is still a delivery: counted as one, and as out of order.
    if (arrival === 'late') tally.outOfOrder += 1
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
    warmUp: Tally,
    warmUpTimedOut: boolean,
  ): TrafficResult {
    const ms = this.lastAt - startedAt
    const perDelivery = (us: number) => us / this.delivered
    return {
      expected: this.expected,
      delivered: this.delivered,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      ms,
      deliveriesPerSecond: (this.delivered / ms) * 1000,
      p50Ms: percentile(this.latencies.subarray(0, this.delivered), 0.5),
      p99Ms: percentile(this.latencies.subarray(0, this.delivered), 0.99),
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
      warmUp: {
        delivered: warmUp.delivered,
        duplicates: warmUp.duplicates,
        outOfOrder: warmUp.outOfOrder,
        timedOut: warmUpTimedOut,
      },
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
  const round = { tally: new Tally(members * warmUpMessages(messages)) }
  const clients = await openMany(members, async (i) => {
    const receiver = new Receiver(round)
    const client = await openChatClient(kind, ports[i % 2] as number, (body) =>
      receiver.receive(body),
    )
    await client.join(room)
    return client
  })
  const sender = await openChatClient(kind, ports[0], () => {})
  /** Sends `count` messages as sender `from`, `window` in flight, counted in `tally`. */
  const send = (tally: Tally, from: number, count: number) => {
    round.tally = tally
    const reached = new Uint32Array(count)
    let sent = 0
    let complete = 0
    const sendNext = () => {
      if (sent < count) sender.say(say(room, from, sent++))
    }
    tally.onDelivery = (body) => {
      if (++reached[body.n]! === members) {
        complete += 1
        sendNext()
      }
    }
    for (let i = 0; i < window; i++) sendNext()
    return { done: until(() => complete === count, timeoutMs), sent: () => sent }
  }
  // The warm-up, as another sender: the servers' code is compiled before the measured round.
  const warm = round.tally
  const warmTimedOut = await timesOut(send(warm, 1, warmUpMessages(messages)).done)
  const tally = new Tally(members * messages)
  const before = await commandCalls(redisPort)
  const cpuAtStart = await cpuSnapshot(serverPids, redisPort)
  const startedAt = wallClockMs()
  const measured = send(tally, 0, messages)
  const timedOut = await timesOut(measured.done)
  const cpu = cpuSince(cpuAtStart, await cpuSnapshot(serverPids, redisPort))
  const calls = callsBetween(before, await commandCalls(redisPort))
  closeAll([...clients, sender])
  return tally.result(startedAt, cpu, timedOut, measured.sent(), calls, warm, warmTimedOut)
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
  const warmUp = warmUpMessages(perClient)
  // Member i sends as `i + offset`: the warm-up's senders are others than the measured round's.
  const round = {
    tally: new Tally(members * warmUp * perRoom),
    offset: members,
    perClient: warmUp,
    sent: new Uint32Array(members),
  }
  let clients: ChatClient[] = []
  const clientsReady = openMany(members, async (i) => {
    const room = `chat-${i % rooms}`
    const receiver = new Receiver(round)
    // Member k of a room (i = room + k × rooms) is on server k % 2: every room spans both.
    const client = await openChatClient(
      kind,
      ports[Math.floor(i / rooms) % 2] as number,
      (body) => {
        receiver.receive(body)
        // Its own message came back: the member sends its next.
        const { offset, sent } = round
        if (body.from === i + offset && sent[i]! < round.perClient) {
          clients[i]?.say(say(room, i + offset, sent[i]!++))
        }
      },
    )
    await client.join(room)
    return client
  })
  clients = await clientsReady
  // Each member's first message of a round, if the round has any: a warm-up of no message (a
  // share that rounds to 0) must send none, or its messages, still in flight, would count in
  // the measured round and end it early.
  const start = () => {
    const { offset, sent, perClient: count } = round
    clients.forEach((client, i) => {
      if (sent[i]! < count) client.say(say(`chat-${i % rooms}`, i + offset, sent[i]!++))
    })
  }
  // The warm-up: the servers' code is compiled before the measured round.
  start()
  const warm = round.tally
  const warmTimedOut = await timesOut(until(() => warm.delivered >= warm.expected, timeoutMs))
  Object.assign(round, {
    tally: new Tally(members * perClient * perRoom),
    offset: 0,
    perClient,
    sent: new Uint32Array(members),
  })
  const tally = round.tally
  const before = await commandCalls(redisPort)
  const cpuAtStart = await cpuSnapshot(serverPids, redisPort)
  const startedAt = wallClockMs()
  start()
  const timedOut = await timesOut(until(() => tally.delivered >= tally.expected, timeoutMs))
  const cpu = cpuSince(cpuAtStart, await cpuSnapshot(serverPids, redisPort))
  const calls = callsBetween(before, await commandCalls(redisPort))
  closeAll(clients)
  const messages = round.sent.reduce((sum, count) => sum + count, 0)
  return tally.result(startedAt, cpu, timedOut, messages, calls, warm, warmTimedOut)
}

/** The warm-up round's messages per sender: a share of the measured round's (none for 0). */
function warmUpMessages(measured: number): number {
  return Math.round(measured * scenarioSizes().warmUpShare)
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
