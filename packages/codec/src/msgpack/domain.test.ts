import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { nestedArrays, nestedObjects } from '../testHelpers.js'
import { findDomainProblem } from './domain.js'

const check = (value: unknown, maxDepth = 64, maxContainers = Infinity) =>
  findDomainProblem(value, maxDepth, { left: maxContainers, limit: maxContainers })

class Point {
  x = 1
}

describe('findDomainProblem', () => {
  it('accepts the value domain', () => {
    const value = {
      n: null,
      b: [true, false],
      numbers: [0, -1.5, NaN, Infinity],
      s: 'text',
      u: undefined,
      bin: new Uint8Array(2),
      buffer: Buffer.from('x'),
      date: new Date(0),
      nested: [{ a: [{}] }],
    }
    expect(check(value)).toBeUndefined()
  })

  it('accepts plain objects of another realm and null-prototype objects', () => {
    expect(check(runInNewContext('({ a: [{ b: 1 }] })'))).toBeUndefined()
    expect(check(Object.create(null))).toBeUndefined()
  })

  it.each([
    ['a BigInt', 10n],
    ['a symbol', Symbol('s')],
    ['a function', () => 1],
    ['a Map', new Map()],
    ['a Set', new Set()],
    ['a Float64Array', new Float64Array(1)],
    ['a Uint16Array', new Uint16Array(1)],
    ['an Int8Array', new Int8Array(1)],
    ['a DataView', new DataView(new ArrayBuffer(1))],
    ['an ArrayBuffer', new ArrayBuffer(1)],
    ['an Error', new Error('x')],
    ['a RegExp', /x/],
    ['an instance of Point', new Point()],
    ['a String', Object('text')],
    ['a Promise', Promise.resolve(1)],
  ])('refuses %s, naming it', (name, value) => {
    expect(check({ a: [value] })).toMatch(new RegExp(`holds ${name}, which is outside`))
  })

  it('bounds depth, so a cycle is an error rather than a stack overflow', () => {
    expect(check(nestedArrays(64))).toBeUndefined()
    expect(check(nestedObjects(64))).toBeUndefined()
    expect(check(nestedArrays(65))).toMatch(/deeper than maxDepth \(64\) or has a cycle/)
    expect(check(nestedObjects(65))).toMatch(/maxDepth/)
    const cyclic: unknown[] = []
    cyclic.push(cyclic)
    expect(check(cyclic)).toMatch(/or has a cycle/)
  })

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s', (key) => {
    const value = { a: [Object.defineProperty({}, key, { value: 1, enumerable: true })] }
    expect(check(value)).toMatch(/forbidden key/)
  })
})
