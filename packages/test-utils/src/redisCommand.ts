import { connect } from 'node:net'
import { withTimeout } from './wait.js'

/** A decoded RESP2 reply: status and bulk strings, integers, nil, arrays. */
export type RedisReply = string | number | null | RedisReply[]

/** Raised when Redis answers a command with an error reply (`-ERR …`, `-LOADING …`). */
export class RedisReplyError extends Error {
  override readonly name = 'RedisReplyError'
}

/**
 * Sends one command on a fresh connection and resolves with its decoded reply; rejects with a
 * `RedisReplyError` on an error reply, or with the socket's error (refused, reset).
 *
 * A test helper, not a client: one connection per command, no pipelining, no RESP3. It lets the
 * fixtures and tests talk to a `redis-server` without depending on a Redis client library.
 */
export function sendRedisCommand(
  port: number,
  args: readonly (string | number)[],
  options: { host?: string; timeoutMs?: number } = {},
): Promise<RedisReply> {
  const socket = connect({ port, host: options.host ?? '127.0.0.1' })
  socket.setNoDelay(true)
  const reply = new Promise<RedisReply>((resolve, reject) => {
    let buffer = Buffer.alloc(0)
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`Redis on port ${port} closed before replying`)))
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      let parsed: Parsed | undefined
      try {
        parsed = parseReply(buffer, 0)
      } catch (error) {
        reject(error as Error)
        return
      }
      if (parsed !== undefined) resolve(parsed.value)
    })
    socket.write(encodeCommand(args))
  })
  return withTimeout(reply, options.timeoutMs ?? 2_000, `a reply to ${String(args[0])}`).finally(
    () => socket.destroy(),
  )
}

function encodeCommand(args: readonly (string | number)[]): Buffer {
  const parts = [`*${args.length}\r\n`]
  for (const arg of args) {
    const text = String(arg)
    parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`)
  }
  return Buffer.from(parts.join(''))
}

interface Parsed {
  value: RedisReply
  next: number
}

/** Decodes the reply starting at `offset`, or returns undefined when more bytes are needed. */
function parseReply(buffer: Buffer, offset: number): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset)
  if (lineEnd === -1) return undefined
  const type = String.fromCharCode(buffer[offset] ?? 0)
  const line = buffer.toString('utf8', offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, next }
    case '-':
      throw new RedisReplyError(line)
    case ':':
      return { value: Number(line), next }
    case '$': {
      const length = Number(line)
      if (length < 0) return { value: null, next }
      if (buffer.length < next + length + 2) return undefined
      return { value: buffer.toString('utf8', next, next + length), next: next + length + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, next }
      const items: RedisReply[] = []
      let position = next
      for (let i = 0; i < count; i += 1) {
        const item = parseReply(buffer, position)
        if (item === undefined) return undefined
        items.push(item.value)
        position = item.next
      }
      return { value: items, next: position }
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`)
  }
}
