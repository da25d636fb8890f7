/**
 * The server side of the network benchmarks, in a process of its own so that its work does not
 * count in the client's CPU figure. `spawnServer` starts this file as a child; the child prints
 * `{"port":N}` on stdout once listening and exits when its stdin closes (or the parent dies).
 *
 * Kinds: `ws` (plain `ws` server, JSON text frames `{t, d}`), `lifeline` (`@lifeline/server`,
 * protocol mode, json codec) and `socketio` (socket.io, websocket transport only).
 * Modes: `sink` counts `m` messages and answers `done` after the `count`-th of a connection;
 * `echo` decodes every `m` message and sends it back. The Lifeline server also implements the RPC
 * method `echo`.
 */
import { spawn } from 'node:child_process'
import { createServer as createHttpServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { WebSocketServer } from 'ws'
import { Server as SocketIoServer } from 'socket.io'
import type { RpcMethod } from '@lifeline/core'
import { createServer } from '@lifeline/server'

export type ServerKind = 'ws' | 'lifeline' | 'socketio'
export type ServerMode = 'sink' | 'echo'

export interface ServerHandle {
  readonly port: number
  /**
   * Ends the child (closing its stdin) and waits for it to exit. Resolves with the CPU time
   * (user + system, µs) the server process spent since it started listening.
   */
  stop(): Promise<number>
}

const self = fileURLToPath(import.meta.url)

export async function spawnServer(
  kind: ServerKind,
  mode: ServerMode,
  count = 0,
): Promise<ServerHandle> {
  const child = spawn(process.execPath, ['--import', 'tsx', self, kind, mode, String(count)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const lines = () => output.split('\n').filter((line) => line !== '')
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start`)), 30_000)
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)))
    const check = () => {
      const first = lines()[0]
      if (first === undefined || !output.includes('\n')) return
      clearTimeout(timer)
      child.stdout.off('data', check)
      resolve((JSON.parse(first) as { port: number }).port)
    }
    child.stdout.on('data', check)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    port,
    stop: async () => {
      child.stdin.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
      const last = lines()[1]
      return last === undefined ? NaN : (JSON.parse(last) as { cpuUs: number }).cpuUs
    },
  }
}

/** The ~100-byte message every network benchmark sends (about 100 bytes as a JSON frame). */
export interface BenchMessage {
  n: number
  text: string
  at: number
}

export const benchText = 'x'.repeat(50)

/** The Lifeline schema of the benchmarks. */
export interface BenchSchema {
  client: { m: BenchMessage }
  server: { m: BenchMessage; done: { n: number } }
  rpc: { echo: RpcMethod<BenchMessage, BenchMessage> }
}

async function serve(kind: ServerKind, mode: ServerMode, count: number): Promise<number> {
  if (kind === 'lifeline') {
    const server = createServer<BenchSchema>({
      port: 0,
      host: '127.0.0.1',
      replayLimit: Math.max(10_000, count),
    })
    server.handle('echo', (data) => data)
    server.on('connection', (peer) => {
      let received = 0
      peer.on('m', (data) => {
        if (mode === 'echo') peer.send('m', data)
        else if (++received === count) peer.send('done', { n: received })
      })
    })
    await server.ready
    return server.port
  }
  if (kind === 'socketio') {
    const http = createHttpServer()
    const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false })
    io.on('connection', (socket) => {
      let received = 0
      socket.on('m', (data: BenchMessage) => {
        if (mode === 'echo') socket.emit('m', data)
        else if (++received === count) socket.emit('done', { n: received })
      })
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
    return (http.address() as { port: number }).port
  }
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  server.on('connection', (socket) => {
    let received = 0
    socket.on('message', (data, isBinary) => {
      // The work an application server does with a frame: decode it (and, to echo, encode it).
      const frame = JSON.parse(String(data)) as unknown
      if (mode === 'echo') {
        socket.send(JSON.stringify(frame), { binary: isBinary })
        return
      }
      if (++received === count) socket.send(JSON.stringify({ t: 'done', d: { n: received } }))
    })
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return (server.address() as { port: number }).port
}

if (process.argv[1] === self) {
  const [kind = 'ws', mode = 'sink', countText = '0'] = process.argv.slice(2)
  const port = await serve(kind as ServerKind, mode as ServerMode, Number(countText))
  const cpuBefore = process.cpuUsage()
  process.stdout.write(`${JSON.stringify({ port })}\n`)
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    const cpu = process.cpuUsage(cpuBefore)
    process.stdout.write(`${JSON.stringify({ cpuUs: cpu.user + cpu.system })}\n`, () =>
      process.exit(0),
    )
  }
  process.stdin.resume()
  process.stdin.once('end', end)
  process.stdin.once('close', end)
}
