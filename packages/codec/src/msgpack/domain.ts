/**
 * The encode-side check of the msgpack codec: a value is encoded only if it lies in the value
 * domain, so what arrives is what was sent.
 *
 * msgpackr's own handling of other values is not safe to pass through: typed arrays other than
 * `Uint8Array` are written element by element under a byte-length header (a `Float64Array`
 * arrives as wrong numbers padded with whatever the output buffer held before), a `DataView`
 * arrives empty, a `BigInt` arrives as a rounded number, and `Map`, `Set`, `Error`, `RegExp` and
 * class instances change shape. Those are refused here with a message naming the type.
 *
 * Also enforced: `maxDepth` (which turns a cycle into an error before msgpackr recurses into
 * it), `maxContainers` (through `budget`: arrays, objects, `Uint8Array`s and `Date`s, as the
 * peer's frame scan counts them) and the forbidden keys, so the frame is one a peer with
 * the same limits accepts.
 */

import type { ContainerBudget } from '../limits.js'

/** Why a value is refused; the codec prefixes it with "value". */
export type DomainProblem = string

/** A {@link ContainerBudget} with the `maxContainers` its refusal names. */
export interface DomainBudget extends ContainerBudget {
  readonly limit: number
}

export function findDomainProblem(
  value: unknown,
  maxDepth: number,
  budget: DomainBudget,
): DomainProblem | undefined {
  return check(value, 0, maxDepth, budget)
}

function check(
  value: unknown,
  depth: number,
  maxDepth: number,
  budget: DomainBudget,
): DomainProblem | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return undefined
    case 'bigint':
      return 'holds a BigInt, which is outside the value domain'
    case 'symbol':
      return 'holds a symbol, which is outside the value domain'
    case 'function':
      return 'holds a function, which is outside the value domain'
  }
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    if (depth >= maxDepth) return tooDeep(maxDepth)
    if (--budget.left < 0) return tooMany(budget.limit)
    for (let i = 0; i < value.length; i++) {
      const problem = check(value[i], depth + 1, maxDepth, budget)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (isPlainObject(value)) {
    if (depth >= maxDepth) return tooDeep(maxDepth)
    if (--budget.left < 0) return tooMany(budget.limit)
    const object = value as Record<string, unknown>
    for (const key in object) {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
        return 'has a forbidden key (__proto__, constructor or prototype)'
      }
      const problem = check(object[key], depth + 1, maxDepth, budget)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  // A Node Buffer is a Uint8Array, and is written as the bytes it shows. Both are objects the
  // peer's decoder builds, and counts toward its maxContainers (see `scanMsgpack`).
  if (value instanceof Uint8Array || value instanceof Date) {
    return --budget.left < 0 ? tooMany(budget.limit) : undefined
  }
  return `holds ${describe(value)}, which is outside the value domain`
}

/**
 * An object whose prototype is `Object.prototype` (of any realm, so objects from a worker or
 * `vm` context qualify) or `null`.
 */
function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value)
  return (
    prototype === Object.prototype ||
    prototype === null ||
    Object.getPrototypeOf(prototype) === null
  )
}

function tooDeep(maxDepth: number): DomainProblem {
  return `nests deeper than maxDepth (${maxDepth}) or has a cycle`
}

function tooMany(maxContainers: number): DomainProblem {
  return `holds more than maxContainers (${maxContainers}) arrays, objects, binaries and dates`
}

/** "a Map", "a Float64Array", "an instance of Point": for the error message only. */
function describe(value: object): string {
  const tag = Object.prototype.toString.call(value).slice(8, -1)
  if (tag !== 'Object') return `${/^[AEIO]/.test(tag) ? 'an' : 'a'} ${tag}`
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object'
}
