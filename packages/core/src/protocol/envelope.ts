import { LifelineError } from '@lifeline/codec'

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

const controlTypeSet: ReadonlySet<string> = new Set(Object.values(controlTypes))

/** Close codes of the protocol beyond the standard ones (see PROTOCOL.md, section 10). */
export const protocolCloseCodes = {
  protocolError: 1002,
  serviceRestart: 1012,
  heartbeatTimeout: 4000,
  clientProtocolError: 4002,
  unauthenticated: 4401,
  forbidden: 4403,
  helloTimeout: 4408,
  sessionTakenOver: 4409,
} as const

export function isControlType(type: string): boolean {
  return type.charCodeAt(0) === 36 /* $ */
}

export function isKnownControlType(type: string): type is ControlType {
  return controlTypeSet.has(type)
}

export function protocolError(message: string): LifelineError {
  return new LifelineError('PROTOCOL_ERROR', message, {
    closeCode: protocolCloseCodes.protocolError,
  })
}

function isSeq(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min
}

/**
 * Checks that a decoded frame is an envelope and returns it typed. Throws `PROTOCOL_ERROR`
 * (close code 1002) otherwise. The codec has already refused prototype keys and hostile shapes;
 * this checks the protocol's own rules.
 */
export function parseEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw protocolError('a frame must be an envelope object')
  }
  const envelope = value as Record<string, unknown>
  if (typeof envelope.t !== 'string' || envelope.t === '') {
    throw protocolError('an envelope needs a non-empty string type `t`')
  }
  if (envelope.s !== undefined && !isSeq(envelope.s, 1)) {
    throw protocolError('envelope field `s` must be an integer >= 1')
  }
  if (envelope.a !== undefined && !isSeq(envelope.a, 0)) {
    throw protocolError('envelope field `a` must be an integer >= 0')
  }
  let fields = 1
  if ('d' in envelope) fields++
  if (envelope.s !== undefined) fields++
  if (envelope.a !== undefined) fields++
  if (Object.keys(envelope).length !== fields) {
    throw protocolError('an envelope has only the fields t, d, s and a')
  }
  return envelope as unknown as Envelope
}
