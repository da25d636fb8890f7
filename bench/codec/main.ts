/**
 * Codec benchmark: encode, decode and round trip of Lifeline's codecs against plain
 * `JSON.stringify` / `JSON.parse`, for a ~100 B, a ~1 KB and a ~64 KB message, plus encoded
 * sizes. Printed as ratios against the JSON baseline measured in the same run.
 *
 * Three msgpackr configurations without Lifeline's guards are measured alongside, because they
 * are the decisions the codec documents: what the guards cost (`msgpackr, unguarded`), and what
 * records would buy (`records per message`, which any peer can follow, and `records, shared
 * structures`, which needs both ends to hold the same structure table).
 *
 * Run: pnpm --filter @lifeline/bench codec
 */
import { json } from '@lifeline/codec'
import { msgpack } from '@lifeline/codec/msgpack'
import { Packr } from 'msgpackr/pack'
import os from 'node:os'
import { formatBytes, formatRate, formatRatio } from '../lib/format.js'
import { measure, type Variant } from '../lib/measure.js'
import { markdownTable, progress, section } from '../lib/samples.js'
import { fixtures, type Fixture } from './fixtures.js'

const jsonCodec = json()
const msgpackCodec = msgpack()

/** The codec's msgpackr options, without the codec's checks around them. */
const unguardedOptions = {
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  variableMapSize: true,
  int64AsType: 'number',
  copyBuffers: true,
} as const
const unguarded = new Packr(unguardedOptions)
const recordsPerMessage = new Packr({ ...unguardedOptions, useRecords: true })
const recordsShared = new Packr({ ...unguardedOptions, useRecords: true, structures: [] })

/**
 * A fresh view per decode, as every received frame is a new object: msgpackr caches a DataView
 * on its input, which a benchmark reusing one array would unfairly profit from.
 */
const freshView = (bytes: Uint8Array) =>
  new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** A frame msgpackr returned, copied out of msgpackr's shared output buffer. */
const copyOf = (bytes: Uint8Array) => Uint8Array.from(bytes)

interface Operation {
  readonly name: string
  readonly variants: (value: unknown) => Variant[]
}

const operations: readonly Operation[] = [
  {
    name: 'encode',
    variants: (value) => [
      { name: 'JSON.stringify', run: () => JSON.stringify(value) },
      { name: 'json().encode', run: () => jsonCodec.encode(value) },
      { name: 'msgpack().encode', run: () => msgpackCodec.encode(value) },
      { name: 'msgpackr, unguarded', run: () => unguarded.pack(value) },
      { name: 'msgpackr records per message', run: () => recordsPerMessage.pack(value) },
      { name: 'msgpackr records, shared structures', run: () => recordsShared.pack(value) },
    ],
  },
  {
    name: 'decode',
    variants: (value) => {
      const text = JSON.stringify(value)
      const frame = copyOf(msgpackCodec.encode(value))
      const recordsFrame = copyOf(recordsPerMessage.pack(value))
      const sharedFrame = copyOf(recordsShared.pack(value))
      return [
        { name: 'JSON.parse', run: () => JSON.parse(text) as unknown },
        { name: 'json().decode', run: () => jsonCodec.decode(text) },
        { name: 'msgpack().decode', run: () => msgpackCodec.decode(freshView(frame)) },
        { name: 'msgpackr, unguarded', run: () => unguarded.unpack(freshView(frame)) as unknown },
        {
          name: 'msgpackr records per message',
          run: () => recordsPerMessage.unpack(freshView(recordsFrame)) as unknown,
        },
        {
          name: 'msgpackr records, shared structures',
          run: () => recordsShared.unpack(freshView(sharedFrame)) as unknown,
        },
      ]
    },
  },
  {
    name: 'round trip',
    variants: (value) => [
      { name: 'JSON.parse(JSON.stringify())', run: () => JSON.parse(JSON.stringify(value)) },
      { name: 'json()', run: () => jsonCodec.decode(jsonCodec.encode(value)) },
      { name: 'msgpack()', run: () => msgpackCodec.decode(msgpackCodec.encode(value)) },
      { name: 'msgpackr, unguarded', run: () => unguarded.unpack(unguarded.pack(value)) },
      {
        name: 'msgpackr records per message',
        run: () => recordsPerMessage.unpack(recordsPerMessage.pack(value)),
      },
      {
        name: 'msgpackr records, shared structures',
        run: () => recordsShared.unpack(recordsShared.pack(value)),
      },
    ],
  },
]

/** Every variant must return the value it was given, or its figures mean nothing. */
function checkCorrectness(fixture: Fixture): void {
  const expected = JSON.stringify(fixture.value)
  const decoded = [
    jsonCodec.decode(jsonCodec.encode(fixture.value)),
    msgpackCodec.decode(msgpackCodec.encode(fixture.value)),
    unguarded.unpack(unguarded.pack(fixture.value)),
    recordsPerMessage.unpack(recordsPerMessage.pack(fixture.value)),
    recordsShared.unpack(recordsShared.pack(fixture.value)),
  ]
  for (const value of decoded) {
    if (JSON.stringify(value) !== expected) {
      throw new Error(`a variant does not round-trip the ${fixture.name} fixture`)
    }
  }
}

function sizes(): string {
  const rows = fixtures.map((fixture) => {
    const jsonBytes = Buffer.byteLength(JSON.stringify(fixture.value))
    recordsShared.pack(fixture.value) // structures now known to both ends
    const cells = [
      jsonBytes,
      Buffer.byteLength(jsonCodec.encode(fixture.value)),
      msgpackCodec.encode(fixture.value).byteLength,
      recordsPerMessage.pack(fixture.value).byteLength,
      recordsShared.pack(fixture.value).byteLength,
    ]
    return [
      fixture.name,
      ...cells.map((bytes) => `${formatBytes(bytes)} (${formatRatio(bytes / jsonBytes)})`),
    ]
  })
  return markdownTable(
    [
      'message',
      'JSON.stringify',
      'json()',
      'msgpack()',
      'msgpackr records/message',
      'msgpackr records, shared',
    ],
    rows,
  )
}

function header(): string {
  const cpus = os.cpus()
  const load = os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')
  return `Node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, load average at start: ${load}`
}

function main(): void {
  progress(`codec benchmark: ${header()}`)
  for (const fixture of fixtures) checkCorrectness(fixture)
  const parts = [`Encoded size (ratio against JSON):\n\n${sizes()}`]
  for (const operation of operations) {
    for (const fixture of fixtures) {
      progress(`codec ${operation.name}, ${fixture.name}`)
      const results = measure(operation.variants(fixture.value))
      const baseline = results[0]?.median ?? 1
      const rows = results.map((result) => [
        result.name,
        formatRate(result.median),
        `${formatRate(result.min)} – ${formatRate(result.max)}`,
        formatRatio(result.median / baseline),
      ])
      parts.push(
        `${operation.name}, ${fixture.name} message:\n\n${markdownTable(['variant', 'ops/s, median', 'min – max', 'vs JSON built-in'], rows)}`,
      )
    }
  }
  console.log(
    section(
      'Codec',
      "Encode, decode and round trip of `json()` and `msgpack()` (and msgpackr without the codec's guards) against `JSON.stringify`/`JSON.parse` for ~100 B, ~1 KB and ~64 KB messages; in-process, warm-up then 7 interleaved rounds, ops/s median with min–max.",
      parts.join('\n\n'),
    ),
  )
}

main()
