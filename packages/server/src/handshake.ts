import {
  controlTypes,
  maxControlFrameBytes,
  protocolError,
  protocolVersion,
  type Envelope,
} from '@lifeline/core/protocol'

/** A client's `$hello`, checked. */
export interface Hello {
  /** The session the client asks to resume. */
  sid: string | undefined
  /** The last server `s` the client processed. */
  ack: number
  /**
   * The highest `a` the client got from a server in the session (`sa`): what some process
   * acknowledged, so had processed. A stored session below it is stale; 0 when not said.
   */
  acknowledged: number
  /** The largest frame the client accepts, in bytes; `Infinity` when it did not say. */
  max: number
  /** The client takes room messages numbered by their room (`r`), from `r: 1` in `$hello`. */
  roomIds: boolean
  /**
   * The client resends what the server discarded when asked with `$resend`, on the same link
   * (`rs: 1` in `$hello`); otherwise it is asked by a close (1012) and a resume.
   */
  resends: boolean
}

/** Longest session id accepted: ours are 22 characters; this only bounds what a client sends. */
const maxSessionIdLength = 128

/** Checks the first envelope of a connection (PROTOCOL.md, section 4). Throws a violation. */
export function parseHello(envelope: Envelope): Hello {
  if (envelope.t !== controlTypes.hello) throw protocolError('the first frame must be $hello')
  if (envelope.s !== undefined || envelope.a !== undefined) {
    throw protocolError('$hello carries neither s nor a (the ack goes in its payload)')
  }
  const d = envelope.d
  if (typeof d !== 'object' || d === null || Array.isArray(d)) {
    throw protocolError('$hello needs a payload { v, sid?, a? }')
  }
  const { v, sid, a, sa, max, r, rs } = d as {
    v?: unknown
    sid?: unknown
    a?: unknown
    sa?: unknown
    max?: unknown
    r?: unknown
    rs?: unknown
  }
  if (v !== protocolVersion)
    throw protocolError(`unsupported protocol version (this server speaks ${protocolVersion})`)
  if (
    sid !== undefined &&
    (typeof sid !== 'string' || sid === '' || sid.length > maxSessionIdLength)
  ) {
    throw protocolError('$hello `sid` must be a session id string')
  }
  if (a !== undefined && !(typeof a === 'number' && Number.isSafeInteger(a) && a >= 0)) {
    throw protocolError('$hello `a` must be an integer >= 0')
  }
  if (sa !== undefined && !(typeof sa === 'number' && Number.isSafeInteger(sa) && sa >= 0)) {
    throw protocolError('$hello `sa` must be an integer >= 0')
  }
  // No peer accepts less than a control frame: a smaller `max` could not even carry the error
  // answer to a request, and would only make the server refuse (and log) everything it sends.
  if (
    max !== undefined &&
    !(typeof max === 'number' && Number.isSafeInteger(max) && max >= maxControlFrameBytes)
  ) {
    throw protocolError(`$hello \`max\` must be an integer >= ${maxControlFrameBytes}`)
  }
  if (r !== undefined && r !== 1) throw protocolError('$hello `r` must be 1 or absent')
  if (rs !== undefined && rs !== 1) throw protocolError('$hello `rs` must be 1 or absent')
  return {
    sid,
    ack: a ?? 0,
    acknowledged: sa ?? 0,
    max: max ?? Infinity,
    roomIds: r === 1,
    resends: rs === 1,
  }
}

/**
 * The server's answer to `$hello`; `max` is the largest frame the server accepts, `window` the
 * bytes the client may have written and not yet had acknowledged (`w`).
 */
export function welcome(
  sid: string,
  resumed: boolean,
  ack: number,
  max: number,
  window: number,
): Envelope {
  return { t: controlTypes.welcome, d: { sid, resumed, a: ack, max, w: window } }
}
