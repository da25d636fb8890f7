export { FakeWebSocket } from './fakeWebSocket.js'
export { ManualClock } from './manualClock.js'
