export { codecNames, Prepared, selectCodec } from './codec.js'
export type {
  BinaryCodec,
  Codec,
  CodecName,
  InboundFrame,
  OutboundFrame,
  TextCodec,
} from './codec.js'
export { LifelineError, isLifelineError } from './errors.js'
export type { LifelineErrorCode, LifelineErrorOptions } from './errors.js'
export { frameCloseCodes } from './failures.js'
export { json } from './json.js'
export type { JsonCodecOptions } from './json.js'
export { codecLimitsDefaults } from './limits.js'
export type { CodecLimits } from './limits.js'
