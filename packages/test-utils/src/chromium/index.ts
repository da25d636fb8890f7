export { assertChromium, chromiumPath, defaultChromiumPath } from './chromium.js'
export { closeAll, startControlServer } from './controlServer.js'
export { chromiumBrowser } from './project.js'
export type { ChromiumOptions } from './project.js'
