// The load process of the scale-out benchmark: runs one scenario against two server processes
// (the same port twice for the one-process harness check) on one Redis, and prints its result
// as one JSON line.
//   usage: load.ts <fanout|chat|resume|sessions> <kind> <redis port> <port> <port> <pid,pid>
import { chat, fanOut } from './traffic.js'
import { resume } from './resume.js'
import { scenarioSizes } from './schema.js'
import type { ServerKind } from './schema.js'
import { sessions } from './sessions.js'

const [scenario, kind, redisPortText, first, second, pids = ''] = process.argv.slice(2) as [
  string,
  ServerKind,
  string,
  string,
  string,
  string?,
]
/** The server processes, whose CPU the traffic scenarios read while they send. */
const serverPids = pids.split(',').filter(Boolean).map(Number)
const redisPort = Number(redisPortText)
const ports = [Number(first), Number(second)] as const
const sizes = scenarioSizes()
const { timeoutMs } = sizes

const result =
  scenario === 'fanout'
    ? await fanOut(
        kind,
        ports,
        redisPort,
        sizes.fanOutMembers,
        sizes.fanOutMessages,
        sizes.fanOutWindow,
        timeoutMs,
        serverPids,
      )
    : scenario === 'chat'
      ? await chat(kind, ports, redisPort, 100, 10, sizes.chatMessages, timeoutMs, serverPids)
      : scenario === 'resume'
        ? await resume(kind, ports, redisPort, sizes.history, timeoutMs)
        : await sessions(kind, ports, redisPort, sizes.sessionCount)

process.stdout.write(`${JSON.stringify(result)}\n`)
// Clients closed by the scenario may still be finishing their closing handshakes.
process.exit(0)
