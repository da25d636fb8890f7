export { FakeWebSocket } from './fakeWebSocket.js'
export { ManualClock } from './manualClock.js'
export { nextEvent } from './nextEvent.js'
