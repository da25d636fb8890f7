import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { useFixtures } from './fixtures.js'
import { RedisReplyError } from './redisCommand.js'
import { launchRedisServer, startRedisServer } from './redisServer.js'
import { runScript } from './runScript.js'
import { waitFor } from './wait.js'

const fx = useFixtures(afterEach)
const abandonRedis = fileURLToPath(new URL('./testScripts/abandonRedis.ts', import.meta.url))

/** Whether `pid` is a live process: a zombie (exited, not yet reaped) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The state is the field after the parenthesised command name.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

async function freePort(): Promise<number> {
  const server = await listen()
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('startRedisServer', () => {
  it('runs redis-server on 127.0.0.1 in a temp dir of its own, with nothing persisted', async () => {
    const redis = fx.add(await startRedisServer())
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`)
    expect(redis.running).toBe(true)
    expect(await redis.command('SET', 'key', 'value')).toBe('OK')
    expect(await redis.command('GET', 'key')).toBe('value')
    expect(await redis.command('CONFIG', 'GET', 'save')).toEqual(['save', ''])
    expect(await redis.command('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'no'])
    expect(await redis.command('CONFIG', 'GET', 'bind')).toEqual(['bind', '127.0.0.1'])
    expect(await redis.command('CONFIG', 'GET', 'dir')).toEqual(['dir', redis.dir])
    await expect(redis.command('NO-SUCH-COMMAND')).rejects.toBeInstanceOf(RedisReplyError)

    const other = fx.add(await startRedisServer())
    expect(other.port).not.toBe(redis.port)
    expect(other.dir).not.toBe(redis.dir)
    expect(await other.command('GET', 'key')).toBeNull()
  })

  it('stop() frees the port; restart() comes back on it, empty without persistence', async () => {
    const redis = fx.add(await startRedisServer())
    await redis.command('SET', 'key', 'value')

    await redis.stop()
    expect(redis.running).toBe(false)
    await expect(redis.command('PING')).rejects.toMatchObject({ code: 'ECONNREFUSED' })

    await redis.restart()
    expect(redis.running).toBe(true)
    expect(await redis.command('GET', 'key')).toBeNull()
  })

  it('with persistence, what was acknowledged survives kill() (SIGKILL) and restart()', async () => {
    const redis = fx.add(await startRedisServer({ persistence: true }))
    expect(await redis.command('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'yes'])
    await redis.command('SET', 'key', 'value')
    const pid = redis.pid

    await redis.kill()
    expect(pid !== undefined && isAlive(pid)).toBe(false)
    await expect(redis.command('PING')).rejects.toMatchObject({ code: 'ECONNREFUSED' })

    await redis.restart()
    expect(await redis.command('GET', 'key')).toBe('value')
    // restart() on a running server stops it first.
    await redis.restart()
    expect(await redis.command('GET', 'key')).toBe('value')
  })

  it('close() ends the process and removes its directory, and is idempotent', async () => {
    const redis = await startRedisServer()
    const pid = redis.pid ?? 0
    expect(isAlive(pid)).toBe(true)
    expect(existsSync(redis.dir)).toBe(true)

    await Promise.all([redis.close(), redis.close()])
    expect(isAlive(pid)).toBe(false)
    expect(existsSync(redis.dir)).toBe(false)
    expect(redis.running).toBe(false)
    await expect(redis.restart()).rejects.toThrow(/after close/)
  })

  it('tries another port when the chosen one is taken before Redis binds it', async () => {
    const squatter = fx.add(await listen())
    const taken = (squatter.address() as AddressInfo).port
    const chosen: number[] = []
    const redis = fx.add(
      await launchRedisServer({}, async () => {
        const port = chosen.length === 0 ? taken : await freePort()
        chosen.push(port)
        return port
      }),
    )
    expect(chosen).toHaveLength(2)
    expect(redis.port).toBe(chosen[1])
    expect(await redis.command('PING')).toBe('PONG')
  })

  it('says what to install when there is no redis-server', async () => {
    await expect(
      startRedisServer({ redisServerPath: '/nonexistent/redis-server' }),
    ).rejects.toThrow(
      /\/nonexistent\/redis-server is not an executable\. Install it \(Debian: apt-get install -y redis-server\) or point REDIS_SERVER_PATH/,
    )
  })

  it('never outlives the process that started it, even one killed by SIGKILL', async () => {
    // Bounded below the test's timeout, so that runScript kills a child that hangs.
    const { out } = await runScript(abandonRedis, [], 8_000)
    const [pidLine = '', dir = ''] = out.trim().split('\n')
    const pid = Number(pidLine)
    expect(pid).toBeGreaterThan(0)
    expect(dir).toMatch(/lifeline-redis-/)
    await waitFor(() => !isAlive(pid), { message: `redis-server ${pid} to be gone` })
    await waitFor(() => !existsSync(dir), { message: `${dir} to be removed` })
  }, 15_000)

  it('removes its directory when no port can be chosen', async () => {
    // A temp dir of the test's own, so that other fixtures' directories do not count.
    const tmp = mkdtempSync(join(tmpdir(), 'lifeline-tmp-'))
    fx.add(() => rmSync(tmp, { recursive: true, force: true }))
    vi.stubEnv('TMPDIR', tmp)
    fx.add(() => vi.unstubAllEnvs())

    await expect(
      launchRedisServer({}, () => Promise.reject(new Error('no port to be had'))),
    ).rejects.toThrow('no port to be had')
    expect(readdirSync(tmp)).toEqual([])
  })
})
