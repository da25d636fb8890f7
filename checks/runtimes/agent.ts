import { spawn } from 'node:child_process'
import type { ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { waitFor } from '@lifeline/test-utils'
import type { Runtime } from './runtimes.js'
import { executableOf } from './runtimes.js'

const script = join(dirname(fileURLToPath(import.meta.url)), 'agent.mjs')

/** One event of a socket or client made in the agent; `t` is the agent's `Date.now()`. */
export interface AgentEvent {
  h: number
  ev: string
  t: number
  [field: string]: unknown
}

/** What the agent says about itself when it has started. */
export interface AgentInfo {
  /** The runtime and its version, as the runtime itself says (`Bun 1.4.5`). */
  runtime: string
  /** The WebSocket its sockets are given. */
  webSocket: 'global' | 'ws'
  hasGlobalWebSocket: boolean
  hasCloseEvent: boolean
}

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
}

/**
 * `agent.mjs` running under one runtime: commands go to it as calls, and what it reports back is
 * kept per handle. Any failure (the runtime does not start, the script throws, a command fails,
 * the process dies) rejects with what the runtime printed on stderr: a runtime that cannot run a
 * scenario says why.
 */
export class Agent {
  readonly events: AgentEvent[] = []
  #stderr = ''
  #nextId = 1
  readonly #pending = new Map<number, Pending>()
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  readonly #exited: Promise<void>

  private constructor(
    readonly runtime: Runtime,
    readonly info: AgentInfo,
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    lines: AsyncIterator<string>,
  ) {
    this.#exited = once(child, 'exit').then(([code, signal]) => {
      this.#exit = { code: code as number | null, signal: signal as NodeJS.Signals | null }
      const error = new Error(`${runtime.name} exited (${this.exitDescription()})${this.stderr()}`)
      for (const pending of this.#pending.values()) pending.reject(error)
      this.#pending.clear()
    })
    void this.#read(lines)
  }

  /** Starts the agent under `runtime` and waits for its first line (bounded by `limitMs`). */
  static async start(runtime: Runtime, limitMs = 30_000): Promise<Agent> {
    const child = spawn(executableOf(runtime), [...runtime.args, script, runtime.webSocket], {
      cwd: dirname(script),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    // A write to an agent that has died fails with EPIPE: its end is reported by the exit (the
    // calls waiting reject with it), not a second time as an unhandled stream error.
    child.stdin.on('error', () => undefined)
    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => (stderr += chunk))
    const lines = readLines(child.stdout)
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) =>
        reject(new Error(`could not start ${runtime.name}: ${error.message}`)),
      )
      child.once('exit', (code) =>
        reject(new Error(`${runtime.name} exited (code ${code}) before it was ready: ${stderr}`)),
      )
    })
    // Only the start is raced against the process's end; later, `#exited` reports it.
    failed.catch(() => {})
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs)
    try {
      const first = await Promise.race([lines.next(), failed])
      if (first.done) throw new Error(`${runtime.name} closed its output at once: ${stderr}`)
      const { ready } = JSON.parse(first.value) as { ready?: AgentInfo }
      if (!ready) throw new Error(`${runtime.name} began with ${first.value}, not its ready line`)
      const agent = new Agent(runtime, ready, child, lines)
      agent.#stderr = stderr
      child.stderr.on('data', (chunk: string) => (agent.#stderr += chunk))
      return agent
    } catch (error) {
      child.kill('SIGKILL')
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs one command in the agent and resolves with its answer. */
  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.#exit) {
      return Promise.reject(
        new Error(`${this.runtime.name} has exited (${this.exitDescription()})`),
      )
    }
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`)
    })
  }

  /** The events of handle `h` so far, optionally of one kind only. */
  of(h: number, ev?: string): AgentEvent[] {
    return this.events.filter((event) => event.h === h && (ev === undefined || event.ev === ev))
  }

  /** Waits until handle `h` has reported an `ev` event for which `match` holds, and returns it. */
  async next(
    h: number,
    ev: string,
    options: { after?: number; match?: (event: AgentEvent) => boolean; timeoutMs?: number } = {},
  ): Promise<AgentEvent> {
    const { after = 0, match = () => true, timeoutMs = 5_000 } = options
    return waitFor(
      () =>
        this.events.find(
          (event, i) => i >= after && event.h === h && event.ev === ev && match(event),
        ),
      {
        message: () =>
          `${ev} from handle ${h} in ${this.runtime.name}; its last events: ${this.#recent(h)}${this.stderr()}`,
        timeoutMs,
      },
    )
  }

  /**
   * Ends the agent's input: it closes what it made and must then exit by itself, with code 0,
   * within `limitMs`; rejects (after killing it) otherwise.
   */
  async stop(limitMs = 5_000): Promise<void> {
    if (!this.#exit) this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), limitMs)
    await this.#exited
    clearTimeout(timer)
    if (this.#exit?.code !== 0) {
      throw new Error(
        `${this.runtime.name} did not exit by itself within ${limitMs} ms of its input ending (${this.exitDescription()})${this.stderr()}`,
      )
    }
  }

  /** The last events of handle `h` (messages left out), for a failure's message. */
  #recent(h: number): string {
    const events = this.of(h).filter((event) => event.ev !== 'message')
    return JSON.stringify(events.slice(-12).map(({ h: _, ...event }) => event))
  }

  private exitDescription(): string {
    const exit = this.#exit
    return exit ? (exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`) : 'running'
  }

  private stderr(): string {
    const text = this.#stderr.trim()
    return text ? `; its stderr: ${text}` : ''
  }

  async #read(lines: AsyncIterator<string>): Promise<void> {
    for (;;) {
      const { value, done } = await lines.next()
      if (done) return
      let line: { id?: number; ok?: unknown; fail?: string } & Partial<AgentEvent>
      try {
        line = JSON.parse(value) as typeof line
      } catch {
        // A runtime's own chatter on stdout: not ours, kept with stderr for the failures.
        this.#stderr += `${value}\n`
        continue
      }
      if (line.id !== undefined) {
        const pending = this.#pending.get(line.id)
        this.#pending.delete(line.id)
        if (line.fail !== undefined)
          pending?.reject(new Error(`${this.runtime.name}: ${line.fail}`))
        else pending?.resolve(line.ok)
      } else {
        this.events.push(line as AgentEvent)
      }
    }
  }
}

/** The lines of a stream, as they come. */
async function* readLines(stream: Readable): AsyncGenerator<string> {
  stream.setEncoding('utf8')
  let buffered = ''
  for await (const chunk of stream) {
    buffered += chunk as string
    let end: number
    while ((end = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, end)
      buffered = buffered.slice(end + 1)
    }
  }
  if (buffered) yield buffered
}
