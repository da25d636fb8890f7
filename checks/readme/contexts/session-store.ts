// Context `session-store`: the excerpt that follows must describe the exported interface.
import type { SessionRecord, SessionStore as Exported } from '@lifeline/server'
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const excerptMatchesExport: Same<SessionStore, Exported> = true
