// The client's receive path in one process, variants interleaved block by block so that a busy
// machine weighs on all alike: for each variant (a core dist folder, or `raw` for Buffer →
// string → `JSON.parse` → handler), K clients on a minimal `ws`-like socket, fed the same room
// frames (as Buffers, as `ws` gives text). Prints CPU ns per message: the mean, the median and
// the 10th percentile of the blocks, and each variant's median ratio to the first.
//   usage: ab.ts K blocks perBlock name=<raw | core dist folder>...
import type * as Core from '@lifeline/core'

type CoreModule = typeof Core
const [clientsText = '500', blocksText = '150', perBlockText = '8', ...specs] =
  process.argv.slice(2)
const clients = Number(clientsText)
const blocks = Number(blocksText)
const perBlock = Number(perBlockText)
const warmUpBlocks = 5
const pad = 'x'.repeat(48)
const base = Date.now()
// Ids rise per room: every block takes later frames than the last.
const frames = Array.from({ length: (blocks + warmUpBlocks) * perBlock }, (_, n) =>
  Buffer.from(
    JSON.stringify({
      t: 'msg',
      d: { room: 'fan', from: 0, n, at: base + n, pad },
      r: ['fan', `${base}-${n}`],
    }),
  ),
)
let checksum = 0
const handler = (body: { n: number }) => {
  checksum += body.n
}

/** The surface of a `ws` socket a client uses: EventEmitter `on`, text frames as Buffers. */
class MiniWs {
  static last: MiniWs | undefined
  readyState = 0
  protocol = ''
  extensions = ''
  bufferedAmount = 0
  binaryType = 'nodebuffer'
  sent = 0
  readonly listeners = new Map<string, (...args: unknown[]) => void>()
  constructor(readonly url: string) {
    MiniWs.last = this
  }
  on(type: string, listener: (...args: unknown[]) => void) {
    this.listeners.set(type, listener)
  }
  send() {
    this.sent++
  }
  close() {}
  open() {
    this.readyState = 1
    this.protocol = 'lifeline.v1.json'
    this.listeners.get('open')?.call(this)
  }
  feed(data: Buffer) {
    this.listeners.get('message')?.call(this, data, false)
  }
}

interface Variant {
  name: string
  deliver: (client: number, frame: Buffer) => void
  /** CPU ns per message of each block. */
  blocks: number[]
  cpuUs: number
  messages: number
}

const variants: Variant[] = []
for (const spec of specs) {
  const [name, folder] = spec.split('=') as [string, string]
  if (folder === 'raw') {
    const handlers = Array.from({ length: clients }, () => handler)
    const deliver = (client: number, frame: Buffer) => {
      const envelope = JSON.parse(frame.toString()) as { t: string; d: { n: number } }
      if (envelope.t === 'msg') handlers[client]!(envelope.d)
    }
    variants.push({ name, deliver, blocks: [], cpuUs: 0, messages: 0 })
    continue
  }
  const { createClient } = (await import(`${folder}/index.js`)) as CoreModule
  const sockets: MiniWs[] = []
  for (let i = 0; i < clients; i++) {
    const client = createClient({
      url: 'ws://bench/',
      heartbeat: false,
      socket: { WebSocket: MiniWs as unknown as typeof WebSocket },
    })
    client.on('msg', handler as (data: unknown) => void)
    const socket = MiniWs.last!
    socket.open()
    const welcome = { sid: `s${i}`, resumed: false, a: 0 }
    socket.feed(Buffer.from(JSON.stringify({ t: '$welcome', d: welcome })))
    if (client.state.status !== 'open') throw new Error(`${name}: the client did not open`)
    sockets.push(socket)
  }
  const deliver = (client: number, frame: Buffer) => sockets[client]!.feed(frame)
  variants.push({ name, deliver, blocks: [], cpuUs: 0, messages: 0 })
}

function block(variant: Variant, first: number) {
  for (let m = first; m < first + perBlock; m++) {
    for (let i = 0; i < clients; i++) variant.deliver(i, frames[m]!)
  }
}

for (let b = 0; b < warmUpBlocks; b++) for (const variant of variants) block(variant, b * perBlock)
for (let b = warmUpBlocks; b < warmUpBlocks + blocks; b++) {
  for (const variant of b % 2 === 0 ? variants : [...variants].reverse()) {
    const before = process.cpuUsage()
    block(variant, b * perBlock)
    const cpu = process.cpuUsage(before)
    variant.cpuUs += cpu.user + cpu.system
    variant.messages += perBlock * clients
    variant.blocks.push(((cpu.user + cpu.system) * 1000) / (perBlock * clients))
  }
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b)
const median = (values: number[]) => sorted(values)[Math.floor(values.length / 2)]!
const first = variants[0]
for (const variant of variants) {
  const mean = (variant.cpuUs * 1000) / variant.messages
  const p10 = sorted(variant.blocks)[Math.floor(variant.blocks.length / 10)]!
  const ratio =
    first && variant !== first
      ? `, median ratio to ${first.name} ${median(variant.blocks.map((ns, i) => ns / first.blocks[i]!)).toFixed(3)}`
      : ''
  console.log(
    `${variant.name.padEnd(12)} mean ${mean.toFixed(0)}, median ${median(variant.blocks).toFixed(0)}, p10 ${p10.toFixed(0)} ns/message${ratio}`,
  )
}
// Keeps the handlers' work observable.
if (checksum < 0) console.log(checksum)
