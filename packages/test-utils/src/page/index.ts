export { openControl, pageWaitMs, until } from './control.js'
export type { Control, ControlFrame, ControlReply } from './control.js'
