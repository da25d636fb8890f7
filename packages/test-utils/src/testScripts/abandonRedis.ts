// Starts a Redis fixture, prints its pid and directory, and ends this process by SIGKILL without
// closing it: no exit hook runs. The test that runs this checks that neither the server nor its
// directory outlives the process.
import { startRedisServer } from '../redisServer.js'

const redis = await startRedisServer()
// stdout is a pipe, written synchronously on Linux: both lines are out before the process ends.
process.stdout.write(`${redis.pid}\n${redis.dir}\n`)
process.kill(process.pid, 'SIGKILL')
