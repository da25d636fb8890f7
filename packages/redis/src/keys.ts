/** The names of every Redis key and channel, under one prefix. */
export interface Keys {
  /** A session's hash (its state and its kept envelopes). */
  session(id: string): string
  /**
   * The token a released session was last held by, kept a time to live: a stale owner's commit
   * of it is fenced, rather than found missing and stored again whole.
   */
  fence(id: string): string
  /** Where a process hears that another claimed one of its sessions. */
  revokeChannel(processId: string): string
  /** A room's history stream (the broadcast's for `'\u0000'`). */
  history(room: string): string
  /** A room send's idempotency key: an id is remembered per room. */
  sent(room: string, id: string): string
  /** A room's channel: its messages and presence events. */
  channel(room: string): string
  /** Who is in a room: peer id → process id. */
  presence(room: string): string
  /** A process's presence entries (`"<peer> <room>"`), for its cleanup when it dies. */
  processMembers(processId: string): string
  /**
   * Presence entries a move left to the session's new process (`"<process> <peer> <room>"`,
   * scored by when they lapse): one the new process did not take over by then is removed.
   */
  moves(): string
  /** A process's heartbeat. */
  process(processId: string): string
  /** The processes of the cluster. */
  processes(): string
  /**
   * A random value the first process to find it missing writes (no expiry): a process that saw
   * another value, or none where it saw one, knows that Redis lost its data since.
   */
  generation(): string
  /**
   * Set for `processTtlMs` when a process finds that Redis lost its data: meanwhile a claim that
   * finds no session waits for the process that holds it to store it again.
   */
  refilling(): string
  readonly prefix: string
  /** What every channel's name begins with (the prefix, and the database if not 0). */
  readonly channels: string
}

/**
 * The names under `prefix`, of keys in database `db`. Pub/sub ignores the database: two apps
 * on two databases of one Redis with one prefix heard each other's rooms, presence and
 * revocations, so a channel's name carries the database (all but 0, whose names stay).
 */
export function createKeys(prefix: string, db = 0): Keys {
  const channels = db === 0 ? prefix : `${prefix}{${db}}`
  return {
    prefix,
    channels,
    session: (id) => `${prefix}s:{${id}}`,
    fence: (id) => `${prefix}fence:{${id}}`,
    revokeChannel: (processId) => `${channels}revoke:${processId}`,
    history: (room) => `${prefix}h:${room}`,
    sent: (room, id) => `${prefix}sent:${Buffer.byteLength(room)}:${room}${id}`,
    channel: (room) => `${channels}c:${room}`,
    presence: (room) => `${prefix}p:${room}`,
    processMembers: (processId) => `${prefix}pm:${processId}`,
    moves: () => `${prefix}moves`,
    process: (processId) => `${prefix}proc:${processId}`,
    processes: () => `${prefix}procs`,
    generation: () => `${prefix}gen`,
    refilling: () => `${prefix}refilling`,
  }
}
