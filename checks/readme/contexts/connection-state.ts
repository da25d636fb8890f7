// Context `connection-state`: the excerpt that follows must describe the exported type.
import type { ConnectionState as Exported, DisconnectCause } from '@lifeline/core'
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const excerptMatchesExport: Same<ConnectionState, Exported> = true
