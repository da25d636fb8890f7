export { msgpack } from './msgpack.js'
export type { MsgpackCodecOptions } from './msgpack.js'
