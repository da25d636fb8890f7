// Starts a Redis fixture, prints its pid, and ends this process by SIGKILL without closing it:
// no exit hook runs. The test that runs this checks that the server does not outlive the process.
import { startRedisServer } from '../redisServer.js'

const redis = await startRedisServer()
// stdout is a pipe, written synchronously on Linux: the pid is out before the process ends.
process.stdout.write(`${redis.pid}\n`)
process.kill(process.pid, 'SIGKILL')
