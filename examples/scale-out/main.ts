// Scale-out with no sticky routing: two server processes on one Redis, and two chat clients in
// one room whose every reconnection goes to the next process in turn (as a load balancer with no
// stickiness would send it). Mid-chat each process is restarted in turn (SIGTERM: its clients are
// told 1012 and resume on the other process). At the end each client checks that it got every
// message of the room once, in order per sender, and one JSON line of results is printed.
//   REDIS_URL=redis://… to use a Redis of yours; else `redis-server` from PATH is started.
//   RESTART_SIGNAL=SIGKILL to kill the processes instead (no close, no last store write).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { createClient, type Client } from '@lifeline/node'
import { Redis } from 'ioredis'
import type { Chat } from './schema.js'

const messages = Number(process.env.MESSAGES ?? 300)
const sendEveryMs = 5
const names = ['alice', 'bob'] as const
const restartSignal = process.env.RESTART_SIGNAL === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Every child process started, stopped with this one whatever happens. */
const children = new Set<ChildProcess>()
const stopAll = () => {
  for (const child of children) child.kill('SIGTERM')
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll()
    process.exit(1)
  })
}
// And when this process ends on an error (a process that does not start, Redis that cannot be
// reached): the processes started before it would go on listening as orphans.
process.on('exit', stopAll)

function run(command: string, args: string[], onLine: (line: string) => void): ChildProcess {
  const child = spawn(command, args, {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  createInterface({ input: child.stdout! }).on('line', onLine)
  return child
}

function stopped(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  child.kill(signal)
  return once(child, 'exit')
}

/** A port free now, for redis-server (which cannot be told to pick one itself). */
async function freePort(): Promise<number> {
  const probe = createNetServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** The Redis to use: REDIS_URL, or a `redis-server` started here without persistence. */
async function startRedis(): Promise<{ url: string; child?: ChildProcess }> {
  const given = process.env.REDIS_URL
  if (given) {
    // Asked once, at once: the servers would serve without it (as during an outage) and the
    // clients could not move between them, which is the point of the example.
    const probe = new Redis(given, { lazyConnect: true, retryStrategy: () => null })
    let cause: unknown
    probe.on('error', (error) => (cause = error))
    try {
      await probe.connect()
      await probe.ping()
    } catch (error) {
      // The host only: the URL may carry a password.
      const host = URL.canParse(given) ? new URL(given).host : 'REDIS_URL'
      throw new Error(`no Redis at ${host}: ${String(cause ?? error)}`)
    } finally {
      probe.disconnect()
    }
    return { url: given }
  }
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  return new Promise((resolve, reject) => {
    const child = run('redis-server', args, (line) => {
      if (line.includes('Ready to accept connections')) {
        resolve({ url: `redis://127.0.0.1:${port}`, child })
      }
    })
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error(
              'redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_URL',
            )
          : error,
      ),
    )
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)))
  })
}

/** Sessions taken over from the other process, as the servers report them. */
let resumed = 0

/** Starts one server process and resolves once it listens. */
function startServer(name: string, redisUrl: string) {
  return new Promise<{ child: ChildProcess; port: number }>((resolve, reject) => {
    const child = run(
      process.execPath,
      ['--import', 'tsx', 'server.ts', name, redisUrl],
      (line) => {
        console.log(line)
        if (line.includes(': resumed session')) resumed++
        const listening = /listening on (\d+)/.exec(line)
        if (listening) resolve({ child, port: Number(listening[1]) })
      },
    )
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)))
  })
}

const redis = await startRedis()
const servers = [await startServer('A', redis.url), await startServer('B', redis.url)]

// Each attempt of a client goes to the process after the one of its last attempt: a client is
// never sent back to where it was. The turn is the client's own: one shared by the clients sent
// a client's every other attempt back to the process that had just closed it.
const nextUrl = (name: string, turn: number) => {
  const index = turn % servers.length
  console.log(`${name}: connecting to ${index === 0 ? 'A' : 'B'}`)
  return `ws://127.0.0.1:${servers[index]!.port}/`
}

/** What each client got, by sender: the `n`s in the order they came. */
const got = new Map<string, Map<string, number[]>>()
const clients = new Map<string, Client<Chat>>()
for (const [first, name] of names.entries()) {
  let turn = first
  const client = createClient<Chat>({
    url: () => nextUrl(name, turn++),
    socket: { maxDelayMs: 500 },
  })
  const bySender = new Map<string, number[]>(names.map((sender) => [sender, []]))
  got.set(name, bySender)
  client.on('said', ({ from, n }) => bySender.get(from)?.push(n))
  client.events.on('statechange', (state) => {
    if (state.status === 'open')
      console.log(`${name}: open, session ${state.resumed ? 'resumed' : 'new'}`)
  })
  clients.set(name, client)
}

// Both in the room (a member gets what the room is sent from its join on), then both chat; each
// process is restarted in turn on the way.
await Promise.all(
  [...clients.values()].map(
    (client) =>
      new Promise<void>((resolve) => {
        if (client.state.status === 'open') return resolve()
        const opened = () => {
          if (client.state.status !== 'open') return
          client.events.off('statechange', opened)
          resolve()
        }
        client.events.on('statechange', opened)
      }),
  ),
)

const restartAt = new Set([Math.floor(messages / 3), Math.floor((2 * messages) / 3)])
let restarts = 0
for (let n = 1; n <= messages; n++) {
  for (const name of names) clients.get(name)!.send('say', { from: name, n })
  if (restartAt.has(n)) {
    const index = restarts++ % servers.length
    const name = index === 0 ? 'A' : 'B'
    console.log(`main: restarting ${name} (${restartSignal})`)
    await stopped(servers[index]!.child, restartSignal)
    servers[index] = await startServer(name, redis.url)
  }
  await sleep(sendEveryMs)
}

// Every message of the room, to every member: 2 × messages each.
const complete = () =>
  [...got.values()].every((bySender) =>
    [...bySender.values()].every((list) => list.length >= messages),
  )
const deadline = Date.now() + 30_000
while (!complete() && Date.now() < deadline) await sleep(20)

let lost = 0
let duplicated = 0
let inOrder = true
for (const bySender of got.values()) {
  for (const list of bySender.values()) {
    const seen = new Set(list)
    duplicated += list.length - seen.size
    for (let n = 1; n <= messages; n++) if (!seen.has(n)) lost++
    if (list.some((n, i) => i > 0 && n <= list[i - 1]!)) inOrder = false
  }
}
const received = Object.fromEntries(
  [...got].map(([name, bySender]) => [
    name,
    [...bySender.values()].reduce((sum, list) => sum + list.length, 0),
  ]),
)
for (const client of clients.values()) client.close()
await Promise.all(servers.map((server) => stopped(server.child)))
if (redis.child) await stopped(redis.child)

console.log(
  JSON.stringify({
    sent: messages * names.length,
    received,
    lost,
    duplicated,
    inOrder,
    restarts,
    resumedElsewhere: resumed,
  }),
)
process.exitCode = lost === 0 && duplicated === 0 && inOrder ? 0 : 1
