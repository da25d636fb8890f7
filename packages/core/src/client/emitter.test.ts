import { afterEach, describe, expect, it, vi } from 'vitest'
import { madeMaps } from '@lifeline/test-utils'
import { Emitter } from './emitter.js'

interface Events {
  ping: [n: number]
  pair: [a: string, b: string]
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('Emitter', () => {
  it('calls listeners in the order they were added, with every argument', () => {
    const emitter = new Emitter<Events>()
    const calls: string[] = []
    emitter
      .on('pair', (a, b) => calls.push(`1:${a}${b}`))
      .on('pair', (a, b) => calls.push(`2:${a}${b}`))
    expect(emitter.emit('pair', 'x', 'y')).toBe(true)
    expect(calls).toEqual(['1:xy', '2:xy'])
    expect(emitter.emit('ping', 1)).toBe(false)
  })

  it('calls a once listener a single time', () => {
    const emitter = new Emitter<Events>()
    const seen: number[] = []
    emitter.once('ping', (n) => seen.push(n))
    emitter.emit('ping', 1)
    emitter.emit('ping', 2)
    expect(seen).toEqual([1])
  })

  it('off removes one listener, every listener of an event, or all', () => {
    const emitter = new Emitter<Events>()
    const seen: string[] = []
    const a = () => seen.push('a')
    const b = () => seen.push('b')
    emitter.on('ping', a).once('ping', b).on('pair', a)
    emitter.off('ping', b)
    emitter.emit('ping', 1)
    expect(seen).toEqual(['a'])
    emitter.off('ping')
    emitter.emit('ping', 1)
    emitter.emit('pair', '', '')
    expect(seen).toEqual(['a', 'a'])
    emitter.off()
    emitter.emit('pair', '', '')
    expect(seen).toEqual(['a', 'a'])
  })

  it('reports a listener that throws and still calls the others', () => {
    const reportError = vi.fn()
    vi.stubGlobal('reportError', reportError)
    const emitter = new Emitter<Events>()
    const failure = new Error('listener bug')
    const seen: number[] = []
    emitter.on('ping', () => {
      throw failure
    })
    emitter.on('ping', (n) => seen.push(n))
    expect(() => emitter.emit('ping', 7)).not.toThrow()
    expect(seen).toEqual([7])
    expect(reportError).toHaveBeenCalledWith(failure)
  })

  it('calls the listeners an emit started with, whatever they add or remove', () => {
    const emitter = new Emitter<Events>()
    const seen: string[] = []
    const late = () => seen.push('late')
    const second = () => seen.push('second')
    emitter.on('ping', () => {
      seen.push('first')
      emitter.off('ping', second)
      emitter.on('ping', late)
    })
    emitter.on('ping', second)
    emitter.emit('ping', 1)
    expect(seen).toEqual(['first', 'second'])
    emitter.emit('ping', 2)
    expect(seen).toEqual(['first', 'second', 'first', 'late'])
  })

  it('calls a once listener a single time when a listener emits the same event again', () => {
    const emitter = new Emitter<Events>()
    const seen: string[] = []
    emitter.once('ping', (n) => {
      seen.push(`a${n}`)
      emitter.emit('ping', 2)
    })
    emitter.once('ping', (n) => seen.push(`b${n}`))
    emitter.emit('ping', 1)
    expect(seen).toEqual(['a1', 'b2'])
    emitter.emit('ping', 3)
    expect(seen).toEqual(['a1', 'b2'])
  })

  it('keeps nothing for a type whose last listener is gone: removed, once and fired, or never there', () => {
    // The emitter's table: a client that listens to types of its own making (one per room, per
    // request) and lets go of each kept one entry per type for good.
    const { made: emitter, maps } = madeMaps(() => new Emitter<Record<string, [n: number]>>())
    const kept = () => emitter.on('kept', () => {})
    kept()
    for (let i = 0; i < 1_000; i++) {
      const listener = () => {}
      emitter.on(`room:${i}`, listener).off(`room:${i}`, listener)
      emitter.once(`reply:${i}`, () => {}).emit(`reply:${i}`, i)
      emitter.off(`never:${i}`, listener)
    }
    expect(maps.map((table) => [...table.keys()])).toEqual([['kept']])
  })
})
