export { LifelineError, isLifelineError } from './errors.js'
export type { LifelineErrorCode, LifelineErrorOptions } from './errors.js'
