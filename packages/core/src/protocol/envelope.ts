import { LifelineError } from '@lifeline/codec'
import { utf8ByteLength } from '../utf8.js'

/** The wire protocol version this package speaks (see PROTOCOL.md). */
export const protocolVersion = 1

/** One frame of the wire protocol. */
export interface Envelope {
  /** Type: a user message type, or a `$`-prefixed control type. */
  t: string
  /** Payload. */
  d?: unknown
  /** Sequence number of a reliable envelope, per direction and session, from 1. */
  s?: number
  /** Cumulative acknowledgement: every reliable envelope up to `a` was processed. */
  a?: number
}

export const controlTypes = {
  hello: '$hello',
  welcome: '$welcome',
  ack: '$ack',
  ping: '$ping',
  pong: '$pong',
  request: '$req',
  response: '$res',
  error: '$error',
} as const

export type ControlType = (typeof controlTypes)[keyof typeof controlTypes]

// The close codes the client uses, as top-level constants rather than properties of
// `protocolCloseCodes`: a bundle that only uses them does not carry the object.
/** The peer broke the protocol. */
export const protocolErrorCode = 1002
/** The client drops a link whose server broke the protocol, and resumes on a new one. */
export const clientProtocolErrorCode = 4002
/** The peer's handshake frame (`$hello`, `$welcome`) did not come in time. */
export const handshakeTimeoutCode = 4408
/** A newer connection took the session over. */
export const sessionTakenOverCode = 4409

/** Close codes of the protocol beyond the standard ones (see PROTOCOL.md, section 10). */
export const protocolCloseCodes = {
  protocolError: protocolErrorCode,
  serviceRestart: 1012,
  heartbeatTimeout: 4000,
  clientProtocolError: clientProtocolErrorCode,
  unauthenticated: 4401,
  forbidden: 4403,
  helloTimeout: handshakeTimeoutCode,
  sessionTakenOver: sessionTakenOverCode,
  slowConsumer: 4429,
} as const

export function isControlType(type: string): boolean {
  return type.charCodeAt(0) === 36 /* $ */
}

export function isKnownControlType(type: string): type is ControlType {
  // No lookup table at module level: an unused one would stay in every bundle.
  return (Object.values(controlTypes) as string[]).includes(type)
}

/**
 * Largest `$hello`, `$welcome`, `$ack`, `$ping` or `$pong` frame, in bytes. They carry no
 * application data: a big one is an attack (a `$ping` is echoed, so a peer that sends big ones
 * and never reads would make the other side buffer them without end).
 */
export const maxControlFrameBytes = 1024

/**
 * Checks the size of a `$hello`, `$welcome`, `$ack`, `$ping` or `$pong` frame (at most
 * `maxControlFrameBytes`) and the shape of a `$ping` (`d` is `{ ts: number }`); other control
 * frames pass. Throws `PROTOCOL_ERROR` (close code 1002). The frame is measured only for those
 * types, so the check costs nothing on the path of application messages.
 */
export function checkControlFrame(
  envelope: Envelope,
  frame: string | ArrayBuffer | Uint8Array,
): void {
  const { t } = envelope
  if (t !== '$hello' && t !== '$welcome' && t !== '$ack' && t !== '$ping' && t !== '$pong') return
  const size = typeof frame === 'string' ? utf8ByteLength(frame) : frame.byteLength
  if (size > maxControlFrameBytes) throw protocolError(`${t} over ${maxControlFrameBytes} bytes`)
  if (t === '$ping' && typeof (envelope.d as { ts?: unknown } | undefined)?.ts !== 'number') {
    throw protocolError('$ping without ts')
  }
}

export function protocolError(message: string): LifelineError {
  return new LifelineError('PROTOCOL_ERROR', message, { closeCode: protocolErrorCode })
}

/** Absent, or a safe integer of at least `min`. */
function isSeqOrAbsent(value: unknown, min: number): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= min)
}

/**
 * Checks that a decoded frame is an envelope and returns it typed. Throws `PROTOCOL_ERROR`
 * (close code 1002) otherwise. The codec has already refused prototype keys and hostile shapes;
 * this checks the protocol's own rules.
 */
export function parseEnvelope(value: unknown): Envelope {
  const envelope = value as Envelope
  if (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof envelope.t === 'string' &&
    envelope.t !== '' &&
    isSeqOrAbsent(envelope.s, 1) &&
    isSeqOrAbsent(envelope.a, 0) &&
    // No other field. A present `s` or `a` is defined (checked above), so counting is enough.
    Object.keys(value).length ===
      1 + +('d' in value) + +(envelope.s !== undefined) + +(envelope.a !== undefined)
  ) {
    return envelope
  }
  throw protocolError('a frame must be an envelope { t, d?, s?, a? } (PROTOCOL.md, section 2)')
}
