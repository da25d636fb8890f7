export { ReconnectingWebSocket, browserSocketOptions, createClient } from './presets.js'
export type { BrowserClientOptions, BrowserOptions, BrowserSocketOptions } from './presets.js'
export { followPage, pageCanConnect, pageHiddenReason } from './page.js'
export type { PageLike } from './page.js'
