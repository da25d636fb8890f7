import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createClient } from '@lifeline/node'
import { runScript, startRedisServer, useFixtures, waitFor } from '@lifeline/test-utils'
import { afterEach, expect, it, vi } from 'vitest'
import type { Chat } from '../../examples/scale-out/schema.js'
import { root } from '../readme/compile.js'
import { groupAlive, startExample } from './processGroup.js'

const fx = useFixtures(afterEach)
afterEach(() => {
  vi.unstubAllEnvs()
})

/** Two servers start, then each again: seconds each under tsx on a loaded machine. */
const limitMs = 90_000

// The example as its README runs it, on a Redis of the test's (`REDIS_URL`: the test command may
// have been given its own `redis-server` through REDIS_SERVER_PATH, off PATH): two processes,
// each restarted mid-chat (SIGTERM, or killed), every reconnection to the other one.
it.each(['SIGTERM', 'SIGKILL'])(
  'runs examples/scale-out, the processes restarted with %s: no sticky routing, nothing lost or duplicated',
  async (signal) => {
    const redis = fx.add(await startRedisServer())
    vi.stubEnv('REDIS_URL', redis.url)
    vi.stubEnv('RESTART_SIGNAL', signal)
    const result = await runScript(join(root, 'examples', 'scale-out', 'main.ts'), [], limitMs)
    const summary = result.out.split('\n').find((line) => line.startsWith('{'))
    expect(JSON.parse(summary ?? '{}')).toEqual({
      sent: 600,
      received: { alice: 600, bob: 600 },
      lost: 0,
      duplicated: 0,
      inOrder: true,
      restarts: 2,
      // Each restart sends every client it had to the other process, which takes its session.
      resumedElsewhere: expect.any(Number) as number,
    })
    expect(result.out).toContain(`(${signal})`)
    expect(result.out).toMatch(/: resumed session/)
    // As the README says, each attempt of a client goes to the other process than its last: none
    // is sent back to the process that has just closed it (or been killed under it).
    for (const name of ['alice', 'bob']) {
      const attempts = [...result.out.matchAll(new RegExp(`^${name}: connecting to (\\w)$`, 'gm'))]
      const to = attempts.map((match) => match[1])
      expect(to.length).toBeGreaterThanOrEqual(2)
      expect(to.filter((server, i) => i > 0 && server === to[i - 1])).toEqual([])
    }
    expect(result.code).toBe(0)
  },
  120_000,
)

// A run that fails on the way (here the second process cannot start) ends with what it started:
// the first process went on listening as an orphan, and so did the redis-server main starts.
it('stops the processes it started when it fails', async () => {
  const redis = fx.add(await startRedisServer())
  const tmp = mkdtempSync(join(tmpdir(), 'lifeline-scale-out-'))
  const failB = join(tmp, 'fail-b.cjs')
  writeFileSync(
    failB,
    "if (process.argv.at(-2) === 'B') { console.error('B: cannot start'); process.exit(3) }\n",
  )
  const { pgid, exited, out } = startExample('scale-out', {
    REDIS_URL: redis.url,
    NODE_OPTIONS: `--require ${failB}`,
  })
  try {
    expect(await exited).not.toBe(0)
    expect(out()).toContain('A: listening on')
    await waitFor(() => !groupAlive(pgid), {
      message: 'process A to have exited with main',
      timeoutMs: 15_000,
    })
  } finally {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL')
    rmSync(tmp, { recursive: true, force: true })
  }
})

// A REDIS_URL with no Redis behind it: the servers would serve without it, as during an outage,
// and the clients could not move between them. The example says so at once, and names the host
// only, since such a URL may carry a password.
it('stops at once when REDIS_URL has no Redis, naming its host but not its password', async () => {
  const probe = createNetServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  const main = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: join(root, 'examples', 'scale-out'),
    env: { ...process.env, REDIS_URL: `redis://:secret-pass@127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  fx.add(() => main.kill('SIGKILL'))
  let err = ''
  main.stderr.on('data', (chunk: Buffer) => (err += String(chunk)))
  main.stdout.resume()
  const [code] = (await once(main, 'exit')) as [number | null]
  expect(code).not.toBe(0)
  expect(err).toContain(`no Redis at 127.0.0.1:${port}`)
  expect(err).not.toContain('secret-pass')
}, 60_000)

// What a client sends is its own, whatever the schema says: a `say` with no data is ignored, as
// one the process cannot relay, where taking it apart threw in the handler, logged once a message.
it('ignores a say with no data, and logs nothing for it', async () => {
  const redis = fx.add(await startRedisServer())
  const server = spawn(process.execPath, ['--import', 'tsx', 'server.ts', 'A', redis.url], {
    cwd: join(root, 'examples', 'scale-out'),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  fx.add(() => server.kill('SIGKILL'))
  let err = ''
  server.stderr.on('data', (chunk: Buffer) => (err += String(chunk)))
  const port = await new Promise<number>((resolve) =>
    createInterface({ input: server.stdout }).on('line', (line) => {
      const listening = /listening on (\d+)/.exec(line)?.[1]
      if (listening) resolve(Number(listening))
    }),
  )
  const client = fx.add(createClient<Chat>({ url: `ws://127.0.0.1:${port}/` }))
  const said: unknown[] = []
  client.on('said', (data) => said.push(data))
  client.send('say', null as never)
  client.send('say', { n: 1 } as never)
  client.send('say', { from: 'alice', n: 2 })
  await waitFor(() => said.length > 0, { message: 'the relay of the whole say' })
  expect(said).toEqual([{ from: 'alice', n: 2 }])
  expect(err).toBe('')
}, 60_000)
