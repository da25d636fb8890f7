import { isLifelineError } from '@lifeline/codec'

/** The code of an RPC handler's or listener's failure, for a log line. */
export function codeOf(error: unknown): string | undefined {
  return isLifelineError(error) ? error.code : undefined
}
