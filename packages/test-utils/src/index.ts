export { createFaultProxy } from './faultProxy.js'
export type { FaultProxy, FaultProxyCounters, FaultProxyOptions } from './faultProxy.js'
export type { BlackholeDirection } from './proxyLink.js'
export { startWsServer, stopDefaults } from './wsServer.js'
export type {
  ConnectionHandler,
  ReceivedMessage,
  ServerConnection,
  SocketError,
  StopOptions,
  WsServerFixture,
  WsServerFixtureOptions,
} from './wsServer.js'
export { startScriptedServer } from './scriptedServer.js'
export type { ScriptedEnvelope, ScriptedLink } from './scriptedServer.js'
export { TimeoutError, expectNoEvent, once, waitDefaults, waitFor, withTimeout } from './wait.js'
export type { EventEmitterLike, EventTargetLike, Truthy, WaitForOptions } from './wait.js'
export { createFixtureScope, fixtureScopeDefaults, useFixtures } from './fixtures.js'
export type {
  Closable,
  FixtureResource,
  FixtureScope,
  FixtureScopeOptions,
  TerminableSocket,
} from './fixtures.js'
export { startBalancer } from './balancer.js'
export type { Balancer, BalancerBackend, BalancerCounters, BalancerOptions } from './balancer.js'
export { redisServerDefaults, startRedisServer } from './redisServer.js'
export type { RedisServerFixture, RedisServerOptions } from './redisServer.js'
export { RedisReplyError, sendRedisCommand } from './redisCommand.js'
export type { RedisReply } from './redisCommand.js'
export { runScript } from './runScript.js'
export type { ScriptResult } from './runScript.js'
export { madeMaps } from './madeMaps.js'
export { thrownBy } from './thrownBy.js'
export type { ListsEvery, Unset } from './unset.js'
export { steppingWallClock } from './wallClock.js'
export type { SteppingWallClock } from './wallClock.js'
