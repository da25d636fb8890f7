import { describe, expect, it } from 'vitest'
import type { ConnectionAction, ConnectionState, DisconnectCause } from './state.js'
import { readyStateOf, transition } from './state.js'

const lostCause: DisconnectCause = Object.freeze({ code: 1006, reason: '', wasClean: false })
const closedCause: DisconnectCause = Object.freeze({ code: 1000, reason: 'bye', wasClean: true })
const earlierCause: DisconnectCause = Object.freeze({ code: 1001, reason: 'away', wasClean: true })

// Frozen, so a transition that mutated its input would throw instead of passing.
const states = {
  connecting: Object.freeze({ status: 'connecting', attempt: 1 }),
  open: Object.freeze({ status: 'open', attempt: 2 }),
  reconnecting: Object.freeze({
    status: 'reconnecting',
    attempt: 3,
    delayMs: 100,
    cause: earlierCause,
  }),
  closing: Object.freeze({ status: 'closing' }),
  closed: Object.freeze({ status: 'closed', cause: earlierCause }),
  'closed (startClosed)': Object.freeze({ status: 'closed' }),
} satisfies Record<string, ConnectionState>

const actions = {
  connect: Object.freeze({ type: 'connect', attempt: 5 }),
  opened: Object.freeze({ type: 'opened' }),
  lost: Object.freeze({ type: 'lost', attempt: 4, delayMs: 250, cause: lostCause }),
  closing: Object.freeze({ type: 'closing' }),
  closed: Object.freeze({ type: 'closed', cause: closedCause }),
} satisfies Record<string, ConnectionAction>

type StateName = keyof typeof states
type ActionName = keyof typeof actions

/** `'same'`: the action does not apply, and the very same object comes back. */
const table: [StateName, ActionName, ConnectionState | 'same'][] = [
  ['connecting', 'connect', { status: 'connecting', attempt: 5 }],
  ['open', 'connect', { status: 'connecting', attempt: 5 }],
  ['reconnecting', 'connect', { status: 'connecting', attempt: 5 }],
  ['closing', 'connect', 'same'],
  ['closed', 'connect', { status: 'connecting', attempt: 5 }],
  ['closed (startClosed)', 'connect', { status: 'connecting', attempt: 5 }],

  ['connecting', 'opened', { status: 'open', attempt: 1 }],
  ['open', 'opened', 'same'],
  ['reconnecting', 'opened', 'same'],
  ['closing', 'opened', 'same'],
  ['closed', 'opened', 'same'],
  ['closed (startClosed)', 'opened', 'same'],

  ['connecting', 'lost', { status: 'reconnecting', attempt: 4, delayMs: 250, cause: lostCause }],
  ['open', 'lost', { status: 'reconnecting', attempt: 4, delayMs: 250, cause: lostCause }],
  ['reconnecting', 'lost', 'same'],
  ['closing', 'lost', 'same'],
  ['closed', 'lost', 'same'],
  ['closed (startClosed)', 'lost', 'same'],

  ['connecting', 'closing', { status: 'closing' }],
  ['open', 'closing', { status: 'closing' }],
  ['reconnecting', 'closing', { status: 'closing' }],
  ['closing', 'closing', 'same'],
  ['closed', 'closing', 'same'],
  ['closed (startClosed)', 'closing', 'same'],

  ['connecting', 'closed', { status: 'closed', cause: closedCause }],
  ['open', 'closed', { status: 'closed', cause: closedCause }],
  ['reconnecting', 'closed', { status: 'closed', cause: closedCause }],
  ['closing', 'closed', { status: 'closed', cause: closedCause }],
  ['closed', 'closed', 'same'],
  ['closed (startClosed)', 'closed', 'same'],
]

describe('transition', () => {
  it('has a row for every state and action', () => {
    const rows = new Set(table.map(([state, action]) => `${state} ${action}`))
    expect(rows.size).toBe(Object.keys(states).length * Object.keys(actions).length)
  })

  it.each(table)('%s + %s', (stateName, actionName, expected) => {
    const state = states[stateName]
    const next = transition(state, actions[actionName])
    if (expected === 'same') {
      expect(next).toBe(state)
    } else {
      expect(next).not.toBe(state)
      expect(next).toStrictEqual(expected)
    }
  })

  it('keeps the attempt of the connecting state when it opens', () => {
    const next = transition({ status: 'connecting', attempt: 7 }, { type: 'opened' })
    expect(next).toStrictEqual({ status: 'open', attempt: 7 })
  })

  it('carries the cause objects through unchanged', () => {
    const lost = transition(states.open, actions.lost)
    expect(lost.status === 'reconnecting' && lost.cause).toBe(lostCause)
    const closed = transition(lost, actions.closed)
    expect(closed.status === 'closed' && closed.cause).toBe(closedCause)
  })
})

describe('readyStateOf', () => {
  it.each([
    ['connecting', 0],
    ['reconnecting', 0],
    ['open', 1],
    ['closing', 2],
    ['closed', 3],
    ['closed (startClosed)', 3],
  ] as const)('%s is %i', (stateName, readyState) => {
    expect(readyStateOf(states[stateName])).toBe(readyState)
  })
})
