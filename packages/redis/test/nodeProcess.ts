import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const source = fileURLToPath(new URL('./fixtures/chatNode.ts', import.meta.url))

/**
 * Bundles the server process's script once into one JavaScript file, which a plain `node`
 * starts in a tenth of the time tsx takes: the chaos test starts a dozen of them. Returns the
 * file and a function that removes it.
 */
export async function bundleNode(): Promise<{ script: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-chaos-'))
  const script = join(dir, 'chatNode.mjs')
  await build({
    entryPoints: [source],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // ioredis is CommonJS: its `require`s of Node's modules need a `require` in an ES module.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  })
  return { script, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A handler's processing of one `up`, as a server process reported it. */
export interface Processed {
  /** Which process (in start order) processed it. */
  process: number
  peer: string
  n: number
  id: string
}

/** A server process of the chaos test (`fixtures/chatNode.ts`). */
export class NodeProcess {
  port = 0
  killed = false
  readonly exited: Promise<void>
  private constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
  }

  /** Starts one, resolving once it listens; every `up` it processes goes to `log`. */
  static start(
    script: string,
    index: number,
    redisUrl: string,
    mode: string,
    log: Processed[],
  ): Promise<NodeProcess> {
    const child = spawn(process.execPath, [script, redisUrl, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const node = new NodeProcess(index, child)
    let errors = ''
    child.stderr?.on('data', (chunk: Buffer) => (errors = (errors + String(chunk)).slice(-4_000)))
    return new Promise((resolve, reject) => {
      let buffered = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += String(chunk)
        let end = buffered.indexOf('\n')
        while (end >= 0) {
          const [kind, a = '', b = '', c = ''] = buffered.slice(0, end).split(' ')
          buffered = buffered.slice(end + 1)
          end = buffered.indexOf('\n')
          if (kind === 'P') log.push({ process: index, peer: a, n: Number(b), id: c })
          else if (kind === 'L') {
            node.port = Number(a)
            resolve(node)
          }
        }
      })
      child.once('exit', (code) => reject(new Error(`server process exited (${code}): ${errors}`)))
    })
  }

  /** A graceful stop (SIGTERM): resolves when the process has exited. */
  async stop(): Promise<void> {
    this.child.kill('SIGTERM')
    await this.exited
  }

  /** A crash (SIGKILL): nothing is flushed. */
  async kill(): Promise<void> {
    this.killed = true
    this.child.kill('SIGKILL')
    await this.exited
  }
}
