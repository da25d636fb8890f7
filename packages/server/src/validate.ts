import { LifelineError } from '@lifeline/codec'
import { maxTimerMs } from '@lifeline/core/protocol'

/** Checks of option values: each throws `INVALID_ARGUMENT` naming the option. */

export function invalid(message: string): LifelineError {
  return new LifelineError('INVALID_ARGUMENT', message)
}

export function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw invalid(`${name} must be a positive number, got ${String(value)}`)
  }
  return value
}

export function positiveInteger(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw invalid(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

/**
 * A positive delay a timer can wait (at most `maxTimerMs`, about 24.8 days): Node, as browsers,
 * fires a longer `setTimeout` after 1 ms, so a 30-day `sessionTtlMs` expired every session the
 * moment its client left.
 */
export function delay(name: string, value: number, integer = false): number {
  const checked = integer ? positiveInteger(name, value) : positive(name, value)
  if (checked > maxTimerMs) {
    throw invalid(`${name} must be at most ${maxTimerMs} ms (24.8 days), got ${value}`)
  }
  return checked
}
