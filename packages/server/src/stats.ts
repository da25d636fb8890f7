/** Counters of a server since it was created, and what is live now. */
export interface ServerStats {
  /** Sockets open now (handshaking or attached to a session). */
  connections: number
  /** Sessions held now: attached, or waiting for their client to resume. */
  sessions: number
  /** Bytes written to open sockets and not sent yet, all connections together, now. */
  unsentBytes: number
  /** Sockets accepted since the start. */
  connectionsAccepted: number
  /** Sessions created (new, or restored from the store after a restart). */
  sessionsCreated: number
  /** Handshakes that resumed a session. */
  sessionsResumed: number
  /** Sessions that expired without their client coming back. */
  sessionsExpired: number
  /** Frames that did not decode, or came as the wrong kind (closes 1007 and 1003). */
  decodeErrors: number
  /** Protocol violations: bad envelopes, unknown control frames, sequence gaps, no subprotocol (1002). */
  protocolErrors: number
  /** Frames over `maxMessageSize` (1009). */
  oversize: number
  /** Connections refused by `authenticate` as unauthenticated (4401). */
  authFailures: number
  /** Connections refused by `authenticate` as forbidden (4403). */
  forbidden: number
  /** Connections refused because `authenticate` threw `authUnavailable()` (1013). */
  authUnavailable: number
  /** Upgrade requests refused for their `Origin` (HTTP 403). */
  originRejected: number
  /** Connections that sent no `$hello` in time (4408). */
  helloTimeouts: number
  /** Connections terminated for missing the heartbeat. */
  heartbeatTimeouts: number
  /** Connections closed because a newer one resumed their session, or reset it (4409). */
  takeovers: number
  /** Sessions let go because another process of the cluster took them over (`'moved'`). */
  sessionsMoved: number
  /** Connections refused for their address's connection rate (1013, `RATE_LIMITED`). */
  rateLimited: number
  /** New sessions refused by `sessionsPerAddress` or `maxSessions` (1013, `TOO_MANY_SESSIONS`). */
  sessionsRefused: number
  /** Sockets dropped for not completing their upgrade request in `upgradeTimeoutMs` (HTTP 408). */
  upgradeTimeouts: number
  /**
   * Times the server held a connection back because its output, unsent or unacknowledged,
   * passed `outboundHighWaterBytes`: its reads paused until the output drained, or its frames
   * waited until its acknowledgements brought the output back under the mark.
   */
  readsPaused: number
  /**
   * Times a client was asked to resend what the server discarded past what may wait: with
   * `$resend` on its link, or, if it cannot take that, by a close (1012) and a resume.
   */
  resendsAsked: number
  /** Connections closed as slow consumers: unsent output past `maxOutboundBytes` (4429). */
  slowConsumers: number
  /** Exceptions thrown by the application's listeners and handlers. */
  handlerErrors: number
  /** User messages received and processed (duplicates excluded). */
  messagesReceived: number
  /** Envelopes written to sockets (control frames and resends included). */
  framesSent: number
}

export type StatsCounter = Exclude<keyof ServerStats, 'connections' | 'sessions' | 'unsentBytes'>

export function createCounters(): Record<StatsCounter, number> {
  return {
    connectionsAccepted: 0,
    sessionsCreated: 0,
    sessionsResumed: 0,
    sessionsExpired: 0,
    decodeErrors: 0,
    protocolErrors: 0,
    oversize: 0,
    authFailures: 0,
    forbidden: 0,
    authUnavailable: 0,
    originRejected: 0,
    helloTimeouts: 0,
    heartbeatTimeouts: 0,
    takeovers: 0,
    sessionsMoved: 0,
    rateLimited: 0,
    sessionsRefused: 0,
    upgradeTimeouts: 0,
    readsPaused: 0,
    resendsAsked: 0,
    slowConsumers: 0,
    handlerErrors: 0,
    messagesReceived: 0,
    framesSent: 0,
  }
}
