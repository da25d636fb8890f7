import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runScript } from './runScript.js'
import { waitFor } from './wait.js'

const script = fileURLToPath(new URL('./testScripts/leaveChild.ts', import.meta.url))

/** A process's id: not 0, -1 or a group (which `process.kill` would signal whole). */
function isPid(pid: number | undefined): pid is number {
  return pid !== undefined && Number.isSafeInteger(pid) && pid > 1
}

/**
 * Whether process `pid` is alive. A zombie (killed, its parent gone, not yet reaped by whatever
 * adopted it, which in a container may take a while) holds nothing, and counts as gone: `kill`
 * alone still finds it.
 */
function alive(pid: number): boolean {
  // Never 0 or a negative number, which would name a process group: this test's own included.
  if (!isPid(pid)) throw new Error(`not a pid: ${pid}`)
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    // No /proc (not Linux), or gone since: as `kill` found it.
    return true
  }
}

describe('runScript', () => {
  it('ends the script and what it started when its time is up', async () => {
    let out = ''
    await expect(
      runScript(script, [], 3_000).catch((error: Error) => {
        out = error.message
        throw error
      }),
    ).rejects.toThrow(/did not exit by itself/)
    const pid = Number(/printed: (\d+)/.exec(out)?.[1])
    expect(pid).toBeGreaterThan(0)
    await waitFor(() => !alive(pid), { message: 'the child to be gone', timeoutMs: 10_000 })
  }, 30_000)

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'ends the script and what it started when %s ends the process that runs it',
    async (signal) => {
      const dir = mkdtempSync(join(tmpdir(), 'lifeline-run-script-'))
      const pidFile = join(dir, 'pids')
      const runner = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./testScripts/runLeaveChild.ts', import.meta.url)),
          pidFile,
        ],
        { stdio: 'ignore' },
      )
      const exited = new Promise((resolve) => runner.once('exit', resolve))
      let pids: number[] = []
      try {
        pids = await waitFor(
          () => {
            try {
              // Both pids, or nothing yet: a file read while it is written may be empty.
              const both = /^(\d+) (\d+)$/.exec(readFileSync(pidFile, 'utf8'))
              return both === null ? undefined : [Number(both[1]), Number(both[2])]
            } catch {
              return undefined
            }
          },
          { message: 'the pids', timeoutMs: 20_000 },
        )
        runner.kill(signal)
        await exited
        for (const pid of pids) {
          await waitFor(() => !alive(pid), { message: `${pid} to be gone`, timeoutMs: 10_000 })
        }
      } finally {
        // What a failing run leaves is ended here, never left to the machine.
        for (const pid of [runner.pid, ...pids]) {
          try {
            if (isPid(pid)) process.kill(pid, 'SIGKILL')
          } catch {
            // Gone already.
          }
        }
        rmSync(dir, { recursive: true, force: true })
      }
    },
    30_000,
  )
})
