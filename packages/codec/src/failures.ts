import { LifelineError } from './errors.js'

// Top-level constants rather than properties of `frameCloseCodes`: a bundle that only uses them
// does not carry the object.
const unsupportedData = 1003
const invalidPayload = 1007
const messageTooBig = 1009

/**
 * WebSocket close codes (RFC 6455, section 7.4.1) that go with a refused inbound frame, so the
 * connection layer can close with the right one without re-deriving it from the error code.
 */
export const frameCloseCodes = {
  /** A text frame on a binary codec, or the reverse. */
  unsupportedData,
  /** The frame is malformed, too deep, outside the value domain, or carries a forbidden key. */
  invalidPayload,
  /** The frame is over `maxBytes`. */
  messageTooBig,
} as const

/** An inbound frame the codec refuses (close code 1007). */
export function decodeFailed(message: string, cause?: unknown): LifelineError {
  return new LifelineError('DECODE_FAILED', message, { closeCode: invalidPayload, cause })
}

/** An inbound frame of the wrong kind: text for a binary codec or binary for a text one (1003). */
export function unsupportedFrame(codecName: string, expected: 'text' | 'binary'): LifelineError {
  return new LifelineError('DECODE_FAILED', `${codecName} accepts only ${expected} frames`, {
    closeCode: unsupportedData,
  })
}

/** An inbound frame over `maxBytes` (1009). */
export function frameTooLarge(maxBytes: number): LifelineError {
  return new LifelineError('MESSAGE_TOO_LARGE', `frame is larger than maxBytes (${maxBytes})`, {
    closeCode: messageTooBig,
  })
}

/**
 * A value the codec cannot encode. No close code: this is the sender's own mistake and says
 * nothing about the health of the connection.
 */
export function encodeFailed(message: string, cause?: unknown): LifelineError {
  return new LifelineError('ENCODE_FAILED', message, { cause })
}

/** A value whose frame would be over `maxBytes`. No close code, as for `encodeFailed`. */
export function encodedTooLarge(maxBytes: number): LifelineError {
  return new LifelineError(
    'MESSAGE_TOO_LARGE',
    `encoded frame is larger than maxBytes (${maxBytes})`,
  )
}
