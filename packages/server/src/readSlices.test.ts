import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { readInSlices, readSliceBytes } from './readSlices.js'

/** A socket read of `bytes` numbered bytes. */
function read(bytes: number): Buffer {
  return Buffer.from(Array.from({ length: bytes }, (_, i) => i % 251))
}

/** What `ws` would be: a `'data'` listener recording what it is given, then calling `then`. */
function parser(stream: PassThrough, then: () => void = () => undefined) {
  const given: Buffer[] = []
  const listener = (chunk: Buffer) => {
    given.push(chunk)
    then()
  }
  stream.on('data', listener)
  return { given, listener, bytes: () => Buffer.concat(given) }
}

describe('readInSlices', () => {
  it('gives the listener a read a slice at a time, all of it and in order', () => {
    const stream = new PassThrough()
    const { given, bytes } = parser(stream)
    expect(readInSlices(stream)).toBe(true)
    const data = read(5 * readSliceBytes + 100)
    stream.write(data)
    expect(given.length).toBe(6)
    expect(Math.max(...given.map((chunk) => chunk.length))).toBe(readSliceBytes)
    expect(bytes().equals(data)).toBe(true)
  })

  it('stops once the socket is paused, and gives the rest first when it resumes', async () => {
    const stream = new PassThrough()
    // Paused by the listener after its first slice, as a connection past its share of a turn.
    let paused = false
    const { given, bytes } = parser(stream, () => {
      if (!paused) stream.pause()
      paused = true
    })
    readInSlices(stream)
    const first = read(10 * readSliceBytes)
    stream.write(first)
    expect(given.length).toBe(1)
    expect(stream.readableLength).toBe(first.length - readSliceBytes)
    const second = Buffer.from('after')
    stream.write(second)
    stream.resume()
    await new Promise((resolve) => setImmediate(resolve))
    expect(bytes().equals(Buffer.concat([first, second]))).toBe(true)
  })

  it('is removed with the listener it wraps, and keeps what that listener did not get', () => {
    const stream = new PassThrough()
    // As `ws` does on a frame it refuses: its listener goes, by its own name, mid-read.
    const { given, listener } = parser(stream, () => stream.removeListener('data', listener))
    readInSlices(stream)
    const data = read(3 * readSliceBytes)
    stream.write(data)
    expect(given.length).toBe(1)
    expect(stream.listenerCount('data')).toBe(0)
    expect(stream.readableLength).toBe(2 * readSliceBytes)
  })

  it('leaves a socket without exactly one data listener as it is', () => {
    const stream = new PassThrough()
    expect(readInSlices(stream)).toBe(false)
    stream.on('data', () => undefined)
    stream.on('data', () => undefined)
    expect(readInSlices(stream)).toBe(false)
    expect(stream.rawListeners('data').every((listener) => !('listener' in listener))).toBe(true)
  })

  it('wraps a socket once, so its listener is still removed by the name of the one it wraps', () => {
    const stream = new PassThrough()
    const { listener } = parser(stream)
    expect(readInSlices(stream)).toBe(true)
    expect(readInSlices(stream)).toBe(true)
    stream.removeListener('data', listener)
    expect(stream.listenerCount('data')).toBe(0)
  })

  it('holds nothing back once another listener, which had the whole read, is there', async () => {
    const stream = new PassThrough()
    let paused = false
    const { bytes } = parser(stream, () => {
      if (!paused) stream.pause()
      paused = true
    })
    readInSlices(stream)
    // Added after: a byte meter, say. It gets the read whole, and never the same bytes twice.
    const metered: Buffer[] = []
    stream.on('data', (chunk: Buffer) => metered.push(chunk))
    const data = read(3 * readSliceBytes)
    stream.write(data)
    stream.resume()
    await new Promise((resolve) => setImmediate(resolve))
    expect(Buffer.concat(metered).equals(data)).toBe(true)
    expect(bytes().equals(data)).toBe(true)
  })

  it('parses no further once the socket is destroyed mid-read', () => {
    const stream = new PassThrough()
    // As a handler calling `terminate()` on the first frame it is given.
    const { given } = parser(stream, () => stream.destroy())
    readInSlices(stream)
    stream.write(read(3 * readSliceBytes))
    expect(given.length).toBe(1)
  })
})
