import { PassThrough, type Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { describe, expect, it } from 'vitest'
import {
  lightReadBytes,
  OutputBound,
  parseWorkFactor,
  type OutputBoundHost,
} from './outputBound.js'
import { readInSlices, readSliceBytes } from './readSlices.js'
import { Turns, turnDefaults } from './turns.js'

const KiB = 1024

/** A connection's side of `OutputBound`, doing nothing but what `parts` give it. */
function host(
  parts: Pick<OutputBoundHost, 'socket' | 'transport' | 'readsInSlices'> & Partial<OutputBoundHost>,
): OutputBoundHost {
  return {
    stream: () => undefined,
    requestBacklog: () => 0,
    isOpen: () => true,
    dispatch: () => undefined,
    deliver: () => undefined,
    redeliver: () => undefined,
    acknowledge: () => undefined,
    paused: () => undefined,
    slowConsumer: () => undefined,
    resend: () => false,
    ...parts,
  }
}

const limits = { outboundHighWaterBytes: 256 * KiB, maxOutboundBytes: 1024 * KiB }

/** A connection in line whose socket holds `readable` bytes read and not parsed yet. */
function connection(
  turns: Turns,
  readable: number,
  resumed: string[],
  name: string,
  readsInSlices = false,
) {
  const socket = {
    bufferedAmount: 0,
    pause: () => undefined,
    resume: () => void resumed.push(name),
  } as unknown as WebSocket
  const transport = { readableLength: readable, writableNeedDrain: false } as unknown as Duplex
  const bound = new OutputBound(host({ socket, transport, readsInSlices }), limits, turns)
  // Over its share of the turn: its reading pauses, and it waits in line.
  bound.produced(turnDefaults.connectionBytes + 1)
  return bound
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('OutputBound: reading resumed in line', () => {
  it("counts what the socket holds as the turn's work: one full socket per turn at most", async () => {
    const turns = new Turns()
    const resumed: string[] = []
    const read = 64 * KiB
    // A full TCP read is past the budget on its own.
    expect(parseWorkFactor * read).toBeGreaterThanOrEqual(turnDefaults.budgetBytes)
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) connection(turns, read, resumed, name)
    // The turns after pay off what each resume overspent: never two in one.
    let before = 0
    for (let turn = 0; turn < 30 && resumed.length < 6; turn++) {
      await nextTurn()
      expect(resumed.length - before).toBeLessThanOrEqual(1)
      before = resumed.length
    }
    expect(resumed).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
  })

  it('counts one slice of what the socket holds when ws is given its reads in slices', async () => {
    const turns = new Turns()
    const resumed: string[] = []
    const names = Array.from({ length: 12 }, (_, i) => `c${i}`)
    // Each holds a full TCP read, but `ws` parses one slice of it past what `read` counts as
    // frames are handled: charging the whole read again would spend the turn on one resume.
    for (const name of names) connection(turns, 64 * KiB, resumed, name, true)
    // The work that put them in line carries over half a budget at most: half a turn's worth
    // of resumes first, then a whole turn's.
    for (let turn = 0; turn < 10 && resumed.length === 0; turn++) await nextTurn()
    const perTurn = turnDefaults.budgetBytes / (parseWorkFactor * readSliceBytes)
    expect(resumed).toEqual(names.slice(0, perTurn / 2))
    await nextTurn()
    expect(resumed).toEqual(names.slice(0, perTurn / 2 + perTurn))
  })

  it('resumes every connection whose socket holds nothing in the same turn', async () => {
    const turns = new Turns()
    const resumed: string[] = []
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) connection(turns, 0, resumed, name)
    await nextTurn()
    expect(resumed).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
  })
})

describe('OutputBound: behind', () => {
  it('leaves the line a turn after it was served, though its client sends nothing', async () => {
    const turns = new Turns()
    const bound = connection(turns, 0, [], 'a')
    expect(bound.behind).toBe(true)
    // Served in the next turn; others keep the server busy for a few turns after.
    for (let turn = 0; turn < 3; turn++) {
      turns.charge(1)
      await nextTurn()
    }
    // A client that only receives (a broadcast once too large for its share of a turn) has
    // no frame of its own to leave the line with: it must not stay behind for good.
    expect(bound.behind).toBe(false)
  })
})

/** A connection whose socket reads are given to `ws` (here a listener that keeps them) in slices. */
function reading(turns: Turns) {
  const transport = new PassThrough()
  const parsed: Buffer[] = []
  transport.on('data', (chunk: Buffer) => parsed.push(chunk))
  const socket = {
    bufferedAmount: 0,
    pause: () => transport.pause(),
    resume: () => transport.resume(),
  } as unknown as WebSocket
  const bound = new OutputBound(host({ socket, transport, readsInSlices: true }), limits, turns)
  readInSlices(transport, (bytes) => bound.mayParse(bytes))
  return { transport, parsed: () => Buffer.concat(parsed).length, bound }
}

describe('OutputBound: socket reads once the turn is spent', () => {
  it('keeps a flood unparsed in the socket until its place in line, and reads a light client at once', async () => {
    const turns = new Turns()
    const flooding = reading(turns)
    const calling = reading(turns)
    // Others spent the turn's work (a hundred connections read before, say).
    turns.charge(turnDefaults.budgetBytes)
    flooding.transport.write(Buffer.alloc(64 * KiB))
    calling.transport.write(Buffer.alloc(100))
    // Nothing of the flood parsed, all of it kept: not even its first slice costs this turn.
    expect(flooding.parsed()).toBe(0)
    expect(flooding.transport.readableLength).toBe(64 * KiB)
    expect(flooding.bound.behind).toBe(true)
    expect(calling.parsed()).toBe(100)
    // Its place in line comes in the next turn: read from there, every byte of it.
    for (let turn = 0; turn < 3 && flooding.parsed() < 64 * KiB; turn++) await nextTurn()
    expect(flooding.parsed()).toBe(64 * KiB)
  })

  it('reads a client light while it stays within lightReadBytes in the turn', () => {
    const turns = new Turns()
    const calling = reading(turns)
    turns.charge(turnDefaults.budgetBytes)
    calling.transport.write(Buffer.alloc(lightReadBytes / 2))
    calling.transport.write(Buffer.alloc(lightReadBytes / 2))
    expect(calling.parsed()).toBe(lightReadBytes)
    // Past it in the same turn: it waits in line.
    calling.transport.write(Buffer.alloc(1))
    expect(calling.parsed()).toBe(lightReadBytes)
    expect(calling.bound.behind).toBe(true)
  })

  it('handles the frames of a read it deferred as they come once resumed, not in line again', async () => {
    const turns = new Turns()
    const client = reading(turns)
    turns.charge(turnDefaults.budgetBytes)
    client.transport.write(Buffer.alloc(lightReadBytes + 1))
    expect(client.parsed()).toBe(0)
    for (let turn = 0; turn < 3 && client.parsed() === 0; turn++) await nextTurn()
    expect(client.parsed()).toBe(lightReadBytes + 1)
    // A frame of that read (a request, then the client's close frame) is handled at once: held
    // again, it waited for a later turn, and a close in between dropped it.
    turns.charge(turnDefaults.budgetBytes)
    expect(client.bound.hold(Buffer.from('{}'), false)).toBe(false)
  })

  it('handles what it holds when the client closes, and nothing once the server closed', async () => {
    const turns = new Turns()
    const handled: string[] = []
    let open = true
    const socket = { bufferedAmount: 0, pause: () => undefined, resume: () => undefined }
    const bound = new OutputBound(
      host({
        socket: socket as unknown as WebSocket,
        transport: new PassThrough(),
        readsInSlices: true,
        isOpen: () => open,
        dispatch: (data) => void handled.push(String(data)),
      }),
      limits,
      turns,
    )
    // Over its share: in line, what it sends is held for its turn.
    bound.produced(turnDefaults.connectionBytes + 1)
    expect(bound.hold(Buffer.from('a'), false)).toBe(true)
    expect(bound.hold(Buffer.from('b'), false)).toBe(true)
    bound.clientClosed()
    expect(handled).toEqual(['a', 'b'])
    expect(bound.hold(Buffer.from('c'), false)).toBe(true)
    open = false
    bound.clientClosed()
    expect(handled).toEqual(['a', 'b'])
  })

  it('reads a connection as before while the turn has work left', () => {
    const turns = new Turns()
    const flooding = reading(turns)
    flooding.transport.write(Buffer.alloc(64 * KiB))
    expect(flooding.parsed()).toBe(64 * KiB)
  })
})
